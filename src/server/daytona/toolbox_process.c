/* Toolbox: run commands and code in a sandbox (POST /process/execute and
 * /process/code-run), and the small info routes. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "islet/lang.h"
#include "islet/report.h"
#include "interp.h"
#include "islet/util.h"
#include "toolbox.h"
#include "v1.h"

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
  uint64_t output_limit; /* run sets it: the bytes per stream this run kept */
  uint64_t output_max;   /* and the most the request could have asked for */
};

/* The most output per stream a request may ask for with outputLimit: the
 * sandbox's memory, or its own output limit when that was set higher. */
static uint64_t
output_ceiling (const struct islet_limits *l)
{
  uint64_t mem = l->memory_mb << 20;
  return l->output_bytes > mem ? l->output_bytes : mem;
}

/* outputLimit, bytes per stream (absent: the sandbox's own limit); -1 with
 * a 400 when it is not a whole number from 1 to the ceiling. */
static int
output_limit (json_t *body, const struct islet_limits *l, struct run_req *rr, struct resp *out)
{
  json_t *v = json_object_get (body, "outputLimit");

  rr->output_max = output_ceiling (l);
  rr->output_limit = l->output_bytes;
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_integer (v) || json_integer_value (v) < 1
      || (uint64_t) json_integer_value (v) > rr->output_max)
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "outputLimit must be a number of bytes per stream from 1 to %llu (this "
                   "sandbox's memory)",
                   (unsigned long long) rr->output_max);
      return -1;
    }
  rr->output_limit = (uint64_t) json_integer_value (v);
  return 0;
}

/* Output cut at the limit ends with a line that says so, where the SDK's
 * caller reads it (an exit status of 0 alone would say nothing was lost). */
static void
mark_cut (struct spool *sp, const struct run_req *rr)
{
  char line[200];
  int last = spool_len (sp) ? spool_last (sp) : '\n', n;

  n = snprintf (line, sizeof line,
                "%s[islet: output cut at %llu bytes per stream; outputLimit raises it, up to "
                "%llu]\n",
                last == '\n' ? "" : "\n", (unsigned long long) rr->output_limit,
                (unsigned long long) rr->output_max);
  spool_add (sp, line, (size_t) n);
}

/* What a run settles before its exec: the sandbox open, its variables
 * with the request's, the directory (NULL: the sandbox's own) and the
 * timeout in seconds. */
struct run_args
{
  struct sb_ref sb;
  char **env;
  const char *cwd;
  double timeout;
};

static void
run_args_fini (struct run_args *a)
{
  islet_strv_free (a->env);
  sb_close (&a->sb);
}

/* Common fields: cwd, envs, timeout (seconds); -1 with the answer in out. */
static int
run_args (struct req *r, struct resp *out, struct run_req *rr, struct run_args *a)
{
  json_t *cwd = json_object_get (rr->body, "cwd"), *t = json_object_get (rr->body, "timeout");

  a->timeout = DEFAULT_TIMEOUT_S;
  if (cwd && !json_is_null (cwd) && !json_is_string (cwd))
    {
      reply_error (out, 400, "BAD_REQUEST", "cwd must be a string");
      return -1;
    }
  if (t && !json_is_null (t))
    {
      a->timeout = json_number_value (t);
      if (!json_is_number (t) || a->timeout < 0 || a->timeout > MAX_TIMEOUT_S)
        {
          reply_error (out, 400, "BAD_REQUEST", "timeout must be 0 to %d seconds", MAX_TIMEOUT_S);
          return -1;
        }
      if (a->timeout == 0)
        a->timeout = DEFAULT_TIMEOUT_S;
    }
  if (tb_open (r, &a->sb, out) < 0 || output_limit (rr->body, &a->sb.info.limits, rr, out) < 0)
    return -1;
  a->env = sb_env (&a->sb, json_object_get (rr->body, "envs"), out);
  if (a->env == NULL)
    return -1;
  a->cwd = json_string_value (cwd);
  if (a->cwd && *a->cwd == '\0')
    a->cwd = NULL;
  return 0;
}

/* A run's end, either way it ran: 0 with *res for the caller, or -1 with
 * the answer in out (islet failed: err; the timeout). */
