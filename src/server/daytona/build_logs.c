/* A build log, as the SDK reads it for create({image},
 * {onSnapshotCreateLogs}) (a sandbox's) and for snapshot.create(...,
 * {onLogs}) (a snapshot's): GET /api/sandbox/{id}/build-logs-url or
 * /api/snapshots/{id}/build-logs-url gives a URL on this server, and GET
 * of that URL (with the key, as every route) is the log's text; with
 * ?follow=true the answer goes on, chunked, as the build writes, until its
 * pull or build ends (owned_pending.c). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "islet/util.h"
#include "server.h"

/* A follower waits for more at most this long in all. */
#define FOLLOW_MAX_S (2 * 3600)

/* The address of GET OF's build log as the caller reached this server:
 * .../api/OF/ID/build-logs. */
static void
reply_logs_url (struct req *r, const char *of, const char *id, struct resp *out)
{
  cleanup_free char *tb = sb_toolbox_url (r), *url = NULL;
  size_t n = strlen (tb);

  /* the toolbox's address is the server's as the caller reached it */
  if (n >= 8 && strcmp (tb + n - 8, "/toolbox") == 0)
    tb[n - 8] = '\0';
  url = islet_xasprintf ("%s/api/%s/%s/build-logs", tb, of, id);
  reply_json (out, 200, json_pack ("{s:s}", "url", url));
}

void
api_sandbox_build_logs_url (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };

  if (sb_open (r, r->params[0], &sb, out) < 0)
    return;
  reply_logs_url (r, "sandbox", sb.info.id, out);
}

struct follower
{
  struct srv *srv;
  int fd;
  bool follow;
  char id[40];
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

/* The log of job id (a sandbox's or a snapshot's), followed when asked;
 * what says it has none. */
static void
reply_log (struct req *r, const char *id, const char *none, struct resp *out)
{
  cleanup_free char *path = owned_pending_log (r->srv, id);
  const char *follow = req_query (r, "follow");
  struct follower *f;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    {
      reply_error (out, 404, "NOT_FOUND", "'%s' has no build log: %s", r->params[0], none);
      return;
    }
  f = islet_xcalloc (1, sizeof *f);
  *f = (struct follower){ .srv = r->srv,
                          .fd = fd,
                          .follow = follow && strcmp (follow, "true") == 0,
                          .until = time (NULL) + FOLLOW_MAX_S };
  snprintf (f->id, sizeof f->id, "%s", id);
  out->status = 200;
  out->content_type = "text/plain; charset=utf-8";
  out->produce = follow_read;
  out->produce_free = follow_free;
  out->produce_state = f;
}

void
api_sandbox_build_logs (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };

  if (sb_open (r, r->params[0], &sb, out) < 0)
    return;
  reply_log (r, sb.info.id, "its image was on this machine already", out);
}

/* A snapshot's, for snapshot.create(..., {onLogs}): the SDK follows
 * /api/snapshots/ID/build-logs once the snapshot is building. */
static int
snapshot_open (struct req *r, struct islet_store_snapshot *s, struct resp *out)
{
  struct owner k = req_owner (r);
  struct islet_err err;

  if (owned_snapshot_get (&k, r->params[0], s, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  return 0;
}

void
api_snapshot_build_logs_url (struct req *r, struct resp *out)
{
  struct islet_store_snapshot s;

  if (snapshot_open (r, &s, out) < 0)
    return;
  reply_logs_url (r, "snapshots", s.id, out);
  islet_store_snapshot_fini (&s);
}

void
api_snapshot_build_logs (struct req *r, struct resp *out)
{
  struct islet_store_snapshot s;

  if (snapshot_open (r, &s, out) < 0)
    return;
  reply_log (r, s.id, "it was not built from an Image", out);
  islet_store_snapshot_fini (&s);
}
