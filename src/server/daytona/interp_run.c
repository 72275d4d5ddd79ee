/* One run of code in an interpreter context: the request on the driver's
 * stdin, its chunks read back and bounded, the timeout's interrupt (the
 * driver raises KeyboardInterrupt in the code, as a notebook does) and,
 * when the code does not stop, the kill.  What the driver sends is
 * untrusted (the code runs in the driver's own process and can write
 * anything there): each chunk is checked and rebuilt before it is handed
 * on, and only the run's own count. */
#include <string.h>

#include "interp_internal.h"
#include "islet/util.h"

#define QUIET_MS 100  /* the caller is asked whether it left this often */
#define CHARTS_MAX 32 /* per run */
#define ERRORS_MAX 1  /* a run ends with one error at most */

struct run_state
{
  struct interp_ctx *c;
  const struct interp_run *run;
  uint64_t sent[2];
  bool cut[2], completed;
  unsigned charts, errors;
};

/* The longest prefix of s (len bytes) of at most max bytes that does not
 * end inside a UTF-8 sequence. */
static size_t
utf8_prefix (const char *s, size_t len, size_t max)
{
  size_t n = len < max ? len : max;

  if (n == len)
    return n;
  while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
    n--;
  return n;
}

static void
on_text (struct run_state *st, int i, const char *kind, json_t *text)
{
  const char *s = json_string_value (text);
  size_t len = json_string_length (text), keep;
  uint64_t max = st->run->output_max;
  cleanup_json json_t *chunk = NULL;

  if (s == NULL || len == 0)
    return;
  if (st->sent[i] + len > max)
    st->cut[i] = true;
  keep = st->sent[i] >= max ? 0 : utf8_prefix (s, len, (size_t) (max - st->sent[i]));
  st->sent[i] += len;
  if (keep == 0)
    return;
  chunk = json_pack ("{s:s,s:s%}", "type", kind, "text", s, keep);
  if (chunk)
    st->run->on_chunk (st->run->user, chunk);
}

static void
on_error (struct run_state *st, json_t *msg)
{
  static const char *const fields[] = { "name", "value", "traceback" };
  cleanup_json json_t *chunk = json_pack ("{s:s}", "type", "error");

  if (st->errors++ >= ERRORS_MAX)
    return;
  for (size_t i = 0; i < 3; i++)
    {
      json_t *v = json_object_get (msg, fields[i]);
      const char *s = json_string_value (v);
      size_t n = json_string_length (v);

      /* a traceback is bounded as output is */
      n = utf8_prefix (s ? s : "", n, (size_t) st->run->output_max);
      json_object_set_new (chunk, fields[i], json_stringn (s ? s : "", n));
    }
  st->run->on_chunk (st->run->user, chunk);
}

static void
on_line (void *user, json_t *msg)
{
  struct run_state *st = user;
  const char *type = json_string_value (json_object_get (msg, "type"));
  json_t *run = json_object_get (msg, "run");

  /* lines of an earlier run (a thread that printed late), or forged */
  if (type == NULL || !json_is_integer (run) || (uint64_t) json_integer_value (run) != st->c->seq
      || st->completed)
    return;
  if (strcmp (type, "stdout") == 0)
    on_text (st, 0, "stdout", json_object_get (msg, "text"));
  else if (strcmp (type, "stderr") == 0)
    on_text (st, 1, "stderr", json_object_get (msg, "text"));
  else if (strcmp (type, "error") == 0)
    on_error (st, msg);
  else if (strcmp (type, "chart") == 0 && json_is_object (json_object_get (msg, "chart"))
           && st->charts++ < CHARTS_MAX)
    {
      cleanup_json json_t *chunk = json_pack ("{s:s,s:O}", "type", "chart", "chart",
                                              json_object_get (msg, "chart"));
      st->run->on_chunk (st->run->user, chunk);
    }
  else if (strcmp (type, "control") == 0
           && strcmp (json_string_value (json_object_get (msg, "text")) ?: "", "completed") == 0)
    st->completed = true;
}

/* Output cut at the bound ends with a line that says so, in its stream. */
static void
mark_cut (struct run_state *st)
{
  static const char *const kinds[] = { "stdout", "stderr" };

  for (int i = 0; i < 2; i++)
    if (st->cut[i])
      {
        char text[160];
        cleanup_json json_t *chunk = NULL;

        snprintf (text, sizeof text,
                  "\n[islet: output cut at %llu bytes per stream; %llu were "
                  "written]\n",
                  (unsigned long long) st->run->output_max, (unsigned long long) st->sent[i]);
        chunk = json_pack ("{s:s,s:s,s:b}", "type", kinds[i], "text", text, "cut", 1);
        st->run->on_chunk (st->run->user, chunk);
      }
}

