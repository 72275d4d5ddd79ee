/* islet-image: the changes to the image store (import, rm, prune), in a
 * program of their own so that `islet`'s every start does not map
 * libarchive, libcrypto and the libraries they need, and so that isletd can
 * have layers unpacked by a single-threaded process.
 *
 *   islet-image STATE_DIR import PATH [NAME]
 *   islet-image STATE_DIR pull REF [--insecure-registry HOST]... [--max-bytes N]
 *   islet-image STATE_DIR rm REF
 *   islet-image STATE_DIR prune
 *   islet-image STATE_DIR build-default
 *   islet-image STATE_DIR build [-t NAME] [-f DOCKERFILE|-] [--build-arg K=V]...
 *               [--network none|all] [--timeout S] [--memory MB] [--max-bytes N]
 *               [--context-tar TAR]... [CONTEXT]
 *   (--context-tar: the context is these tars unpacked together, as the
 *   Daytona SDK uploads a context; not with CONTEXT)
 *
 * It prints one JSON object on stdout: the result, or {"error":{"kind",
 * "message"}} with exit status 1.  The CLI (src/cli/image.c) reads it. */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "islet/oci.h"
#include "islet/util.h"
#include "oci_build.h"

static int
print (json_t *j)
{
  char *text = json_dumps (j, JSON_COMPACT);
  puts (text ? text : "{}");
  free (text);
  json_decref (j);
  return 0;
}

static int
do_import (const char *state, int argc, char **argv, struct islet_err *err)
{
  json_t *ids = NULL;
  if (argc < 1 || argc > 2)
    return islet_fail (err, ISLET_E_INVALID, 0, "import takes PATH [NAME]");
  if (islet_oci_import (state, argv[0], argc > 1 ? argv[1] : NULL, &ids, err) < 0)
    return -1;
  return print (json_pack ("{s:o}", "ids", ids));
}

static int
do_rm (const char *state, int argc, char **argv, struct islet_err *err)
{
  if (argc != 1)
    return islet_fail (err, ISLET_E_INVALID, 0, "rm takes REF");
  if (islet_imgstore_rm (state, argv[0], err) < 0)
    return -1;
  return print (json_pack ("{s:s}", "removed", argv[0]));
}

static int
do_prune (const char *state, int argc, char **argv, struct islet_err *err)
{
  uint64_t freed = 0;
  if (argc != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "prune takes no argument");
  if (islet_imgstore_prune (state, &freed, err) < 0)
    return -1;
  return print (json_pack ("{s:I}", "freed_bytes", (json_int_t) freed));
}

/* pull REF [--insecure-registry HOST]... [--max-bytes N]: N bounds the
 * image's size (isletd passes the key's disk quota) */
static int
do_pull (const char *state, int argc, char **argv, struct islet_err *err)
{
  cleanup_free char **insecure = islet_xcalloc ((size_t) argc + 1, sizeof *insecure);
  const char *ref = NULL;
  uint64_t max_bytes = 0;
  json_t *id = NULL;
  size_t n = 0;

  for (int i = 0; i < argc; i++)
    if (strcmp (argv[i], "--insecure-registry") == 0 && i + 1 < argc)
      insecure[n++] = argv[++i];
    else if (strcmp (argv[i], "--max-bytes") == 0 && i + 1 < argc)
      {
        if (islet_parse_u64 (argv[++i], UINT64_MAX, &max_bytes, err) < 0)
          return islet_wrap (err, "--max-bytes");
      }
    else if (ref == NULL)
      ref = argv[i];
    else
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "pull takes REF [--insecure-registry HOST]... [--max-bytes N]");
  if (ref == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "pull takes REF");
  islet_oci_pull_catch_signals ();
  if (islet_oci_pull (state, ref, insecure, max_bytes, stderr, &id, err) < 0)
    return -1;
  return print (json_pack ("{s:[o]}", "ids", id));
}

static int
do_build_default (const char *state, int argc, char **argv, struct islet_err *err)
{
  json_t *id = NULL;
  (void) argv;
  if (argc != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "build-default takes no argument");
  if (islet_oci_build_default (state, stderr, &id, err) < 0)
    return -1;
  return print (json_pack ("{s:[o]}", "ids", id));
}

/* The Dockerfile's text: a file, or stdin for "-". */
static char *
read_dockerfile (const char *path, struct islet_err *err)
{
  FILE *f = strcmp (path, "-") == 0 ? stdin : fopen (path, "r");
  char *text = NULL;
  size_t len = 0;
  FILE *mem;

  if (f == NULL)
    return islet_fail (err, ISLET_E_NOTFOUND, errno, "Dockerfile `%s`", path), NULL;
  mem = open_memstream (&text, &len);
  for (int c; mem && (c = getc (f)) != EOF && len < (1u << 20);)
    putc (c, mem);
  if (mem)
    fclose (mem);
  if (f != stdin)
    fclose (f);
  if (len >= (1u << 20))
    {
      free (text);
      return islet_fail (err, ISLET_E_INVALID, 0, "Dockerfile `%s` is over 1 MiB", path), NULL;
    }
  return text;
}

static int
build_opt (struct islet_build_opts *o, const char **file, const char *flag, const char *val,
           struct islet_err *err)
{
  uint64_t n;
  char *eq;

