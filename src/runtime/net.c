/* The sandbox's outbound network, set up by its supervisor (host root, in
 * the host's network namespace).  A slot is a /30 of islet's range and a
 * device name; a supervisor holds its slot's lock in /run/islet-net for its
 * whole life, so two sandboxes (of any state directory on this host) never
 * share one, and removes the lock file when it frees the slot.  A lock file
 * found unlocked was left by a supervisor killed outright: its slot is
 * taken after a sweep removes what that supervisor left. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
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

#define SLOT_DIR "/run/islet-net"
#define TABLE_LOCK SLOT_DIR "/table.lock"
/* Slots tried before a create gives up: a busy host has gaps near any
   starting point. */
#define SLOT_TRIES 256
/* Lock files looked at by one sweep */
#define SWEEP_MAX 65536

static unsigned
slot_hint (const char *id)
{
  unsigned h = 2166136261u;

  for (const char *p = id; *p; p++)
    h = (h ^ (unsigned char) *p) * 16777619u;
  return h % ISLET_NET_SLOTS;
}

/* fd's lock is the slot's only if path still names fd's file: a sweep
   removes the file of a free slot while it holds the lock, and an open of
   the old file may win the lock after that. */
static bool
lock_current (int fd, const char *path)
{
  struct stat a, b;

  return fstat (fd, &a) == 0 && stat (path, &b) == 0 && a.st_ino == b.st_ino
         && a.st_dev == b.st_dev;
}

/* Lock the slot's file: 1 when this process holds it (*fd), *fresh when
   this process made the file (nobody held the slot since its last clean
   release), 0 when the slot is taken, -1 on error. */
