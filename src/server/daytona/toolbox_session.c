/* Toolbox: sessions (/process/session...).  Upstream keeps one shell per
 * session; islet keeps no process and no host state for a session at all.
 * Everything lives inside the sandbox, under SESSIONS/<sid>/:
 *
 *   cwd, env            the shell's directory and `export -p`, saved after
 *                       every command and restored before the next
 *   cmds/<id>/command   the command's text
 *   cmds/<id>/stdout, stderr, output (both, in arrival order)
 *   cmds/<id>/exit      its exit code, written last (absent: running)
 *   cmds/<id>/pid       an async command's process group, for delete
 *
 * A command is `bash -c RUNNER`: restore, eval the command in that shell (so
 * `cd` and `export` count), save on EXIT.  Sync runs it in the core's exec;
 * async starts it with `setsid -f` from one short exec, so it lives on in
 * the sandbox (its cgroup, its limits) after the HTTP request.  isletd
 * reads the state back with one exec (DUMP, LOGS) and parses it
 * (toolbox_parse.c): a sandbox can write anything there, and can only
 * confuse its own answers. */
#include <string.h>
#include <sys/random.h>

#include "islet/util.h"
#include "toolbox.h"

#define SESSIONS "/tmp/.islet-sessions"
#define NO_SESSION "islet: no such session\n"
#define SESSION_OUTPUT_MAX ((uint64_t) 8 << 20)

/* $1 sid.  Exit 3: it exists. */
static const char CREATE[] = "mkdir -p " SESSIONS " && cd " SESSIONS " || exit 1\n"
                             "mkdir -- \"$1\" 2>/dev/null || exit 3\n"
                             "mkdir \"$1/cmds\" && echo /workspace >\"$1/cwd\" "
                             "&& export -p >\"$1/env\"\n";

/* $1 sid.  Kills what still runs of its async commands.  Exit 3: none. */
static const char DELETE[] = "d=" SESSIONS "/$1\n"
                             "[ -d \"$d/cmds\" ] || exit 3\n"
                             "for p in \"$d\"/cmds/*/pid; do\n"
                             "  [ -f \"$p\" ] && [ ! -f \"${p%/pid}/exit\" ] || continue\n"
                             "  read -r g <\"$p\"; case $g in ''|*[!0-9]*) ;; *) kill -KILL -- "
                             "\"-$g\" 2>/dev/null;; esac\n"
                             "done\n"
                             "rm -rf -- \"$d\"\n";

/* $1 sid, $2 cmd id, $3 sync|async, $4 RUNNER; the command on stdin.
 * async only writes the command down: ASYNC (or, past the commands that
 * keep their stdin, ASYNC_NO_STDIN) starts it. */
static const char PREP[] = "c=" SESSIONS "/$1/cmds/$2\n"
                           "[ -d \"" SESSIONS "/$1/cmds\" ] || { printf '" NO_SESSION
                           "' >&2; exit 3; }\n"
                           "mkdir -- \"$c\" && cat >\"$c/command\" || exit 125\n"
                           "[ \"$3\" = async ] && exit 0\n"
                           "exec bash -c \"$4\" islet-session \"$1\" \"$2\" sync </dev/null\n";

/* $1 sid, $2 cmd id, $3 RUNNER: an async command in an exec of its own,
 * whose stdin is the pipe isletd feeds (toolbox_session_input.c), in a
 * process group of its own for DELETE (setsid forks only a group leader,
 * which this process is not: the exec waits for the command itself). */
static const char ASYNC[] = "exec setsid bash -c \"$3\" islet-session \"$1\" \"$2\" async "
                            ">/dev/null 2>&1\n";
/* The same, started in the background with no stdin. */
static const char ASYNC_NO_STDIN[] = "exec setsid -f bash -c \"$3\" islet-session \"$1\" \"$2\" "
                                     "async </dev/null >/dev/null 2>&1\n";

/* $1 sid, $2 cmd id, $3 sync|async.  The tees copy the command's output
 * to the files and to the exec's own stdout and stderr (sync); on EXIT,
 * they are given up to 5 s to drain (a background job may hold their
 * pipes), then the state is saved and the exit code written. */
