/* Freezing a group in place: every process of it and of its child groups
 * stopped where it stands, its memory kept, until a thaw.  v1 has the freezer
 * hierarchy (freezer.state, FREEZING until every task has stopped); v2 has
 * cgroup.freeze in every group, and cgroup.events says "frozen 1" once done.
 * Both freeze the whole subtree. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "islet/util.h"

/* A task in an uninterruptible sleep (I/O) holds a freeze up; longer than
   this and the freeze is reported as failed and undone. */
#define FREEZE_WAIT_NS (10ull * 1000000000ull)
#define FREEZE_POLL_US 200
#define FREEZE_RETRY_POLLS 100 /* 20 ms */

static int
freezer_fd (const struct islet_cg *cg, struct islet_err *err)
{
  int fd = cg_ctrl_fd (cg, CG_FREEZER);

  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, ENOTSUP,
                       "no freezer for cgroup `%s` (the v1 freezer hierarchy is not mounted)",
                       cg->rel);
  return fd;
}

/* 1 when the kernel says the group is wholly frozen, 0 when not (yet). */
static int
read_frozen (const struct islet_cg *cg, int fd, struct islet_err *err)
{
  cleanup_free char *state = NULL;
  uint64_t v = 0;

  if (cg->be->version == ISLET_CG_V2)
    {
      if (cg_read_keyed (fd, "cgroup.events", "frozen", &v, err) < 0)
        return -1;
      return v != 0;
    }
  if (islet_read_file_at (fd, "freezer.state", 64, &state, NULL, err) < 0)
    return -1;
  return strncmp (state, "FROZEN", 6) == 0;
}

static int
write_freeze (const struct islet_cg *cg, int fd, bool on, struct islet_err *err)
{
  if (cg->be->version == ISLET_CG_V2)
    return islet_write_file_at (fd, "cgroup.freeze", on ? "1" : "0", err);
  return islet_write_file_at (fd, "freezer.state", on ? "FROZEN" : "THAWED", err);
}

int
islet_cg_freeze (const struct islet_cg *cg, bool on, struct islet_err *err)
{
  uint64_t deadline = islet_now_ns () + FREEZE_WAIT_NS;
  int fd = freezer_fd (cg, err), r;

  if (fd < 0)
    return -1;
  if (write_freeze (cg, fd, on, err) < 0)
    return islet_wrap (err, "%s cgroup `%s`", on ? "freeze" : "thaw", cg->rel);
  if (!on)
    return 0; /* a thaw takes effect at once */
  /* polled finely: a freeze takes a few ms, and the caller waits on it.
     Asked again now and then: a task the freezer missed (one that was
     forking as the freeze began) is caught by the next request. */
  for (unsigned polls = 1; (r = read_frozen (cg, fd, err)) == 0; polls++)
    if (islet_now_ns () < deadline)
      {
        usleep (FREEZE_POLL_US);
        if (polls % FREEZE_RETRY_POLLS == 0 && write_freeze (cg, fd, true, err) < 0)
          return islet_wrap (err, "freeze cgroup `%s`", cg->rel);
      }
    else
      {
        struct islet_err ignored;
        (void) write_freeze (cg, fd, false, &ignored);
        return islet_fail (err, ISLET_E_SYSTEM, ETIMEDOUT,
                           "cgroup `%s` did not freeze within %llu ms (a process in an "
                           "uninterruptible sleep?)",
                           cg->rel, (unsigned long long) (FREEZE_WAIT_NS / 1000000ull));
      }
  if (r < 0)
    return islet_wrap (err, "freeze cgroup `%s`", cg->rel);
  return 0;
}

struct thaw_ctx
{
  const struct islet_cg *cg;
  int failed; /* the errno of the first thaw that failed */
};

static int
visit_thaw (int dirfd, void *data, struct islet_err *err)
{
  struct thaw_ctx *ctx = data;
  struct islet_err e;

  (void) err;
  /* a group removed under the walk needs no thaw; go on with the others */
  if (write_freeze (ctx->cg, dirfd, false, &e) < 0 && e.errnum != ENOENT && e.errnum != ENODEV
      && ctx->failed == 0)
    ctx->failed = e.errnum ? e.errnum : EIO;
  return 0;
}

int
islet_cg_thaw_tree (const struct islet_cg *cg, struct islet_err *err)
{
  struct thaw_ctx ctx = { cg, 0 };
  int fd = freezer_fd (cg, err);

  if (fd < 0)
    return -1;
  if (cg_walk (fd, visit_thaw, &ctx, err) < 0)
    return islet_wrap (err, "thaw cgroup `%s` and its groups", cg->rel);
  if (ctx.failed)
    return islet_fail (err, ISLET_E_SYSTEM, ctx.failed, "thaw a group of cgroup `%s`", cg->rel);
  return 0;
}

int
islet_cg_frozen (const struct islet_cg *cg, bool *out, struct islet_err *err)
{
  cleanup_free char *state = NULL;
  uint64_t v = 0;
  int fd = freezer_fd (cg, err);

  if (fd < 0)
    return -1;
  /* Asked, not reached: a group being frozen counts as frozen already. */
  if (cg->be->version == ISLET_CG_V2)
    {
      if (cg_read_u64 (fd, "cgroup.freeze", &v, err) < 0)
        return -1;
      *out = v != 0;
      return 0;
    }
  if (islet_read_file_at (fd, "freezer.state", 64, &state, NULL, err) < 0)
    return -1;
  *out = strncmp (state, "THAWED", 6) != 0;
  return 0;
}

bool
islet_cg_name_frozen (const char *name)
{
  const struct cg_layout *lo = cg_layout_get ();
  cleanup_free char *path = NULL;
  cleanup_free char *state = NULL;
  struct islet_err ignored;

  if (strchr (name, '/') != NULL || strcmp (name, "..") == 0)
    return false;
  for (size_t i = 0; i < lo->n; i++)
    if (lo->hier[i].ctrls & CG_BIT (CG_FREEZER))
      {
        bool v2 = lo->version == ISLET_CG_V2;

        path = islet_xasprintf ("%s/" CG_PARENT "/%s/%s", lo->hier[i].mount, name,
                                v2 ? "cgroup.freeze" : "freezer.state");
        if (islet_read_file_at (AT_FDCWD, path, 64, &state, NULL, &ignored) < 0)
          return false;
        return v2 ? state[0] == '1' : strncmp (state, "THAWED", 6) != 0;
      }
  return false;
}
