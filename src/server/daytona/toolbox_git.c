/* Toolbox: git (/git/...).  git runs inside the sandbox through the core's
 * exec (`git -C <path> ...`, no shell), so a repository path is the
 * sandbox's, and so is the network: loopback only, so a clone of a URL
 * fails (with git's reason) and a path inside the sandbox works.
 *
 * Credentials never reach argv or .git/config: the username and password
 * go to git in the environment of one exec, through the askpass wrapper of
 * include/islet/gitcred.h (the MCP tools use the same);
 * GIT_TERMINAL_PROMPT=0 so git never waits for a terminal. */
#include <string.h>
#include <strings.h>

#include "islet/gitcred.h"
#include "islet/util.h"
#include "toolbox.h"

#define GIT_ARGS_MAX 16

struct git
{
  const char *argv[GIT_ARGS_MAX + 8];
  size_t n;
  json_t *env; /* owned */
};

static void
git_fini (struct git *g)
{
  json_decref (g->env);
}
#define cleanup_git __attribute__ ((cleanup (git_fini)))

static void
arg (struct git *g, const char *a)
{
  if (g->n < GIT_ARGS_MAX + 7)
    g->argv[g->n++] = a;
}

/* `git -C path`, with the credentials of body (username, password) when
 * it has them. */
static void
git_begin (struct git *g, const char *path, json_t *body)
{
  const char *user = json_string_value (json_object_get (body, "username"));
  const char *pass = json_string_value (json_object_get (body, "password"));

  g->n = 0;
  g->env = json_pack ("{s:s}", "GIT_TERMINAL_PROMPT", "0");
  if ((user && *user) || (pass && *pass))
    {
      arg (g, "bash");
      arg (g, "-c");
      arg (g, islet_git_askpass_sh);
      arg (g, "islet-git");
      json_object_set_new (g->env, "ISLET_GIT_USERNAME", json_string (user ? user : ""));
      json_object_set_new (g->env, "ISLET_GIT_PASSWORD", json_string (pass ? pass : ""));
    }
  else
    arg (g, "git");
  if (path)
    {
      arg (g, "-C");
      arg (g, path);
    }
}

/* A git failure as an answer, with git's own reason. */
static void
git_failed (struct resp *out, const char *op, const struct islet_exec_result *res)
{
  const char *e = res->errout ? res->errout : "";
  char why[384];

  sh_last_line (e, res->err_len, why, sizeof why);
  if (why[0] == '\0')
    sh_last_line (res->out ? res->out : "", res->out_len, why, sizeof why);
  if (strstr (e, "Authentication failed") || strstr (e, "could not read Username")
      || strstr (e, "could not read Password"))
    reply_error_daemon (out, 401, "GIT_AUTH_FAILED", "git %s: %s", op, why);
  else if (strstr (e, "Could not resolve host") || strstr (e, "Failed to connect")
           || strstr (e, "Connection refused") || strstr (e, "unable to access"))
    reply_error_daemon (out, 502, "GIT_NETWORK_ERROR",
                        "git %s: %s (the sandbox's network is loopback only)", op, why);
  else if (strstr (e, "not a git repository") || strstr (e, "cannot change to"))
    reply_error_daemon (out, 404, "GIT_REPO_NOT_FOUND", "git %s: %s", op, why);
  else
    reply_error_daemon (out, 400, "GIT_OPERATION_FAILED", "git %s: %s", op, why);
}

/* Run g in the sandbox, whatever git's exit code; -1 with the answer in
 * out when it could not run. */
static int
git_try (struct sb_ref *sb, struct git *g, struct islet_exec_result *res, struct resp *out)
{
  g->argv[g->n] = NULL;
  return sh_run (sb, &(struct sh_run){ .argv = (char *const *) g->argv, .envs = g->env }, res, out);
}

/* What git says of a setting or a match that is not there: exit 1, and
 * nothing on stderr. */
static bool
git_none (const struct islet_exec_result *res)
{
  return res->exit_code == 1 && res->err_len == 0;
}

/* Run g in the sandbox; 0 when git succeeded (res kept for the caller), -1
 * with the answer in out. */
