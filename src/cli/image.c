/* islet image: the image store of the state directory (import, ls, inspect,
 * rm, prune).  `host` is built in and is not listed here. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "islet/contain.h"
#include "islet/oci.h"

struct image_args
{
  const char *name;         /* import: what to call the image */
  struct cli_list insecure; /* pull: registries that may be plain HTTP */
  const char *arg;          /* the positional argument */
  /* build */
  const char *tag, *file, *network, *timeout, *memory;
  struct cli_list build_args;
};

static const struct cli_opt json_opts[] = {
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print the result as JSON", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_opt import_opts[] = {
  { "name", 0, CLI_OPT_STR, offsetof (struct image_args, name), "REF",
    "name the image (default: the names the archive gives)", 0 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print {\"ids\":[...]}", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_opt pull_opts[] = {
  { "insecure-registry", 0, CLI_OPT_LIST, offsetof (struct image_args, insecure), "HOST",
    "allow plain HTTP to this registry (host[:port], repeatable; loopback ones always may)", 0 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print {\"ids\":[ID]}", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_opt build_opts[] = {
  { "tag", 't', CLI_OPT_STR, offsetof (struct image_args, tag), "NAME", "name the image", 0 },
  { "file", 'f', CLI_OPT_STR, offsetof (struct image_args, file), "DOCKERFILE",
    "the Dockerfile (- for stdin; default: CONTEXT/Dockerfile)", 0 },
  { "build-arg", 0, CLI_OPT_LIST, offsetof (struct image_args, build_args), "K=V",
    "a value for an ARG (repeatable)", 0 },
  { "network", 0, CLI_OPT_STR, offsetof (struct image_args, network), "none|all",
    "each RUN's outbound network (default none: loopback only)", 0 },
  { "timeout", 0, CLI_OPT_STR, offsetof (struct image_args, timeout), "SECONDS",
    "each RUN's wall-clock limit (default 600)", 0 },
  { "memory", 0, CLI_OPT_STR, offsetof (struct image_args, memory), "MB",
    "each RUN's memory limit (default 1024)", 0 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print {\"ids\":[ID],\"cached\":BOOL}", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static void
print_bytes (uint64_t b)
{
  if (b >= 10u << 20)
    printf ("%8.1f MB", (double) b / 1e6);
  else
    printf ("%8.1f kB", (double) b / 1e3);
}

/* The configs whose strings cli_image_argv lends: kept until exit. */
static json_t *lent_configs;

int
cli_image_argv (const char *state_dir, const char *image, const struct cli_pos *pos, char ***cmd,
                struct islet_err *err)
{
  struct islet_oci_image img;
  json_t *ep, *def, *item;
  size_t n = 0, i;

  if (strcmp (image, "host") == 0)
    return 0;
  if (strcmp (image, "default") == 0)
    image = ISLET_DEFAULT_IMAGE;
  if (islet_imgstore_open (state_dir, image, &img, err) < 0)
    return -1;
  ep = json_object_get (img.config, "Entrypoint");
  def = json_object_get (img.config, "Cmd");
  if (json_array_size (ep) == 0 && (pos->n > 0 || json_array_size (def) == 0))
    {
      islet_oci_image_fini (&img);
      return 0; /* the arguments given are the whole command, or there is none */
    }
  if (lent_configs == NULL)
    lent_configs = json_array ();
  json_array_append (lent_configs, img.config);
  *cmd = islet_xcalloc (json_array_size (ep) + (pos->n ? pos->n : json_array_size (def)) + 1,
                        sizeof **cmd);
  json_array_foreach (ep, i, item) (*cmd)[n++] = (char *) json_string_value (item);
  if (pos->n)
    for (i = 0; i < pos->n; i++)
      (*cmd)[n++] = pos->v[i];
  else
    json_array_foreach (def, i, item) (*cmd)[n++] = (char *) json_string_value (item);
  islet_oci_image_fini (&img);
  for (i = 0; i < n; i++)
    if ((*cmd)[i] == NULL)
      return islet_fail (err, ISLET_E_INVALID, 0, "image `%s`: Entrypoint and Cmd must be strings",
                         image);
  return 0;
}

static volatile pid_t helper_pid;

/* SIGINT or SIGTERM of islet reaches islet-image too, which a pull uses to
 * stop and remove what it added; islet then reports its answer. */
static void
forward_signal (int sig)
{
  pid_t pid = helper_pid;

  if (pid > 0)
    kill (pid, sig);
}

static void
catch_for_helper (pid_t pid)
{
  struct sigaction sa = { .sa_handler = forward_signal, .sa_flags = SA_RESTART };

  sigemptyset (&sa.sa_mask);
  helper_pid = pid;
  (void) sigaction (SIGINT, &sa, NULL);
  (void) sigaction (SIGTERM, &sa, NULL);
}

/* islet-image (beside this program, else in PATH): where libarchive and
 * libcrypto do the store's changes.  Its stdout is one JSON object: the
 * result, or an error, rebuilt here into *err. */
static json_t *
run_helper (struct cli *cli, const char *const *args, struct islet_err *err)
{
  cleanup_free char *helper = islet_program_path ("islet-image");
  cleanup_free char *out = NULL;
  cleanup_free const char **argv = NULL;
  int pipefd[2], status;
  size_t n = 0, len = 0;
  json_t *j, *e;
  pid_t pid;

  while (args[n])
    n++;
  argv = islet_xcalloc (n + 3, sizeof *argv);
  argv[0] = "islet-image";
  argv[1] = cli->state_dir;
  memcpy (argv + 2, args, n * sizeof *argv);
  if (islet_mkdir_p (cli->state_dir, 0700, err) < 0)
    return NULL;
  if (pipe2 (pipefd, O_CLOEXEC) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "pipe"), NULL;
  pid = fork ();
  if (pid < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "fork"), NULL;
  if (pid == 0)
    {
      /* a pull whose islet is killed is called off rather than left running */
      if (strcmp (args[0], "pull") == 0)
        (void) prctl (PR_SET_PDEATHSIG, SIGTERM);
      dup2 (pipefd[1], STDOUT_FILENO);
      if (strchr (helper, '/'))
        execv (helper, (char **) argv);
      else
        execvp (helper, (char **) argv);
      _exit (127);
    }
  close (pipefd[1]);
  catch_for_helper (pid);
  if (cli_read_fd (pipefd[0], "islet-image's answer", &out, &len, err) < 0)
    {
      close (pipefd[0]);
      waitpid (pid, NULL, 0);
      return NULL;
    }
  close (pipefd[0]);
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "wait for islet-image"), NULL;
  helper_pid = 0;
  j = out ? json_loads (out, 0, NULL) : NULL;
  if (j == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "%s did not answer (status %d)", helper, status),
           NULL;
  e = json_object_get (j, "error");
  if (e)
    {
      const char *kind = json_string_value (json_object_get (e, "kind")) ?: "";
      enum islet_errkind k = ISLET_E_SYSTEM;
      for (int i = ISLET_E_INVALID; i <= ISLET_E_SYSTEM; i++)
        if (strcmp (islet_errkind_name ((enum islet_errkind) i), kind) == 0)
          k = (enum islet_errkind) i;
      islet_fail (err, k, 0, "%s", json_string_value (json_object_get (e, "message")) ?: "");
      json_decref (j);
      return NULL;
    }
  return j;
}

/* islet-image's answer {"ids":[ID]}: ID, or the answer with --json. */
static int
print_id (struct cli *cli, json_t *res)
{
  if (res == NULL)
    return -1;
  if (cli->json)
    return cli_print_json (res);
  printf ("%s\n", json_string_value (json_array_get (json_object_get (res, "ids"), 0)));
  json_decref (res);
  return 0;
}

static int
image_import (struct cli *cli, const struct image_args *a, struct islet_err *err)
{
  const char *args[] = { "import", a->arg, a->name, NULL };
  json_t *res = run_helper (cli, args, err), *id;
  size_t i;

  if (res == NULL)
    return -1;
  if (cli->json)
    return cli_print_json (res);
  json_array_foreach (json_object_get (res, "ids"), i, id) printf ("%s\n", json_string_value (id));
  json_decref (res);
  return 0;
}

static int
image_pull (struct cli *cli, const struct image_args *a, struct islet_err *err)
{
  cleanup_free const char **args = islet_xcalloc (2 * a->insecure.n + 3, sizeof *args);
  size_t n = 0;

  args[n++] = "pull";
  args[n++] = a->arg;
  for (size_t i = 0; i < a->insecure.n; i++)
    {
      args[n++] = "--insecure-registry";
      args[n++] = a->insecure.v[i];
    }
  return print_id (cli, run_helper (cli, args, err));
}

static int
image_build_default (struct cli *cli, const struct image_args *a, struct islet_err *err)
{
  const char *args[] = { "build-default", NULL };

  (void) a;
  return print_id (cli, run_helper (cli, args, err));
}

static int
image_build (struct cli *cli, const struct image_args *a, struct islet_err *err)
{
  cleanup_free const char **args = islet_xcalloc (2 * a->build_args.n + 16, sizeof *args);
  const struct
  {
    const char *flag, *val;
  } pass[] = { { "-t", a->tag },
               { "-f", a->file },
               { "--network", a->network },
               { "--timeout", a->timeout },
               { "--memory", a->memory } };
  size_t n = 0;

  args[n++] = "build";
  for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++)
    if (pass[i].val)
      {
        args[n++] = pass[i].flag;
        args[n++] = pass[i].val;
      }
  for (size_t i = 0; i < a->build_args.n; i++)
    {
      args[n++] = "--build-arg";
      args[n++] = a->build_args.v[i];
    }
  if (a->arg)
    args[n++] = a->arg;
  return print_id (cli, run_helper (cli, args, err));
}

static int
image_ls (struct cli *cli, const struct image_args *a, struct islet_err *err)
{
  json_t *list = islet_imgstore_list (cli->state_dir, err), *img, *n;
  size_t i, j;

  char deflt[80];
  int hold = -1;

  if (list == NULL)
    return -1;
  if (islet_image_resolve (cli->state_dir, NULL, deflt, sizeof deflt, &hold, err) < 0)
    {
      json_decref (list);
      return -1;
    }
  if (hold >= 0)
    close (hold);
  /* which image a create that names none gets, and whether the default is built */
  json_object_set_new (list, "default",
                       json_pack ("{s:s,s:b,s:s}", "name", ISLET_DEFAULT_IMAGE, "built",
                                  strcmp (deflt, "host") != 0, "used", deflt));
  if (cli->json)
    return cli_print_json (list);
  printf ("%-12s  %11s  %6s  %s\n", "ID", "SIZE", "LAYERS", "NAMES");
  json_array_foreach (json_object_get (list, "images"), i, img)
  {
    printf ("%.12s  ", json_string_value (json_object_get (img, "id")) + 7);
    print_bytes ((uint64_t) json_integer_value (json_object_get (img, "bytes")));
    printf ("  %6zu  ", json_array_size (json_object_get (img, "layers")));
    json_array_foreach (json_object_get (img, "names"), j, n)
        printf ("%s%s", j ? ", " : "", json_string_value (n));
    printf ("\n");
  }
  printf ("layers on disk: %lld (",
          (long long) json_integer_value (json_object_get (list, "layers_count")));
  print_bytes ((uint64_t) json_integer_value (json_object_get (list, "layers_bytes_total")));
  printf ("), each shared layer counted once\n");
  if (strcmp (deflt, "host") == 0)
    printf ("default image %s: not built (islet image build-default); sandboxes that name no "
            "image use host\n",
            ISLET_DEFAULT_IMAGE);
  else
    printf ("default image %s: %.19s, used by sandboxes that name no image\n", ISLET_DEFAULT_IMAGE,
            deflt);
  json_decref (list);
  return 0;
}

static int
image_inspect (struct cli *cli, const struct image_args *a, struct islet_err *err)
{
  struct islet_oci_image img;
  json_t *out;
  char *text;

  if (islet_imgstore_open (cli->state_dir, a->arg, &img, err) < 0)
    return -1;
  out = json_deep_copy (img.record);
  json_object_set (out, "config", img.config);
  islet_oci_image_fini (&img);
  if (cli->json)
    return cli_print_json (out);
  text = json_dumps (out, JSON_INDENT (2));
  printf ("%s\n", text);
  free (text);
  json_decref (out);
  return 0;
}

static int
image_rm (struct cli *cli, const struct image_args *a, struct islet_err *err)
{
  const char *args[] = { "rm", a->arg, NULL };
  json_t *res = run_helper (cli, args, err);

  if (res == NULL)
    return -1;
  if (cli->json)
    return cli_print_json (res);
  json_decref (res);
  return 0;
}

static int
image_prune (struct cli *cli, const struct image_args *a, struct islet_err *err)
{
  const char *args[] = { "prune", NULL };
  json_t *res = run_helper (cli, args, err);

  if (res == NULL)
    return -1;
  if (cli->json)
    return cli_print_json (res);
  printf ("freed");
  print_bytes ((uint64_t) json_integer_value (json_object_get (res, "freed_bytes")));
  printf ("\n");
  json_decref (res);
  return 0;
}

static const struct image_verb
{
  const char *summary;
  int (*fn) (struct cli *cli, const struct image_args *a, struct islet_err *err);
  struct cli_spec spec;
} verbs[] = {
  { "pull an image from a registry",
    image_pull,
    { .name = "image pull",
      .args = "REF",
      .about = "Pull an image from a registry speaking the OCI distribution (Docker Registry\n"
               "v2) protocol: `python:3.12-slim` is docker.io/library/python:3.12-slim; a tag\n"
               "or @sha256:... digest; for an index, this machine's linux platform.  Every\n"
               "blob is checked against its digest; layers download in parallel.  Credentials\n"
               "come from Docker's config.json `auths` ($DOCKER_CONFIG or ~/.docker).  Plain\n"
               "HTTP only to registries on 127.0.0.0/8, localhost and [::1], or those named\n"
               "with --insecure-registry.  Prints the image's id.",
      .opts = { pull_opts },
      .min_pos = 1,
      .max_pos = 1,
      .raw_from = -1 } },
  { "import a docker save archive or an OCI image layout",
    image_import,
    { .name = "image import",
      .args = "FILE|DIR",
      .about = "Import the images of a `docker save` archive or of an OCI image layout (a\n"
               "directory or a tar of one).  Every blob is checked against its sha256 digest;\n"
               "layers are unpacked once into the store and shared by every image and sandbox\n"
               "that uses them.  Prints the ids of the images.",
      .opts = { import_opts },
      .min_pos = 1,
      .max_pos = 1,
      .raw_from = -1 } },
  { "build the default image (python, node...)",
    image_build_default,
    { .name = "image build-default",
      .args = "",
      .about = "Put the batteries-included default image, " ISLET_DEFAULT_IMAGE ", in the\n"
               "store: Debian bookworm with python3, numpy, pandas, scipy, matplotlib,\n"
               "scikit-learn, node, npm, TypeScript, git and curl, made by mmdebstrap from\n"
               "Debian's packages.  The build is cached for the whole machine\n"
               "($ISLET_CACHE_DIR, else /var/cache/islet) and keyed by its package list:\n"
               "the first takes minutes, the next state directory imports it in seconds.\n"
               "Once it is in the store, sandboxes made without --image use it; until then\n"
               "they use `host`.  Prints the image's id.",
      .opts = { json_opts },
      .raw_from = -1 } },
  { "build an image from a Dockerfile",
    image_build,
    { .name = "image build",
      .args = "[CONTEXT]",
      .about = "Build an image from a Dockerfile (FROM, RUN, ENV, ARG, WORKDIR, USER, CMD,\n"
               "ENTRYPOINT, COPY, LABEL).  FROM names an image of the store.  Each RUN runs in\n"
               "an islet sandbox made from the layers so far, never on the host, and what it\n"
               "changed becomes a layer; COPY takes files from CONTEXT and never from outside\n"
               "it.  The same Dockerfile, base image, build arguments and COPY sources reuse\n"
               "the image already built.  A RUN has no capabilities, as in any sandbox: it\n"
               "cannot chown to another user or change its uid.  Steps and each RUN's output\n"
               "go to stderr; prints the image's id.",
      .opts = { build_opts },
      .max_pos = 1,
      .raw_from = -1 } },
  { "list images, with disk use",
    image_ls,
    { .name = "image ls",
      .args = "",
      .about = "List the images of the store with the disk space their layers take; a layer\n"
               "shared by several images is counted once in the total.",
      .opts = { json_opts },
      .raw_from = -1 } },
  { "show an image's record and config",
    image_inspect,
    { .name = "image inspect",
      .args = "REF",
      .about = "Show an image's names, layers and config (Env, Cmd, WorkingDir, User...).",
      .opts = { json_opts },
      .min_pos = 1,
      .max_pos = 1,
      .raw_from = -1 } },
  { "remove an image no sandbox uses",
    image_rm,
    { .name = "image rm",
      .args = "REF",
      .about = "Remove an image, and the layers and blobs no other image uses.  Refused while\n"
               "a sandbox (running or stopped) was made from it.  A name of an image that has\n"
               "other names is only taken off it.",
      .opts = { json_opts },
      .min_pos = 1,
      .max_pos = 1,
      .raw_from = -1 } },
  { "free what no image references",
    image_prune,
    { .name = "image prune",
      .args = "",
      .about = "Remove the blobs and layers no image references, and what interrupted imports\n"
               "left behind.",
      .opts = { json_opts },
      .raw_from = -1 } },
};

static void
image_more_help (void)
{
  printf ("\ncommands:\n");
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    printf ("  %-13s  %s\n", verbs[i].spec.name + 6, verbs[i].summary);
}

static const struct cli_spec image_spec = {
  .name = "image",
  .args = "COMMAND",
  .about = "The images sandboxes can be made from (`islet create --image REF`), besides the\n"
           "built-in `host`.",
  .opts = { NULL },
  .min_pos = 1,
  .max_pos = CLI_MANY,
  .raw_from = 0,
  .more_help = image_more_help,
};

int
cmd_image (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  cleanup_pos struct cli_pos vpos = { 0 };
  struct image_args a = { 0 };
  struct islet_err err = { 0 };
  const struct image_verb *v = NULL;
  int r;

  r = cli_parse (cli, &image_spec, argc, argv, NULL, &pos, &err);
  for (size_t i = 0; r == 0 && v == NULL && i < sizeof verbs / sizeof verbs[0]; i++)
    if (strcmp (verbs[i].spec.name + 6, pos.v[0]) == 0)
      v = &verbs[i];
  if (r == 0 && v == NULL)
    r = islet_fail (&err, ISLET_E_INVALID, 0,
                    "'%s' is not an image command (pull, import, build, build-default, ls, "
                    "inspect, rm, prune)",
                    pos.v[0]);
  if (r == 0)
    r = cli_parse (cli, &v->spec, (int) pos.n - 1, pos.v + 1, &a, &vpos, &err);
  if (r == 0 && cli->url != NULL)
    r = islet_fail (&err, ISLET_E_INVALID, 0,
                    "'image %s' acts on a local state directory (--state-dir), not over --url",
                    pos.v[0]);
  if (r == 0 && vpos.n > 0)
    a.arg = vpos.v[0];
  if (r == 0)
    r = v->fn (cli, &a, &err);
  cli_list_fini (&a.insecure);
  cli_list_fini (&a.build_args);
  if (r > 0)
    return CLI_EXIT_OK;
  return r < 0 ? cli_report (cli, &err) : CLI_EXIT_OK;
}
