/* git_operation: git run inside the sandbox by the core's exec, the
 * caller's values in argv (never in a script's text), credentials through
 * the askpass wrapper of islet/gitcred.h (isletd's git routes use the
 * same) and the environment of that one command.
 * create_sandbox's git_repo is a clone through here too. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "internal.h"
#include "islet/gitcred.h"

/* Values that git would read as options are refused. */
static int
git_value (const json_t *args, const char *name, bool required, const char **out,
           struct islet_err *err)
{
  *out = str_arg (args, name);
  if (*out == NULL && required)
    return islet_fail (err, ISLET_E_INVALID, 0, "this git operation needs %s", name);
  if (*out && ((*out)[0] == '-' || (*out)[0] == '\0'))
    return islet_fail (err, ISLET_E_INVALID, 0, "%s must not be empty or start with '-'", name);
  return 0;
}

/* A file of the sandbox's /tmp under a random name, for one command. */
static int
tmp_file (const struct call *c, const char *id, const char *what, const char *text, unsigned mode,
          char **path, struct islet_err *err)
{
  unsigned char rnd[6];

  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "getrandom");
  *path = islet_xasprintf ("/tmp/.islet-%s-%02x%02x%02x%02x%02x%02x", what, rnd[0], rnd[1], rnd[2],
                           rnd[3], rnd[4], rnd[5]);
  return islet_fs_write (c->h->ctx, id, *path, text, strlen (text), mode, err);
}

/* The argv of an operation on an existing repository, from argv[*n] on;
 * cfg holds the strings made for it. */
static int
repo_argv (const json_t *args, const char *op, const char *path, const char *branch,
           const char **argv, size_t max, size_t *n, char *cfg[2], struct islet_err *err)
{
  const json_t *files = json_object_get (args, "files"), *f;
  const char *msg;
  size_t i;

  argv[(*n)++] = "-C";
  argv[(*n)++] = path ? path : "/workspace";
  if (strcmp (op, "status") == 0)
    {
      argv[(*n)++] = "status";
      argv[(*n)++] = "--porcelain=v1";
      argv[(*n)++] = "--branch";
    }
  else if (strcmp (op, "add") == 0)
    {
      argv[(*n)++] = "add";
      argv[(*n)++] = json_array_size (files) ? "--" : "-A";
      json_array_foreach (files, i, f)
      {
        if (*n >= max - 2)
          return islet_fail (err, ISLET_E_INVALID, 0, "at most %zu files at once", max - 8);
        argv[(*n)++] = json_string_value (f);
      }
    }
  else if (strcmp (op, "commit") == 0)
    {
      if (git_value (args, "message", true, &msg, err) < 0)
        return -1;
      cfg[0] = islet_xasprintf ("user.name=%s", str_arg (args, "author") ?: "islet");
      cfg[1] = islet_xasprintf ("user.email=%s", str_arg (args, "email") ?: "islet@localhost");
      argv[(*n)++] = "-c";
      argv[(*n)++] = cfg[0];
      argv[(*n)++] = "-c";
      argv[(*n)++] = cfg[1];
      argv[(*n)++] = "commit";
      argv[(*n)++] = "-m";
      argv[(*n)++] = msg;
    }
  else if (strcmp (op, "push") == 0 || strcmp (op, "pull") == 0)
    {
      argv[(*n)++] = op;
      if (branch)
        {
          argv[(*n)++] = "origin";
          argv[(*n)++] = branch;
        }
    }
  else if (strcmp (op, "branches") == 0)
    {
      argv[(*n)++] = "branch";
      argv[(*n)++] = branch ? "--" : "--list";
      if (branch)
        argv[(*n)++] = branch;
    }
  else if (strcmp (op, "checkout") == 0)
    {
      if (branch == NULL)
        return islet_fail (err, ISLET_E_INVALID, 0, "checkout needs branch");
      argv[(*n)++] = "checkout";
      argv[(*n)++] = branch;
      argv[(*n)++] = "--";
    }
  else
    return islet_fail (err, ISLET_E_INVALID, 0, "no git operation '%s'", op);
  return 0;
}

/* The new commit's hash, from the repository itself. */
static void
add_commit_hash (const struct call *c, const char *id, const char *path, json_t *out)
{
  const char *rev[] = { "git", "-C", path ? path : "/workspace", "rev-parse", "HEAD", NULL };
  cleanup_json json_t *h = NULL;
  struct islet_err ignored;
  const char *text;

  if (run_in (c, id, (char *const *) rev, NULL, NULL, 0, false, &h, &ignored) < 0)
    return;
  if ((text = str_arg (h, "stdout")) != NULL)
    json_object_set_new (out, "commit", json_stringn (text, strcspn (text, "\n")));
}

