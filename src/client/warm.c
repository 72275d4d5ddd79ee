/* The warm pool: sandboxes started ahead of time, so that a create takes
 * one instead of starting one.
 *
 *   <state>/warm/size        how many to keep ready (absent or 0: off), and
 *                            the network mode of its sandboxes ("2 all";
 *                            none when not named)
 *   <state>/warm/owner       present: a server (isletd) owns the pool, and
 *                            its next start removes it if it asks for none
 *   <state>/warm/ready/<id>  one empty file per sandbox ready to be taken
 *   <state>/warm/filling/<id> one per sandbox being started for the pool
 *   <state>/warm/taking/<id> one per sandbox a create is taking (renamed
 *                            from ready/: back there if its claim refuses)
 *   <state>/warm/fill.lock   held by the one process refilling the pool
 *
 * Only a create with no name, the default image, the default limits and the
 * pool's network mode (none, or all without a list or proxy) can take a
 * pooled sandbox: every other create starts its own.  The pool is
 * filled with the default image of its time (the store's default image, or
 * `host` before it is built); a pooled sandbox of another is destroyed when
 * met, never handed to a create that asked for something else.  A pooled
 * sandbox is used once, like any other; taking it is one rename(2) of its
 * ready file into taking/, which exactly one taker wins, then the caller's
 * claim (isletd's row, within the key's quota): a refused claim renames it
 * back, untouched, so no refusal costs the pool a sandbox.  A taking/ file
 * left by a kill between the rename and the claim is destroyed by the next
 * drain (isletd's start, `islet system warm`, reset), as is a filling/ file
 * a kill of the filler left (no fill runs while the drain holds the lock).
 * A taken sandbox's creation time is the take's, as a cold create's is its
 * own, and so are the times of its /, /workspace, /tmp and the other
 * directories a user looks at first (touched at the take).  After a
 * take, a refill runs in the background: the ctx's refill call (isletd's
 * thread), else `islet-run --warm-fill STATE`, detached, which starts
 * sandboxes until the pool is full again.  Pooled sandboxes are hidden from
 * listings until taken. */
#include <dirent.h>
#include <linux/openat2.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "islet/config.h"
#include "islet/contain.h"
#include "islet/proto.h"
#include "islet/sandbox.h"
#include "islet/util.h"
#include "sandbox_internal.h"

#define WARM_MAX 1024
#define TAKING_STALE_S 10 /* a taking/ file older than this: its taker was killed */
#define IMAGE_LEN sizeof (((struct islet_sandbox_info *) 0)->image)

static char *
warm_path (const struct islet_ctx *ctx, const char *what)
{
  return islet_xasprintf ("%s/warm/%s", ctx->state_dir, what);
}

/* The pool's size and its sandboxes' network mode, from warm/size. */
static unsigned
read_pool (const struct islet_ctx *ctx, enum islet_net_mode *mode)
{
  cleanup_free char *path = warm_path (ctx, "size");
  cleanup_free char *text = NULL;
  struct islet_err ignored;
  uint64_t v = 0;
  char *sp;

  *mode = ISLET_NET_NONE;
  if (islet_read_file_at (AT_FDCWD, path, 64, &text, NULL, &ignored) < 0)
    return 0;
  text[strcspn (text, "\n")] = '\0';
  sp = strchr (text, ' ');
  if (sp)
    *sp++ = '\0';
  if (islet_parse_u64 (text, WARM_MAX, &v, &ignored) < 0)
    return 0;
  if (sp && (islet_net_mode_parse (sp, mode, &ignored) < 0 || *mode == ISLET_NET_ALLOW))
    return 0; /* a mode this build cannot fill: no pool */
  return (unsigned) v;
}

static unsigned
read_size (const struct islet_ctx *ctx)
{
  enum islet_net_mode ignored;

  return read_pool (ctx, &ignored);
}

bool
warm_is_pooled (const struct islet_ctx *ctx, const char *id)
{
  cleanup_free char *ready = islet_xasprintf ("%s/warm/ready/%s", ctx->state_dir, id);
  cleanup_free char *filling = islet_xasprintf ("%s/warm/filling/%s", ctx->state_dir, id);
  cleanup_free char *taking = islet_xasprintf ("%s/warm/taking/%s", ctx->state_dir, id);
  return access (ready, F_OK) == 0 || access (filling, F_OK) == 0 || access (taking, F_OK) == 0;
}

