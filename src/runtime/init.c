/* The sandbox's first process.  It is cloned into new pid, mount, network,
 * uts and ipc namespaces as real root, confines itself (confine.c: it builds
 * the root file system there, so those mounts belong to the host's user
 * namespace and stay locked, then makes its own user namespace and drops to
 * the sandbox's root) and becomes the sandbox's init: it only reaps orphans.  Signals sent from
 * inside the sandbox cannot kill a pid namespace's init, and when it dies the kernel kills every
 * process of the sandbox. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/util.h"
#include "runtime.h"

enum sync_msg
{
  SYNC_USERNS = 'U', /* to the init: its idmapped mounts' user namespace, as an fd */
  SYNC_NEED_MAPS = 'M',
  SYNC_MAPS_DONE = 'K',
  SYNC_READY = 'R',
  SYNC_ERROR = 'E',
};

/* Report a failure to the supervisor and die: the only way out of the child. */
static void __attribute__ ((noreturn)) child_fail (int sync, const struct islet_err *e)
{
  char buf[1 + sizeof *e];
  buf[0] = SYNC_ERROR;
  memcpy (buf + 1, e, sizeof *e);
  (void) !write (sync, buf, sizeof buf);
  _exit (1);
}

static void __attribute__ ((noreturn)) reap_forever (void)
{
  sigset_t all;

  sigfillset (&all);
  sigprocmask (SIG_BLOCK, &all, NULL);
  for (;;)
    {
      siginfo_t si;
      if (sigwaitinfo (&all, &si) == SIGCHLD)
        while (waitpid (-1, NULL, WNOHANG) > 0)
          ;
    }
}

/* Ask the supervisor to write the new user namespace's id maps, and wait. */
static int
await_maps (void *arg, struct islet_err *err)
{
  int sync = *(int *) arg;
  char msg = SYNC_NEED_MAPS;
  ssize_t n;

  if (write (sync, &msg, 1) != 1)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "ask for the id maps");
  n = read (sync, &msg, 1);
  if (n < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "wait for the id maps");
  if (n != 1 || msg != SYNC_MAPS_DONE)
    return islet_fail (err, ISLET_E_SYSTEM, EPIPE, "wait for the id maps");
  return 0;
}

/* The init's idmapped mounts (an image's layers, volumes) need a user
 * namespace mapped to the sandbox's range before the init has its own.
 * The supervisor clones its holder just before the init (a clone right
 * after it would wait for the init's move into its cgroup, which holds the
 * kernel's fork lock through an RCU grace period), then writes its maps,
 * opens it and sends it over the sync socket while the init enters its
 * cgroup, brings lo up and makes its stage: the init takes it when its
 * first idmapped mount needs it.  Made whole before the clone, it was all
 * on the create's path. */
static bool
needs_idmap (const struct sandbox *sb)
{
  return sb->image.layers || sb->n_mounts;
}

static int
take_userns (void *arg, struct islet_err *err)
{
  int sync = *(int *) arg, fd = -1;
  char msg = 0;
  ssize_t n = islet_recv_fd (sync, &msg, 1, &fd);

  if (n == 1 && msg == SYNC_USERNS && fd >= 0)
    return fd;
  if (fd >= 0)
    close (fd);
  return islet_fail (err, ISLET_E_SYSTEM, n < 0 ? errno : EPIPE,
                     "take the user namespace of the idmapped mounts");
}

static int
send_userns (struct sandbox *sb, int sync, struct islet_idmap_ahead *idmap, struct islet_err *err)
{
  char msg = SYNC_USERNS;

  if (islet_idmap_ahead_map (sb->uid_base, idmap, err) < 0)
    return -1;
  if (islet_send_fd (sync, &msg, 1, idmap->userns, 0) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "send the idmapped mounts' user namespace");
  return 0;
}

