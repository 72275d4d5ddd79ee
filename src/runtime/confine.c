/* The confinement recipe: how any process of islet's becomes part of a
 * sandbox.  The sandbox's init (init.c), each exec's command process
 * (exec.c, the ready handler's waiting one included) and the file agent
 * (agent.c) all go through confine(), one step per call, in this order:
 *
 *   1. the cgroup            its limits hold from here on (the init's CPU
 *                            weight once its ids are mapped: init.c)
 *   2. the namespaces        the init makes them (mounts, hostname and lo
 *                            while still real root), the others join them
 *   3. the fds               only the ones it will use, at fixed numbers
 *   4. the credentials       the sandbox's root (an exec: the image's User),
 *                            every capability set empty (chown's handler
 *                            alone keeps CAP_CHOWN and CAP_FOWNER, agent.c;
 *                            a build's RUN has root's ISLET_BUILD_CAPS),
 *                            securebits locked, no_new_privs, rlimits
 *   5. the parent's death    its own, if asked (step 4 clears it)
 *   6. not dumpable          nothing in the sandbox may read its memory,
 *                            which is a copy of the supervisor's
 *   7. the seccomp filter    last: it refuses the calls of steps 2-6
 *
 * A new confinement step goes here, once, and holds for all three. */
#include <errno.h>
#include <fcntl.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "islet/util.h"
#include "runtime.h"

static int
step_cgroup (const struct confinement *c, struct islet_err *err)
{
  return c->cpu_later ? islet_cg_enter_but_cpu (c->cg, 0, err) : islet_cg_enter (c->cg, 0, err);
}

/* The user namespace is made with the sandbox's own host uid as the
 * effective uid, so that the namespace is owned by that uid.  The kernel
 * charges the per-user counters of everything inside (inotify instances and
 * watches, user namespaces, the rlimit counts) to the owner of the
 * namespace in the host's namespace as well: made by host root, one sandbox
 * took all of host root's 128 inotify instances; owned by a uid of its own,
 * a sandbox has its own 128.  (That uid, which is the sandbox's root, then
 * holds every capability over the namespace from the host's side: no host
 * process runs as it.)  SECBIT_NO_SETUID_FIXUP keeps the capabilities
 * across the change of euid; the credentials step sets the securebits anew. */
static int
new_user_ns (const struct sandbox *sb, struct islet_err *err)
{
  if (prctl (PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "keep capabilities across a uid change");
  if (setresuid ((uid_t) -1, sb->uid_base, (uid_t) -1) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "take host uid %u", (unsigned) sb->uid_base);
  if (unshare (CLONE_NEWUSER) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "new user namespace");
  return 0;
}

/* The init's namespaces: it was cloned into new pid, mount, network, uts
 * and ipc namespaces as real root, so every mount made here belongs to the
 * host's user namespace and stays locked; the user namespace comes last,
 * and its ids are mapped by the supervisor. */
static int
make_namespaces (struct sandbox *sb, const struct confinement *c, struct islet_err *err)
{
  if (unshare (CLONE_NEWCGROUP) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "new cgroup namespace");
  /* before the root changes: the sandbox's /proc/sys is read-only */
  if (islet_ns_net_init (err) < 0)
    return -1;
  if (islet_rootfs_setup (c->rootfs, err) < 0)
    return -1;
  if (sethostname (sb->name, strlen (sb->name)) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "set hostname `%s`", sb->name);
  if (new_user_ns (sb, err) < 0)
    return -1;
  return c->map_ids (c->map_arg, err);
}

static int
step_namespaces (struct sandbox *sb, const struct confinement *c, struct islet_err *err)
{
  if (c->rootfs)
    return make_namespaces (sb, c, err);
  return islet_ns_join (sb->ns, false, err);
}

/* fds[i] to i (above every one first, so that no move overwrites another),
 * close-on-exec from cloexec_from on, every other fd closed.  Before the
 * rlimits: RLIMIT_NOFILE may be lower than the fds moved through. */
static int
step_fds (struct confinement *c, struct islet_err *err)
{
  int high[CONFINE_FDS_MAX];

  if (c->nfds == 0)
    return 0;
  if (c->nfds > CONFINE_FDS_MAX)
    return islet_fail (err, ISLET_E_INVALID, 0, "move fds: more than %d", CONFINE_FDS_MAX);
  for (unsigned i = 0; i < c->nfds; i++)
    if ((high[i] = fcntl (c->fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "move fds");
  memcpy (c->fds, high, c->nfds * sizeof high[0]);
  for (unsigned i = 0; i < c->nfds; i++)
    if (dup3 (high[i], (int) i, i >= c->cloexec_from ? O_CLOEXEC : 0) < 0)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "move fds");
  for (unsigned i = 0; i < c->nfds; i++)
    c->fds[i] = (int) i;
  islet_close_fds_from ((int) c->nfds, -1);
  return 0;
}

static int
step_credentials (const struct sandbox *sb, const struct confinement *c, struct islet_err *err)
{
  struct islet_creds creds = { .uid = c->uid,
                               .gid = c->gid,
                               .nofile = sb->limits.nofile,
                               .keep = c->keep_caps,
                               .root_caps = c->root_caps };

  return islet_caps_drop (&creds, err);
}

static int
step_parent_death (const struct confinement *c, struct islet_err *err)
{
  if (c->die_with_parent && prctl (PR_SET_PDEATHSIG, SIGKILL) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "set the parent-death signal");
  return 0;
}

static int
step_not_dumpable (struct islet_err *err)
{
  if (prctl (PR_SET_DUMPABLE, 0) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "make the process not dumpable");
  return 0;
}

static int
step_seccomp (const struct sandbox *sb, struct islet_err *err)
{
  return islet_seccomp_install (sb->filter, err);
}

int
confine (struct sandbox *sb, struct confinement *c, struct islet_err *err)
{
  if (step_cgroup (c, err) < 0 || step_namespaces (sb, c, err) < 0 || step_fds (c, err) < 0
      || step_credentials (sb, c, err) < 0 || step_parent_death (c, err) < 0
      || step_not_dumpable (err) < 0 || step_seccomp (sb, err) < 0)
    return -1;
  return 0;
}
