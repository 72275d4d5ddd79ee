/* Toolbox: run commands and code in a sandbox (POST /process/execute and
 * /process/code-run), and the small info routes. */
#include <string.h>
#include <unistd.h>

#include "islet/lang.h"
#include "islet/report.h"
#include "islet/util.h"
#include "toolbox.h"

#define DEFAULT_TIMEOUT_S 360 /* Daytona's default for one command */
#define MAX_TIMEOUT_S 86400
#define ARTIFACT_PREFIX "dtn_artifact_k39fd2:"

/* TypeScript: Debian's node-typescript (in the sandbox's /usr, which is the
 * host's) transpiles the program, as `ts-node --transpile-only` would (no
 * type check; syntax errors are reported), and node runs the result as the
 * CommonJS module /workspace/main.ts.  The program comes on stdin like the
 * others, its arguments after `--`. */
/* stdout and stderr in the order they arrived, as Daytona's `result` */
void
tb_output_add (enum islet_stream stream, const char *data, size_t len, void *user)
{
  struct tb_output *c = user;

  if (c->len + len + 1 > c->cap)
    {
      c->cap = (c->len + len + 1) * 2;
      c->data = islet_xrealloc (c->data, c->cap);
    }
  memcpy (c->data + c->len, data, len);
  c->len += len;
  c->data[c->len] = '\0';
}

struct run_req
{
  json_t *body;
  char **argv;
  const char *stdin_data;
};

/* Common fields: cwd, envs, timeout (seconds).  Runs and answers; *res and
 * *output are left for the caller when it returns 0 (the answer not sent). */
static int
run (struct req *r, struct resp *out, const struct run_req *rr, struct islet_exec_result *res,
     struct tb_output *output)
{
  json_t *cwd = json_object_get (rr->body, "cwd"), *t = json_object_get (rr->body, "timeout");
  cleanup_sb struct sb_ref sb = { 0 };
  struct islet_exec_req x = { .argv = rr->argv, .on_output = tb_output_add, .user = output };
  struct islet_err err;
  double timeout = DEFAULT_TIMEOUT_S;
  char **env = NULL;
  int rc;

