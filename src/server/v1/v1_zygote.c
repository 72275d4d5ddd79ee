/* A python started ahead in a pooled sandbox (daemon/v1pool.c), which runs
 * one /v1/execute program as `python3 -u /tmp/.islet-v1/main.py` would.
 *
 * A run pays python's start (about 20 ms on this host, most of it `site`
 * and the .pth files of the image's packages), the exec's hops into the
 * sandbox and the write of the program's file, each once.  The pool's
 * sandbox instead starts `python3 -u -c BOOT FILE` when it is made: python
 * is up, and waits reading its stdin.  A request sends the program's length
 * and text, then its stdin, then the end of stdin.  BOOT writes the file
 * (where a run writes it), makes the script's __main__ (sys.argv, sys.path
 * [0], __file__, __loader__, nothing of its own left), and runs it; an
 * exception is shown by sys.excepthook from the program's own frame on, and
 * a syntax error as python shows one, each with exit status 1.  It reads its
 * stdin with os.read, byte-exact, so the program's sys.stdin starts where
 * the program's stdin does.
 *
 * What a plain run has that this keeps: the program's user, cwd,
 * environment and limits (the same exec's); its output, per stream within
 * the same limit (BOOT's one NUL byte a stream, read at the start, is added
 * to the limit); exit status, signal, memory peak and CPU (python's start
 * included, as in a plain run); its timeout, from when the program was sent;
 * its wall time without the wait in the pool.  A request the zygote cannot
 * serve as a plain run would (a policy, another language, a stdin larger
 * than a pipe holds) kills it and runs plainly in the same fresh sandbox. */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "islet/proto.h"
#include "islet/util.h"
#include "server.h"
#include "toolbox.h"
#include "v1.h"

/* stdin a zygote takes: what a pipe holds, so sending it never waits on a
 * program that does not read it */
#define ZYGOTE_STDIN_MAX (32u << 10)
#define ZYGOTE_READY_MS 30000
#define ZYGOTE_KILL_MS 10000 /* after a timeout's kill, for the exec's result */

static const char zygote_boot[]
    = "import sys\n"
      "def _islet_boot(path):\n"
      "    import os, sys\n"
      "    os.write(1, b'\\0')\n"
      "    os.write(2, b'\\0')\n"
      "    head = b''\n"
      "    while not head.endswith(b'\\n'):\n"
      "        b = os.read(0, 1)\n"
      "        if not b:\n"
      "            os._exit(0)\n"
      "        head += b\n"
      "    n = int(head)\n"
      "    parts = []\n"
      "    while n > 0:\n"
      "        b = os.read(0, min(n, 1 << 20))\n"
      "        if not b:\n"
      "            os._exit(0)\n"
      "        parts.append(b)\n"
      "        n -= len(b)\n"
      "    src = b''.join(parts)\n"
      "    os.makedirs(os.path.dirname(path), exist_ok=True)\n"
      "    with open(path, 'wb') as f:\n"
      "        f.write(src)\n"
      "    sys.argv[:] = [path]\n"
      "    sys.path[0] = os.path.dirname(path)\n"
      "    g = sys.modules['__main__'].__dict__\n"
      "    for k in list(g):\n"
      "        if k not in ('__name__', '__builtins__'):\n"
      "            del g[k]\n"
      "    loader = sys.modules['_frozen_importlib_external'].SourceFileLoader('__main__', path)\n"
      "    g.update(__file__=path, __cached__=None, __doc__=None, __package__=None, "
      "__annotations__={},\n"
      "             __spec__=None, __loader__=loader)\n"
      "    try:\n"
      "        code = compile(src, path, 'exec')\n"
      "    except SyntaxError:\n"
      "        t, v, tb = sys.exc_info()\n"
      "        sys.excepthook(t, v.with_traceback(None), None)\n"
      "        sys.exit(1)\n"
      "    try:\n"
      "        exec(code, g)\n"
      "    except SystemExit:\n"
      "        raise\n"
      "    except KeyboardInterrupt:\n"
      "        # python's own end for it: the traceback, the exit functions, then\n"
      "        # death by SIGINT (status 130)\n"
      "        import atexit, signal\n"
      "        t, v, tb = sys.exc_info()\n"
      "        sys.excepthook(t, v.with_traceback(tb.tb_next), tb.tb_next)\n"
      "        atexit._run_exitfuncs()\n"
      "        signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
      "        os.kill(os.getpid(), signal.SIGINT)\n"
      "    except BaseException:\n"
      "        t, v, tb = sys.exc_info()\n"
      "        sys.excepthook(t, v.with_traceback(tb.tb_next), tb.tb_next)\n"
      "        sys.exit(1)\n"
      "_islet_boot(sys.argv[1])\n";

int
v1_zygote_open (struct islet_ctx *ctx, const char *id, const struct islet_exec_req *x, int *conn,
                struct islet_err *err)
{
  uint64_t deadline = islet_now_ns () + (uint64_t) ZYGOTE_READY_MS * 1000000;
  bool seen[3] = { false, false, false };

