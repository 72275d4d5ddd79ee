/* islet cp: whole files between the host and a sandbox, streamed, so there is
 * no size limit but the disk's.  Exactly one side is ID:PATH. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const struct cli_opt cp_opts[] = {
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print source, destination and size as JSON", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec cp_spec = {
  .name = "cp",
  .args = "SRC DST",
  .about = "Copy one file into or out of a sandbox.  One side is ID:PATH (ID an id, id\n"
           "prefix or name; PATH inside the sandbox), the other a host path, or '-' for\n"
           "stdin or stdout.  A host path with a colon can be written ./a:b.  When DST is\n"
           "a directory, the file keeps its name.",
  .opts = { cp_opts },
  .min_pos = 2,
  .max_pos = 2,
  .raw_from = -1,
};

/* "ID:PATH" where ID has no slash, so ./a:b and /x:y stay host paths. */
static bool
split_remote (const char *arg, char **ref, const char **path)
{
  const char *colon = strchr (arg, ':');

  if (colon == NULL || colon == arg || memchr (arg, '/', (size_t) (colon - arg)) != NULL)
    return false;
  *ref = islet_xstrdup (arg);
  (*ref)[colon - arg] = '\0';
  *path = colon + 1;
  return true;
}

static const char *
base_name (const char *path)
{
  const char *slash = strrchr (path, '/');

  return slash ? slash + 1 : path;
}

static bool
ends_with_slash (const char *path)
{
  size_t n = strlen (path);

  return n > 0 && path[n - 1] == '/';
}

/* Into a directory, the file keeps its name, as with cp(1). */
static char *
in_target (struct cli *cli, const char *id, const char *host, const char *path,
           struct islet_err *err)
{
  cleanup_json json_t *st = NULL;
  struct islet_err ignored;
  bool dir = ends_with_slash (path);

  /* a stat failure is left for the copy itself to report */
  if (!dir && islet_fs_stat (cli->ctx, id, path, &st, &ignored) == 0)
    dir = json_is_true (json_object_get (st, "is_dir"));
  if (!dir)
    return islet_xstrdup (path);
  if (strcmp (host, "-") == 0 || base_name (host)[0] == '\0')
    {
      (void) islet_fail (err, ISLET_E_INVALID, 0, "'%s' is a directory: name the file to write",
                         path);
      return NULL;
    }
  return islet_xasprintf ("%s%s%s", path, ends_with_slash (path) ? "" : "/", base_name (host));
}

static int
copy_in (struct cli *cli, const char *host, const char *ref, const char *path, json_t **out,
         struct islet_err *err)
{
  cleanup_close int opened = -1;
  cleanup_free char *target = NULL;
  cleanup_json json_t *st = NULL;
  struct islet_sandbox_info info;
  int src = STDIN_FILENO;
  unsigned mode = 0644;
  struct stat hst;

  if (cli_resolve (cli, ref, &info, err) < 0)
    return -1;
  if (strcmp (host, "-") != 0)
    {
      opened = open (host, O_RDONLY | O_CLOEXEC | O_NOCTTY);
      if (opened < 0)
        return islet_fail (err, islet_errkind_from_errno (errno), errno, "open '%s'", host);
      if (fstat (opened, &hst) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "stat '%s'", host);
      if (S_ISDIR (hst.st_mode))
        return islet_fail (err, ISLET_E_INVALID, 0, "'%s' is a directory (cp copies one file)",
                           host);
      /* permissions travel, set-id bits do not */
      mode = hst.st_mode & 0777;
      src = opened;
    }
  target = in_target (cli, info.id, host, path, err);
  if (target == NULL || islet_fs_copy_in (cli->ctx, info.id, src, target, mode, err) < 0)
    return -1;
  if (out == NULL)
    return 0;
  if (islet_fs_stat (cli->ctx, info.id, target, &st, err) < 0)
    return -1;
  *out = json_pack ("{s:o,s:o,s:O}", "source", islet_json_bytes (host, strlen (host)),
                    "destination", json_sprintf ("%s:%s", info.id, target), "size",
                    json_object_get (st, "size"));
  return 0;
}

/* Into a temporary file renamed at the end: a failed copy never leaves a
 * half-written file under the real name. */
