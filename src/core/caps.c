/* Credentials: what a process keeps as it enters the sandbox.  It becomes
 * the sandbox's root (an unprivileged uid on the host), with every capability
 * set empty, root's automatic privileges switched off and locked, and
 * no_new_privs, so no setuid file or file capability can give anything back. */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/util.h"

/* uid 0 in the sandbox would get a full capability set back at every execve
   without SECBIT_NOROOT; the locks stop the bits from being changed back.  A
   build's RUN (root_caps) keeps root's usual rules, locked likewise: its
   bounding set is root_caps, so that is all root gets back.  There
   PR_SET_KEEPCAPS stays open, as setpriv and su ask for it: it keeps the
   permitted set, no more, across a change of uid, until the next execve. */
static unsigned long
securebits_of (const struct islet_creds *c)
{
  unsigned long locks = SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED
                        | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

  if (c->root_caps)
    return locks;
  return locks | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NOROOT | SECBIT_NO_SETUID_FIXUP;
}

int
islet_caps_drop (const struct islet_creds *c, struct islet_err *err)
{
  uint64_t held = c->keep | (c->uid == 0 ? c->root_caps : 0);
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
  struct rlimit nofile = { c->nofile, c->nofile };
  struct rlimit nocore = { 0, 0 };

  if (setgroups (0, NULL) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "setgroups");
  if (setresgid (c->gid, c->gid, c->gid) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "setresgid %u", (unsigned) c->gid);
  if (setresuid (c->uid, c->uid, c->uid) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "setresuid %u", (unsigned) c->uid);
  if (c->nofile && setrlimit (RLIMIT_NOFILE, &nofile) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "limit open files to %u", c->nofile);
  if (setrlimit (RLIMIT_CORE, &nocore) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "disable core dumps");
  if (prctl (PR_SET_SECUREBITS, securebits_of (c)) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "set securebits");
  for (int cap = 0; cap <= 63; cap++)
    {
      if ((c->root_caps >> cap & 1) || prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
        continue;
      /* EINVAL: past the kernel's last capability, and so is every later
         one (they are numbered from 0 with no gap) */
      if (errno == EINVAL)
        break;
      return islet_fail (err, ISLET_E_SYSTEM, errno, "drop capability %d from the bounding set",
                         cap);
    }
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "clear ambient capabilities");
  data[0].permitted = data[0].effective = (uint32_t) held;
  data[1].permitted = data[1].effective = (uint32_t) (held >> 32);
  if (syscall (SYS_capset, &hdr, data) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "drop capabilities");
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "set no_new_privs");
  return 0;
}

void
islet_close_fds_from (int lowfd, int keep)
{
  if (keep >= lowfd)
    {
      if (keep > lowfd)
        syscall (SYS_close_range, (unsigned) lowfd, (unsigned) keep - 1, 0);
      syscall (SYS_close_range, (unsigned) keep + 1, ~0u, 0);
    }
  else
    syscall (SYS_close_range, (unsigned) lowfd, ~0u, 0);
}
