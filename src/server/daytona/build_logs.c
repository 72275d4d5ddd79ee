/* A sandbox's build log, as the SDK reads it for create({image},
 * {onSnapshotCreateLogs}): GET /api/sandbox/{id}/build-logs-url gives a URL
 * on this server, and GET of that URL (with the key, as every route) is
 * the log's text; with ?follow=true the answer goes on, chunked, as the
 * build writes, until its pull or build ends (owned_pending.c). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "islet/util.h"
#include "server.h"

/* A follower waits for more at most this long in all. */
#define FOLLOW_MAX_S (2 * 3600)

void
api_sandbox_build_logs_url (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free char *tb = NULL, *url = NULL;
  size_t n;

  if (sb_open (r, r->params[0], &sb, out) < 0)
    return;
  /* the toolbox's address is the server's as the caller reached it */
  tb = sb_toolbox_url (r);
  n = strlen (tb);
  if (n >= 8 && strcmp (tb + n - 8, "/toolbox") == 0)
    tb[n - 8] = '\0';
  url = islet_xasprintf ("%s/api/sandbox/%s/build-logs", tb, sb.info.id);
  reply_json (out, 200, json_pack ("{s:s}", "url", url));
}

struct follower
{
  struct srv *srv;
  int fd;
  bool follow;
  char id[ISLET_ID_LEN + 1];
  time_t until;
};

static ssize_t
follow_read (void *state, char *buf, size_t max)
{
  struct follower *f = state;

  for (;;)
    {
      ssize_t n = read (f->fd, buf, max);
      bool more;
      if (n < 0 && errno == EINTR)
        continue;
      if (n != 0)
        return n;
      /* the end of what is written: the end of the log once the job is
         over (read once more: it may have written meanwhile) */
      more = f->follow && owned_pending_running (f->srv, f->id)
             && !__atomic_load_n (&f->srv->stopping, __ATOMIC_ACQUIRE) && time (NULL) < f->until;
      if (!more)
        return read (f->fd, buf, max);
      usleep (200 * 1000);
    }
}

static void
follow_free (void *state)
{
  struct follower *f = state;

  close (f->fd);
  free (f);
}

void
api_sandbox_build_logs (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free char *path = NULL;
  const char *follow = req_query (r, "follow");
  struct follower *f;
  int fd;

  if (sb_open (r, r->params[0], &sb, out) < 0)
    return;
  path = owned_pending_log (r->srv, sb.info.id);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      reply_error (out, 404, "NOT_FOUND",
                   "sandbox '%s' has no build log: its image was on this machine already",
                   r->params[0]);
      return;
    }
  f = islet_xcalloc (1, sizeof *f);
  *f = (struct follower){ .srv = r->srv,
                          .fd = fd,
                          .follow = follow && strcmp (follow, "true") == 0,
                          .until = time (NULL) + FOLLOW_MAX_S };
  snprintf (f->id, sizeof f->id, "%s", sb.info.id);
  out->status = 200;
  out->content_type = "text/plain; charset=utf-8";
  out->produce = follow_read;
  out->produce_free = follow_free;
  out->produce_state = f;
}