/* The ids in <state>/warm/<sub>; *n of them, malloc'd. */
static char (*pool_ids (const struct islet_ctx *ctx, const char *sub, size_t *n))[ISLET_ID_LEN + 1]
{
  cleanup_free char *dir = warm_path (ctx, sub);
  cleanup_dir DIR *d = opendir (dir);
  char (*v)[ISLET_ID_LEN + 1] = NULL;
  size_t cap = 0;
  struct dirent *de;

  *n = 0;
  while (d && (de = readdir (d)) != NULL)
    {
      if (strlen (de->d_name) != ISLET_ID_LEN)
        continue;
      if (*n == cap)
        {
          cap = cap ? 2 * cap : 8;
          v = islet_xrealloc (v, cap * sizeof *v);
        }
      memcpy (v[(*n)++], de->d_name, ISLET_ID_LEN + 1);
    }
  return v;
}

static char (*ready_ids (const struct islet_ctx *ctx, size_t *n))[ISLET_ID_LEN + 1]
{
  return pool_ids (ctx, "ready", n);
}

static bool
limits_default (const struct islet_limits *l)
{
  const struct islet_limits d = ISLET_LIMITS_DEFAULT;

  return islet_limits_equal (l, &d);
}

bool
warm_fits (const struct islet_create_opts *opts)
{
  return opts->name == NULL && opts->n_volumes == 0 && opts->snapshot == NULL && opts->fork == NULL
         && (opts->image == NULL || strcmp (opts->image, "host") == 0
             || strcmp (opts->image, "default") == 0)
         && limits_default (&opts->limits) && opts->net.mode != ISLET_NET_ALLOW
         && opts->net.allow[0] == '\0' && opts->net.proxy[0] == '\0';
}

/* Start `islet-run --warm-fill STATE` detached (spawn_detached), so no
 * caller (isletd's threads included) is left with a child to reap once
 * fill_reap has reaped the one returned (-1: none). */
static pid_t
fill_fork (const struct islet_ctx *ctx)
{
  char *argv[] = { "islet-run", "--warm-fill", ctx->state_dir, NULL };
  char *env[] = { NULL };
  const int fds[2] = { -1, -1 };
  struct islet_err ignored;

  return spawn_detached (ctx->runtime, argv, env, fds, SPAWN_SESSION | SPAWN_NULL_STDIO, &ignored);
}

void
fill_reap (pid_t pid)
{
  if (pid > 0)
    while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
      ;
}

static void
spawn_fill (const struct islet_ctx *ctx)
{
  fill_reap (fill_fork (ctx));
}

/* The image a create with `image` gets, into out; false when the pool,
 * which holds sandboxes of the default image, has none of it. */
static bool
warm_image (const struct islet_ctx *ctx, const char *image, char *out, size_t size)
{
  char deflt[IMAGE_LEN];
  struct islet_err ignored;
  int hold = -1;

  if (islet_image_resolve (ctx->state_dir, image, out, size, &hold, &ignored) < 0)
    return false;
  if (hold >= 0)
    close (hold);
  if (image == NULL)
    return true;
  if (islet_image_resolve (ctx->state_dir, NULL, deflt, sizeof deflt, &hold, &ignored) < 0)
    return false;
  if (hold >= 0)
    close (hold);
  return strcmp (out, deflt) == 0;
}

/* Is the pooled sandbox id of the image want and the network mode?  One
 * filled before the default image or the pool's mode changed is not, nor
 * one filled by an older islet (no `created` stamp), and is of no use to
 * anyone. */
static bool
pooled_fits (const struct islet_ctx *ctx, const char *id, const char *want,
             enum islet_net_mode mode)
{
  cleanup_free char *dir = sandbox_dir (ctx, id);
  cleanup_free char *cfg = islet_xasprintf ("%s/config.json", dir);
  struct islet_sandbox_info info = { 0 };
  struct islet_err ignored;

  return islet_config_load (cfg, &info, NULL, &ignored) == 0 && info.created_stamp
         && strcmp (info.image, want) == 0 && info.net.mode == mode && info.net.allow[0] == '\0'
         && info.net.proxy[0] == '\0';
}

/* A taken sandbox's creation time: now, as a cold create's is the moment
 * it is made (listings sort by it): the mtime of its `created`
 * (src/core/config.c), set from the clock, not the file system's coarser
 * one, so that two takes a tick apart keep their order.  Not synced: a host
 * crash may bring back the fill's. */