static int
copy_out_file (struct cli *cli, const char *id, const char *path, const char *target, unsigned mode,
               off_t *size, struct islet_err *err)
{
  cleanup_free char *tmp = islet_xasprintf ("%s.islet-XXXXXX", target);
  cleanup_close int fd = -1;
  mode_t mask = umask (0);
  struct stat st;

  umask (mask);
  fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "create '%s'", tmp);
  if (islet_fs_copy_out (cli->ctx, id, path, fd, err) < 0)
    {
      (void) unlink (tmp);
      return -1;
    }
  if (fchmod (fd, mode & ~mask) < 0 || fstat (fd, &st) < 0 || rename (tmp, target) < 0)
    {
      int e = errno;
      (void) unlink (tmp);
      return islet_fail (err, islet_errkind_from_errno (e), e, "write '%s'", target);
    }
  *size = st.st_size;
  return 0;
}

static int
copy_out (struct cli *cli, const char *ref, const char *path, const char *host, json_t **out,
          struct islet_err *err)
{
  cleanup_json json_t *st = NULL;
  cleanup_free char *target = NULL;
  struct islet_sandbox_info info;
  struct stat hst;
  off_t size = 0;
  unsigned mode;

  if (cli_resolve (cli, ref, &info, err) < 0
      || islet_fs_stat (cli->ctx, info.id, path, &st, err) < 0)
    return -1;
  if (json_is_true (json_object_get (st, "is_dir")))
    return islet_fail (err, ISLET_E_INVALID, 0, "'%s:%s' is a directory (cp copies one file)", ref,
                       path);
  if (strcmp (host, "-") == 0)
    return islet_fs_copy_out (cli->ctx, info.id, path, STDOUT_FILENO, err);
  mode = cli_json_mode (json_object_get (st, "mode")) & 0777;
  if (stat (host, &hst) == 0 && S_ISDIR (hst.st_mode))
    target = islet_xasprintf ("%s%s%s", host, ends_with_slash (host) ? "" : "/", base_name (path));
  else
    target = islet_xstrdup (host);
  if (copy_out_file (cli, info.id, path, target, mode ? mode : 0644, &size, err) < 0)
    return -1;
  if (out != NULL)
    *out = json_pack ("{s:o,s:o,s:I}", "source", json_sprintf ("%s:%s", info.id, path),
                      "destination", islet_json_bytes (target, strlen (target)), "size",
                      (json_int_t) size);
  return 0;
}

int
cmd_cp (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  cleanup_free char *src_ref = NULL;
  cleanup_free char *dst_ref = NULL;
  const char *src_path = NULL, *dst_path = NULL;
  struct islet_err err = { 0 };
  json_t *res = NULL;
  bool src_remote, dst_remote;
  int r;

  /* a sandbox that refuses a write (paused) closes before reading it:
   * the send must fail with EPIPE, so that its answer can be read */
  signal (SIGPIPE, SIG_IGN);
  r = cli_parse (cli, &cp_spec, argc, argv, NULL, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r < 0)
    return cli_report (cli, &err);
  src_remote = split_remote (pos.v[0], &src_ref, &src_path);
  dst_remote = split_remote (pos.v[1], &dst_ref, &dst_path);
  if (src_remote && dst_remote)
    r = islet_fail (&err, ISLET_E_INVALID, 0,
                    "cannot copy between two sandboxes: one of "
                    "SRC and DST must be a host path");
  else if (!src_remote && !dst_remote)
    r = islet_fail (&err, ISLET_E_INVALID, 0, "one of SRC and DST must be ID:PATH");
  else if ((src_remote ? src_path : dst_path)[0] == '\0')
    r = islet_fail (&err, ISLET_E_INVALID, 0, "'%s': no path after the colon",
                    src_remote ? pos.v[0] : pos.v[1]);
  else if (cli->json && src_remote && strcmp (pos.v[1], "-") == 0)
    r = islet_fail (&err, ISLET_E_INVALID, 0, "--json: stdout cannot hold both the file and JSON");
  else if (src_remote)
    r = copy_out (cli, src_ref, src_path, pos.v[1], cli->json ? &res : NULL, &err);
  else
    r = copy_in (cli, pos.v[0], dst_ref, dst_path, cli->json ? &res : NULL, &err);
  if (r < 0)
    return cli_report (cli, &err);
  return cli->json ? cli_print_json (res) : CLI_EXIT_OK;
}