static const char RUNNER[]
    = "__is_d=" SESSIONS "/$1; __is_c=$__is_d/cmds/$2\n"
      "[ \"$3\" = async ] && echo $$ >\"$__is_c/pid\"\n"
      "set --\n"
      "cd -- \"$(cat -- \"$__is_d/cwd\" 2>/dev/null)\" 2>/dev/null || cd /workspace 2>/dev/null "
      "|| cd /\n"
      ". \"$__is_d/env\" 2>/dev/null\n"
      "__is_end () {\n"
      "  __is_rc=$?\n"
      "  exec >/dev/null 2>&1 </dev/null\n"
      "  for __is_i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 "
      "28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50; do\n"
      "    kill -0 \"$__is_p1\" 2>/dev/null || kill -0 \"$__is_p2\" 2>/dev/null || break\n"
      "    sleep 0.1\n"
      "  done\n"
      "  printf '%s\\n' \"$PWD\" >\"$__is_d/cwd.$$\" && mv -f \"$__is_d/cwd.$$\" \"$__is_d/cwd\"\n"
      "  export -p >\"$__is_d/env.$$\" && mv -f \"$__is_d/env.$$\" \"$__is_d/env\"\n"
      "  echo \"$__is_rc\" >\"$__is_c/exit.$$\" && mv -f \"$__is_c/exit.$$\" \"$__is_c/exit\"\n"
      "  exit \"$__is_rc\"\n"
      "}\n"
      "trap __is_end EXIT\n"
      "exec 3>&1 4>&2\n"
      "exec 1> >(exec tee -a -- \"$__is_c/output\" \"$__is_c/stdout\" >&3 2>/dev/null); "
      "__is_p1=$!\n"
      "exec 2> >(exec tee -a -- \"$__is_c/output\" \"$__is_c/stderr\" >&4 2>/dev/null); "
      "__is_p2=$!\n"
      "eval \"$(cat -- \"$__is_c/command\")\" 3>&- 4>&-\n";

/* $1 sid or "" (all), $2 cmd id or "" (all): the records of
 * parse_session_dump, commands in the order they were made. */
static const char DUMP[]
    = "cd " SESSIONS " 2>/dev/null || exit 0\n"
      "sid=$1 cid=$2\n"
      "if [ -n \"$sid\" ]; then set -- \"$sid\"; else set -- *; fi\n"
      "for s; do\n"
      "  [ -d \"$s/cmds\" ] || continue\n"
      "  printf 'S\\0%s\\0' \"$s\"\n"
      "  ls -1tr -- \"$s\"/cmds/${cid:-*}/command 2>/dev/null | while IFS= read -r f; do\n"
      "    c=${f%/command}; c=${c##*/}\n"
      "    printf 'C\\0%s\\0' \"$c\"; head -c 65536 -- \"$f\" | tr -d '\\0'; printf '\\0'\n"
      "    head -c 16 -- \"$s/cmds/$c/exit\" 2>/dev/null | tr -d '\\0'; printf '\\0'\n"
      "  done\n"
      "done\n";

/* $1 sid, $2 cmd id: the records of parse_session_logs, stderr on stderr.
 * Exit 3: no such command. */
static const char LOGS[] = "cd -- " SESSIONS "/\"$1\"/cmds/\"$2\" 2>/dev/null || exit 3\n"
                           "n=$(stat -c %s stdout 2>/dev/null) || n=0\n"
                           "printf '%s\\n' \"$n\"; head -c \"$n\" stdout 2>/dev/null\n"
                           "cat output 2>/dev/null; cat stderr >&2 2>/dev/null\n"
                           "exit 0\n";

/* Run one of the scripts above with args; 0 when it ran. */
static int
script (struct sb_ref *sb, const char *text, const char *const *args, const char *stdin_data,
        struct tb_output *combined, struct islet_exec_result *res, struct resp *out)
{
  const char *argv[10] = { "bash", "-c", text, "islet-session" };
  size_t n = 4;

