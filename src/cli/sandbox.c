/* The sandbox lifecycle commands: create, start, stop, rm, ls, info. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "islet/volume.h"

/* ---- create ---- */

struct create_args
{
  struct cli_limits limits;
  const char *name, *image, *network, *proxy, *from;
  struct cli_list allow;
  struct cli_list volumes;
};

static const struct cli_opt create_opts[] = {
  { "name", 0, CLI_OPT_STR, offsetof (struct create_args, name), "NAME",
    "name the sandbox (default islet-<id>)", 0 },
  { "image", 0, CLI_OPT_STR, offsetof (struct create_args, image), "IMAGE",
    "root file system image (default: `default` once built, else `host`)", 0 },
  { "network", 0, CLI_OPT_STR, offsetof (struct create_args, network), "MODE",
    "outbound network: none (default), all, or allow (only --allow)", 0 },
  { "allow", 0, CLI_OPT_LIST, offsetof (struct create_args, allow), "CIDR|DOMAIN",
    "with --network allow: an IPv4 CIDR, a domain or *.domain (repeatable)", 0 },
  { "proxy", 0, CLI_OPT_STR, offsetof (struct create_args, proxy), "URL",
    "set HTTP(S)_PROXY to URL (http:// or https://) in everything the sandbox runs; "
    "the network must reach it",
    0 },
  { "volume", 0, CLI_OPT_LIST, offsetof (struct create_args, volumes), "NAME:/PATH[:SUB]",
    "mount a volume (`islet volume`) read-write at PATH, or only its directory SUB (repeatable)",
    0 },
  { "from", 0, CLI_OPT_STR, offsetof (struct create_args, from), "SNAPSHOT",
    "the files (and image) of a snapshot (`islet snapshot`)", 0 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print the sandbox's details as JSON", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct islet_net_words proxy_words = { "--network all", "--allow", "--allow" };

static int
network_of_proxy (const char *url, struct islet_net *net, struct islet_err *err)
{
  if (islet_net_set_proxy (net, url, &proxy_words, err) < 0)
    return islet_wrap (err, "--proxy");
  return 0;
}

/* --network, --allow and --proxy into the create's network; --allow alone
 * means allow.  A proxy the network cannot reach is refused (islet/net.h). */
static int
network_of (const struct create_args *a, struct islet_net *net, struct islet_err *err)
{
  if (islet_net_ask (a->network, (const char *const *) a->allow.v, a->allow.n, ISLET_NET_NONE, net,
                     err)
      < 0)
    return -1;
  return a->proxy ? network_of_proxy (a->proxy, net, err) : 0;
}

static const struct cli_opt create_limit_opts[] = {
  CLI_LIMIT_OPTS (struct create_args, limits),
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec create_spec = {
  .name = "create",
  .args = "",
  .about = "Create and start a sandbox and print its id.",
  .opts = { create_opts, create_limit_opts },
  .max_pos = 0,
  .raw_from = -1,
};

int
cmd_create (struct cli *cli, int argc, char **argv)
{
  struct create_args a = { .limits = CLI_LIMITS_DEFAULT };
  cleanup_pos struct cli_pos pos = { 0 };
  struct islet_err err = { 0 };
  struct islet_ctx *ctx;
  char id[ISLET_ID_LEN + 1];
  int r;

  r = cli_parse (cli, &create_spec, argc, argv, &a, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r < 0 || cli_limits_finish (&a.limits, &err) < 0)
    return cli_report (cli, &err);
  {
    struct islet_volume_mount vols[ISLET_VOLUME_MOUNTS_MAX];
    struct islet_create_opts opts = { .name = a.name,
                                      .image = a.image,
                                      .snapshot = a.from,
                                      .limits = a.limits.l,
                                      .volumes = vols,
                                      .n_volumes = a.volumes.n };
    if (network_of (&a, &opts.net, &err) < 0)
      return cli_report (cli, &err);
    if (a.volumes.n > ISLET_VOLUME_MOUNTS_MAX)
      r = islet_fail (&err, ISLET_E_INVALID, 0, "at most %d --volume", ISLET_VOLUME_MOUNTS_MAX);
    for (size_t i = 0; r == 0 && i < a.volumes.n; i++)
      r = islet_volume_mount_parse (a.volumes.v[i], &vols[i], &err);
    cli_list_fini (&a.volumes);
    ctx = r < 0 ? NULL : cli_ctx (cli, &err);
    if (ctx == NULL || islet_sandbox_create (ctx, &opts, id, &err) < 0)
      return cli_report (cli, &err);
  }
  return cli_print_created (cli, ctx, id);
}

int
cli_print_created (struct cli *cli, struct islet_ctx *ctx, const char *id)
{
  struct islet_sandbox_info info;
  struct islet_err err = { 0 };

  if (!cli->json)
    {
      printf ("%s\n", id);
      return CLI_EXIT_OK;
    }
  if (islet_sandbox_get (ctx, id, &info, &err) < 0)
    return cli_report (cli, &err);
  return cli_print_json (islet_sandbox_json (&info));
}

/* ---- start, stop, info: one sandbox, then its details ---- */

static const struct cli_opt one_opts[] = {
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print the sandbox's details as JSON", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

typedef int (*state_fn) (struct islet_ctx *ctx, const char *id, struct islet_err *err);

static int
on_one (struct cli *cli, const struct cli_spec *spec, state_fn fn, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  struct islet_sandbox_info info;
  struct islet_err err = { 0 };
  int r;

  r = cli_parse (cli, spec, argc, argv, NULL, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r < 0 || cli_resolve (cli, pos.v[0], &info, &err) < 0)
    return cli_report (cli, &err);
  if (fn != NULL)
    {
      char id[ISLET_ID_LEN + 1];

      /* a copy: get() fills info while it reads the id */
      memcpy (id, info.id, sizeof id);
      if (fn (cli->ctx, id, &err) < 0)
        return cli_report (cli, &err);
      if (cli->json && islet_sandbox_get (cli->ctx, id, &info, &err) < 0)
        return cli_report (cli, &err);
    }
  if (cli->json)
    return cli_print_json (islet_sandbox_json (&info));
  if (fn == NULL)
    cli_info_print (&info);
  return CLI_EXIT_OK;
}

static const struct cli_spec start_spec = {
  .name = "start",
  .args = "ID",
  .about = "Start a stopped sandbox (its files are as they were when it stopped), or\n"
           "resume a paused one.",
  .opts = { one_opts },
  .min_pos = 1,
  .max_pos = 1,
  .raw_from = -1,
};

static const struct cli_spec stop_spec = {
  .name = "stop",
  .args = "ID",
  .about = "Stop a sandbox: every process ends, its writable layer and /workspace stay.",
  .opts = { one_opts },
  .min_pos = 1,
  .max_pos = 1,
  .raw_from = -1,
};

static const struct cli_spec pause_spec = {
  .name = "pause",
  .args = "ID",
  .about = "Pause a running sandbox: every process frozen in place, its memory kept.\n"
           "Commands and file requests are refused until `islet start ID` resumes it.",
  .opts = { one_opts },
  .min_pos = 1,
  .max_pos = 1,
  .raw_from = -1,
};

static const struct cli_spec info_spec = {
  .name = "info",
  .args = "ID",
  .about = "Show a sandbox's details and limits; ID is an id, a unique id prefix or a name.",
  .opts = { one_opts },
  .min_pos = 1,
  .max_pos = 1,
  .raw_from = -1,
};

int
cmd_start (struct cli *cli, int argc, char **argv)
{
  return on_one (cli, &start_spec, islet_sandbox_start, argc, argv);
}

int
cmd_stop (struct cli *cli, int argc, char **argv)
{
  return on_one (cli, &stop_spec, islet_sandbox_stop, argc, argv);
}

int
cmd_pause (struct cli *cli, int argc, char **argv)
{
  return on_one (cli, &pause_spec, islet_sandbox_pause, argc, argv);
}

int
cmd_info (struct cli *cli, int argc, char **argv)
{
  return on_one (cli, &info_spec, NULL, argc, argv);
}

/* A sandbox after a change: its details, as info prints them. */
static int
show_changed (struct cli *cli, const char *id)
{
  struct islet_sandbox_info info;
  struct islet_err err = { 0 };

  if (islet_sandbox_get (cli->ctx, id, &info, &err) < 0)
    return cli_report (cli, &err);
  if (cli->json)
    return cli_print_json (islet_sandbox_json (&info));
  cli_info_print (&info);
  return CLI_EXIT_OK;
}

/* ---- resize ---- */

static const struct cli_opt resize_opts[] = {
  /* the limits table's flags and help, into islet_resize's fields of the same type */
  CLI_LIMIT_OPT (struct islet_resize, memory_mb, "memory_mb"),
  CLI_LIMIT_OPT (struct islet_resize, cpu_millis, "cpu_millis"),
  CLI_LIMIT_OPT (struct islet_resize, disk_mb, "disk_mb"),
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print the sandbox's details as JSON", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec resize_spec = {
  .name = "resize",
  .args = "ID",
  .about = "Change a sandbox's memory, CPUs or disk, running or stopped: applied at once\n"
           "and kept across a stop and a start.  Refused below what it uses now.",
  .opts = { resize_opts },
  .min_pos = 1,
  .max_pos = 1,
  .raw_from = -1,
};

int
cmd_resize (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  struct islet_resize rq = { 0 };
  struct islet_sandbox_info info;
  struct islet_err err = { 0 };
  char id[ISLET_ID_LEN + 1];
  int r;

  r = cli_parse (cli, &resize_spec, argc, argv, &rq, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r < 0 || cli_resolve (cli, pos.v[0], &info, &err) < 0)
    return cli_report (cli, &err);
  if (rq.memory_mb == 0 && rq.cpu_millis == 0 && rq.disk_mb == 0)
    {
      islet_fail (&err, ISLET_E_INVALID, 0, "resize: give --memory, --cpus or --disk");
      return cli_report (cli, &err);
    }
  memcpy (id, info.id, sizeof id);
  if (islet_sandbox_resize (cli->ctx, id, &rq, &err) < 0)
    return cli_report (cli, &err);
  return show_changed (cli, id);
}

/* ---- network ---- */

static const struct cli_opt network_opts[] = {
  { "network", 0, CLI_OPT_STR, offsetof (struct create_args, network), "MODE",
    "none, all, or allow (only --allow)", 0 },
  { "allow", 0, CLI_OPT_LIST, offsetof (struct create_args, allow), "CIDR|DOMAIN",
    "with --network allow: an IPv4 CIDR, a domain or *.domain (repeatable)", 0 },
  { "proxy", 0, CLI_OPT_STR, offsetof (struct create_args, proxy), "URL",
    "the proxy URL (HTTP(S)_PROXY), \"\" for none (default: the one it has)", 0 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print the sandbox's details as JSON", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec network_spec = {
  .name = "network",
  .args = "ID",
  .about = "Change a sandbox's outbound network, running or stopped: applied at once\n"
           "(connections the new settings do not allow stop) and kept across a stop\n"
           "and a start.",
  .opts = { network_opts },
  .min_pos = 1,
  .max_pos = 1,
  .raw_from = -1,
};

/* The sandbox's network after the change: the mode and list given (else
 * its own), the proxy given (else its own, checked unless the change
 * closes the network, which must stay possible). */
static int
network_change (const struct create_args *a, const struct islet_sandbox_info *info,
                struct islet_net *net, struct islet_err *err)
{
  struct create_args keep = *a;

  keep.proxy = NULL;
  if (a->network == NULL && a->allow.n == 0)
    *net = info->net;
  else if (network_of (&keep, net, err) < 0)
    return -1;
  else if (net->mode == ISLET_NET_NONE || a->proxy)
    memcpy (net->proxy, info->net.proxy, sizeof net->proxy);
  else if (info->net.proxy[0] && islet_net_set_proxy (net, info->net.proxy, &proxy_words, err) < 0)
    return islet_wrap (err,
                       "the sandbox's proxy would be out of its reach (--proxy \"\" drops it)");
  return a->proxy ? network_of_proxy (a->proxy, net, err) : 0;
}

int
cmd_network (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  struct create_args a = { 0 };
  struct islet_sandbox_info info;
  struct islet_err err = { 0 };
  struct islet_net net;
  char id[ISLET_ID_LEN + 1];
  int r;

  r = cli_parse (cli, &network_spec, argc, argv, &a, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r == 0 && a.network == NULL && a.allow.n == 0 && a.proxy == NULL)
    r = islet_fail (&err, ISLET_E_INVALID, 0, "network: give --network, --allow or --proxy");
  if (r < 0 || cli_resolve (cli, pos.v[0], &info, &err) < 0
      || network_change (&a, &info, &net, &err) < 0)
    {
      free (a.allow.v);
      return cli_report (cli, &err);
    }
  free (a.allow.v);
  memcpy (id, info.id, sizeof id);
  if (islet_sandbox_set_network (cli->ctx, id, &net, &err) < 0)
    return cli_report (cli, &err);
  return show_changed (cli, id);
}

/* ---- rm ---- */

struct rm_args
{
  bool force;
};

static const struct cli_opt rm_opts[] = {
  { "force", 'f', CLI_OPT_BOOL, offsetof (struct rm_args, force), NULL,
    "stop running sandboxes first", 0 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print {\"removed\":[...]}, and \"error\" on a failure", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec rm_spec = {
  .name = "rm",
  .args = "ID...",
  .about = "Remove sandboxes and every trace of them.  A running sandbox needs -f.\n"
           "Every ID is tried; the status is 1 if any of them could not be removed.",
  .opts = { rm_opts },
  .min_pos = 1,
  .max_pos = CLI_MANY,
  .raw_from = -1,
};

static int
rm_one (struct cli *cli, const char *ref, bool force, char *id, struct islet_err *err)
{
  struct islet_sandbox_info info;

  if (cli_resolve (cli, ref, &info, err) < 0)
    return -1;
  if ((info.state == ISLET_SB_RUNNING || info.state == ISLET_SB_PAUSED) && !force)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox '%s' is %s (stop it first, or use rm -f)",
                       ref, islet_state_name (info.state));
  memcpy (id, info.id, sizeof info.id);
  return islet_sandbox_destroy (cli->ctx, info.id, force, err);
}

int
cmd_rm (struct cli *cli, int argc, char **argv)
{
  struct rm_args a = { false };
  cleanup_pos struct cli_pos pos = { 0 };
  json_t *removed = NULL;
  struct islet_err err = { 0 }, first = { 0 };
  int r, status = CLI_EXIT_OK;
  bool json;

  r = cli_parse (cli, &rm_spec, argc, argv, &a, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r < 0)
    return cli_report (cli, &err);
  /* errors are printed as they happen, so the JSON summary comes at the end */
  json = cli->json;
  cli->json = false;
  removed = json_array ();
  for (size_t i = 0; i < pos.n; i++)
    {
      char id[ISLET_ID_LEN + 1] = "";

      if (rm_one (cli, pos.v[i], a.force, id, &err) == 0)
        {
          json_array_append_new (removed, json_string (id));
          if (!json)
            printf ("%s\n", id);
          continue;
        }
      if (status == CLI_EXIT_OK)
        first = err;
      status = json ? CLI_EXIT_FAILED : cli_report (cli, &err);
    }
  cli->json = json;
  if (!json)
    {
      json_decref (removed);
      return status;
    }
  if (status != CLI_EXIT_OK)
    {
      json_t *o = json_pack ("{s:o,s:{s:s,s:o}}", "removed", removed, "error", "kind",
                             islet_errkind_name (first.kind), "message",
                             islet_json_bytes (first.msg, strnlen (first.msg, sizeof first.msg)));
      (void) cli_print_json (o);
      return first.kind == ISLET_E_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
    }
  return cli_print_json (json_pack ("{s:o}", "removed", removed));
}

/* ---- ls ---- */

static const struct cli_opt ls_opts[] = {
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print {\"sandboxes\":[...]} with every detail", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec ls_spec = {
  .name = "ls",
  .args = "",
  .about = "List sandboxes, oldest first: ID NAME STATE CREATED.",
  .opts = { ls_opts },
  .raw_from = -1,
  .max_pos = 0,
};

static void
ls_table (const struct islet_sandbox_info *v, size_t n)
{
  int name_w = 4;
  char when[64];

  for (size_t i = 0; i < n; i++)
    if ((int) strlen (v[i].name) > name_w)
      name_w = (int) strlen (v[i].name);
  printf ("%-*s  %-*s  %-7s  %s\n", ISLET_ID_LEN, "ID", name_w, "NAME", "STATE", "CREATED");
  for (size_t i = 0; i < n; i++)
    printf ("%-*s  %-*s  %-7s  %s\n", ISLET_ID_LEN, v[i].id, name_w, v[i].name,
            islet_info_state_name (&v[i]), cli_time (v[i].created, when, sizeof when));
}

int
cmd_ls (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  cleanup_free struct islet_sandbox_info *v = NULL;
  struct islet_err err = { 0 };
  struct islet_ctx *ctx;
  json_t *arr;
  size_t n = 0;
  int r;

  r = cli_parse (cli, &ls_spec, argc, argv, NULL, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r < 0)
    return cli_report (cli, &err);
  ctx = cli_ctx (cli, &err);
  if (ctx == NULL || islet_sandbox_list (ctx, &v, &n, &err) < 0)
    return cli_report (cli, &err);
  if (!cli->json)
    {
      ls_table (v, n);
      return CLI_EXIT_OK;
    }
  arr = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (arr, islet_sandbox_json (&v[i]));
  return cli_print_json (json_pack ("{s:o}", "sandboxes", arr));
}
