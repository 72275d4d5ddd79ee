/* The stdin of a session's async commands (the SDK's
 * sendSessionCommandInput).  An async command is an exec whose stdin is a
 * pipe fed as it runs (the core's islet_exec_open, "stdin_stream"): isletd
 * keeps the exec's connection, and each input is a DATA frame on it, which
 * the exec handler writes into the pipe.  The exec is detached: if isletd
 * goes away, the command loses its stdin and runs on, as it did before it
 * had one.  isletd holds no thread per command, only the connection: a
 * command that has ended has sent its result on it, which makes it
 * readable, and such connections are let go whenever the table is used.
 *
 * Bounds: HELD_PER_SANDBOX commands keep their stdin per sandbox,
 * HELD_MAX in all; past them an async command starts with no stdin, as it
 * always did, and input to it is refused with that reason.  An input the
 * command does not take within HELD_SEND_S seconds (its pipe and the
 * connection's buffers are full) closes its stdin, and says so. */
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "islet/client.h"
#include "islet/util.h"
#include "toolbox.h"

#define HELD_PER_SANDBOX 64
#define HELD_MAX 1024
#define HELD_SEND_S 5

struct held
{
  char sandbox[ISLET_ID_LEN + 1];
  char sid[129];
  char cid[37];
  int conn;
  pthread_mutex_t send_lock;
  unsigned refs; /* under held_lock */
  struct held *next;
};

static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static struct held *helds;

static void
held_unref_locked (struct held *h)
{
  if (--h->refs > 0)
    return;
  close (h->conn);
  pthread_mutex_destroy (&h->send_lock);
  free (h);
}

/* Whether the command has ended: its result (or the handler's end) makes
 * the connection readable. */
static bool
held_over (const struct held *h)
{
  struct pollfd p = { .fd = h->conn, .events = POLLIN | POLLRDHUP };
  return poll (&p, 1, 0) != 0;
}

/* Let go of the ended commands; count those of sandbox (under held_lock). */
static void
held_sweep_locked (const char *sandbox, unsigned *here, unsigned *all)
{
  *here = *all = 0;
  for (struct held **q = &helds; *q;)
    {
      struct held *h = *q;
      if (held_over (h))
        {
          *q = h->next;
          held_unref_locked (h);
          continue;
        }
      *here += strcmp (h->sandbox, sandbox) == 0;
      (*all)++;
      q = &h->next;
    }
}

int
held_start (struct sb_ref *sb, char *const *argv, const char *sid, const char *cid,
            struct islet_err *err)
{
  struct timeval tv = { .tv_sec = HELD_SEND_S };
  unsigned here, all;
  struct islet_exec_req req;
  struct held *h;
  char **env;
  int conn, rc;

  pthread_mutex_lock (&held_lock);
  held_sweep_locked (sb->info.id, &here, &all);
  pthread_mutex_unlock (&held_lock);
  if (here >= HELD_PER_SANDBOX || all >= HELD_MAX)
    return 1;
  env = sb_env (sb, NULL, &(struct resp){ .fd = -1 });
  req = (struct islet_exec_req){ .argv = argv, .env = env, .detach = true };
  rc = islet_exec_open (sb->ctx, sb->info.id, &req, &conn, err);
  islet_strv_free (env);
  if (rc < 0)
    return -1;
  /* a send that waits longer breaks the stream: held_input says so */
  setsockopt (conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  h = islet_xcalloc (1, sizeof *h);
  snprintf (h->sandbox, sizeof h->sandbox, "%s", sb->info.id);
  snprintf (h->sid, sizeof h->sid, "%s", sid);
  snprintf (h->cid, sizeof h->cid, "%s", cid);
  h->conn = conn;
  h->refs = 1;
  pthread_mutex_init (&h->send_lock, NULL);
  pthread_mutex_lock (&held_lock);
  h->next = helds;
  helds = h;
  pthread_mutex_unlock (&held_lock);
  return 0;
}

int
held_input (const char *sandbox, const char *sid, const char *cid, const char *data, size_t len,
            struct islet_err *err)
{
  unsigned here, all;
  struct held *h;
  int rc;

  pthread_mutex_lock (&held_lock);
  held_sweep_locked (sandbox, &here, &all);
  for (h = helds; h; h = h->next)
    if (strcmp (h->sandbox, sandbox) == 0 && strcmp (h->sid, sid) == 0 && strcmp (h->cid, cid) == 0)
      {
        h->refs++;
        break;
      }
  pthread_mutex_unlock (&held_lock);
  if (h == NULL)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no stdin");
  pthread_mutex_lock (&h->send_lock);
  rc = islet_exec_input (h->conn, data, len, err);
  if (rc < 0)
    {
      /* cut mid-frame or not: the stream is broken, and the handler
         closes the command's stdin when it sees the connection go */
      shutdown (h->conn, SHUT_RDWR);
      islet_fail (err, ISLET_E_CONFLICT, 0,
                  "the command did not take its input within %d s: its stdin is closed now",
                  HELD_SEND_S);
    }
  pthread_mutex_unlock (&h->send_lock);
  pthread_mutex_lock (&held_lock);
  held_unref_locked (h);
  pthread_mutex_unlock (&held_lock);
  return rc;
}