  for (; args && *args && n < 9; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  return sh_run (sb,
                 &(struct sh_run){ .argv = (char *const *) argv,
                                   .stdin_data = stdin_data,
                                   .output_limit = SESSION_OUTPUT_MAX,
                                   .combined = combined },
                 res, out);
}

/* Output cut at SESSION_OUTPUT_MAX ends with a line that says so; a JSON
 * string (stolen) gets it appended when cut. */
static json_t *
mark_cut (json_t *text, bool cut)
{
  const char *s = json_string_value (text);
  size_t len = json_string_length (text);
  char mark[96];
  int n;
  json_t *marked;

  if (!cut || s == NULL)
    return text;
  n = snprintf (mark, sizeof mark, "%s[islet: output cut at %llu bytes per stream]\n",
                len && s[len - 1] != '\n' ? "\n" : "", (unsigned long long) SESSION_OUTPUT_MAX);
  {
    cleanup_free char *all = islet_xmalloc (len + (size_t) n);
    memcpy (all, s, len);
    memcpy (all + len, mark, (size_t) n);
    marked = json_stringn (all, len + (size_t) n);
  }
  json_decref (text);
  return marked;
}

/* Each field of o that was cut gets the line; o gets "truncated". */
static void
mark_fields (json_t *o, bool out_cut, bool err_cut)
{
  static const char *const outs[] = { "output", "stdout" };

  /* output holds both streams */
  for (size_t i = 0; i < 2; i++)
    json_object_set_new (
        o, outs[i],
        mark_cut (json_incref (json_object_get (o, outs[i])), out_cut || (i == 0 && err_cut)));
  json_object_set_new (o, "stderr",
                       mark_cut (json_incref (json_object_get (o, "stderr")), err_cut));
  json_object_set_new (o, "truncated", json_boolean (out_cut || err_cut));
}

/* The session id of the path (params[1]), or 400/404. */
static const char *
path_session (struct req *r, struct resp *out)
{
  if (!session_id_ok (r->params[1]))
    {
      reply_error (out, 404, "NOT_FOUND", "session '%s' not found", r->params[1]);
      return NULL;
    }
  return r->params[1];
}

static void
script_failed (struct resp *out, const char *what, struct islet_exec_result *res)
{
  char why[256];

  sh_last_line (res->errout ? res->errout : "", res->err_len, why, sizeof why);
  reply_error (out, 500, "INTERNAL_ERROR", "%s: exit %d: %s", what, res->exit_code, why);
}

void
tb_session_create (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_sb struct sb_ref sb = { 0 };
  struct islet_exec_result res;
  const char *sid;

  if (j == NULL)
    return;
  sid = json_string_value (json_object_get (j, "sessionId"));
  if (sid == NULL || !session_id_ok (sid))
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "sessionId must be 1 to 128 of A-Z a-z 0-9 . _ - (not first . or -)");
      return;
    }
  if (tb_open (r, &sb, out) < 0
      || script (&sb, CREATE, (const char *[]){ sid, NULL }, NULL, NULL, &res, out) < 0)
    return;
  if (res.exit_code == 3)
    reply_error (out, 409, "CONFLICT", "session '%s' already exists", sid);
  else if (res.exit_code != 0)
    script_failed (out, "create the session", &res);
  else
    reply_json (out, 201, json_object ());
  islet_exec_result_fini (&res);
}

void
tb_session_delete (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  struct islet_exec_result res;
  const char *sid = path_session (r, out);

  if (sid == NULL || tb_open (r, &sb, out) < 0
      || script (&sb, DELETE, (const char *[]){ sid, NULL }, NULL, NULL, &res, out) < 0)
    return;
  if (res.exit_code == 3)
    reply_error (out, 404, "NOT_FOUND", "session '%s' not found", sid);
  else if (res.exit_code != 0)
    script_failed (out, "delete the session", &res);
  else
    reply_json (out, 200, json_object ());
  islet_exec_result_fini (&res);
}

/* The sessions (sid NULL: all) with their commands, parsed; NULL with the
 * answer in out. */
static json_t *
dump (struct req *r, struct resp *out, struct sb_ref *sb, const char *sid, const char *cid)
{
  struct islet_exec_result res;
  json_t *all;

  if (tb_open (r, sb, out) < 0
      || script (sb, DUMP, (const char *[]){ sid ? sid : "", cid ? cid : "", NULL }, NULL, NULL,
                 &res, out)
             < 0)
    return NULL;
  all = parse_session_dump (res.out ? res.out : "", res.out_len);
  islet_exec_result_fini (&res);
  if (sid && json_array_size (all) == 0)
    {
      json_decref (all);
      reply_error (out, 404, "NOT_FOUND", "session '%s' not found", sid);
      return NULL;
    }
  return all;
}

void
tb_session_list (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  json_t *all = dump (r, out, &sb, NULL, NULL);

  if (all)
    reply_json (out, 200, all);
}

void
tb_session_get (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  const char *sid = path_session (r, out);
  cleanup_json json_t *all = sid ? dump (r, out, &sb, sid, NULL) : NULL;

  if (all)
    reply_json (out, 200, json_incref (json_array_get (all, 0)));
}

/* A command id as isletd makes them: 8-4-4-4-12 lower-case hex. */
static bool
cmd_id_ok (const char *s)
{
  return strlen (s) == 36 && strspn (s, "0123456789abcdef-") == 36;
}