static int
git_run (struct sb_ref *sb, struct git *g, const char *op, struct islet_exec_result *res,
         struct resp *out)
{
  if (git_try (sb, g, res, out) < 0)
    return -1;
  if (res->exit_code != 0)
    {
      git_failed (out, op, res);
      islet_exec_result_fini (res);
      return -1;
    }
  snprintf (out->note, sizeof out->note, "git %s", op);
  return 0;
}

/* A string field of body; NULL if absent or empty.  A value that git could
 * take for an option (leading '-') is refused: *bad set. */
static const char *
opt_str (json_t *body, const char *name, bool *bad)
{
  const char *s = json_string_value (json_object_get (body, name));

  if (s && *s == '-')
    *bad = true;
  return s && *s ? s : NULL;
}

/* The body and its "path" (the repository), and the sandbox; -1 with the
 * answer in out. */
static int
git_open (struct req *r, struct resp *out, json_t **body, const char **path, struct sb_ref *sb)
{
  *body = req_json_object (r, out);
  if (*body == NULL)
    return -1;
  *path = json_string_value (json_object_get (*body, "path"));
  if (*path == NULL || **path == '\0')
    {
      reply_error (out, 400, "BAD_REQUEST", "path must be a non-empty string");
      return -1;
    }
  return tb_open (r, sb, out);
}

static void
bad_option (struct resp *out)
{
  reply_error (out, 400, "BAD_REQUEST", "a name, branch or remote may not begin with '-'");
}

void
tb_git_clone (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_git struct git g = { 0 };
  struct islet_exec_result res;
  const char *path, *url, *branch, *commit;
  json_t *depth;
  char dbuf[24];
  bool bad = false;

  if (git_open (r, out, &j, &path, &sb) < 0)
    return;
  url = json_string_value (json_object_get (j, "url"));
  branch = opt_str (j, "branch", &bad);
  commit = opt_str (j, "commit_id", &bad);
  depth = json_object_get (j, "depth");
  if (url == NULL || *url == '\0')
    {
      reply_error (out, 400, "BAD_REQUEST", "url must be a non-empty string");
      return;
    }
  if (bad)
    {
      bad_option (out);
      return;
    }
  if (depth && !json_is_null (depth)
      && (!json_is_integer (depth) || json_integer_value (depth) < 1))
    {
      reply_error (out, 400, "BAD_REQUEST", "depth must be a positive integer");
      return;
    }
  git_begin (&g, NULL, j);
  if (json_is_true (json_object_get (j, "insecure_skip_tls")))
    {
      arg (&g, "-c");
      arg (&g, "http.sslVerify=false");
    }
  arg (&g, "clone");
  arg (&g, "-q");
  if (branch)
    {
      arg (&g, "--branch");
      arg (&g, branch);
    }
  if (json_is_integer (depth))
    {
      snprintf (dbuf, sizeof dbuf, "--depth=%lld", (long long) json_integer_value (depth));
      arg (&g, dbuf);
    }
  arg (&g, "--");
  arg (&g, url);
  arg (&g, path);
  if (git_run (&sb, &g, "clone", &res, out) < 0)
    return;
  islet_exec_result_fini (&res);
  if (commit)
    {
      json_decref (g.env);
      git_begin (&g, path, NULL);
      arg (&g, "checkout");
      arg (&g, "-q");
      arg (&g, "--detach");
      arg (&g, commit);
      arg (&g, "--");
      if (git_run (&sb, &g, "checkout", &res, out) < 0)
        return;
      islet_exec_result_fini (&res);
    }
  reply_json (out, 200, json_object ());
}

/* A GET route: git's words on the repository of ?path=, its stdout parsed
 * (none_ok: git finding nothing is an empty answer). */
static void
git_read (struct req *r, struct resp *out, const char *const *words,
          json_t *(*parse) (const char *, size_t), bool none_ok)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_git struct git g = { 0 };
  struct islet_exec_result res;
  const char *path = req_query (r, "path");

  if (path == NULL || *path == '\0')
    {
      reply_error (out, 400, "BAD_REQUEST", "the query needs path");
      return;
    }
  if (tb_open (r, &sb, out) < 0)
    return;
  git_begin (&g, path, NULL);
  for (; *words; words++)
    arg (&g, *words);
  if (git_try (&sb, &g, &res, out) < 0)
    return;
  if (res.exit_code == 0 || (none_ok && git_none (&res)))
    reply_json (out, 200, parse (res.out ? res.out : "", res.out_len));
  else
    git_failed (out, g.argv[3], &res);
  islet_exec_result_fini (&res);
}

