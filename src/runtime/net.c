/* The sandbox's outbound network, for its supervisor (host root, in the
 * host's network namespace).  The supervisor takes the sandbox's slot (a
 * /30 of islet's range and a device name; netslot.c) and holds its lock
 * for its whole life; a lock file found unlocked was left by a supervisor
 * killed outright, and its slot is taken after a sweep removes what that
 * supervisor left.  Everything that speaks netlink or nftables is done by
 * islet-net (src/net/main.c), a dynamically linked program beside this
 * one, run only for a sandbox with a network: the link's set-up leaves it
 * running as the sandbox's DNS responder. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/config.h"
#include "islet/contain.h"
#include "islet/util.h"
#include "runtime.h"

/* Slots tried before a create gives up: a busy host has gaps near any
   starting point. */
#define SLOT_TRIES 256

static unsigned
slot_hint (const char *id)
{
  unsigned h = 2166136261u;

  for (const char *p = id; *p; p++)
    h = (h ^ (unsigned char) *p) * 16777619u;
  return h % ISLET_NET_SLOTS;
}

/* islet-net, beside this program. */
static const char *
net_program (void)
{
  static char path[PATH_MAX];
  ssize_t n;
  char *slash;

  if (path[0])
    return path;
  n = readlink ("/proc/self/exe", path, sizeof path - sizeof "/islet-net");
  if (n <= 0)
    return "islet-net";
  path[n] = '\0';
  slash = strrchr (path, '/');
  strcpy (slash ? slash : path, "/islet-net");
  return path;
}

/* An islet-net started with the slot's take, before the init's clone:
   its exec and its loader's start run beside the create's steps up to the
   link's request. */
static pid_t ahead_pid;
static int ahead_ctl = -1;

/* The reply of an islet-net that could not be run (errnum), on fd 3: the
   link and its elements as they were. */
static int
exec_failed (const char *path, int errnum)
{
  struct islet_netreq q;
  struct islet_netrep r = { .rc = -1 };
  cleanup_close int ns = -1;

  if (islet_recv_fd (3, &q, sizeof q, &ns) != (ssize_t) sizeof q)
    return -1;
  r.link = q.link;
  r.filtered = q.op == ISLET_NETOP_CHANGE || q.filtered;
  islet_fail (&r.err, ISLET_E_SYSTEM, errnum, "the sandbox's network: run `%s`", path);
  return send (3, &r, sizeof r, MSG_NOSIGNAL) == (ssize_t) sizeof r ? 0 : -1;
}

/* Start islet-net with args (argv[1...]); with ctl, its request socket is
 *ctl here and fd 3 there.  It dies with this process. */
static pid_t
net_start (const char *arg1, const char *arg2, int *ctl, struct islet_err *err)
{
  int sv[2] = { -1, -1 };
  pid_t pid;

  if (ctl && socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "socketpair");
  pid = fork ();
  if (pid == 0)
    {
      const char *path = net_program ();
      char *const argv[] = { (char *) "islet-net", (char *) arg1, (char *) arg2, NULL };
      sigset_t none;
      int c = sv[1];

      prctl (PR_SET_PDEATHSIG, SIGKILL);
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      if (c >= 0 && (c == 3 ? fcntl (c, F_SETFD, 0) : dup2 (c, 3)) < 0)
        _exit (127);
      islet_close_fds_from (c >= 0 ? 4 : 3, -1);
      execv (path, argv);
      if (c < 0 || exec_failed (path, errno) < 0)
        fprintf (stderr, "islet-run: run `%s`: %s\n", path, strerror (errno));
      _exit (127);
    }
  if (ctl)
    close (sv[1]);
  if (pid < 0)
    {
      int e = errno;
      if (ctl)
        close (sv[0]);
      return islet_fail (err, ISLET_E_SYSTEM, e, "fork islet-net");
    }
  if (ctl)
    *ctl = sv[0];
  return pid;
}