void
tb_session_command (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  const char *sid = path_session (r, out), *cid = r->params[2];
  cleanup_json json_t *all = NULL;
  json_t *cmds;

  if (sid == NULL)
    return;
  if (!cmd_id_ok (cid))
    {
      reply_error (out, 404, "NOT_FOUND", "command '%s' not found", cid);
      return;
    }
  all = dump (r, out, &sb, sid, cid);
  if (all == NULL)
    return;
  cmds = json_object_get (json_array_get (all, 0), "commands");
  if (json_array_size (cmds) == 0)
    reply_error (out, 404, "NOT_FOUND", "command '%s' not found in session '%s'", cid, sid);
  else
    reply_json (out, 200, json_incref (json_array_get (cmds, 0)));
}

void
tb_session_logs (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  const char *sid = path_session (r, out), *cid = r->params[2];
  struct islet_exec_result res;
  json_t *logs;

  if (sid == NULL)
    return;
  if (!cmd_id_ok (cid))
    {
      reply_error (out, 404, "NOT_FOUND", "command '%s' not found", cid);
      return;
    }
  if (tb_open (r, &sb, out) < 0
      || script (&sb, LOGS, (const char *[]){ sid, cid, NULL }, NULL, NULL, &res, out) < 0)
    return;
  if (res.exit_code == 3)
    reply_error (out, 404, "NOT_FOUND", "command '%s' not found in session '%s'", cid, sid);
  else
    {
      logs = parse_session_logs (res.out ? res.out : "", res.out_len);
      json_object_set_new (logs, "stderr", tb_json_text (res.errout, res.err_len));
      mark_fields (logs, res.out_len >= SESSION_OUTPUT_MAX, res.err_len >= SESSION_OUTPUT_MAX);
      reply_json (out, 200, logs);
    }
  islet_exec_result_fini (&res);
}

void
tb_new_id (char id[37])
{
  unsigned char b[16];

  if (getrandom (b, sizeof b, 0) != (ssize_t) sizeof b)
    {
      uint64_t t = islet_now_ns ();
      for (size_t i = 0; i < sizeof b; i++)
        b[i] = (unsigned char) (t >> (8 * (i % 8))) ^ (unsigned char) (i * 37);
    }
  b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40); /* a version 4 UUID */
  b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
  snprintf (id, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
            b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
            b[15]);
}

/* Start an async command whose command file is written: with a stdin
 * isletd holds, or past their bound with none. */
static void
async_start (struct sb_ref *sb, const char *sid, const char *cid, struct resp *out)
{
  const char *argv[] = { "bash", "-c", ASYNC, "islet-session", sid, cid, RUNNER, NULL };
  struct islet_exec_result res;
  struct islet_err e;
  int rc = held_start (sb, (char *const *) argv, sid, cid, &e);

  if (rc < 0)
    {
      reply_islet_err (out, &e, false);
      return;
    }
  if (rc == 1)
    {
      if (script (sb, ASYNC_NO_STDIN, (const char *[]){ sid, cid, RUNNER, NULL }, NULL, NULL, &res,
                  out)
          < 0)
        return;
      if (res.exit_code != 0)
        {
          script_failed (out, "start the command", &res);
          islet_exec_result_fini (&res);
          return;
        }
      islet_exec_result_fini (&res);
    }
  reply_json (out, 202, json_pack ("{s:s}", "cmdId", cid));
}

void
tb_session_input (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_json json_t *all = NULL;
  const char *sid = j ? path_session (r, out) : NULL, *cid = r->params[2];
  json_t *data, *cmd;
  struct islet_err e;

  if (sid == NULL)
    return;
  data = json_object_get (j, "data");
  if (!json_is_string (data))
    {
      reply_error (out, 400, "BAD_REQUEST", "data must be a string");
      return;
    }
  if (!cmd_id_ok (cid))
    {
      reply_error (out, 404, "NOT_FOUND", "command '%s' not found", cid);
      return;
    }
  if (tb_open (r, &sb, out) < 0)
    return;
  if (held_input (sb.info.id, sid, cid, json_string_value (data), json_string_length (data), &e)
      == 0)
    {
      reply_json (out, 200, json_object ());
      return;
    }
  if (e.kind != ISLET_E_NOTFOUND)
    {
      reply_islet_err (out, &e, false);
      return;
    }
  /* why there is no stdin to write to */
  if ((all = dump (r, out, &sb, sid, cid)) == NULL)
    return;
  cmd = json_array_get (json_object_get (json_array_get (all, 0), "commands"), 0);
  if (cmd == NULL)
    reply_error (out, 404, "NOT_FOUND", "command '%s' not found in session '%s'", cid, sid);
  else if (json_object_get (cmd, "exitCode"))
    reply_error (out, 409, "CONFLICT", "command '%s' has ended: it takes no more input", cid);
  else
    reply_error (out, 409, "CONFLICT",
                 "command '%s' takes no input: only an async command does, and only one started "
                 "while fewer than 64 of the sandbox's commands were running with theirs",
                 cid);
}

