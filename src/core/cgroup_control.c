/* islet's control path in a CPU group of its own.
 *
 * A create is a chain of processes (isletd, the supervisor forker, the
 * supervisor, its handlers), each of which needs a CPU for a short while.
 * With every CPU kept busy by CPU-bound tasks at the default weight, each
 * of them got a half share of a CPU, so a create took twice as long and
 * more.  isletd joins ISLET_CG_CONTROL, a group beside islet's sandboxes'
 * (never below them, where it would share their one weight) whose weight is
 * ISLET_CG_CONTROL_WEIGHT times the default; what it forks inherits it.  A
 * sandbox's processes leave it: each joins its sandbox's group in every
 * hierarchy before anything of the sandbox runs (confine.c), so none keeps
 * the weight.  The group is never removed: another isletd may be in it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "islet/util.h"

/* v2's cpu.weight for the same share as v1's cpu.shares: the default is
   100 there, 1024 here. */
#define V1_DEFAULT_SHARES 1024u
#define V2_DEFAULT_WEIGHT 100u

static int
open_control (const struct cg_hier *h, int *fd, struct islet_err *err)
{
  cleanup_free char *path = islet_xasprintf ("%s/" ISLET_CG_CONTROL, h->mount);

  if (mkdir (path, 0755) < 0 && errno != EEXIST)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "mkdir `%s`", path);
  *fd = open (path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (*fd < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "open `%s`", path);
  return 0;
}

/* v2: the root must hand cpu down for the group to have a weight. */
static int
v2_enable_cpu (const char *mount, struct islet_err *err)
{
  cleanup_close int root = open (mount, O_PATH | O_DIRECTORY | O_CLOEXEC);

  if (root < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "open `%s`", mount);
  return islet_write_file_at (root, "cgroup.subtree_control", "+cpu", err);
}

int
islet_cg_join_control (struct islet_err *err)
{
  const struct cg_layout *lo = cg_layout_get ();
  bool v2 = lo->version == ISLET_CG_V2;
  const struct cg_hier *h = NULL;
  cleanup_close int fd = -1;

  for (size_t i = 0; i < lo->n && h == NULL; i++)
    if (lo->hier[i].ctrls & CG_BIT (CG_CPU))
      h = &lo->hier[i];
  if (h == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, EOPNOTSUPP,
                       "join `" ISLET_CG_CONTROL "`: no cpu controller");
  if ((v2 && v2_enable_cpu (h->mount, err) < 0) || open_control (h, &fd, err) < 0
      || cg_write_u64 (
             fd, v2 ? "cpu.weight" : "cpu.shares",
             (uint64_t) ISLET_CG_CONTROL_WEIGHT * (v2 ? V2_DEFAULT_WEIGHT : V1_DEFAULT_SHARES), err)
             < 0
      || islet_write_file_at (fd, "cgroup.procs", "0", err) < 0)
    return islet_wrap (err, "join `" ISLET_CG_CONTROL "`");
  return 0;
}