  if (islet_exec_open (ctx, id, x, conn, err) < 0)
    return -1;
  while (!(seen[ISLET_STDOUT] && seen[ISLET_STDERR]))
    {
      struct islet_exec_result res = { 0 };
      enum islet_stream stream;
      char *data = NULL;
      size_t len = 0;
      int rc = tb_exec_next_until (*conn, deadline, &stream, &data, &len, &res, err);
      bool mark = rc == 1 && len == 1 && data[0] == '\0' && !seen[stream];

      free (data);
      if (rc == 1 && mark)
        {
          seen[stream] = true;
          continue;
        }
      if (rc == 0)
        {
          islet_fail (err, ISLET_E_SYSTEM, 0,
                      "the python3 started ahead ended at its start: exit %d %s", res.exit_code,
                      res.error);
          islet_exec_result_fini (&res);
        }
      else if (rc == 1)
        islet_fail (err, ISLET_E_SYSTEM, 0, "the python3 started ahead wrote at its start");
      else if (rc == 2)
        islet_fail (err, ISLET_E_SYSTEM, 0, "the python3 started ahead was not up within %d s",
                    ZYGOTE_READY_MS / 1000);
      close (*conn);
      *conn = -1;
      return -1;
    }
  return 0;
}

int
v1_zygote_start (struct islet_ctx *ctx, const char *id, uint64_t output_limit, int *conn,
                 struct islet_err *err)
{
  char *argv[] = { (char *) "python3",         (char *) "-u", (char *) "-c", (char *) zygote_boot,
                   (char *) V1_DIR "/main.py", NULL };
  struct islet_exec_req x = { .argv = argv, .output_limit = output_limit + 1 };

  return v1_zygote_open (ctx, id, &x, conn, err);
}

void
v1_zygote_end (int conn)
{
  uint64_t deadline = islet_now_ns () + (uint64_t) ZYGOTE_KILL_MS * 1000000;
  struct islet_exec_result res = { 0 };
  struct islet_err err;
  int rc = 1;

  if (conn < 0)
    return;
  /* the end of its stdin, on which BOOT exits, then its result waited for:
   * a kill's handler freezes, kills and thaws the exec's group, and a
   * destroy that stopped the sandbox under it could leave the group frozen
   * with the python in it */
  if (islet_exec_input (conn, "", 0, &err) == 0)
    while (rc == 1)
      {
        enum islet_stream stream;
        char *data = NULL;
        size_t len = 0;

        rc = tb_exec_next_until (conn, deadline, &stream, &data, &len, &res, &err);
        free (data);
      }
  islet_exec_result_fini (&res);
  close (conn);
}

bool
v1_zygote_fits (const char *language, enum v1_policy_mode policy, const char *stdin_data)
{
  return strcmp (language, "python") == 0 && policy == V1_POLICY_OFF
         && (stdin_data == NULL || strlen (stdin_data) <= ZYGOTE_STDIN_MAX);
}

int
v1_zygote_send (int conn, const char *data, size_t len, struct islet_err *err)
{
  for (size_t off = 0; off < len;)
    {
      size_t n = len - off < ISLET_FRAME_MAX ? len - off : ISLET_FRAME_MAX;
      if (islet_exec_input (conn, data + off, n, err) < 0)
        return -1;
      off += n;
    }
  return 0;
}

int
v1_zygote_wait (int conn, double timeout_s, islet_output_fn on_output, void *user,
                struct islet_exec_result *res, struct islet_err *err)
{
  uint64_t deadline = islet_now_ns () + (uint64_t) (timeout_s * 1e9);
  bool killed = false;
  int rc;

  for (;;)
    {
      enum islet_stream stream;
      char *data = NULL;
      size_t len = 0;

      rc = tb_exec_next_until (conn, deadline, &stream, &data, &len, res, err);
      if (rc == 1)
        {
          if (len)
            on_output (stream, data, len, user);
          free (data);
          continue;
        }
      if (rc == 2 && !killed)
        {
          /* the program's timeout: the connection's end, on which the
             exec's handler kills its group (a kill frame is not read once
             stdin has ended); then its end waited for */
          shutdown (conn, SHUT_WR);
          killed = true;
          deadline = islet_now_ns () + (uint64_t) ZYGOTE_KILL_MS * 1000000;
          continue;
        }
      if (rc == 2)
        {
          close (conn);
          return islet_fail (err, ISLET_E_SYSTEM, 0, "the program did not end %d s after its kill",
                             ZYGOTE_KILL_MS / 1000);
        }
      break;
    }
  if (rc < 0 && !killed)
    {
      v1_zygote_end (conn);
      return -1;
    }
  close (conn); /* its exec is over */
  if (rc < 0)
    {
      /* killed for its timeout: the handler sends no result to a client
         that has left */
      res->signal = SIGKILL;
      res->exit_code = 128 + SIGKILL;
    }
  res->timed_out = res->timed_out || killed;
  return 0;
}

int
v1_zygote_run (int conn, uint64_t waited_from_ns, const char *code, const char *stdin_data,
               double timeout_s, islet_output_fn on_output, void *user,
               struct islet_exec_result *res, struct islet_err *err)
{
  char head[32];
  uint64_t sent;

  snprintf (head, sizeof head, "%zu\n", strlen (code));
  if (v1_zygote_send (conn, head, strlen (head), err) < 0
      || v1_zygote_send (conn, code, strlen (code), err) < 0
      || (stdin_data && v1_zygote_send (conn, stdin_data, strlen (stdin_data), err) < 0)
      || islet_exec_input (conn, "", 0, err) < 0)
    {
      v1_zygote_end (conn);
      return -1;
    }
  sent = islet_now_ns ();
  if (v1_zygote_wait (conn, timeout_s, on_output, user, res, err) < 0)
    return -1;
  /* its wall time from python's start, less the wait in the pool */
  {
    uint64_t waited_ms = (sent - waited_from_ns) / 1000000;
    res->wall_ms = res->wall_ms > waited_ms ? res->wall_ms - waited_ms : 1;
  }
  return 0;
}