static int
set_created (struct islet_ctx *ctx, const char *id, struct islet_err *err)
{
  cleanup_free char *dir = sandbox_dir (ctx, id);
  cleanup_free char *stamp = islet_xasprintf ("%s/created", dir);
  struct timespec now[2];

  clock_gettime (CLOCK_REALTIME, &now[0]);
  now[1] = now[0];
  if (utimensat (AT_FDCWD, stamp, now, AT_SYMLINK_NOFOLLOW) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "set the times of `%s`", stamp);
  return 0;
}

/* The directories of a sandbox's root that a user looks at first, and
 * whose times a cold create gives as its own: the root's skeleton
 * (rootfs.c's prepare_upper) less the mount points. */
static const char *const touched[] = { ".", "workspace", "tmp", "var/tmp", "root", "home" };

/* The times of a taken sandbox's first directories: now, as a cold
 * create's are, not the fill's.  Through its init's root (the overlay, not
 * its layers behind it), each path resolved inside that root with no link
 * followed; conn is a ctl connection to its supervisor, which names the
 * init.  Their birth times stay the fill's: nothing sets those. */
static int
touch_root (int conn, struct islet_err *err)
{
  cleanup_json json_t *ping = json_pack ("{s:s}", "op", "ping");
  cleanup_json json_t *resp = NULL;
  json_int_t pid;

  if (islet_frame_send_json (conn, ping, err) < 0 || islet_frame_recv_json (conn, &resp, err) < 0)
    return -1;
  pid = json_integer_value (json_object_get (resp, "init"));
  if (pid <= 0 || pid > INT_MAX)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "the pooled sandbox has no init");
  return islet_sandbox_touch_root ((pid_t) pid, err);
}

int
islet_sandbox_touch_root (pid_t init, struct islet_err *err)
{
  cleanup_close int root = -1;
  char path[64];

  snprintf (path, sizeof path, "/proc/%d/root", (int) init);
  root = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
  for (size_t i = 0; i < sizeof touched / sizeof touched[0]; i++)
    {
      struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW,
                              .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS
                                         | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
      cleanup_close int fd = (int) syscall (SYS_openat2, root, touched[i], &how, sizeof how);

      /* one that is not a plain directory of the root's own mount keeps
       * its times: the sandbox is still good */
      if (fd < 0 && (errno == ENOENT || errno == ELOOP || errno == EXDEV || errno == ENOTDIR))
        continue;
      if (fd < 0 || futimens (fd, NULL) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "touch /%s of the pooled sandbox",
                           touched[i]);
    }
  return 0;
}

int
islet_sandbox_touch (struct islet_ctx *ctx, const char *id, struct islet_err *err)
{
  cleanup_close int conn = -1;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "a sandbox's times", err);
  conn = sandbox_connect (ctx, id, err);
  return conn < 0 ? -1 : touch_root (conn, err);
}

/* A create's take of the pooled sandbox whose supervisor conn is: it sets
 * the root's times (src/runtime/control.c); one that refuses (used before
 * its take, or of an older islet-run) is of no use. */
static int
take_request (int conn, struct islet_err *err)
{
  cleanup_json json_t *req = json_pack ("{s:s}", "op", "take");
  cleanup_json json_t *resp = NULL;

  if (islet_frame_send_json (conn, req, err) < 0 || islet_frame_recv_json (conn, &resp, err) < 0
      || islet_err_from_json (resp, err) < 0)
    return -1;
  if (!json_is_true (json_object_get (resp, "taken")))
    return islet_fail (err, ISLET_E_SYSTEM, 0, "the pooled sandbox did not answer its take");
  return 0;
}

/* After a take (taken: 1, 0 none was ready, -1 the claim refused): the
 * ctx's refill call, else a detached islet-run. */
static void
refill (struct islet_ctx *ctx, int taken)
{
  if (ctx->warm_refill)
    ctx->warm_refill (ctx->warm_refill_arg, taken);
  else
    spawn_fill (ctx);
}

/* Take the pooled sandbox id (its ready file renamed into taking/ already):
 * 1 taken and claimed, 0 of no use (destroyed), -1 the claim refused (it
 * goes back to ready/, untouched).  With conn, for a `run`: no probe, and
 * the times are the supervisor's to set; *conn is a connection to it. */