static void __attribute__ ((noreturn)) init_main (struct sandbox *sb, int sync)
{
  cleanup_free char *upper = islet_xasprintf ("%s/upper", sb->volume);
  cleanup_free char *work = islet_xasprintf ("%s/work", sb->volume);
  cleanup_free char *target = islet_xasprintf ("%s/root", sb->dir);
  struct islet_rootfs rootfs = {
    .image = &sb->image,
    .upper = upper,
    .work = work,
    .target = target,
    .uid_base = sb->uid_base,
    .mounts = sb->mounts,
    .n_mounts = sb->n_mounts,
    .userns = -1,
    .take_userns = needs_idmap (sb) ? take_userns : NULL,
    .take_arg = &sync,
  };
  struct confinement c = {
    .cg = sb->init_cg,
    .rootfs = &rootfs,
    .map_ids = await_maps,
    .map_arg = &sync,
    .die_with_parent = true,
    .cpu_later = true,
  };
  struct islet_err e = { 0 };
  pid_t command = 0;
  char msg;
  int devnull;

  set_title ("init");
  /* If the supervisor dies, so does the sandbox (from the start; the
     confinement sets it again after the uid change, which clears it). */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  /* The OOM killer picks within the sandbox's group when it is full: spare
     its init, whose death would take the whole sandbox with it.  Lowering
     the score needs CAP_SYS_RESOURCE, which some hosts withhold even from
     root; the init's few hundred KiB make it the last choice anyway. */
  (void) !islet_write_file_at (AT_FDCWD, "/proc/self/oom_score_adj", "-1000", &e);
  if (confine (sb, &c, &e) < 0)
    child_fail (sync, &e);
  devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0)
    {
      islet_fail (&e, ISLET_E_SYSTEM, errno, "open `/dev/null`");
      child_fail (sync, &e);
    }
  /* a one-shot sandbox's command, started by the init itself (oneshot.c) */
  if (sb->os && (command = oneshot_command (sb, &e)) < 0)
    child_fail (sync, &e);
  /* Confined, and the supervisor has everything else ready (start_outside):
     the creator may go on.  The supervisor learns it after, once every fd
     from it is closed here: it serves no exec before. */
  if (sb->ready_fd >= 0 && write (sb->ready_fd, "ok", 2) != 2)
    {
      /* the supervisor says why, on its own end of the same pipe */
      islet_fail (&e, ISLET_E_SYSTEM, errno, "tell the creator that the sandbox runs");
      child_fail (sync, &e);
    }
  dup2 (devnull, 0);
  dup2 (devnull, 1);
  dup2 (devnull, 2);
  islet_close_fds_from (3, sync);
  msg = SYNC_READY;
  if (write (sync, &msg, 1) != 1)
    _exit (1); /* the supervisor is gone */
  if (command > 0)
    oneshot_init_wait (sync, command);
  /* a pooled sandbox's init waits for the command of its take's `run`
     (pooled.c), until the supervisor lets it go */
  if (sb->pooled)
    pooled_init_wait (sb, sync);
  close (sync);
  reap_forever ();
}

int
sandbox_start_init (struct sandbox *sb, struct islet_idmap_ahead *idmap, struct islet_err *err)
{
  int sv[2];
  char buf[1 + sizeof (struct islet_err)];
  struct islet_err net_err;
  uint64_t t_clone, t_net;
  int net_rc;
  pid_t pid;
  ssize_t n;

  if (needs_idmap (sb) && islet_idmap_ahead_clone (idmap, err) < 0)
    return -1;
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "socketpair");
  /* clone(2) without a new stack behaves like fork, with new namespaces. */
  pid = (pid_t) syscall (
      SYS_clone, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD,
      NULL, NULL, NULL, NULL);
  if (pid < 0)
    {
      int e = errno;
      close (sv[0]);
      close (sv[1]);
      return islet_fail (err, ISLET_E_SYSTEM, e, "clone the sandbox's init");
    }
  if (pid == 0)
    {
      close (sv[0]);
      init_main (sb, sv[1]);
    }
  close (sv[1]);
  sb->init_pid = pid;
  /* the image's config is for execs, not the init: read meanwhile too */
  if ((needs_idmap (sb) && send_userns (sb, sv[0], idmap, err) < 0)
      || islet_image_read_config (sb->state_dir, &sb->image, err) < 0)
    {
      close (sv[0]);
      return -1;
    }
  /* an init that fails meanwhile says why first: the link's failure is
     told when the init asks for its maps */
  t_clone = islet_now_ns ();
  net_rc = net_up_early (sb, pid, &net_err);
  t_net = islet_now_ns ();
  for (;;)
    {
      n = read (sv[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          close (sv[0]);
          return islet_fail (err, ISLET_E_SYSTEM, 0, "the sandbox's init died while starting");
        }
      if (buf[0] == SYNC_NEED_MAPS)
        {
          char ok = SYNC_MAPS_DONE;
          /* the network's share of the create: none when the init's ask
             is read later than the link was ready (they ran side by side) */
          if (sb->net_slot_fd >= 0)
            fprintf (stderr,
                     "network ready %.2f ms after the clone, the init's ask for its maps read at "
                     "%.2f ms\n",
                     (double) (t_net - t_clone) / 1e6, (double) (islet_now_ns () - t_clone) / 1e6);
          if (net_rc < 0)
            {
              *err = net_err;
              close (sv[0]);
              return -1;
            }
          /* its root built, the init leaves the control path's CPU weight
             for its sandbox's before it goes on (confine.c) */
          if (islet_idmap_write (pid, sb->uid_base, err) < 0 || start_outside (sb, err) < 0
              || islet_cg_enter_cpu (sb->init_cg, pid, err) < 0)
            {
              close (sv[0]);
              return -1;
            }
          if (write (sv[0], &ok, 1) != 1)
            {
              close (sv[0]);
              return islet_fail (err, ISLET_E_SYSTEM, errno, "sync with the sandbox's init");
            }
          continue;
        }
      if (buf[0] == SYNC_READY)
        {
          if (sb->os)
            oneshot_keep_sync (sb, sv[0]);
          else if (sb->pooled)
            sb->pool_sync = sv[0];
          else
            close (sv[0]);
          return 0;
        }
      close (sv[0]);
      if (buf[0] == SYNC_ERROR && (size_t) n == sizeof buf)
        {
          memcpy (err, buf + 1, sizeof *err);
          return -1;
        }
      return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "bad message from the sandbox's init");
    }
}