void
tb_git_status (struct req *r, struct resp *out)
{
  git_read (r, out, (const char *[]){ "status", "--porcelain=v1", "-b", "-z", NULL },
            parse_git_status, false);
}

/* g's words, then "--" and the paths of body's "files" */
static int git_run_files (struct sb_ref *sb, struct git *g, json_t *files, bool required,
                          const char *op, struct resp *out);

void
tb_git_add (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_git struct git g = { 0 };
  const char *path;

  if (git_open (r, out, &j, &path, &sb) < 0)
    return;
  git_begin (&g, path, NULL);
  arg (&g, "add");
  if (git_run_files (&sb, &g, json_object_get (j, "files"), true, "add", out) == 0)
    reply_json (out, 200, json_object ());
}

void
tb_git_commit (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_git struct git g = { 0 };
  struct islet_exec_result res;
  const char *path, *msg, *author, *email;
  char hash[64];

  if (git_open (r, out, &j, &path, &sb) < 0)
    return;
  msg = json_string_value (json_object_get (j, "message"));
  author = json_string_value (json_object_get (j, "author"));
  email = json_string_value (json_object_get (j, "email"));
  if (msg == NULL)
    {
      reply_error (out, 400, "BAD_REQUEST", "message must be a string");
      return;
    }
  git_begin (&g, path, NULL);
  /* the identity in the environment: git reads it before any config */
  if (author && *author)
    {
      json_object_set_new (g.env, "GIT_AUTHOR_NAME", json_string (author));
      json_object_set_new (g.env, "GIT_COMMITTER_NAME", json_string (author));
    }
  if (email && *email)
    {
      json_object_set_new (g.env, "GIT_AUTHOR_EMAIL", json_string (email));
      json_object_set_new (g.env, "GIT_COMMITTER_EMAIL", json_string (email));
    }
  arg (&g, "commit");
  arg (&g, "-q");
  if (json_is_true (json_object_get (j, "allow_empty")))
    arg (&g, "--allow-empty");
  arg (&g, "-m");
  arg (&g, msg);
  if (git_run (&sb, &g, "commit", &res, out) < 0)
    return;
  islet_exec_result_fini (&res);
  g.n = 3; /* git -C path */
  arg (&g, "rev-parse");
  arg (&g, "HEAD");
  if (git_run (&sb, &g, "rev-parse", &res, out) < 0)
    return;
  sh_last_line (res.out ? res.out : "", res.out_len, hash, sizeof hash);
  islet_exec_result_fini (&res);
  reply_json (out, 200, json_pack ("{s:s}", "hash", hash));
}

/* push and pull: [remote [branch]], with the credentials of the body. */
static void
git_sync (struct req *r, struct resp *out, const char *op)
{
  cleanup_json json_t *j = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_git struct git g = { 0 };
  struct islet_exec_result res;
  const char *path, *remote, *branch;
  bool bad = false;

  if (git_open (r, out, &j, &path, &sb) < 0)
    return;
  remote = opt_str (j, "remote", &bad);
  branch = opt_str (j, "branch", &bad);
  if (bad)
    {
      bad_option (out);
      return;
    }
  git_begin (&g, path, j);
  if (strcmp (op, "pull") == 0)
    {
      arg (&g, "-c");
      arg (&g, "pull.rebase=false");
    }
  arg (&g, op);
  arg (&g, "-q");
  if (strcmp (op, "push") == 0 && json_is_true (json_object_get (j, "set_upstream")))
    arg (&g, "--set-upstream");
  if (remote || branch)
    arg (&g, remote ? remote : "origin");
  if (branch)
    arg (&g, branch);
  if (git_run (&sb, &g, op, &res, out) < 0)
    return;
  islet_exec_result_fini (&res);
  reply_json (out, 200, json_object ());
}

void
tb_git_push (struct req *r, struct resp *out)
{
  git_sync (r, out, "push");
}

void
tb_git_pull (struct req *r, struct resp *out)
{
  git_sync (r, out, "pull");
}