static int
take_one (struct islet_ctx *ctx, const struct islet_create_opts *opts, const char *want,
          enum islet_net_mode mode, const char *id, int *conn, struct islet_err *err)
{
  cleanup_free char *ready = islet_xasprintf ("%s/warm/ready/%s", ctx->state_dir, id);
  cleanup_free char *taking = islet_xasprintf ("%s/warm/taking/%s", ctx->state_dir, id);
  cleanup_close int probe = -1;
  struct islet_err e;

  probe = pooled_fits (ctx, id, want, mode) ? sandbox_connect (ctx, id, &e) : -1;
  if (probe < 0 || (conn == NULL && take_request (probe, &e) < 0) || set_created (ctx, id, &e) < 0)
    {
      /* its supervisor died while it waited, or it is of an image or a
         network that is no longer the pool's: it is of no use */
      (void) !islet_sandbox_destroy (ctx, id, true, &e);
      (void) unlink (taking);
      return 0;
    }
  if (opts->claim && opts->claim (opts->claim_arg, id, err) < 0)
    {
      if (rename (taking, ready) < 0)
        {
          (void) !islet_sandbox_destroy (ctx, id, true, &e);
          (void) unlink (taking);
        }
      return -1;
    }
  (void) unlink (taking);
  if (conn)
    *conn = islet_take_fd (&probe);
  return 1;
}

static int
take (struct islet_ctx *ctx, const struct islet_create_opts *opts, char id[ISLET_ID_LEN + 1],
      bool *refill_due, int *conn, struct islet_err *err)
{
  cleanup_free char *dir = NULL;
  cleanup_free char *to = NULL;
  cleanup_free char (*ids)[ISLET_ID_LEN + 1] = NULL;
  enum islet_net_mode mode;
  char want[IMAGE_LEN];
  size_t n = 0;
  int taken = 0;

  /* a create of another network than the pool's makes its own, and asks
   * for no refill: the pool is not short */
  if (read_pool (ctx, &mode) == 0 || mode != opts->net.mode
      || !warm_image (ctx, opts->image, want, sizeof want))
    return 0;
  dir = warm_path (ctx, "ready");
  to = warm_path (ctx, "taking");
  ids = ready_ids (ctx, &n);
  for (size_t i = 0; i < n && taken == 0; i++)
    {
      cleanup_free char *from = islet_xasprintf ("%s/%s", dir, ids[i]);
      cleanup_free char *path = islet_xasprintf ("%s/%s", to, ids[i]);

      /* a pool filled before taking/ existed has none yet */
      if (rename (from, path) < 0
          && (errno != ENOENT || mkdir (to, 0700) < 0 || rename (from, path) < 0))
        continue; /* another create took it */
      taken = take_one (ctx, opts, want, mode, ids[i], conn, err);
      if (taken == 1)
        memcpy (id, ids[i], ISLET_ID_LEN + 1);
    }
  /* islet-run --warm-fill makes a whole sandbox: on a machine of few CPUs,
   * beside the taken sandbox's command it would slow that command down */
  if (taken == 1 && refill_due != NULL && ctx->warm_refill == NULL)
    *refill_due = true;
  else
    refill (ctx, taken);
  return taken;
}

int
warm_take (struct islet_ctx *ctx, const struct islet_create_opts *opts, char id[ISLET_ID_LEN + 1],
           bool *refill_due, struct islet_err *err)
{
  return take (ctx, opts, id, refill_due, NULL, err);
}

int
warm_take_run (struct islet_ctx *ctx, const struct islet_create_opts *opts,
               char id[ISLET_ID_LEN + 1], bool *refill_due, int *conn, struct islet_err *err)
{
  return take (ctx, opts, id, refill_due, conn, err);
}

pid_t
warm_refill_start (struct islet_ctx *ctx)
{
  return fill_fork (ctx);
}

/* taking/ files whose taker was killed before its claim (older than
 * TAKING_STALE_S): their sandboxes, which no caller has, destroyed. */
static void
drain_taking (struct islet_ctx *ctx)
{
  cleanup_free char *dir = warm_path (ctx, "taking");
  cleanup_free char (*ids)[ISLET_ID_LEN + 1] = NULL;
  struct timespec now;
  size_t n = 0;

  clock_gettime (CLOCK_REALTIME, &now);
  ids = pool_ids (ctx, "taking", &n);
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *path = islet_xasprintf ("%s/%s", dir, ids[i]);
      struct islet_err e;
      struct stat st;

      /* rename sets ctime: the moment its take began */
      if (stat (path, &st) < 0 || st.st_ctim.tv_sec + TAKING_STALE_S > now.tv_sec)
        continue;
      if (islet_sandbox_destroy (ctx, ids[i], true, &e) < 0 && e.kind != ISLET_E_NOTFOUND)
        continue;
      (void) unlink (path);
    }
}

