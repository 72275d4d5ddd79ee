/* Toolbox: find in contents, search names, replace, permissions
 * (/files/find, /files/search, /files/replace, /files/permissions).  Each
 * is one exec of grep, find, perl or chmod inside the sandbox, on the
 * sandbox's paths (the caller's values go in argv or the environment,
 * never into a script's text); a change of owner is done by the sandbox's
 * file side (islet_fs_chown). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "islet/util.h"
#include "toolbox.h"

#define MATCHES_MAX 10000

/* A path as an argument that no tool takes for an option. */
static char *
path_arg (const char *p)
{
  return *p == '-' ? islet_xasprintf ("./%s", p) : islet_xstrdup (p);
}

/* A tool's failure: 404 when the path is missing, 403 when refused, else 400. */
static void
tool_failed (struct resp *out, const char *what, const struct islet_exec_result *res)
{
  char why[256];

  sh_last_line (res->errout ? res->errout : "", res->err_len, why, sizeof why);
  if (strstr (why, "No such file or directory"))
    reply_error_daemon (out, 404, "FILE_NOT_FOUND", "%s: %s", what, why);
  else if (strstr (why, "Operation not permitted") || strstr (why, "Permission denied"))
    reply_error_daemon (out, 403, "FORBIDDEN", "%s: %s", what, why);
  else
    reply_error_daemon (out, 400, "BAD_REQUEST", "%s: %s", what, why);
}

static json_t *
grep_answer (const char *s, size_t len)
{
  return parse_grep (s, len, MATCHES_MAX);
}

static json_t *
search_answer (const char *s, size_t len)
{
  return json_pack ("{s:o}", "files", parse_nul_list (s, len, MATCHES_MAX));
}

/* find and search: argv with "{path}" and "{pattern}" standing for the
 * query's values; the tool's stdout parsed into the answer.  An exit code
 * over ok_exit with no output is a failure. */
static void
query_tool (struct req *r, struct resp *out, const char *what, const char *const *tmpl, int ok_exit,
            json_t *(*answer) (const char *, size_t))
{
  const char *path = tb_query (r, out, "path");
  const char *pattern = path ? tb_query (r, out, "pattern") : NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free char *p = NULL;
  struct islet_exec_result res;
  const char *argv[8];
  size_t n = 0;

  if (pattern == NULL || tb_open (r, &sb, out) < 0)
    return;
  p = path_arg (path);
  for (; tmpl[n] && n < 7; n++)
    argv[n] = strcmp (tmpl[n], "{path}") == 0      ? p
              : strcmp (tmpl[n], "{pattern}") == 0 ? pattern
                                                   : tmpl[n];
  argv[n] = NULL;
  if (sh_run (&sb, &(struct sh_run){ .argv = (char *const *) argv }, &res, out) < 0)
    return;
  if (res.exit_code > ok_exit && res.out_len == 0)
    tool_failed (out, what, &res);
  else
    reply_json (out, 200, answer (res.out ? res.out : "", res.out_len));
  islet_exec_result_fini (&res);
}

void
tb_files_find (struct req *r, struct resp *out)
{
  /* -Z: the file name ends with NUL (a name may hold ':'); -I: no binary.
   * grep's 1 is "no match"; 2 with matches: some file could not be read */
  query_tool (
      r, out, "find",
      (const char *[]){ "grep", "-rnIZ", "--color=never", "-e", "{pattern}", "--", "{path}", NULL },
      1, grep_answer);
}

void
tb_files_search (struct req *r, struct resp *out)
{
  query_tool (r, out, "search",
              (const char *[]){ "find", "{path}", "-name", "{pattern}", "-print0", NULL }, 0,
              search_answer);
}

/* $1...: the files.  For each, "0\0\0" or "1\0<why>\0".  The pattern and
 * the value come in the environment: perl quotes the pattern (\Q) and
 * interpolates the value once, so both are plain text. */
static const char REPLACE[]
    = "for f; do\n"
      "  if [ ! -f \"$f\" ]; then printf '1\\0%s\\0' \"no such file\"; continue; fi\n"
      "  if e=$(perl -0777 -i -pe 's/\\Q$ENV{ISLET_PATTERN}\\E/$ENV{ISLET_VALUE}/g' -- \"$f\" "
      "2>&1); then printf '0\\0\\0'; else printf '1\\0%s\\0' \"$e\"; fi\n"
      "done\n";

void
tb_files_replace (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_json json_t *env = NULL, *status = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free char **argv = NULL;
  struct islet_exec_result res;
  json_t *files, *f, *answer;
  const char *pattern, *value;
  size_t i, n = 0;

  if (j == NULL)
    return;
  files = json_object_get (j, "files");
  pattern = json_string_value (json_object_get (j, "pattern"));
  value = json_string_value (json_object_get (j, "newValue"));
  if (!json_is_array (files) || pattern == NULL || *pattern == '\0' || value == NULL)
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "the body needs files (an array), pattern (not empty) and newValue");
      return;
    }
  argv = islet_xcalloc (json_array_size (files) + 5, sizeof *argv);
  argv[n++] = (char *) "bash";
  argv[n++] = (char *) "-c";
  argv[n++] = (char *) REPLACE;
  argv[n++] = (char *) "islet-replace";
  json_array_foreach (files, i, f)
  {
    if (!json_is_string (f) || json_string_length (f) == 0)
      {
        reply_error (out, 400, "BAD_REQUEST", "files must hold non-empty paths");
        return;
      }
    argv[n++] = (char *) json_string_value (f);
  }
  if (tb_open (r, &sb, out) < 0)
    return;
  env = json_pack ("{s:s,s:s}", "ISLET_PATTERN", pattern, "ISLET_VALUE", value);
  if (sh_run (&sb, &(struct sh_run){ .argv = argv, .envs = env }, &res, out) < 0)
    return;
  status = parse_nul_list (res.out ? res.out : "", res.out_len, 2 * json_array_size (files));
  islet_exec_result_fini (&res);
  answer = json_array ();
  json_array_foreach (files, i, f)
  {
    const char *ok = json_string_value (json_array_get (status, 2 * i));
    const char *why = json_string_value (json_array_get (status, 2 * i + 1));
    json_t *e = json_pack ("{s:O,s:b}", "file", f, "success", ok && strcmp (ok, "0") == 0);

    if (!(ok && strcmp (ok, "0") == 0))
      json_object_set_new (e, "error", json_string (why && *why ? why : "not replaced"));
    json_array_append_new (answer, e);
  }
  reply_json (out, 200, answer);
}