void
tb_git_branches (struct req *r, struct resp *out)
{
  git_read (r, out, (const char *[]){ "branch", "--format=%(HEAD)%(refname:short)", NULL },
            parse_git_branches, false);
}

/* create, delete, checkout: one name, then the command's words. */
static void
git_named (struct req *r, struct resp *out, const char *field, const char *op,
           const char *const *words, bool name_last)
{
  cleanup_json json_t *j = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_git struct git g = { 0 };
  struct islet_exec_result res;
  const char *path, *name;
  bool bad = false;

  if (git_open (r, out, &j, &path, &sb) < 0)
    return;
  name = opt_str (j, field, &bad);
  if (bad)
    {
      bad_option (out);
      return;
    }
  if (name == NULL)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s must be a non-empty string", field);
      return;
    }
  git_begin (&g, path, NULL);
  for (; *words; words++)
    arg (&g, *words);
  arg (&g, name);
  if (!name_last)
    arg (&g, "--"); /* a name, never a path */
  if (git_run (&sb, &g, op, &res, out) < 0)
    return;
  islet_exec_result_fini (&res);
  reply_json (out, 200, json_object ());
}

void
tb_git_branch_create (struct req *r, struct resp *out)
{
  git_named (r, out, "name", "branch", (const char *[]){ "branch", NULL }, true);
}

void
tb_git_branch_delete (struct req *r, struct resp *out)
{
  git_named (r, out, "name", "branch -D", (const char *[]){ "branch", "-D", NULL }, true);
}

void
tb_git_checkout (struct req *r, struct resp *out)
{
  git_named (r, out, "branch", "checkout", (const char *[]){ "checkout", "-q", NULL }, false);
}

/* ---- init, reset, restore, remotes, config ---- */

/* g's words, then "--" and the paths of body's "files" (an array of
 * non-empty strings; required: at least one), run; -1 with the answer in
 * out.  Its own argv: any number of files. */
static int
git_run_files (struct sb_ref *sb, struct git *g, json_t *files, bool required, const char *op,
               struct resp *out)
{
  cleanup_free const char **argv = NULL;
  struct islet_exec_result res;
  size_t i, n = 0;
  bool failed;
  json_t *f;

  if ((files && !json_is_array (files)) || (required && json_array_size (files) == 0))
    {
      reply_error (out, 400, "BAD_REQUEST", "files must be a %sarray of paths",
                   required ? "non-empty " : "");
      return -1;
    }
  argv = islet_xcalloc (g->n + json_array_size (files) + 2, sizeof *argv);
  for (; n < g->n; n++)
    argv[n] = g->argv[n];
  argv[n++] = "--";
  json_array_foreach (files, i, f)
  {
    if (!json_is_string (f) || json_string_length (f) == 0)
      {
        reply_error (out, 400, "BAD_REQUEST", "files must be an array of non-empty paths");
        return -1;
      }
    argv[n++] = json_string_value (f);
  }
  if (sh_run (sb, &(struct sh_run){ .argv = (char *const *) argv, .envs = g->env }, &res, out) < 0)
    return -1;
  failed = res.exit_code != 0;
  if (failed)
    git_failed (out, op, &res);
  islet_exec_result_fini (&res);
  if (failed)
    return -1;
  snprintf (out->note, sizeof out->note, "git %s", op);
  return 0;
}

void
tb_git_init (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_git struct git g = { 0 };
  struct islet_exec_result res;
  const char *path, *branch;
  bool bad = false;

  if (git_open (r, out, &j, &path, &sb) < 0)
    return;
  branch = opt_str (j, "initial_branch", &bad);
  if (bad)
    {
      bad_option (out);
      return;
    }
  git_begin (&g, NULL, NULL);
  arg (&g, "init");
  arg (&g, "-q");
  if (json_is_true (json_object_get (j, "bare")))
    arg (&g, "--bare");
  if (branch)
    {
      arg (&g, "--initial-branch");
      arg (&g, branch);
    }
  arg (&g, "--");
  arg (&g, path);
  if (git_run (&sb, &g, "init", &res, out) < 0)
    return;
  islet_exec_result_fini (&res);
  reply_json (out, 200, json_object ());
}

/* git reset's modes; a reset of files takes none but the default */
static const char *const reset_modes[] = { "soft", "mixed", "hard", "merge", "keep" };

