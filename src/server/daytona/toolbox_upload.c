/* Toolbox: uploads (files/upload-v2, files/bulk-upload), streamed.  http.c
 * hands the body over piece by piece, split into form fields by the HTTP
 * library's multipart parser; each file goes into the sandbox as it arrives,
 * through the core's public streaming write (islet_fs_copy_in), so isletd
 * holds no more of a file than a socket buffer, whatever its size.
 *
 * islet_fs_copy_in reads a host fd until end of file.  It runs in a pump
 * thread on one end of a socketpair; the connection's thread writes the
 * file's bytes into the other end (blocking when the sandbox is slower, so
 * the client is slowed down too).  The end of the file is shutdown(SHUT_WR):
 * the pump reads EOF and the core commits the file (its agent writes a
 * temporary file and renames it).  An abort (the client went away, a bad
 * request) must not look like an end of file, or the core would commit
 * half a file: the pump end writes one byte to our end when the pair is
 * made, which we never read, and closing a unix socket with unread data
 * makes the peer's next read fail with ECONNRESET (Linux, af_unix).  The
 * core then drops the connection and its agent removes the temporary file.
 *
 * Bulk uploads name each file by a field files[i].path, which the SDK sends
 * before files[i].file.  A file whose path has not come yet goes to an
 * unlinked file in the state directory (bounded by the body's limit) and is
 * copied in once its path arrives. */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "islet/util.h"
#include "server.h"
#include "toolbox.h"

#define UPLOAD_MODE 0644
#define UPLOAD_PATH_MAX 4096
/* multipart headers and boundaries on top of the files themselves */
#define FORM_OVERHEAD ((uint64_t) 1 << 20)

/* ---- the pump: one file, streamed into the sandbox ---- */

struct pump
{
  pthread_t thread;
  int ours;              /* we write the file here */
  int theirs;            /* islet_fs_copy_in reads it; the pump thread closes it */
  struct islet_ctx *ctx; /* handed to the thread while it runs, not shared */
  char id[ISLET_ID_LEN + 1];
  char *path;
  unsigned mode;
  int rc;
  struct islet_err err;
  bool running;
};

static void *
pump_main (void *arg)
{
  struct pump *p = arg;

  p->rc = islet_fs_copy_in (p->ctx, p->id, p->theirs, p->path, p->mode, &p->err);
  /* a writer still at it now gets EPIPE instead of waiting forever */
  close (p->theirs);
  return NULL;
}

static int
pump_start (struct pump *p, struct sb_ref *sb, const char *path, unsigned mode,
            struct islet_err *err)
{
  int sv[2], e;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "socketpair");
  /* the unread byte that turns our close into the pump's ECONNRESET */
  if (write (sv[1], "a", 1) != 1)
    {
      e = errno;
      close (sv[0]);
      close (sv[1]);
      return islet_fail (err, ISLET_E_SYSTEM, e, "socketpair");
    }
  *p = (struct pump){ .ours = sv[0], .theirs = sv[1], .ctx = sb->ctx, .mode = mode };
  snprintf (p->id, sizeof p->id, "%s", sb->info.id);
  p->path = islet_xstrdup (path);
  e = pthread_create (&p->thread, NULL, pump_main, p);
  if (e != 0)
    {
      close (sv[0]);
      close (sv[1]);
      free (p->path);
      return islet_fail (err, ISLET_E_SYSTEM, e, "start a thread");
    }
  p->running = true;
  return 0;
}

/* -1: the pump stopped early (its error comes from pump_finish). */
static int
pump_write (struct pump *p, const char *data, size_t n)
{
  while (n > 0)
    {
      ssize_t w = send (p->ours, data, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return -1;
      data += w;
      n -= (size_t) w;
    }
  return 0;
}

/* commit: end of file, the core renames the file into place; otherwise
 * abort, and nothing is left in the sandbox.  Waits for the pump. */
static int
pump_finish (struct pump *p, bool commit, struct islet_err *err)
{
  if (!p->running)
    return 0;
  if (commit)
    shutdown (p->ours, SHUT_WR);
  else
    {
      close (p->ours);
      p->ours = -1;
    }
  pthread_join (p->thread, NULL);
  if (p->ours >= 0)
    close (p->ours);
  p->running = false;
  free (p->path);
  if (p->rc < 0)
    {
      *err = p->err;
      return -1;
    }
  if (!commit)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "the upload was aborted");
  return 0;
}