/* filling/ files left by a filler killed between its create and the
 * ready file: with the fill lock held no fill is under way, so each names
 * a sandbox that no one will finish or take, destroyed. */
static void
drain_filling (struct islet_ctx *ctx)
{
  cleanup_free char *dir = warm_path (ctx, "filling");
  cleanup_free char (*ids)[ISLET_ID_LEN + 1] = NULL;
  size_t n = 0;

  ids = pool_ids (ctx, "filling", &n);
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *path = islet_xasprintf ("%s/%s", dir, ids[i]);
      struct islet_err e;

      if (islet_sandbox_destroy (ctx, ids[i], true, &e) < 0 && e.kind != ISLET_E_NOTFOUND)
        continue;
      (void) unlink (path);
    }
}

/* Destroy the pooled sandboxes beyond keep (the fill lock held). */
static int
drain (struct islet_ctx *ctx, size_t keep, struct islet_err *err)
{
  cleanup_free char *dir = warm_path (ctx, "ready");
  cleanup_free char (*ids)[ISLET_ID_LEN + 1] = NULL;
  size_t n = 0;

  ids = ready_ids (ctx, &n);
  for (size_t i = keep; i < n; i++)
    {
      cleanup_free char *path = islet_xasprintf ("%s/%s", dir, ids[i]);
      if (unlink (path) < 0)
        continue;
      if (islet_sandbox_destroy (ctx, ids[i], true, err) < 0)
        return islet_wrap (err, "remove pooled sandbox `%s`", ids[i]);
    }
  drain_taking (ctx);
  drain_filling (ctx);
  return 0;
}

static int
lock_fill (const struct islet_ctx *ctx, int how, struct islet_err *err)
{
  cleanup_free char *path = warm_path (ctx, "fill.lock");
  cleanup_close int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
  while (flock (fd, how) < 0)
    {
      if (errno == EWOULDBLOCK)
        return islet_fail (err, ISLET_E_CONFLICT, 0, "the warm pool is being filled");
      if (errno != EINTR)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "lock `%s`", path);
    }
  return islet_take_fd (&fd);
}

static int
make_dirs (const struct islet_ctx *ctx, struct islet_err *err)
{
  cleanup_free char *ready = warm_path (ctx, "ready");
  cleanup_free char *filling = warm_path (ctx, "filling");
  cleanup_free char *taking = warm_path (ctx, "taking");
  return islet_mkdir_p (ready, 0700, err) < 0 || islet_mkdir_p (filling, 0700, err) < 0
             ? -1
             : islet_mkdir_p (taking, 0700, err);
}

/* Fill, with the fill lock held. */
static int
fill_locked (struct islet_ctx *ctx, struct islet_err *err)
{
  cleanup_free char *dir = warm_path (ctx, "ready");

  /* bounded: one create per missing sandbox, re-reading the size each time
   * so that turning the pool off stops a fill */
  for (unsigned round = 0; round < WARM_MAX; round++)
    {
      struct islet_create_opts opts = { .limits = ISLET_LIMITS_DEFAULT };
      cleanup_free char (*ids)[ISLET_ID_LEN + 1] = NULL;
      cleanup_free char *path = NULL;
      cleanup_free char *filling = NULL;
      char id[ISLET_ID_LEN + 1];
      size_t n = 0;
      int fd;

      ids = ready_ids (ctx, &n);
      if (n >= read_pool (ctx, &opts.net.mode))
        return 0;
      if (sandbox_create_cold (ctx, &opts, true, id, err) < 0)
        return islet_wrap (err, "fill the warm pool");
      path = islet_xasprintf ("%s/%s", dir, id);
      filling = islet_xasprintf ("%s/warm/filling/%s", ctx->state_dir, id);
      fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0)
        {
          int e = errno;
          struct islet_err ignored;
          (void) !islet_sandbox_destroy (ctx, id, true, &ignored);
          (void) unlink (filling);
          return islet_fail (err, ISLET_E_SYSTEM, e, "create `%s`", path);
        }
      close (fd);
      /* ready before no longer filling: never listed in between */
      (void) unlink (filling);
    }
  return 0;
}