void
tb_session_exec (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_sb struct sb_ref sb = { 0 };
  struct tb_output all = { 0 };
  struct islet_exec_result res;
  const char *sid = j ? path_session (r, out) : NULL, *cmd;
  bool async;
  char cid[37];

  if (sid == NULL)
    return;
  cmd = json_string_value (json_object_get (j, "command"));
  if (cmd == NULL || *cmd == '\0')
    {
      reply_error (out, 400, "BAD_REQUEST", "command must be a non-empty string");
      return;
    }
  async = json_is_true (json_object_get (j, "runAsync"))
          || json_is_true (json_object_get (j, "async"));
  tb_new_id (cid);
  if (tb_open (r, &sb, out) < 0
      || script (&sb, PREP, (const char *[]){ sid, cid, async ? "async" : "sync", RUNNER, NULL },
                 cmd, &all, &res, out)
             < 0)
    {
      free (all.data);
      return;
    }
  if (res.exit_code == 3 && res.out_len == 0 && res.errout && strcmp (res.errout, NO_SESSION) == 0)
    reply_error (out, 404, "NOT_FOUND", "session '%s' not found", sid);
  else if (async && res.exit_code != 0)
    script_failed (out, "start the command", &res);
  else if (async)
    async_start (&sb, sid, cid, out);
  else
    {
      json_t *o = json_pack ("{s:s,s:o,s:o,s:o,s:i}", "cmdId", cid, "output",
                             tb_json_text (all.data, all.len), "stdout",
                             tb_json_text (res.out, res.out_len), "stderr",
                             tb_json_text (res.errout, res.err_len), "exitCode", res.exit_code);

      mark_fields (o, res.out_len >= SESSION_OUTPUT_MAX, res.err_len >= SESSION_OUTPUT_MAX);
      reply_json (out, 200, o);
      snprintf (out->note, sizeof out->note, "exit %d", res.exit_code);
    }
  islet_exec_result_fini (&res);
  free (all.data);
}

/* ---- following a command's logs over a WebSocket ----
 *
 * GET .../command/{cid}/logs?follow=true with `Upgrade: websocket` (the
 * SDK's getSessionCommandLogs with callbacks): after the 101, a thread
 * sends what the command writes as binary messages, stdout's behind the
 * bytes 01 01 01 and stderr's behind 02 02 02, and closes with 1000 once
 * the command has ended and everything is out.  It polls: one exec of
 * FOLLOW every FOLLOW_POLL_MS, which checks for the exit file first and
 * then sends what came after the offsets it is given, so a command that
 * ended is read to its true end.  Between polls it reads the socket, so a
 * client that goes away ends the thread at once; so does isletd's exit. */

#define FOLLOW_POLL_MS 100
#define FOLLOW_CHUNK ((uint64_t) 1 << 20) /* per stream and poll */

/* $1 sid, $2 cmd id, $3 $4 bytes of stdout and stderr already sent.
 * Exit 10: the command has ended (before what was printed was read);
 * 3: no such command. */
static const char FOLLOW[] = "cd -- " SESSIONS "/\"$1\"/cmds/\"$2\" 2>/dev/null || exit 3\n"
                             "e=0; [ -e exit ] && e=10\n"
                             "tail -c +$(($3 + 1)) stdout 2>/dev/null\n"
                             "tail -c +$(($4 + 1)) stderr >&2 2>/dev/null\n"
                             "exit $e\n";

struct follow
{
  char id[ISLET_ID_LEN + 1];
  char sid[256];
  char cid[37];
};