/* ---- an upload request ---- */

enum part_kind
{
  PART_SKIP,   /* a field we do not use */
  PART_PATH,   /* files[i].path: collected */
  PART_STREAM, /* a file whose destination is known: pumped */
  PART_SPOOL,  /* a file whose path has not come yet: spooled */
};

struct spooled
{
  long idx;
  int fd;
};

struct known_path
{
  long idx;
  char *path;
};

struct upload
{
  struct req *r;
  struct resp *out; /* the request's answer: a failure goes here at once */
  struct sb_ref sb;
  bool bulk;          /* files[i].path + files[i].file; else upload-v2 */
  const char *target; /* upload-v2: ?path= */
  unsigned mode;      /* ?mode= (octal, an islet extension), else UPLOAD_MODE */
  bool failed;
  /* the part being received */
  bool in_part;
  enum part_kind kind;
  char *field;
  long idx;
  uint64_t part_len;
  char text[UPLOAD_PATH_MAX + 1];
  struct pump pump;
  int spool;
  /* bulk: the paths seen, the files waiting for theirs */
  struct known_path *paths;
  size_t npaths;
  struct spooled *waiting;
  size_t nwaiting;
  size_t written;
  uint64_t charged; /* to the key's scratch budget, for the spooled files */
};

static int
fail_err (struct upload *u, const struct islet_err *e, bool daemon)
{
  if (!u->failed)
    reply_islet_err (u->out, e, daemon);
  u->failed = true;
  return -1;
}

static int __attribute__ ((format (printf, 2, 3))) fail_400 (struct upload *u, const char *fmt, ...)
{
  char msg[256];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  if (!u->failed)
    reply_error (u->out, 400, "BAD_REQUEST", "%s", msg);
  u->failed = true;
  return -1;
}

/* "files[12].path" -> 12 and "path"; -1 if not of that form. */
static long
upload_index (const char *name, const char **field)
{
  char *end;
  long i;

  if (strncmp (name, "files[", 6) != 0)
    return -1;
  errno = 0;
  i = strtol (name + 6, &end, 10);
  if (errno || i < 0 || end == name + 6 || strncmp (end, "].", 2) != 0)
    return -1;
  *field = end + 2;
  return i;
}

static const char *
path_of (struct upload *u, long idx)
{
  for (size_t i = 0; i < u->npaths; i++)
    if (u->paths[i].idx == idx)
      return u->paths[i].path;
  return NULL;
}

static int
stream_to (struct upload *u, const char *path)
{
  struct islet_err err;

  if (pump_start (&u->pump, &u->sb, path, u->mode, &err) < 0)
    return fail_err (u, &err, false);
  u->kind = PART_STREAM;
  return 0;
}