int
islet_warm_fill (struct islet_ctx *ctx, struct islet_err *err)
{
  cleanup_close int lock = -1;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "the warm pool", err);
  if (make_dirs (ctx, err) < 0)
    return -1;
  lock = lock_fill (ctx, LOCK_EX | LOCK_NB, err);
  if (lock < 0)
    return -1;
  return fill_locked (ctx, err);
}

/* The size and mode written, the pooled sandboxes beyond the size removed,
 * then (fill) the pool filled. */
static int
set_size (struct islet_ctx *ctx, unsigned size, enum islet_net_mode mode, bool fill,
          struct islet_err *err)
{
  cleanup_free char *path = warm_path (ctx, "size");
  char text[32];

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "the warm pool", err);
  if (size > WARM_MAX)
    return islet_fail (err, ISLET_E_INVALID, 0, "warm pool size %u is over %d", size, WARM_MAX);
  if (mode == ISLET_NET_ALLOW)
    return islet_fail (err, ISLET_E_INVALID, 0, "a warm pool's network is none or all");
  {
    cleanup_free char *dir = islet_xasprintf ("%s/warm", ctx->state_dir);
    if (size == 0 && access (dir, F_OK) < 0)
      return 0; /* never had a pool */
  }
  if (make_dirs (ctx, err) < 0)
    return -1;
  /* "N" alone when the mode is none: the form older builds read */
  if (mode == ISLET_NET_NONE)
    snprintf (text, sizeof text, "%u\n", size);
  else
    snprintf (text, sizeof text, "%u %s\n", size, islet_net_mode_name (mode));
  if (islet_write_file_atomic (path, text, strlen (text), 0600, err) < 0)
    return -1;
  {
    /* a fill in progress sees the new size before its next create, and
     * this waits for it */
    cleanup_close int lock = lock_fill (ctx, LOCK_EX, err);
    if (lock < 0 || drain (ctx, size, err) < 0)
      return -1;
    return fill ? fill_locked (ctx, err) : 0;
  }
}

/* Mark the pool a server's (own) or the user's. */
static int
set_owner (struct islet_ctx *ctx, bool own, struct islet_err *err)
{
  cleanup_free char *path = warm_path (ctx, "owner");

  if (!own)
    return unlink (path) < 0 && errno != ENOENT
               ? islet_fail (err, ISLET_E_SYSTEM, errno, "remove `%s`", path)
               : 0;
  if (make_dirs (ctx, err) < 0)
    return -1;
  return islet_write_file_atomic (path, "isletd\n", 7, 0600, err);
}

int
islet_warm_set (struct islet_ctx *ctx, unsigned size, struct islet_err *err)
{
  /* the user's from now on: a server's start does not remove it */
  if (CTX_LOCAL (ctx) && set_owner (ctx, false, err) < 0)
    return -1;
  return set_size (ctx, size, ISLET_NET_NONE, true, err);
}

int
islet_warm_own (struct islet_ctx *ctx, unsigned size, enum islet_net_mode mode,
                struct islet_err *err)
{
  cleanup_free char *owner = warm_path (ctx, "owner");

  /* none asked for: the pool a server left (a kill, or a larger size
   * before) goes; the user's (islet system warm) is theirs and stays */
  if (size == 0)
    {
      if (access (owner, F_OK) < 0)
        return 0;
      return set_size (ctx, 0, ISLET_NET_NONE, false, err) < 0 ? -1 : set_owner (ctx, false, err);
    }
  /* all of the pool from before goes, then the size without a fill */
  return set_size (ctx, 0, ISLET_NET_NONE, false, err) < 0 || set_owner (ctx, true, err) < 0
             ? -1
             : set_size (ctx, size, mode, false, err);
}

void
islet_ctx_warm_refill (struct islet_ctx *ctx, void (*fn) (void *arg, int taken), void *arg)
{
  ctx->warm_refill = fn;
  ctx->warm_refill_arg = arg;
}

int
islet_warm_get (struct islet_ctx *ctx, unsigned *size, unsigned *ready, struct islet_err *err)
{
  cleanup_free char (*ids)[ISLET_ID_LEN + 1] = NULL;
  size_t n = 0;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "the warm pool", err);
  ids = ready_ids (ctx, &n);
  *size = read_size (ctx);
  *ready = (unsigned) n;
  return 0;
}