/* One poll: 1 ended and all sent, 0 more to come, -1 over (with why). */
static int
follow_poll (struct srv *srv, struct ws *ws, const struct follow *f, uint64_t *sent_out,
             uint64_t *sent_err, const char **why)
{
  struct sb_ref sb = { .ctx = srv->ctx };
  struct islet_exec_result res;
  struct resp ignored = { .fd = -1 };
  char o1[24], o2[24];
  int rc = 0;

  memcpy (sb.info.id, f->id, sizeof sb.info.id);
  snprintf (o1, sizeof o1, "%llu", (unsigned long long) *sent_out);
  snprintf (o2, sizeof o2, "%llu", (unsigned long long) *sent_err);
  {
    const char *argv[] = { "bash", "-c", FOLLOW, "islet-follow", f->sid, f->cid, o1, o2, NULL };
    if (sh_run (&sb,
                &(struct sh_run){ .argv = (char *const *) argv,
                                  .output_limit = FOLLOW_CHUNK,
                                  .timeout_ms = 30000 },
                &res, &ignored)
        < 0)
      {
        free (ignored.body);
        *why = "the sandbox cannot be read";
        return -1;
      }
  }
  if (res.exit_code == 3)
    {
      *why = "no such command";
      rc = -1;
    }
  for (int s = 0; rc == 0 && s < 2; s++)
    {
      const char *data = s == 0 ? res.out : res.errout;
      size_t n = s == 0 ? res.out_len : res.err_len;
      cleanup_free char *msg = NULL;

      if (n == 0)
        continue;
      msg = islet_xmalloc (n + 3);
      memset (msg, s == 0 ? 1 : 2, 3);
      memcpy (msg + 3, data, n);
      if (ws_send_binary (ws, msg, n + 3) < 0)
        {
          *why = NULL; /* the client left */
          rc = -1;
        }
      *(s == 0 ? sent_out : sent_err) += n;
    }
  /* ended, and nothing was cut by the chunk size: that was all of it */
  if (rc == 0 && res.exit_code == 10 && !res.truncated)
    rc = 1;
  islet_exec_result_fini (&res);
  return rc;
}

static void
follow_run (struct srv *srv, struct ws *ws, void *arg)
{
  struct follow *f = arg;
  uint64_t sent_out = 0, sent_err = 0;
  const char *why = NULL;
  int rc = 0;

  srv_stream_begin (srv);
  while (rc == 0)
    {
      const char *msg;
      size_t len;
      int r;

      if (__atomic_load_n (&srv->stopping, __ATOMIC_ACQUIRE))
        {
          ws_close (ws, 1001, "going away");
          break;
        }
      rc = follow_poll (srv, ws, f, &sent_out, &sent_err, &why);
      if (rc == 1)
        ws_close (ws, 1000, "");
      else if (rc < 0 && why)
        ws_close (ws, 1011, why);
      if (rc != 0)
        break;
      /* the pause between polls is a read: a close or a broken link ends it */
      do
        r = ws_recv (ws, islet_now_ns () + (uint64_t) FOLLOW_POLL_MS * 1000000, &msg, &len);
      while (r == 1);
      if (r < 0)
        break;
    }
  ws_free (ws);
  free (f);
  srv_stream_end (srv);
}

int
tb_session_follow_begin (struct req *r, struct resp *out, ws_open_fn *fn, void **arg)
{
  cleanup_sb struct sb_ref sb = { 0 };
  const char *follow = req_query (r, "follow");
  struct islet_exec_result res;
  struct follow *f;
  const char *sid;

  if (follow == NULL || strcmp (follow, "true") != 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "a WebSocket here follows the logs: add ?follow=true");
      return -1;
    }
  if ((sid = path_session (r, out)) == NULL)
    return -1;
  if (!cmd_id_ok (r->params[2]))
    {
      reply_error (out, 404, "NOT_FOUND", "command '%s' not found", r->params[2]);
      return -1;
    }
  if (tb_open (r, &sb, out) < 0
      || script (&sb, "[ -d " SESSIONS "/\"$1\"/cmds/\"$2\" ] || exit 3",
                 (const char *[]){ sid, r->params[2], NULL }, NULL, NULL, &res, out)
             < 0)
    return -1;
  islet_exec_result_fini (&res);
  if (res.exit_code != 0)
    {
      reply_error (out, 404, "NOT_FOUND", "command '%s' not found in session '%s'", r->params[2],
                   sid);
      return -1;
    }
  f = islet_xcalloc (1, sizeof *f);
  snprintf (f->id, sizeof f->id, "%s", sb.info.id);
  snprintf (f->sid, sizeof f->sid, "%s", sid);
  snprintf (f->cid, sizeof f->cid, "%s", r->params[2]);
  *fn = follow_run;
  *arg = f;
  return 0;
}