void
tb_git_reset (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_git struct git g = { 0 };
  const char *path, *mode, *target;
  json_t *files;
  char flag[16] = "";
  bool bad = false;

  if (git_open (r, out, &j, &path, &sb) < 0)
    return;
  mode = opt_str (j, "mode", &bad);
  target = opt_str (j, "target", &bad);
  files = json_object_get (j, "files");
  if (bad)
    {
      bad_option (out);
      return;
    }
  for (size_t i = 0; mode && !flag[0] && i < sizeof reset_modes / sizeof reset_modes[0]; i++)
    if (strcasecmp (mode, reset_modes[i]) == 0)
      snprintf (flag, sizeof flag, "--%s", reset_modes[i]);
  if (mode && !flag[0])
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "mode '%s' is not one of soft, mixed, hard, merge, keep", mode);
      return;
    }
  if (json_array_size (files) > 0 && flag[0] && strcmp (flag, "--mixed") != 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "a reset of files takes no mode but mixed, not %s",
                   mode);
      return;
    }
  git_begin (&g, path, NULL);
  arg (&g, "reset");
  arg (&g, "-q");
  if (flag[0] && json_array_size (files) == 0)
    arg (&g, flag);
  if (target)
    arg (&g, target);
  if (git_run_files (&sb, &g, json_is_null (files) ? NULL : files, false, "reset", out) == 0)
    reply_json (out, 200, json_object ());
}

void
tb_git_restore (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_git struct git g = { 0 };
  cleanup_free char *src = NULL;
  const char *path, *source;
  bool bad = false;

  if (git_open (r, out, &j, &path, &sb) < 0)
    return;
  source = opt_str (j, "source", &bad);
  if (bad)
    {
      bad_option (out);
      return;
    }
  git_begin (&g, path, NULL);
  arg (&g, "restore");
  if (json_is_true (json_object_get (j, "staged")))
    arg (&g, "--staged");
  if (json_is_true (json_object_get (j, "worktree")))
    arg (&g, "--worktree");
  if (source)
    arg (&g, src = islet_xasprintf ("--source=%s", source));
  if (git_run_files (&sb, &g, json_object_get (j, "files"), true, "restore", out) == 0)
    reply_json (out, 200, json_object ());
}

void
tb_git_remote_add (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_git struct git g = { 0 };
  struct islet_exec_result res;
  const char *path, *name, *url;
  bool bad = false, exists;

  if (git_open (r, out, &j, &path, &sb) < 0)
    return;
  name = opt_str (j, "name", &bad);
  url = opt_str (j, "url", &bad);
  if (bad)
    {
      bad_option (out);
      return;
    }
  if (name == NULL || url == NULL)
    {
      reply_error (out, 400, "BAD_REQUEST", "name and url must be non-empty strings");
      return;
    }
  git_begin (&g, path, NULL);
  arg (&g, "remote");
  arg (&g, "get-url");
  arg (&g, name);
  if (git_try (&sb, &g, &res, out) < 0)
    return;
  exists = res.exit_code == 0;
  islet_exec_result_fini (&res);
  if (exists && !json_is_true (json_object_get (j, "overwrite")))
    {
      reply_error_daemon (out, 409, "GIT_OPERATION_FAILED",
                          "git remote add: remote '%s' exists (overwrite replaces its url)", name);
      return;
    }
  g.n = 4; /* git -C path remote */
  arg (&g, exists ? "set-url" : "add");
  arg (&g, name);
  arg (&g, url);
  if (git_run (&sb, &g, "remote add", &res, out) < 0)
    return;
  islet_exec_result_fini (&res);
  if (json_is_true (json_object_get (j, "fetch")))
    {
      g.n = 3;
      arg (&g, "fetch");
      arg (&g, "-q");
      arg (&g, name);
      if (git_run (&sb, &g, "fetch", &res, out) < 0)
        return;
      islet_exec_result_fini (&res);
    }
  reply_json (out, 200, json_object ());
}

/* from the repository's own config: a remote is a remote.<name>.url */
void
tb_git_remotes (struct req *r, struct resp *out)
{
  git_read (
      r, out,
      (const char *[]){ "config", "-z", "--local", "--get-regexp", "^remote\\..*\\.url$", NULL },
      parse_git_remotes, true);
}