bool
interp_feed (struct interp_ctx *c, const struct interp_run *run, const char *data, size_t len)
{
  struct run_state st = { .c = c, .run = run };

  ictx_take_bytes (c, data, len, on_line, &st);
  mark_cut (&st);
  return st.completed;
}

static int
interrupt (struct interp_ctx *c)
{
  cleanup_json json_t *msg = json_pack ("{s:s,s:I}", "op", "interrupt", "run", (json_int_t) c->seq);
  return ictx_send (c, msg);
}

/* Wait for the context (one run at a time), asking the caller whether it
 * left; false: it left, or isletd stops. */
static bool
take_run_lock (struct srv *srv, struct interp_ctx *c, const struct interp_run *run)
{
  for (;;)
    {
      struct timespec ts;

      clock_gettime (CLOCK_REALTIME, &ts);
      ts.tv_nsec += QUIET_MS * 1000000L;
      if (ts.tv_nsec >= 1000000000L)
        {
          ts.tv_sec++;
          ts.tv_nsec -= 1000000000L;
        }
      if (pthread_mutex_timedlock (&c->run_lock, &ts) == 0)
        return true;
      if (__atomic_load_n (&srv->stopping, __ATOMIC_ACQUIRE)
          || (run->gone && run->gone (run->user)))
        return false;
    }
}

static enum interp_outcome
run_locked (struct srv *srv, struct interp_ctx *c, const struct interp_run *run)
{
  struct run_state st = { .c = c, .run = run };
  cleanup_json json_t *req = NULL;
  uint64_t t0 = islet_now_ns (), interrupted_at = 0;
  uint64_t deadline = run->timeout_s > 0 ? t0 + (uint64_t) (run->timeout_s * 1e9) : 0;
  enum interp_outcome outcome = INTERP_DONE;

  c->seq++;
  c->line_len = 0;
  c->line_over = false;
  req = json_pack ("{s:I,s:s,s:O?}", "run", (json_int_t) c->seq, "code", run->code, "envs",
                   run->envs);
  if (req == NULL)
    return INTERP_DIED; /* not UTF-8: the caller checked */
  if (ictx_send (c, req) < 0)
    return INTERP_DIED;
  while (!st.completed)
    {
      uint64_t now = islet_now_ns ();
      int rc;

      if (__atomic_load_n (&srv->stopping, __ATOMIC_ACQUIRE))
        return INTERP_STOPPING;
      if (!interrupted_at && deadline && now >= deadline)
        outcome = INTERP_TIMED_OUT;
      if (!interrupted_at && outcome != INTERP_DONE)
        {
          /* one interrupt: code that catches KeyboardInterrupt has had its
             chance (a second could land outside its try) */
          if (interrupt (c) < 0)
            return INTERP_DIED;
          interrupted_at = now;
        }
      if (interrupted_at && now - interrupted_at >= (uint64_t) INTERP_INTERRUPT_GRACE_MS * 1000000)
        {
          char why[128];
          snprintf (why, sizeof why,
                    "it did not stop within %d s of the interrupt at its timeout, and was killed",
                    INTERP_INTERRUPT_GRACE_MS / 1000);
          ictx_kill (c, why);
          return outcome == INTERP_CLIENT_GONE ? INTERP_CLIENT_GONE : INTERP_KILLED;
        }
      rc = ictx_pump (c, now + (uint64_t) QUIET_MS * 1000000, on_line, &st);
      if (rc < 0)
        return outcome == INTERP_CLIENT_GONE ? INTERP_CLIENT_GONE : INTERP_DIED;
      if (rc == 0 && outcome == INTERP_DONE && run->gone && run->gone (run->user))
        outcome = INTERP_CLIENT_GONE;
    }
  mark_cut (&st);
  return outcome;
}

enum interp_outcome
interp_run (struct srv *srv, struct interp_ctx *c, const struct interp_run *run)
{
  enum interp_outcome o;

  if (!take_run_lock (srv, c, run))
    return __atomic_load_n (&srv->stopping, __ATOMIC_ACQUIRE) ? INTERP_STOPPING
                                                              : INTERP_CLIENT_GONE;
  o = interp_dead (c) ? INTERP_DIED : run_locked (srv, c, run);
  pthread_mutex_unlock (&c->run_lock);
  return o;
}
