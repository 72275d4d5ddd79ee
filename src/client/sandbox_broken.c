/* Half-made sandboxes.  A create or a remove cut short (its process killed)
 * leaves <state>/sandboxes/<id> without a readable config.json, and maybe a
 * name link, a uid claim, a volume, a cgroup.  A create holds an flock on its
 * directory from its first step to its last, so a directory without a config
 * that nobody holds is such a leftover: it is listed as "broken", and
 * `islet rm` and `islet system reset` remove what there is of it.  What it
 * holds is found from the id alone: the name index links to the id, the uid
 * claim names it, the volume and the cgroup are named after it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "islet/contain.h"
#include "islet/proto.h"
#include "islet/sandbox.h"
#include "islet/util.h"
#include "sandbox_internal.h"

/* How long a sweep waits for a create or a removal under way to end. */
#define SETTLE_WAIT_NS (30ull * 1000000000ull)

int
sandbox_create_guard (const char *dir, struct islet_err *err)
{
  cleanup_close int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "lock `%s`", dir);
  return islet_take_fd (&fd);
}

/* Open id's directory and take its lock with `how` (LOCK_SH or LOCK_EX, not
 * waiting): ISLET_E_CONFLICT while a create holds it. */
static int
lock_leftover (const struct islet_ctx *ctx, const char *id, int how, struct islet_err *err)
{
  cleanup_free char *dir = sandbox_dir (ctx, id);
  cleanup_close int fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (fd < 0 && errno == ENOENT)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox `%s`", id);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
  if (flock (fd, how | LOCK_NB) < 0)
    {
      if (errno == EWOULDBLOCK)
        return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` is being created", id);
      return islet_fail (err, ISLET_E_SYSTEM, errno, "lock `%s`", dir);
    }
  return islet_take_fd (&fd);
}

/* The name whose link in <state>/names points at id, or "" if none does. */
static void
find_name (const struct islet_ctx *ctx, const char *id, char name[ISLET_NAME_MAX + 1])
{
  cleanup_free char *names = islet_xasprintf ("%s/names", ctx->state_dir);
  cleanup_dir DIR *d = opendir (names);
  struct dirent *de;

  name[0] = '\0';
  while (d != NULL && (de = readdir (d)) != NULL)
    {
      char target[ISLET_ID_LEN + 2];
      ssize_t n = readlinkat (dirfd (d), de->d_name, target, sizeof target - 1);

      if (n != ISLET_ID_LEN || strlen (de->d_name) > ISLET_NAME_MAX)
        continue;
      target[n] = '\0';
      if (strcmp (target, id) == 0)
        {
          snprintf (name, ISLET_NAME_MAX + 1, "%s", de->d_name);
          return;
        }
    }
}

/* Fill *out for the leftover id, whose directory fd holds: its name, uid
 * range and the time of its directory are all that is known. */
static int
describe (const struct islet_ctx *ctx, const char *id, int fd, struct islet_sandbox_info *out,
          struct islet_err *err)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "stat sandbox `%s`", id);
  memset (out, 0, sizeof *out);
  snprintf (out->id, sizeof out->id, "%s", id);
  find_name (ctx, id, out->name);
  (void) islet_idmap_find (ctx->state_dir, id, &out->uid_base);
  out->created = (int64_t) st.st_mtim.tv_sec;
  out->created_nsec = (uint32_t) st.st_mtim.tv_nsec;
  out->state = ISLET_SB_BROKEN;
  return 0;
}

int
sandbox_load_any (const struct islet_ctx *ctx, const char *id, struct islet_sandbox_info *out,
                  struct islet_err *err)
{
  cleanup_close int fd = -1;
  struct islet_err ignored;

  if (sandbox_load (ctx, id, out, err) == 0)
    return 0;
  /* errnum 0: config.json is missing or not what islet writes; any other
   * failure (EACCES, EMFILE...) says nothing about the sandbox */
  if (err->errnum != 0)
    return -1;
  fd = lock_leftover (ctx, id, LOCK_SH, err);
  if (fd < 0)
    {
      if (err->kind == ISLET_E_CONFLICT) /* not made yet: not there for a caller */
        return islet_fail (err, ISLET_E_NOTFOUND, 0,
                           "no sandbox `%s` (it is being created or removed)", id);
      return -1;
    }
  /* the create may have ended between the two looks */
  if (sandbox_load (ctx, id, out, &ignored) == 0)
    return 0;
  return describe (ctx, id, fd, out, err);
}

int
sandbox_remains (const struct islet_ctx *ctx, const char *id, struct islet_err *err)
{
  cleanup_free char *cfg = islet_xasprintf ("%s/sandboxes/%s/config.json", ctx->state_dir, id);
  cleanup_close int fd = -1;
  struct stat st;

  if (access (cfg, F_OK) == 0)
    return SANDBOX_WHOLE;
  if (errno != ENOENT)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "look for `%s`", cfg);
  /* the withdraw takes the lock before it removes the config, and its
     supervisor keeps it until the directory is gone */
  fd = lock_leftover (ctx, id, LOCK_SH, err);
  if (fd < 0 && err->kind == ISLET_E_NOTFOUND)
    return SANDBOX_GONE;
  if (fd < 0 && err->kind == ISLET_E_CONFLICT)
    return SANDBOX_WITHDRAWN;
  if (fd < 0)
    return -1;
  /* removed between the open and the lock */
  if (fstat (fd, &st) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "stat sandbox `%s`", id);
  return st.st_nlink == 0 ? SANDBOX_GONE : SANDBOX_BROKEN;
}

int
sandbox_remove_broken (struct islet_ctx *ctx, const char *id, struct islet_err *err)
{
  cleanup_close int fd = lock_leftover (ctx, id, LOCK_EX, err);
  cleanup_free char *filling = NULL;
  struct islet_sandbox_info info;
  struct islet_err ignored;

  if (fd < 0 || describe (ctx, id, fd, &info, err) < 0)
    return -1;
  /* a remove cut short after its stop leaves no supervisor; one that was
   * cut before may have: it is stopped like any other */
  if (islet_sandbox_running (ctx, id))
    {
      cleanup_close int conn = sandbox_connect (ctx, id, &ignored);
      cleanup_json json_t *req = json_pack ("{s:s}", "op", "stop");
      cleanup_json json_t *resp = NULL;

      if (conn >= 0 && islet_frame_send_json (conn, req, &ignored) == 0)
        (void) !islet_frame_recv_json (conn, &resp, &ignored);
    }
  sessions_drop (ctx, id);
  filling = islet_xasprintf ("%s/warm/filling/%s", ctx->state_dir, id);
  (void) unlink (filling);
  return sandbox_remove_storage (ctx, id, info.name, info.uid_base, err);
}

/* Remove what `dir` holds that names a sandbox without a directory: name
 * links, uid claims.  is_link: entries are symbolic links to the id (the
 * name index), else files whose content is the id (uid claims). */
static void
sweep_dir (const struct islet_ctx *ctx, const char *dir, bool is_link, bool no_sandboxes)
{
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;

  while (d != NULL && (de = readdir (d)) != NULL)
    {
      char owner[ISLET_ID_LEN + 2] = "";
      ssize_t n = 0;

      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (is_link)
        n = readlinkat (dirfd (d), de->d_name, owner, sizeof owner - 1);
      else
        {
          cleanup_close int f = openat (dirfd (d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
          n = f < 0 ? -1 : read (f, owner, sizeof owner - 1);
        }
      if (n < 0)
        continue;
      owner[n] = '\0';
      /* an unnamed claim predates named claims: only a reset that left no
       * sandbox at all may drop it */
      if (n == 0 ? no_sandboxes : !sandbox_dir_exists (ctx, owner))
        (void) unlinkat (dirfd (d), de->d_name, 0);
    }
}

/* Until nobody holds id's directory: a create, or a removal by the
 * sandbox's own supervisor (islet_sandbox_withdraw), still under way ends
 * (its directory then is gone, or whole, or broken), within a bound. */
static void
settle (const struct islet_ctx *ctx, const char *id)
{
  uint64_t deadline = islet_now_ns () + SETTLE_WAIT_NS;
  unsigned delay_us = 200;
  struct islet_err ignored;
  int fd;

  while ((fd = lock_leftover (ctx, id, LOCK_SH, &ignored)) < 0 && ignored.kind == ISLET_E_CONFLICT
         && islet_now_ns () < deadline)
    {
      usleep (delay_us);
      delay_us = delay_us < 20000 ? delay_us * 2 : 20000;
    }
  if (fd >= 0)
    close (fd);
}

int
sandbox_sweep_leftovers (struct islet_ctx *ctx, struct islet_err *err)
{
  cleanup_free char *dir = islet_xasprintf ("%s/sandboxes", ctx->state_dir);
  cleanup_free char *names = islet_xasprintf ("%s/names", ctx->state_dir);
  cleanup_free char *uids = islet_xasprintf ("%s/uids", ctx->state_dir);
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;
  bool none = true;

  if (d == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
  while ((de = readdir (d)) != NULL)
    {
      struct islet_sandbox_info info;
      struct islet_err e;

      if (de->d_name[0] == '.')
        continue;
      /* a directory that is not a sandbox's cannot be listed or removed
       * by id: reset takes it too */
      if (!sandbox_id_valid (de->d_name))
        {
          cleanup_free char *path = islet_xasprintf ("%s/%s", dir, de->d_name);
          if (islet_rm_rf (path, err) < 0)
            return -1;
          continue;
        }
      settle (ctx, de->d_name);
      if (sandbox_load_any (ctx, de->d_name, &info, &e) == 0 && info.state == ISLET_SB_BROKEN
          && sandbox_remove_broken (ctx, de->d_name, err) < 0)
        return -1;
      if (sandbox_dir_exists (ctx, de->d_name))
        none = false;
    }
  sweep_dir (ctx, names, true, none);
  sweep_dir (ctx, uids, false, none);
  return 0;
}