  if (strcmp (flag, "-t") == 0)
    o->name = val;
  else if (strcmp (flag, "-f") == 0)
    *file = val;
  else if (strcmp (flag, "--build-arg") == 0 && (eq = strchr (val, '=')) != NULL)
    json_object_set_new (o->build_args, strndup (val, (size_t) (eq - val)), json_string (eq + 1));
  else if (strcmp (flag, "--network") == 0)
    return islet_net_mode_parse (val, &o->net.mode, err) < 0 || o->net.mode == ISLET_NET_ALLOW
               ? islet_fail (err, ISLET_E_INVALID, 0, "--network takes none or all")
               : 0;
  else if (strcmp (flag, "--timeout") == 0 && islet_parse_u64 (val, 86400, &n, err) == 0 && n)
    o->timeout_s = (uint32_t) n;
  else if (strcmp (flag, "--max-bytes") == 0 && islet_parse_u64 (val, UINT64_MAX, &n, err) == 0)
    o->max_bytes = n;
  else if (strcmp (flag, "--memory") == 0 && islet_parse_u64 (val, 1u << 20, &n, err) == 0 && n)
    o->limits.memory_mb = n;
  else
    return islet_fail (err, ISLET_E_INVALID, 0, "build: bad option %s %s", flag, val);
  return 0;
}

static int
do_build (const char *state, int argc, char **argv, struct islet_err *err)
{
  struct islet_build_opts o = { .limits = ISLET_LIMITS_DEFAULT,
                                .timeout_s = 600,
                                .progress = stderr };
  cleanup_free char *text = NULL, *deflt = NULL, *norm = NULL, *ctx_dir = NULL;
  cleanup_free char **tars = islet_xcalloc ((size_t) argc + 1, sizeof *tars);
  const char *file = NULL;
  json_t *id = NULL;
  bool cached = false;
  int rc = -1, ctx_lock = -1;
  size_t n_tars = 0;

  o.build_args = json_object ();
  for (int i = 0; i < argc; i++)
    if (strcmp (argv[i], "--context-tar") == 0 && i + 1 < argc)
      tars[n_tars++] = argv[++i];
    else if (argv[i][0] == '-' && argv[i][1] && i + 1 < argc)
      {
        if (build_opt (&o, &file, argv[i], argv[i + 1], err) < 0)
          goto out;
        i++;
      }
    else if (o.context == NULL)
      o.context = argv[i];
    else
      {
        islet_fail (err, ISLET_E_INVALID, 0, "build takes one CONTEXT");
        goto out;
      }
  if (file == NULL && o.context == NULL)
    {
      islet_fail (err, ISLET_E_INVALID, 0, "build takes a CONTEXT directory, or -f DOCKERFILE");
      goto out;
    }
  if (n_tars && (o.context || file == NULL))
    {
      islet_fail (err, ISLET_E_INVALID, 0, "--context-tar takes -f DOCKERFILE and no CONTEXT");
      goto out;
    }
  if (file == NULL)
    file = deflt = islet_xasprintf ("%s/Dockerfile", o.context);
  if (o.name)
    {
      struct islet_ref ref;
      if (islet_ref_parse (o.name, &ref, err) < 0)
        goto out;
      o.name = norm = islet_ref_string (&ref);
      islet_ref_fini (&ref);
    }
  o.limits.timeout_s = o.timeout_s;
  /* a Dockerfile islet cannot build is refused before its context is unpacked */
  text = read_dockerfile (file, err);
  if (text == NULL || islet_dockerfile_check (text, o.context || n_tars, err) < 0)
    goto out;
  if (n_tars)
    {
      if (build_context_from_tars (state, tars, n_tars, o.max_bytes, &ctx_dir, &ctx_lock, err) < 0)
        goto out;
      o.context = ctx_dir;
    }
  if (islet_oci_build (state, &o, text, &id, &cached, err) == 0)
    rc = print (json_pack ("{s:[o],s:b}", "ids", id, "cached", cached));
out:
  if (ctx_dir)
    {
      struct islet_err ignored;
      (void) !islet_rm_rf (ctx_dir, &ignored);
      close (ctx_lock);
    }
  json_decref (o.build_args);
  return rc;
}

/* build-reap: what killed builds left (isletd, once it killed one) */
static int
do_build_reap (const char *state, int argc, char **argv, struct islet_err *err)
{
  if (argc != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "build-reap takes no argument");
  islet_oci_build_reap (state);
  return print (json_object ());
}

static const struct
{
  const char *name;
  int (*fn) (const char *state, int argc, char **argv, struct islet_err *err);
} verbs[] = {
  { "import", do_import },
  { "pull", do_pull },
  { "rm", do_rm },
  { "prune", do_prune },
  { "build-default", do_build_default },
  { "build", do_build },
  { "build-reap", do_build_reap },
};

int
main (int argc, char **argv)
{
  struct islet_err err = { 0 };
  int rc = -1;

  /* libarchive converts names through the locale: in "C" a layer's UTF-8
     file name (Debian ships some) fails to unpack.  glibc has C.UTF-8 built
     in, so it needs no locale files in the unpacker's chroot. */
  if (setlocale (LC_CTYPE, "C.UTF-8") == NULL)
    (void) setlocale (LC_CTYPE, "");

  if (argc < 3)
    rc = islet_fail (&err, ISLET_E_INVALID, 0, "usage: islet-image STATE_DIR VERB ARGS...");
  else
    {
      size_t i;
      for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp (verbs[i].name, argv[2]) == 0)
          break;
      if (i == sizeof verbs / sizeof verbs[0])
        rc = islet_fail (&err, ISLET_E_INVALID, 0, "no verb `%s`", argv[2]);
      else
        rc = verbs[i].fn (argv[1], argc - 3, argv + 3, &err);
    }
  if (rc == 0)
    return 0;
  print (json_pack ("{s:{s:s,s:s}}", "error", "kind", islet_errkind_name (err.kind), "message",
                    err.msg));
  return 1;
}