/* A user or group name or id, nothing that could be taken for an option. */
static bool
owner_ok (const char *s)
{
  size_t n = strlen (s);
  return n > 0 && n <= 64 && *s != '-'
         && strspn (s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* $1 path, $2 mode.  Exit 3: no such path. */
static const char CHMOD[] = "[ -e \"$1\" ] || [ -L \"$1\" ] || { echo \"$1: No such file or "
                            "directory\" >&2; exit 3; }\n"
                            "chmod -- \"$2\" \"$1\" || exit 1\n";

struct id_db
{
  const char *what, *file, *kind;
};

static const struct id_db users = { "owner", "/etc/passwd", "user" };
static const struct id_db groups = { "group", "/etc/group", "group" };

/* A user or group of the sandbox's: a number, or a name that its own
 * /etc/passwd or /etc/group has (read there by its file agent: the sandbox
 * says who its users are).  *id: -1 for "" (unchanged). */
static int
sandbox_id (struct sb_ref *sb, const struct id_db *db, const char *name, int64_t *id,
            struct resp *out)
{
  cleanup_free char *text = NULL;
  struct islet_err e;
  size_t len;
  long v;

  *id = -1;
  if (*name == '\0')
    return 0;
  if (strspn (name, "0123456789") == strlen (name))
    v = strlen (name) <= 6 ? strtol (name, NULL, 10) : LONG_MAX;
  else if (islet_fs_read (sb->ctx, sb->info.id, db->file, (size_t) 4 << 20, &text, &len, &e) < 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s '%s': the sandbox's %s cannot be read: %s",
                   db->what, name, db->file, e.msg);
      return -1;
    }
  else if ((v = parse_id_entry (text, len, name)) < 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s '%s' is not a %s of the sandbox (not in its %s)",
                   db->what, name, db->kind, db->file);
      return -1;
    }
  if (v > 65535)
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "%s '%s' is id %ld, outside the ids of a sandbox (0 to 65535)", db->what, name,
                   v);
      return -1;
    }
  *id = v;
  return 0;
}

/* Owner and group, then the mode: set by the sandbox's file side
 * (islet_fs_chown, a handler inside the sandbox with CAP_CHOWN and
 * CAP_FOWNER and no other capability), so the path means what it means in
 * the sandbox and a link is not followed for the owner; the mode after
 * it, since a chown clears set-id bits and the sandbox's root could not
 * chmod a file it no longer owns. */
static int
give (struct sb_ref *sb, const char *path, int64_t uid, int64_t gid, int mode, struct resp *out)
{
  struct islet_err e;

  if (islet_fs_chown (sb->ctx, sb->info.id, path, uid, gid, mode, &e) == 0)
    return 0;
  if (e.errnum == EPERM)
    reply_error_daemon (out, 403, "FORBIDDEN",
                        "permissions: '%s' cannot change owner: its owner or the new one is not "
                        "an id of the sandbox's (a file of the host's, seen through its image)",
                        path);
  else
    reply_islet_err (out, &e, true);
  return -1;
}

void
tb_files_permissions (struct req *r, struct resp *out)
{
  const char *path = tb_query (r, out, "path");
  const char *mode = req_query (r, "mode"), *owner = req_query (r, "owner");
  const char *group = req_query (r, "group");
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free char *p = NULL;
  struct islet_exec_result res;
  int64_t uid, gid;

  if (path == NULL)
    return;
  mode = mode ? mode : "";
  owner = owner ? owner : "";
  group = group ? group : "";
  if (*mode && (strlen (mode) > 4 || strspn (mode, "01234567") != strlen (mode)))
    {
      reply_error (out, 400, "BAD_REQUEST", "mode '%s' is not an octal mode", mode);
      return;
    }
  if ((*owner && !owner_ok (owner)) || (*group && !owner_ok (group)))
    {
      reply_error (out, 400, "BAD_REQUEST", "owner and group must be user and group names or ids");
      return;
    }
  if (tb_open (r, &sb, out) < 0 || sandbox_id (&sb, &users, owner, &uid, out) < 0
      || sandbox_id (&sb, &groups, group, &gid, out) < 0)
    return;
  if (uid >= 0 || gid >= 0)
    {
      if (give (&sb, path, uid, gid, *mode ? (int) strtol (mode, NULL, 8) : -1, out) == 0)
        reply_json (out, 200, json_object ());
      return;
    }
  if (*mode == '\0')
    {
      reply_json (out, 200, json_object ());
      return;
    }
  p = path_arg (path);
  if (sh_run (&sb,
              &(struct sh_run){ .argv = (char *const[]){ "bash", "-c", (char *) CHMOD,
                                                         "islet-chmod", p, (char *) mode, NULL } },
              &res, out)
      < 0)
    return;
  if (res.exit_code != 0)
    tool_failed (out, "permissions", &res);
  else
    reply_json (out, 200, json_object ());
  islet_exec_result_fini (&res);
}