static int
part_begin (struct upload *u, const char *field)
{
  const char *sub = "";
  struct islet_err err;

  free (u->field);
  u->field = islet_xstrdup (field);
  u->in_part = true;
  u->part_len = 0;
  u->kind = PART_SKIP;
  if (!u->bulk)
    return strcmp (field, "file") == 0 ? stream_to (u, u->target) : 0;
  u->idx = upload_index (field, &sub);
  if (u->idx < 0)
    return 0;
  if (strcmp (sub, "path") == 0)
    u->kind = PART_PATH;
  else if (strcmp (sub, "file") == 0 && path_of (u, u->idx))
    return stream_to (u, path_of (u, u->idx));
  else if (strcmp (sub, "file") == 0)
    {
      u->spool = open (u->r->srv->state_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      if (u->spool < 0)
        {
          islet_fail (&err, ISLET_E_SYSTEM, errno, "temporary file in `%s`", u->r->srv->state_dir);
          return fail_err (u, &err, false);
        }
      u->kind = PART_SPOOL;
    }
  return 0;
}

/* Charge n spooled bytes to the key's scratch budget, or answer 507. */
static int
charge (struct upload *u, size_t n)
{
  struct guard *g = u->r->srv->guard;
  const char *whose;

  if (g == NULL || guard_take (g, GUARD_SCRATCH, u->r->key_id, n, &whose) == 0)
    {
      u->charged += n;
      return 0;
    }
  if (!u->failed)
    reply_error (
        u->out, 507, "INSUFFICIENT_STORAGE",
        "files sent before their files[i].path wait on isletd's disk, and they are over "
        "%s scratch space (%llu bytes at once); send each path before its file",
        whose,
        (unsigned long long) guard_limit (g, GUARD_SCRATCH, strcmp (whose, "this key's") == 0));
  u->failed = true;
  return -1;
}

static int
part_data (struct upload *u, const char *data, size_t n)
{
  struct islet_err err;

  switch (u->kind)
    {
    case PART_SKIP: break;
    case PART_PATH:
      if (u->part_len + n > UPLOAD_PATH_MAX)
        return fail_400 (u, "%s: a path of more than %d bytes", u->field, UPLOAD_PATH_MAX);
      memcpy (u->text + u->part_len, data, n);
      break;
    case PART_STREAM:
      if (pump_write (&u->pump, data, n) < 0)
        {
          (void) pump_finish (&u->pump, false, &err);
          return fail_err (u, &err, true);
        }
      break;
    case PART_SPOOL:
      if (charge (u, n) < 0)
        return -1;
      if (islet_write_all (u->spool, data, n) < 0)
        {
          islet_fail (&err, ISLET_E_SYSTEM, errno, "spool an upload");
          return fail_err (u, &err, false);
        }
      break;
    }
  u->part_len += n;
  return 0;
}

/* A spooled file whose path has come: copy it in. */
static int
copy_spooled (struct upload *u, int fd, const char *path)
{
  struct islet_err err;

  if (lseek (fd, 0, SEEK_SET) < 0)
    {
      islet_fail (&err, ISLET_E_SYSTEM, errno, "rewind a spooled upload");
      return fail_err (u, &err, false);
    }
  if (islet_fs_copy_in (u->sb.ctx, u->sb.info.id, fd, path, u->mode, &err) < 0)
    return fail_err (u, &err, true);
  u->written++;
  return 0;
}

static int
path_end (struct upload *u)
{
  const char *path;

  u->text[u->part_len] = '\0';
  /* the path is a part's bytes: no NUL (it would cut the path short) or
   * other control byte inside, not empty */
  if (u->part_len == 0 || text_has_control (u->text, u->part_len))
    return fail_400 (u, "%s is not a path: empty, or with a control byte", u->field);
  u->paths = islet_xrealloc (u->paths, (u->npaths + 1) * sizeof *u->paths);
  u->paths[u->npaths++] = (struct known_path){ u->idx, islet_xstrdup (u->text) };
  path = u->paths[u->npaths - 1].path;
  for (size_t i = 0; i < u->nwaiting; i++)
    if (u->waiting[i].idx == u->idx)
      {
        int fd = u->waiting[i].fd;
        u->waiting[i] = u->waiting[--u->nwaiting];
        if (copy_spooled (u, fd, path) < 0)
          {
            close (fd);
            return -1;
          }
        close (fd);
        i--;
      }
  return 0;
}

static int
part_end (struct upload *u)
{
  struct islet_err err;

  if (!u->in_part)
    return 0;
  u->in_part = false;
  switch (u->kind)
    {
    case PART_SKIP: return 0;
    case PART_PATH: return path_end (u);
    case PART_STREAM:
      if (pump_finish (&u->pump, true, &err) < 0)
        return fail_err (u, &err, true);
      u->written++;
      return 0;
    case PART_SPOOL:
      u->waiting = islet_xrealloc (u->waiting, (u->nwaiting + 1) * sizeof *u->waiting);
      u->waiting[u->nwaiting++] = (struct spooled){ u->idx, u->spool };
      u->spool = -1;
      return 0;
    }
  return 0;
}

static int
upload_piece (void *state, const char *field, const char *filename, const char *data, uint64_t off,
              size_t n)
{
  struct upload *u = state;

  if (u->failed)
    return -1;
  if (field == NULL) /* a raw body (upload-v2): pumping since begin */
    return part_data (u, data, n);
  /* a part starts at offset 0; the library may announce an empty start first */
  if (off == 0 && !(u->in_part && u->part_len == 0 && strcmp (u->field, field) == 0))
    {
      if (part_end (u) < 0 || part_begin (u, field) < 0)
        return -1;
    }
  return part_data (u, data, n);
}

static void
upload_free (struct upload *u)
{
  struct islet_err ignored;

  if (u->pump.running)
    (void) pump_finish (&u->pump, false, &ignored);
  if (u->spool >= 0)
    close (u->spool);
  for (size_t i = 0; i < u->nwaiting; i++)
    close (u->waiting[i].fd);
  if (u->r->srv->guard)
    guard_give (u->r->srv->guard, GUARD_SCRATCH, u->r->key_id, u->charged);
  for (size_t i = 0; i < u->npaths; i++)
    free (u->paths[i].path);
  free (u->waiting);
  free (u->paths);
  free (u->field);
  sb_close (&u->sb);
  free (u);
}

static void
upload_end (void *state, bool complete, struct resp *out)
{
  struct upload *u = state;

  if (complete && !u->failed && part_end (u) == 0)
    {
      if (u->nwaiting > 0)
        fail_400 (u, "files[%ld].file has no files[%ld].path", u->waiting[0].idx,
                  u->waiting[0].idx);
      else if (u->written == 0)
        fail_400 (u, "the multipart body has no %s parts", u->bulk ? "files[i].file" : "`file`");
      else
        {
          reply_json (out, 200, json_object ());
          snprintf (out->note, sizeof out->note, "%zu files", u->written);
        }
    }
  upload_free (u);
}

static int
upload_begin (struct req *r, struct resp *out, void **state, uint64_t *max, bool bulk)
{
  const char *ct = req_header (r, "Content-Type");
  bool form = ct && strncasecmp (ct, "multipart/form-data", 19) == 0;
  struct upload *u = islet_xcalloc (1, sizeof *u);
  struct islet_err err;

  *u = (struct upload){ .r = r, .out = out, .bulk = bulk, .spool = -1 };
  if (tb_mode_query (r, out, UPLOAD_MODE, &u->mode) < 0)
    goto fail;
  if (!bulk && ((u->target = req_query (r, "path")) == NULL || *u->target == '\0'))
    {
      reply_error (out, 400, "BAD_REQUEST", "the query needs path");
      goto fail;
    }
  if (bulk && !form)
    {
      reply_error (out, 400, "BAD_REQUEST", "the body must be multipart/form-data");
      goto fail;
    }
  if (tb_open (r, &u->sb, out) < 0)
    goto fail;
  /* the sandbox's disk bounds what it can take */
  *max = (u->sb.info.limits.disk_mb << 20) + FORM_OVERHEAD;
  if (!form)
    {
      /* a raw body (upload-v2) is the file: pumped from the start */
      if (pump_start (&u->pump, &u->sb, u->target, u->mode, &err) < 0)
        {
          reply_islet_err (out, &err, false);
          goto fail;
        }
      u->in_part = true;
      u->kind = PART_STREAM;
      u->field = islet_xstrdup ("");
    }
  *state = u;
  return 0;
fail:
  upload_free (u);
  return -1;
}

static int
begin_v2 (struct req *r, struct resp *out, void **state, uint64_t *max)
{
  return upload_begin (r, out, state, max, false);
}

static int
begin_bulk (struct req *r, struct resp *out, void **state, uint64_t *max)
{
  return upload_begin (r, out, state, max, true);
}

/* POST /files/upload-v2?path=: a multipart field `file`, or the raw body. */
const struct body_sink tb_upload_v2 = { begin_v2, upload_piece, upload_end };

/* POST /files/bulk-upload: fields files[i].path (where to) and files[i].file
 * (what); the part's own filename is only a basename, so it is not used. */
const struct body_sink tb_bulk_upload = { begin_bulk, upload_piece, upload_end };