static int
run_end (struct resp *out, int rc, struct islet_err *err, const struct run_args *a,
         struct islet_exec_result *res)
{
  if (rc < 0)
    {
      reply_islet_err (out, err, false);
      return -1;
    }
  if (res->timed_out)
    {
      reply_error_daemon (out, 408, "PROCESS_EXECUTION_TIMEOUT", "the command timed out after %g s",
                          a->timeout);
      islet_exec_result_fini (res);
      return -1;
    }
  snprintf (out->note, sizeof out->note, "exit %d", res->exit_code);
  return 0;
}

/* Runs rr->argv as a with settled, the output going to on_output only
 * (never collected whole); *res is left for the caller when it returns 0
 * (the answer not sent). */
static int
run_plain (struct resp *out, struct run_req *rr, const struct run_args *a,
           struct islet_exec_result *res, islet_output_fn on_output, void *user)
{
  struct islet_exec_req x = { .argv = rr->argv,
                              .on_output = on_output,
                              .user = user,
                              .uncollected = true,
                              .env = a->env,
                              .cwd = a->cwd,
                              .output_limit = rr->output_limit,
                              .timeout_ms = (uint32_t) (a->timeout * 1000) };
  struct islet_err err;
  int rc;

  if (rr->stdin_data)
    {
      x.stdin_data = rr->stdin_data;
      x.stdin_len = strlen (rr->stdin_data);
    }
  rc = islet_exec (a->sb.ctx, a->sb.info.id, &x, res, &err);
  return run_end (out, rc, &err, a, res);
}

static int
run (struct req *r, struct resp *out, struct run_req *rr, struct islet_exec_result *res,
     islet_output_fn on_output, void *user)
{
  __attribute__ ((cleanup (run_args_fini))) struct run_args a = { 0 };

  if (run_args (r, out, rr, &a) < 0)
    return -1;
  return run_plain (out, rr, &a, res, on_output, user);
}

/* The answer {"exitCode", "result", "artifacts" (when charts is not NULL),
 * "truncated"}, the result from the spool. */
static void
reply_run (struct resp *out, struct spool **sp, const struct run_req *rr,
           struct islet_exec_result *res, const char *charts)
{
  const char *cut = res->truncated ? "true" : "false";
  char *suffix;

  if (spool_len (*sp) == 0 && res->error[0])
    {
      /* could not start (not found, not executable): say why */
      spool_add (*sp, res->error, strlen (res->error));
      spool_add (*sp, "\n", 1);
    }
  if (res->truncated)
    mark_cut (*sp, rr);
  if (charts)
    suffix = islet_xasprintf ("\",\"artifacts\":{\"charts\":%s},\"truncated\":%s}", charts, cut);
  else
    suffix = islet_xasprintf ("\",\"truncated\":%s}", cut);
  if (spool_check (*sp, out) == 0)
    spool_reply_json (islet_take_ptr (sp), out,
                      islet_xasprintf ("{\"exitCode\":%d,\"result\":\"", res->exit_code), suffix);
  else
    free (suffix);
  islet_exec_result_fini (res);
}

json_t *
tb_json_text (const char *data, size_t len)
{
  /* the one conversion of program output to JSON text, as the CLI and MCP
   * make it: valid UTF-8 kept, each bad byte U+FFFD */
  return islet_json_bytes (data, len);
}

int
tb_exec_next_until (int conn, uint64_t deadline_ns, enum islet_stream *stream, char **data,
                    size_t *len, struct islet_exec_result *res, struct islet_err *err)
{
  uint64_t now = islet_now_ns ();
  struct pollfd p = { .fd = conn, .events = POLLIN };

  if (poll (&p, 1, now >= deadline_ns ? 0 : (int) ((deadline_ns - now + 999999) / 1000000)) <= 0)
    return 2;
  return islet_exec_next (conn, stream, data, len, res, err);
}

void
tb_execute (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_free char **argv = NULL;
  cleanup_spool struct spool *sp = NULL;
  struct islet_exec_result res;
  struct islet_err err;
  struct run_req rr;
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
  rr = (struct run_req){ .body = j, .argv = argv };
  sp = spool_new (r, out);
  if (sp && run (r, out, &rr, &res, spool_output, sp) == 0)
    reply_run (out, &sp, &rr, &res, NULL);
}

/* Chart lines (ARTIFACT_PREFIX + JSON, a line each) taken out of code-run's
 * output as it arrives, into charts; the rest goes to the spool.  A chart
 * is held in memory, so each and all together are bounded: one past the
 * bound is replaced by a line of output that says so. */
#define CHART_LINE_MAX ((size_t) 8 << 20)
#define CHARTS_MAX ((size_t) 32 << 20)