static int
net_wait (pid_t pid)
{
  int status;

  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

static void
ahead_stop (bool wait)
{
  if (ahead_pid > 0)
    {
      kill (ahead_pid, SIGKILL);
      if (wait)
        net_wait (ahead_pid);
    }
  if (ahead_ctl >= 0)
    close (ahead_ctl);
  ahead_pid = 0;
  ahead_ctl = -1;
}

/* One request (with netns_fd, if >= 0) to an islet-net of its own, the
   one started ahead if any; when its reply says it serves the sandbox's
   DNS now, it is sb's responder, else it is reaped. */
static int
net_request (struct sandbox *sb, const struct islet_netreq *q, int netns_fd, struct islet_err *err)
{
  struct islet_netrep r;
  cleanup_close int ctl = ahead_ctl;
  ssize_t n;
  pid_t pid = ahead_pid;

  ahead_pid = 0;
  ahead_ctl = -1;
  if (pid <= 0)
    pid = net_start ("--request", sb->id, &ctl, err);
  if (pid < 0)
    return -1;
  if (netns_fd >= 0 ? islet_send_fd (ctl, q, sizeof *q, netns_fd, 0) < 0
                    : send (ctl, q, sizeof *q, MSG_NOSIGNAL) != (ssize_t) sizeof *q)
    n = -1;
  else
    do
      n = recv (ctl, &r, sizeof r, 0);
    while (n < 0 && errno == EINTR);
  if (n != (ssize_t) sizeof r)
    {
      kill (pid, SIGKILL);
      net_wait (pid);
      /* what it did is unknown: the elements are removed at the end */
      sb->net_filtered = true;
      return islet_fail (err, ISLET_E_SYSTEM, 0, "islet-net (%s) gave no answer", net_program ());
    }
  sb->link = r.link;
  sb->net_filtered = r.filtered;
  if (r.serving)
    sb->dns_pid = pid;
  else
    net_wait (pid);
  if (r.rc < 0)
    {
      *err = r.err;
      return -1;
    }
  return 0;
}

int
net_slot_take (struct sandbox *sb, struct islet_err *err)
{
  unsigned first = slot_hint (sb->id);
  bool swept = false;
  cleanup_close int table = -1;

  sb->net_slot_fd = -1;
  sb->net_filtered = false;
  if (sb->net.mode == ISLET_NET_NONE)
    return 0;
  if (mkdir (ISLET_NET_SLOT_DIR, 0700) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", ISLET_NET_SLOT_DIR);
  table = islet_netslot_table_lock (LOCK_SH, err);
  if (table < 0)
    return -1;
  for (int i = 0; i < SLOT_TRIES; i++)
    {
      unsigned slot = (first + (unsigned) i) % ISLET_NET_SLOTS;
      bool fresh;
      int fd, got;

      got = islet_netslot_lock (slot, &fd, &fresh, err);
      if (got < 0)
        return -1;
      if (got == 0)
        continue;
      islet_netlink_slot (slot, &sb->link);
      if (!fresh)
        {
          /* left by a supervisor killed outright: sweep its remains (and
             any others') once, then try the same slot again */
          close (fd);
          if (!swept)
            {
              net_sweep ();
              swept = true;
              i--;
            }
          continue;
        }
      /* the device of the slot's last sandbox may still exist for a few
         milliseconds while the kernel dismantles its namespace */
      if (if_nametoindex (sb->link.host_if) != 0)
        {
          islet_netslot_release (slot, fd);
          continue;
        }
      sb->net_slot_fd = fd;
      ahead_pid = net_start ("--request", sb->id, &ahead_ctl, err);
      if (ahead_pid < 0)
        {
          ahead_pid = 0;
          islet_netslot_release (slot, fd);
          sb->net_slot_fd = -1;
          return -1;
        }
      return 0;
    }
  return islet_fail (err, ISLET_E_LIMIT, 0, "no free network slot among %u tried", SLOT_TRIES);
}

void
net_dns_stop (struct sandbox *sb)
{
  ahead_stop (false);
  if (sb->dns_pid > 0)
    kill (sb->dns_pid, SIGKILL);
  sb->dns_pid = 0;
}

/* Stop the responder and wait for it: a new one binds the same port. */
static void
dns_stop_wait (struct sandbox *sb)
{
  pid_t pid = sb->dns_pid;

  if (pid <= 0)
    return;
  net_dns_stop (sb);
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

int
net_up (struct sandbox *sb, int netns_fd, struct islet_err *err)
{
  struct islet_netreq q = { .op = ISLET_NETOP_UP, .link = sb->link, .net = sb->net };

  if (sb->net_slot_fd < 0)
    return 0;
  return net_request (sb, &q, netns_fd, err);
}

int
net_up_early (struct sandbox *sb, pid_t init_pid, struct islet_err *err)
{
  char path[64];
  cleanup_close int ns = -1;

  if (sb->net_slot_fd < 0)
    return 0;
  snprintf (path, sizeof path, "/proc/%d/ns/net", (int) init_pid);
  ns = open (path, O_RDONLY | O_CLOEXEC);
  if (ns < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
  return net_up (sb, ns, err);
}

/* The elements go (with the device first when op is ISLET_NETOP_RELEASE:
   a link whose sandbox lives on), then the slot. */
static void
net_remove (struct sandbox *sb, enum islet_netop op)
{
  struct islet_netreq q = {
    .op = op, .link = sb->link, .net = sb->net, .filtered = sb->net_filtered
  };
  struct islet_err e;

  ahead_stop (true);
  if (sb->net_slot_fd < 0)
    return;
  dns_stop_wait (sb);
  if ((sb->net_filtered || op == ISLET_NETOP_RELEASE) && net_request (sb, &q, -1, &e) < 0)
    fprintf (stderr, "%s\n", e.msg);
  sb->net_filtered = false;
  islet_netslot_release (sb->link.slot, sb->net_slot_fd);
  sb->net_slot_fd = -1;
}

void
net_down (struct sandbox *sb)
{
  net_remove (sb, ISLET_NETOP_REMOVE);
}

int
net_update (struct sandbox *sb, struct islet_err *err)
{
  cleanup_free char *path = islet_xasprintf ("%s/config.json", sb->dir);
  struct islet_sandbox_info info;
  struct islet_netreq q = { .op = ISLET_NETOP_CHANGE };

  if (islet_config_load (path, &info, NULL, err) < 0)
    return -1;
  if (info.net.mode == ISLET_NET_NONE)
    {
      net_remove (sb, ISLET_NETOP_RELEASE);
      sb->net = info.net;
      return 0;
    }
  if (sb->net_slot_fd < 0)
    {
      sb->net = info.net;
      if (net_slot_take (sb, err) < 0)
        return -1;
      if (net_up (sb, sb->ns[ISLET_NS_NET], err) < 0)
        {
          net_remove (sb, ISLET_NETOP_RELEASE);
          return -1;
        }
      return 0;
    }
  /* the responder of the old list stops; islet-net serves the new one's */
  dns_stop_wait (sb);
  q.link = sb->link;
  q.old = sb->net;
  q.net = info.net;
  if (net_request (sb, &q, -1, err) < 0)
    {
      /* the old list holds unless the change was made (a responder that
         could not start) */
      if (sb->link.epoch != q.link.epoch)
        sb->net = info.net;
      return -1;
    }
  sb->net = info.net;
  return 0;
}

void
net_sweep (void)
{
  struct islet_err e;
  pid_t pid;

  /* made by the first networked sandbox since boot */
  if (access (ISLET_NET_SLOT_DIR, F_OK) < 0 && errno == ENOENT)
    return;
  pid = net_start ("--sweep", NULL, NULL, &e);
  if (pid < 0)
    fprintf (stderr, "network sweep: %s\n", e.msg);
  else
    net_wait (pid);
}

int
net_reset (struct islet_err *err)
{
  pid_t pid;
  int rc;

  if (access (ISLET_NET_SLOT_DIR, F_OK) < 0 && errno == ENOENT)
    return 0;
  pid = net_start ("--reset", NULL, NULL, err);
  if (pid < 0)
    return -1;
  rc = net_wait (pid);
  if (rc != 0)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "islet-net --reset failed (status %d)", rc);
  return 0;
}