  if (cwd && !json_is_null (cwd) && !json_is_string (cwd))
    {
      reply_error (out, 400, "BAD_REQUEST", "cwd must be a string");
      return -1;
    }
  if (t && !json_is_null (t))
    {
      timeout = json_number_value (t);
      if (!json_is_number (t) || timeout < 0 || timeout > MAX_TIMEOUT_S)
        {
          reply_error (out, 400, "BAD_REQUEST", "timeout must be 0 to %d seconds", MAX_TIMEOUT_S);
          return -1;
        }
      if (timeout == 0)
        timeout = DEFAULT_TIMEOUT_S;
    }
  if (tb_open (r, &sb, out) < 0)
    return -1;
  env = sb_env (&sb, json_object_get (rr->body, "envs"), out);
  if (env == NULL)
    return -1;
  x.env = env;
  x.cwd = json_string_value (cwd);
  if (x.cwd && *x.cwd == '\0')
    x.cwd = NULL;
  x.timeout_ms = (uint32_t) (timeout * 1000);
  if (rr->stdin_data)
    {
      x.stdin_data = rr->stdin_data;
      x.stdin_len = strlen (rr->stdin_data);
    }
  rc = islet_exec (sb.ctx, sb.info.id, &x, res, &err);
  islet_strv_free (env);
  if (rc < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  if (res->timed_out)
    {
      reply_error_daemon (out, 408, "PROCESS_EXECUTION_TIMEOUT", "the command timed out after %g s",
                          timeout);
      islet_exec_result_fini (res);
      return -1;
    }
  if (output->data == NULL)
    output->data = islet_xcalloc (1, 1);
  if (output->len == 0 && res->error[0])
    {
      /* could not start (not found, not executable): say why */
      free (output->data);
      output->data = islet_xasprintf ("%s\n", res->error);
      output->len = strlen (output->data);
    }
  snprintf (out->note, sizeof out->note, "exit %d", res->exit_code);
  return 0;
}

json_t *
tb_json_text (const char *data, size_t len)
{
  /* the one conversion of program output to JSON text, as the CLI and MCP
   * make it: valid UTF-8 kept, each bad byte U+FFFD */
  return islet_json_bytes (data, len);
}

void
tb_execute (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_free char **argv = NULL;
  struct tb_output output = { 0 };
  struct islet_exec_result res;
  struct islet_err err;
  json_t *cmd;

  if (j == NULL)
    return;
  cmd = json_object_get (j, "command");
  if (!json_is_string (cmd))
    {
      reply_error (out, 400, "BAD_REQUEST", "command must be a string");
      return;
    }
  argv = words_split (json_string_value (cmd), &err);
  if (argv == NULL)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  if (run (r, out, &(struct run_req){ .body = j, .argv = argv }, &res, &output) == 0)
    {
      reply_json (
          out, 200,
          json_pack ("{s:i,s:o}", "exitCode", res.exit_code, "result", tb_json_text (output.data, output.len)));
      islet_exec_result_fini (&res);
    }
  free (output.data);
}

/* Remove the chart lines (ARTIFACT_PREFIX + JSON) from the output, into charts. */
static json_t *
take_artifacts (struct tb_output *c)
{
  json_t *charts = json_array ();
  size_t w = 0, i = 0;

  while (i < c->len)
    {
      char *nl = memchr (c->data + i, '\n', c->len - i);
      size_t end = nl ? (size_t) (nl - c->data) + 1 : c->len;
      size_t plen = sizeof ARTIFACT_PREFIX - 1;

      if (end - i > plen && memcmp (c->data + i, ARTIFACT_PREFIX, plen) == 0)
        {
          json_t *a = json_loadb (c->data + i + plen, end - i - plen, 0, NULL);
          json_t *v = json_object_get (a, "value");
          if (a && json_is_object (v))
            json_array_append (charts, v);
          json_decref (a);
        }
      else
        {
          memmove (c->data + w, c->data + i, end - i);
          w += end - i;
        }
      i = end;
    }
  c->len = w;
  c->data[w] = '\0';
  return charts;
}

void
tb_code_run (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_free char **argv = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  struct tb_output output = { 0 };
  struct islet_exec_result res;
  const struct islet_lang *l;
  json_t *code, *args, *v, *charts;
  const char *lang;
  size_t n, i;

  if (j == NULL)
    return;
  code = json_object_get (j, "code");
  args = json_object_get (j, "argv");
  if (!json_is_string (code))
    {
      reply_error (out, 400, "BAD_REQUEST", "code must be a string");
      return;
    }
  if (args && !json_is_null (args) && !json_is_array (args))
    {
      reply_error (out, 400, "BAD_REQUEST", "argv must be an array of strings");
      return;
    }
  lang = json_string_value (json_object_get (j, "language"));
  if (lang == NULL || *lang == '\0')
    {
      /* the sandbox's language label, as the SDK would have sent it */
      if (sb_open (r, r->params[0], &sb, out) < 0)
        return;
      lang = sb.row.language;
    }
  l = islet_lang_find (lang);
  if (l && l->needs && !islet_lang_can (l, ISLET_LANG_STDIN))
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "%s cannot run here: the image has no compiler for it (%s; for typescript, "
                   "Debian's node-typescript, which scripts/install-deps installs)",
                   lang, l->needs);
      return;
    }
  if (!islet_lang_can (l, ISLET_LANG_STDIN))
    {
      reply_error (out, 400, "BAD_REQUEST", "language '%s' cannot run here (%s can)", lang,
                   islet_lang_list (ISLET_LANG_STDIN));
      return;
    }
  /* the program on stdin, never on a command line; then its arguments */
  argv = islet_xcalloc (json_array_size (args) + ISLET_LANG_ARGV_MAX + 1, sizeof *argv);
  n = islet_lang_argv (l, ISLET_LANG_STDIN, NULL, (const char **) argv);
  json_array_foreach (args, i, v)
  {
    if (!json_is_string (v))
      {
        reply_error (out, 400, "BAD_REQUEST", "argv must be an array of strings");
        return;
      }
    argv[n++] = (char *) json_string_value (v);
  }
  if (run (r, out,
           &(struct run_req){ .body = j, .argv = argv, .stdin_data = json_string_value (code) },
           &res, &output)
      == 0)
    {
      charts = take_artifacts (&output);
      reply_json (out, 200,
                  json_pack ("{s:i,s:o,s:{s:o}}", "exitCode", res.exit_code, "result",
                             tb_json_text (output.data, output.len), "artifacts", "charts", charts));
      islet_exec_result_fini (&res);
    }
  free (output.data);
}

/* ---- info ---- */

static void
dir_reply (struct req *r, struct resp *out, const char *dir)
{
  cleanup_sb struct sb_ref sb = { 0 };

  if (sb_open (r, r->params[0], &sb, out) == 0)
    reply_json (out, 200, json_pack ("{s:s}", "dir", dir));
}

void
tb_home_dir (struct req *r, struct resp *out)
{
  dir_reply (r, out, "/root");
}

void
tb_work_dir (struct req *r, struct resp *out)
{
  dir_reply (r, out, "/workspace");
}

void
tb_version (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };

  if (sb_open (r, r->params[0], &sb, out) == 0)
    reply_json (out, 200, json_pack ("{s:s}", "version", "isletd-0.1.0"));
}