struct code_output
{
  struct spool *spool;
  enum
  {
    LINE_START,
    PLAIN,
    CHART
  } state;
  size_t matched; /* of ARTIFACT_PREFIX, at a line's start */
  char *line;     /* a chart line after the prefix */
  size_t line_len, line_cap, charts_bytes;
  bool line_over;
  json_t *charts;
};

static void
chart_end (struct code_output *c)
{
  json_t *a, *v;

  if (c->line_over || c->charts_bytes + c->line_len > CHARTS_MAX)
    {
      static const char msg[] = "islet: a chart was left out: charts are kept up to 8 MiB "
                                "each and 32 MiB in all\n";
      spool_add (c->spool, msg, sizeof msg - 1);
    }
  else if ((a = json_loadb (c->line, c->line_len, 0, NULL)) != NULL)
    {
      v = json_object_get (a, "value");
      if (json_is_object (v))
        json_array_append (c->charts, v);
      c->charts_bytes += c->line_len;
      json_decref (a);
    }
  c->line_len = 0;
  c->line_over = false;
}

static void
chart_add (struct code_output *c, const char *data, size_t n)
{
  if (c->line_over || c->line_len + n > CHART_LINE_MAX)
    {
      c->line_over = true;
      return;
    }
  if (c->line_len + n > c->line_cap)
    {
      c->line_cap = (c->line_len + n) * 2;
      c->line = islet_xrealloc (c->line, c->line_cap);
    }
  memcpy (c->line + c->line_len, data, n);
  c->line_len += n;
}

static void
code_output_add (enum islet_stream stream, const char *data, size_t len, void *user)
{
  struct code_output *c = user;
  const size_t plen = sizeof ARTIFACT_PREFIX - 1;
  size_t i = 0;

  while (i < len)
    {
      const char *nl = memchr (data + i, '\n', len - i);
      size_t end = nl ? (size_t) (nl - data) + 1 : len;

      if (c->state == LINE_START)
        {
          if (data[i] == ARTIFACT_PREFIX[c->matched])
            {
              i++;
              if (++c->matched == plen)
                c->state = CHART;
              continue;
            }
          spool_add (c->spool, ARTIFACT_PREFIX, c->matched);
          c->matched = 0;
          c->state = PLAIN;
        }
      if (c->state == PLAIN)
        spool_add (c->spool, data + i, end - i);
      else
        chart_add (c, data + i, end - i);
      if (nl && c->state == CHART)
        chart_end (c);
      if (nl)
        c->state = LINE_START, c->matched = 0;
      i = end;
    }
}

/* The output is over: a prefix cut short is output, a chart line without
 * its newline still a chart (if anything followed the prefix). */
static void
code_output_end (struct code_output *c)
{
  if (c->state == LINE_START && c->matched)
    spool_add (c->spool, ARTIFACT_PREFIX, c->matched);
  else if (c->state == CHART && c->line_len == 0 && !c->line_over)
    spool_add (c->spool, ARTIFACT_PREFIX, sizeof ARTIFACT_PREFIX - 1);
  else if (c->state == CHART)
    chart_end (c);
  free (c->line);
  c->line = NULL;
}

/* The output of a code-run's spare (interp_spare.c): its answer, the
 * first byte of either stream ("G" on both when it runs the code, "S" on
 * stdout alone when it does not), kept out of the code's output. */
struct spare_output
{
  struct code_output *co;
  bool seen[3];
  char answer;
};

static void
spare_output_add (enum islet_stream stream, const char *data, size_t len, void *user)
{
  struct spare_output *o = user;

  if (!o->seen[stream] && len)
    {
      o->seen[stream] = true;
      if (o->answer == 0)
        o->answer = data[0];
      data++;
      len--;
    }
  if (o->answer == 'G' && len)
    code_output_add (stream, data, len, o->co);
}

/* The code and its arguments args to the spare on conn (interp_driver.py's
 * spare mode: a line of their lengths, them, the end of its stdin): 0 with
 * *res when it ran them; when it did not, 2 (it said stale) or 1 (gone
 * before it began), and the caller runs them plainly; -1 with the answer
 * in out. */