static int
slot_lock (const char *path, int *fd, bool *fresh, struct islet_err *err)
{
  *fresh = true;
  *fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (*fd < 0 && errno == EEXIST)
    {
      *fresh = false;
      *fd = open (path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (*fd < 0 && errno == ENOENT)
        return 0; /* released meanwhile: the next try finds it */
    }
  if (*fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
  if (flock (*fd, LOCK_EX | LOCK_NB) < 0 || !lock_current (*fd, path))
    {
      close (*fd);
      *fd = -1;
      return 0;
    }
  return 1;
}

/* The host's table is dropped only under this lock, held exclusively
   (net_reset); a slot is taken under it shared, so a reset that finds no
   slot taken knows none will be until it is done. */
static int
table_lock (int op, struct islet_err *err)
{
  int fd = open (TABLE_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", TABLE_LOCK);
  while (flock (fd, op) < 0)
    if (errno != EINTR)
      {
        int e = errno;
        close (fd);
        return islet_fail (err, ISLET_E_SYSTEM, e, "lock `%s`", TABLE_LOCK);
      }
  return fd;
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
  if (mkdir (SLOT_DIR, 0700) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", SLOT_DIR);
  table = table_lock (LOCK_SH, err);
  if (table < 0)
    return -1;
  for (int i = 0; i < SLOT_TRIES; i++)
    {
      unsigned slot = (first + (unsigned) i) % ISLET_NET_SLOTS;
      char path[64];
      bool fresh;
      int fd, got;

      snprintf (path, sizeof path, SLOT_DIR "/%u.lock", slot);
      got = slot_lock (path, &fd, &fresh, err);
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
          unlink (path);
          close (fd);
          continue;
        }
      sb->net_slot_fd = fd;
      return 0;
    }
  return islet_fail (err, ISLET_E_LIMIT, 0, "no free network slot among %u tried", SLOT_TRIES);
}

/* Free the slot: its lock file goes before its lock, so a file found
   unlocked means a supervisor that did not get here. */
static void
slot_release (struct sandbox *sb)
{
  char path[64];

  snprintf (path, sizeof path, SLOT_DIR "/%u.lock", sb->link.slot);
  if (lock_current (sb->net_slot_fd, path))
    unlink (path);
  close (sb->net_slot_fd);
  sb->net_slot_fd = -1;
}

/* The sandbox's DNS responder, in two steps: its socket on the gateway's
 * port 53 is bound with the link (a query sent before the responder runs
 * waits in the socket's queue), and the responder, a child of the
 * supervisor in the host's network namespace (net_dns.c), is forked once
 * the creator has its answer: the fork is off the create's path. */
static int
dns_bind (struct sandbox *sb, struct islet_err *err)
{
  struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons (53) };
  int sock;

  me.sin_addr.s_addr = sb->link.host;
  sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "socket");
  if (bind (sock, (struct sockaddr *) &me, sizeof me) < 0)
    {
      int e = errno;
      close (sock);
      return islet_fail (err, ISLET_E_SYSTEM, e, "bind the sandbox's DNS responder");
    }
  sb->dns_sock = sock;
  return 0;
}

int
net_dns_run (struct sandbox *sb, struct islet_err *err)
{
  struct sockaddr_in up;
  int sock = sb->dns_sock;
  pid_t pid;

  if (sock < 0)
    return 0;
  sb->dns_sock = -1;
  if (islet_netdns_upstream (getenv ("ISLET_DNS"), &up, err) < 0)
    {
      close (sock);
      return -1;
    }
  pid = fork ();
  if (pid == 0)
    {
      sigset_t none;

      prctl (PR_SET_PDEATHSIG, SIGKILL);
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      islet_close_fds_from (3, sock);
      set_title ("islet-dns");
      islet_netdns_serve (sock, &sb->link, &sb->net, &up);
      _exit (1);
    }
  close (sock);
  if (pid < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "fork the DNS responder");
  sb->dns_pid = pid;
  return 0;
}

static int
dns_start (struct sandbox *sb, struct islet_err *err)
{
  if (dns_bind (sb, err) < 0)
    return -1;
  return net_dns_run (sb, err);
}

void
net_dns_stop (struct sandbox *sb)
{
  if (sb->dns_pid > 0)
    kill (sb->dns_pid, SIGKILL);
  sb->dns_pid = 0;
}

int
net_up (struct sandbox *sb, int netns_fd, struct islet_err *err)
{
  struct sockaddr_in up;
  uint64_t t[5];

  if (sb->net_slot_fd < 0)
    return 0;
  /* the upstream is checked now: a create without one fails, with why */
  if (islet_netdns_upstream (getenv ("ISLET_DNS"), &up, err) < 0)
    return -1;
  t[0] = islet_now_ns ();
  /* the host's end stays down until the elements that filter it exist */
  if (islet_netlink_create (netns_fd, &sb->link, err) < 0)
    return islet_wrap (err, "the sandbox's network");
  t[1] = islet_now_ns ();
  if (islet_netfilter_apply (&sb->link, &sb->net, err) < 0)
    return -1;
  sb->net_filtered = true;
  t[2] = islet_now_ns ();
  if (islet_netlink_up (netns_fd, &sb->link, err) < 0)
    return islet_wrap (err, "the sandbox's network");
  t[3] = islet_now_ns ();
  if (dns_bind (sb, err) < 0)
    return -1;
  t[4] = islet_now_ns ();
  fprintf (stderr,
           "network %s on %s in %.2f ms (veth %.2f, filter %.2f, addresses %.2f, dns %.2f)\n",
           islet_net_mode_name (sb->net.mode), sb->link.host_if, (double) (t[4] - t[0]) / 1e6,
           (double) (t[1] - t[0]) / 1e6, (double) (t[2] - t[1]) / 1e6, (double) (t[3] - t[2]) / 1e6,
           (double) (t[4] - t[3]) / 1e6);
  return 0;
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

/* Stop the responder and wait for it: a new one binds the same port. */
static void
dns_stop_wait (struct sandbox *sb)
{
  pid_t pid = sb->dns_pid;

  if (sb->dns_sock >= 0)
    close (sb->dns_sock);
  sb->dns_sock = -1;
  if (pid <= 0)
    return;
  net_dns_stop (sb);
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

void
net_down (struct sandbox *sb)
{
  struct islet_err e;

  if (sb->net_slot_fd < 0)
    return;
  dns_stop_wait (sb);
  if (sb->net_filtered && islet_netfilter_remove (&sb->link, &sb->net, &e) < 0)
    fprintf (stderr, "%s\n", e.msg);
  sb->net_filtered = false;
  slot_release (sb);
}

/* The link of a sandbox that lives on: its device goes now (with its
 * peer), then its elements and its slot. */
static void
link_release (struct sandbox *sb, const struct islet_net *applied)
{
  struct islet_err e;

  dns_stop_wait (sb);
  if (islet_netlink_down (sb->link.host_if, &e) < 0)
    fprintf (stderr, "%s\n", e.msg);
  sb->net = *applied;
  net_down (sb);
}

int
net_update (struct sandbox *sb, struct islet_err *err)
{
  cleanup_free char *path = islet_xasprintf ("%s/config.json", sb->dir);
  struct islet_sandbox_info info;
  struct islet_net applied = sb->net;
  struct islet_err e;
  uint32_t was;
  unsigned gone;

  if (islet_config_load (path, &info, NULL, err) < 0)
    return -1;
  if (info.net.mode == ISLET_NET_NONE)
    {
      link_release (sb, &applied);
      sb->net = info.net;
      return 0;
    }
  sb->net = info.net;
  if (sb->net_slot_fd < 0)
    {
      if (net_slot_take (sb, err) < 0)
        return -1;
      if (net_up (sb, sb->ns[ISLET_NS_NET], err) < 0 || net_dns_run (sb, err) < 0)
        {
          link_release (sb, &sb->net);
          return -1;
        }
      return 0;
    }
  /* one batch: the old list holds until the new one does */
  dns_stop_wait (sb);
  was = sb->link.epoch;
  if (islet_netfilter_change (&sb->link, &applied, &sb->net, err) < 0)
    {
      sb->net = applied;
      (void) !dns_start (sb, err);
      return -1;
    }
  if (applied.mode == ISLET_NET_ALLOW && islet_netfilter_forget (&sb->link, was, &gone, &e) < 0)
    fprintf (stderr, "the old list's addresses: %s\n", e.msg);
  return dns_start (sb, err);
}

static bool
slot_free (unsigned slot)
{
  char path[64];
  cleanup_close int fd = -1;

  snprintf (path, sizeof path, SLOT_DIR "/%u.lock", slot);
  fd = open (path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  return fd < 0 ? errno == ENOENT : flock (fd, LOCK_EX | LOCK_NB) == 0;
}

/* The lock files of free slots, and a device such a slot still has (its
   sandbox's namespace kept alive by something else): how many files. */
static unsigned
sweep_slots (void)
{
  cleanup_dir DIR *d = opendir (SLOT_DIR);
  struct dirent *de;
  unsigned n = 0, seen = 0;

  while (d && (de = readdir (d)) != NULL && seen++ < SWEEP_MAX)
    {
      char path[64], end;
      unsigned slot;
      struct islet_netlink l;
      struct islet_err e;
      bool fresh;
      int fd;

      if (sscanf (de->d_name, "%u.lock%c", &slot, &end) != 1 || slot >= ISLET_NET_SLOTS)
        continue;
      snprintf (path, sizeof path, SLOT_DIR "/%u.lock", slot);
      if (slot_lock (path, &fd, &fresh, &e) <= 0)
        continue;
      islet_netlink_slot (slot, &l);
      if (if_nametoindex (l.host_if) != 0 && islet_netlink_down (l.host_if, &e) < 0)
        fprintf (stderr, "%s\n", e.msg);
      unlink (path);
      close (fd);
      n += !fresh;
    }
  return n;
}

void
net_sweep (void)
{
  struct islet_err e;
  unsigned files = sweep_slots (), elements = 0;

  if (islet_netfilter_sweep (slot_free, &elements, &e) < 0)
    fprintf (stderr, "network sweep: %s\n", e.msg);
  if (files || elements)
    fprintf (stderr,
             "network sweep: %u slot lock files, %u filter elements left by killed "
             "supervisors removed\n",
             files, elements);
}

/* Whether a slot's lock file is there and held: a sandbox with a network
   runs, of any state directory. */
static bool
slot_held (void)
{
  cleanup_dir DIR *d = opendir (SLOT_DIR);
  struct dirent *de;
  unsigned seen = 0;

  while (d && (de = readdir (d)) != NULL && seen++ < SWEEP_MAX)
    {
      unsigned slot;
      char end;

      if (sscanf (de->d_name, "%u.lock%c", &slot, &end) == 1 && slot < ISLET_NET_SLOTS
          && !slot_free (slot))
        return true;
    }
  return false;
}

int
net_reset (struct islet_err *err)
{
  cleanup_close int table = -1;
  struct islet_err none;
  bool dropped;

  /* made by the first networked sandbox since boot, before its table */
  if (access (SLOT_DIR, F_OK) < 0 && errno == ENOENT)
    return 0;
  if (islet_netfilter_load (&none) < 0)
    return 0; /* without libnftables no table was made */
  table = table_lock (LOCK_EX, err);
  if (table < 0)
    return -1;
  net_sweep ();
  if (slot_held ())
    return 0;
  return islet_netfilter_drop_unused (&dropped, err);
}