int
git_in (const struct call *c, const char *id, const json_t *args, bool trust_source, bool spooled,
        json_t **out, struct islet_err *err)
{
  const char *op = str_arg (args, "operation"), *path, *url, *branch;
  const char *user = str_arg (args, "username"), *pass = str_arg (args, "password");
  cleanup_free char *global = NULL;
  cleanup_json json_t *env = json_object ();
  char *cfg[2] = { NULL, NULL };
  const char *argv[64];
  struct islet_err ignored;
  size_t n = 0;
  int r = -1;

  if (git_value (args, "path", false, &path, err) < 0
      || git_value (args, "branch", false, &branch, err) < 0)
    return -1;
  json_object_set_new (env, "GIT_TERMINAL_PROMPT", json_string ("0"));
  if (user || pass)
    {
      /* the secrets go in the environment of this one command, through
       * the wrapper of islet/gitcred.h: never on a command line, never in
       * .git/config, and its helper is gone when git ends */
      argv[n++] = "bash";
      argv[n++] = "-c";
      argv[n++] = islet_git_askpass_sh;
      argv[n++] = "islet-git";
      json_object_set_new (env, "ISLET_GIT_USERNAME", json_string (user ? user : ""));
      json_object_set_new (env, "ISLET_GIT_PASSWORD", json_string (pass ? pass : ""));
    }
  else
    argv[n++] = "git";
  /* A repository the image brings is owned by a uid the sandbox does not
   * map, which git refuses to read ("dubious ownership") unless a global
   * config trusts it; the clone only reads it, inside the sandbox. */
  if (trust_source)
    {
      if (tmp_file (c, id, "gitconfig", "[safe]\n\tdirectory = *\n", 0600, &global, err) < 0)
        goto out;
      json_object_set_new (env, "GIT_CONFIG_GLOBAL", json_string (global));
    }
  if (strcmp (op, "clone") == 0)
    {
      if (git_value (args, "url", true, &url, err) < 0)
        goto out;
      argv[n++] = "clone";
      if (branch)
        {
          argv[n++] = "--branch";
          argv[n++] = branch;
        }
      argv[n++] = "--";
      argv[n++] = url;
      if (path)
        argv[n++] = path;
    }
  else if (repo_argv (args, op, path, branch, argv, sizeof argv / sizeof argv[0], &n, cfg, err) < 0)
    goto out;
  argv[n] = NULL;
  r = run_in (c, id, (char *const *) argv, env, NULL, 0, spooled, out, err);
  if (r == 0 && strcmp (op, "commit") == 0
      && json_integer_value (json_object_get (*out, "exit_code")) == 0)
    add_commit_hash (c, id, path, *out);
  if (r == 0)
    json_object_set_new (*out, "operation", json_string (op));
out:
  if (global)
    (void) !islet_fs_remove (c->h->ctx, id, global, false, &ignored);
  free (cfg[0]);
  free (cfg[1]);
  return r;
}

int
tool_git (const struct call *c, const json_t *args, json_t **out, struct islet_err *err)
{
  struct islet_sandbox_info info;

  if (sandbox_arg (c, args, &info, err) < 0)
    return -1;
  return git_in (c, info.id, args, false, true, out, err);
}

static const char *const git_choices[] = { "clone", "status",   "add",      "commit", "push",
                                           "pull",  "branches", "checkout", NULL };

const struct arg git_args[] = {
  ARG_SANDBOX (true),
  { "operation", ARG_STR, true, "what to do", git_choices, NULL, NULL, NULL },
  { "path", ARG_STR, false,
    "the repository's directory (default /workspace); clone: where to clone to", NULL, NULL, NULL,
    NULL },
  { "url", ARG_STR, false, "clone: the repository, a URL or a path inside the sandbox", NULL, NULL,
    NULL, NULL },
  { "branch", ARG_STR, false,
    "clone, push, pull: the branch; checkout: the branch to switch to; branches: a branch to "
    "create (without it, the branches are listed)",
    NULL, NULL, NULL, NULL },
  { "files", ARG_LIST, false, "add: the paths to stage (default: every change)", NULL, NULL, NULL,
    NULL },
  { "message", ARG_STR, false, "commit: the message", NULL, NULL, NULL, NULL },
  { "author", ARG_STR, false, "commit: the author's name (default islet)", NULL, NULL, NULL, NULL },
  { "email", ARG_STR, false, "commit: the author's email (default islet@localhost)", NULL, NULL,
    NULL, NULL },
  { "username", ARG_STR, false, "clone, push, pull: the user for an HTTPS remote", NULL, NULL, NULL,
    NULL },
  { "password", ARG_STR, false,
    "clone, push, pull: its password or token; it is given to git through the environment of "
    "that one command, never on a command line or in .git/config",
    NULL, NULL, NULL, NULL },
  ARG_END,
};