static int
spare_run (struct resp *out, int conn, const struct run_req *rr, char *const *args,
           const struct run_args *a, struct islet_exec_result *res, struct code_output *co)
{
  struct spare_output so = { .co = co };
  cleanup_free char *head = NULL;
  struct islet_err err;
  size_t head_len = 0, i;
  FILE *f = open_memstream (&head, &head_len);
  bool sent;
  int rc;

  if (f == NULL)
    {
      v1_zygote_end (conn);
      return 1;
    }
  fprintf (f, "%zu", strlen (rr->stdin_data));
  for (i = 0; args[i]; i++)
    fprintf (f, " %zu", strlen (args[i]));
  fputc ('\n', f);
  fclose (f);
  sent = v1_zygote_send (conn, head, head_len, &err) == 0
         && v1_zygote_send (conn, rr->stdin_data, strlen (rr->stdin_data), &err) == 0;
  for (i = 0; sent && args[i]; i++)
    sent = v1_zygote_send (conn, args[i], strlen (args[i]), &err) == 0;
  if (!sent || islet_exec_input (conn, "", 0, &err) < 0)
    {
      /* not all of it: the driver runs nothing short of the lengths */
      v1_zygote_end (conn);
      return 1;
    }
  *res = (struct islet_exec_result){ 0 };
  rc = v1_zygote_wait (conn, a->timeout, spare_output_add, &so, res, &err);
  if (so.answer != 'G')
    {
      if (rc == 0)
        islet_exec_result_fini (res);
      return so.answer == 'S' ? 2 : 1;
    }
  return run_end (out, rc, &err, a, res);
}

/* Python's code-run: by the sandbox's spare when it has one started as
 * this run would be, else plainly; then a spare for the next one. */
static int
code_run_python (struct req *r, struct resp *out, struct run_req *rr, char *const *args,
                 struct islet_exec_result *res, struct code_output *co)
{
  __attribute__ ((cleanup (run_args_fini))) struct run_args a = { 0 };
  int conn, rc = 1;

  if (run_args (r, out, rr, &a) < 0)
    return -1;
  conn = coderun_spare_take (r->srv, a.sb.info.id, a.env, a.cwd, rr->output_limit);
  if (conn >= 0)
    rc = spare_run (out, conn, rr, args, &a, res, co);
  coderun_count (r->srv, rc == 2 ? CODE_RUN_STALE : rc == 1 ? CODE_RUN_PLAIN : CODE_RUN_SPARE);
  if (rc >= 1)
    rc = run_plain (out, rr, &a, res, code_output_add, co);
  coderun_spare_want (r->srv, a.sb.info.id, a.env, a.cwd, rr->output_limit);
  return rc;
}

void
tb_code_run (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_free char **argv = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_spool struct spool *sp = NULL;
  cleanup_json json_t *charts = NULL;
  struct islet_exec_result res;
  const struct islet_lang *l;
  json_t *code, *args, *v;
  const char *lang;
  size_t n, i, first_arg;
  bool python;

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
  /* the program on stdin, never on a command line; then its arguments.
   * Python's goes through the interpreter's driver, which prints each
   * matplotlib figure as a chart line when the program is done. */
  argv = islet_xcalloc (json_array_size (args) + ISLET_LANG_ARGV_MAX + 1, sizeof *argv);
  python = strcmp (l->name, "python") == 0;
  if (python)
    {
      static const char *const py[] = { "python3",        "-u",          "-c",
                                        interp_driver_py, interp_lib_py, "once" };
      memcpy (argv, py, sizeof py);
      n = sizeof py / sizeof py[0];
    }
  else
    n = islet_lang_argv (l, ISLET_LANG_STDIN, NULL, (const char **) argv);
  first_arg = n;
  json_array_foreach (args, i, v)
  {
    if (!json_is_string (v))
      {
        reply_error (out, 400, "BAD_REQUEST", "argv must be an array of strings");
        return;
      }
    argv[n++] = (char *) json_string_value (v);
  }
  sp = spool_new (r, out);
  if (sp == NULL)
    return;
  charts = json_array ();
  {
    struct code_output co = { .spool = sp, .charts = charts };
    struct run_req rr = { .body = j, .argv = argv, .stdin_data = json_string_value (code) };
    int rc = python ? code_run_python (r, out, &rr, argv + first_arg, &res, &co)
                    : run (r, out, &rr, &res, code_output_add, &co);
    cleanup_free char *text = NULL;

    code_output_end (&co);
    if (rc < 0)
      return;
    text = json_dumps (charts, JSON_COMPACT);
    reply_run (out, &sp, &rr, &res, text ? text : "[]");
  }
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
    reply_json (out, 200, json_pack ("{s:s}", "version", "isletd-" ISLET_VERSION));
}