/* --global (the sandbox's /root/.gitconfig, the SDK's default), --local
 * (the repository at path) or --system (the sandbox's /etc/gitconfig) */
static const char *
scope_flag (const char *scope, const char *path, struct resp *out)
{
  static const char *const scopes[] = { "global", "local", "system" };
  static const char *const flags[] = { "--global", "--local", "--system" };

  for (size_t i = 0; i < sizeof scopes / sizeof scopes[0]; i++)
    if (strcmp (scope ? scope : "global", scopes[i]) == 0)
      {
        if (i == 1 && (path == NULL || *path == '\0'))
          break;
        return flags[i];
      }
  reply_error (out, 400, "BAD_REQUEST",
               "scope must be global, system, or local with a path (not '%s'%s)",
               scope ? scope : "", path && *path ? "" : " without a path");
  return NULL;
}

/* git config SCOPE KEY VALUE for each pair (key NULL ends) */
static void
git_config_set (struct req *r, struct resp *out, json_t *j, const char *const *kv)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_git struct git g = { 0 };
  struct islet_exec_result res;
  const char *path = json_string_value (json_object_get (j, "path"));
  const char *scope = scope_flag (json_string_value (json_object_get (j, "scope")), path, out);

  if (scope == NULL || tb_open (r, &sb, out) < 0)
    return;
  for (; kv[0]; kv += 2)
    {
      if (*kv[0] == '-' || *kv[0] == '\0' || kv[1] == NULL)
        {
          reply_error (out, 400, "BAD_REQUEST",
                       "a config key and value must be strings, the "
                       "key not empty nor beginning with '-'");
          return;
        }
      json_decref (g.env);
      git_begin (&g, strcmp (scope, "--local") == 0 ? path : NULL, NULL);
      arg (&g, "config");
      arg (&g, scope);
      arg (&g, "--");
      arg (&g, kv[0]);
      arg (&g, kv[1]);
      if (git_run (&sb, &g, "config", &res, out) < 0)
        return;
      islet_exec_result_fini (&res);
    }
  reply_json (out, 200, json_object ());
}

void
tb_git_config_set (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);

  if (j)
    git_config_set (r, out, j,
                    (const char *[]){ json_string_value (json_object_get (j, "key")) ?: "",
                                      json_string_value (json_object_get (j, "value")), NULL });
}

void
tb_git_configure_user (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  const char *name, *email;

  if (j == NULL)
    return;
  name = json_string_value (json_object_get (j, "name"));
  email = json_string_value (json_object_get (j, "email"));
  if (name == NULL || *name == '\0' || email == NULL || *email == '\0')
    {
      reply_error (out, 400, "BAD_REQUEST", "name and email must be non-empty strings");
      return;
    }
  git_config_set (r, out, j,
                  (const char *[]){ "user.name", name, "user.email", email, NULL, NULL });
}

/* The value of ?key= in ?scope= ({} when it is not set). */
void
tb_git_config_get (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_git struct git g = { 0 };
  struct islet_exec_result res;
  const char *key = req_query (r, "key"), *path = req_query (r, "path");
  const char *scope = scope_flag (req_query (r, "scope"), path, out);

  if (scope == NULL)
    return;
  if (key == NULL || *key == '\0' || *key == '-')
    {
      reply_error (out, 400, "BAD_REQUEST", "the query needs key (not beginning with '-')");
      return;
    }
  if (tb_open (r, &sb, out) < 0)
    return;
  git_begin (&g, strcmp (scope, "--local") == 0 ? path : NULL, NULL);
  arg (&g, "config");
  arg (&g, scope);
  arg (&g, "--get");
  arg (&g, "--");
  arg (&g, key);
  if (git_try (&sb, &g, &res, out) < 0)
    return;
  if (git_none (&res))
    reply_json (out, 200, json_object ());
  else if (res.exit_code != 0)
    git_failed (out, "config", &res);
  else
    {
      size_t n = res.out_len;
      while (n > 0 && res.out[n - 1] == '\n')
        n--;
      reply_json (out, 200, json_pack ("{s:o}", "value", tb_json_text (res.out, n)));
    }
  islet_exec_result_fini (&res);
}
