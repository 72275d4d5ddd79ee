/* The kernel mechanisms a supervisor uses to build and enter a sandbox, one
 * source file each: idmap.c (uid ranges), image.c (root file system images),
 * rootfs.c (mounts), mountinfo.c (what is mounted), ns.c (namespaces,
 * network, hostname), caps.c (credentials, capabilities, rlimits, fds). */
#ifndef ISLET_CONTAIN_H
#define ISLET_CONTAIN_H

#include <stdbool.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/types.h>

#include "islet/err.h"

/* ---- idmap.c: each sandbox's root maps to its own range of host uids ---- */
#define ISLET_UID_FIRST 1073741824u /* 2^30: far above any distribution's users */
#define ISLET_UID_RANGE 65536u
#define ISLET_UID_SLOTS 32768u

/* Claim a free range for owner (a sandbox id): <state>/uids/<slot>, a file
 * that names its owner, made by link(2), which fails if it exists. */
int islet_idmap_claim (const char *state_dir, const char *owner, uint32_t *base,
                       struct islet_err *err) ISLET_MUST_CHECK;
/* Release owner's claim of the range at base; a claim of another owner is
 * left alone. */
int islet_idmap_release (const char *state_dir, const char *owner, uint32_t base,
                         struct islet_err *err) ISLET_MUST_CHECK;
/* The range owner has claimed: 1 with *base set, or 0 if it has none (a
 * claim owner was making when it was cut short is removed). */
int islet_idmap_find (const char *state_dir, const char *owner, uint32_t *base);
/* Write uid_map and gid_map of pid: 0..RANGE-1 inside -> base..base+RANGE-1. */
int islet_idmap_write (pid_t pid, uint32_t base, struct islet_err *err) ISLET_MUST_CHECK;
/* An fd of a user namespace whose 0..RANGE-1 is base..base+RANGE-1, for
 * idmapped mounts (oci_mount.c). */
int islet_idmap_userns (uint32_t base, struct islet_err *err) ISLET_MUST_CHECK;
/* The same namespace made ahead, by a process whose pids are /proc's (the
 * supervisor, as its sandbox's init starts): its holder is killed at once and
 * not waited for; islet_idmap_ahead_end closes the fd and reaps it, off the
 * create's path (oci_mount.c). */
struct islet_idmap_ahead
{
  int userns; /* the namespace's fd */
  int pidfd;  /* its holder's */
  pid_t pid;
  void *stack;
};
#define ISLET_IDMAP_AHEAD_NONE                                                                     \
  {                                                                                                \
    .userns = -1, .pidfd = -1, .pid = 0, .stack = NULL                                             \
  }
int islet_idmap_ahead (uint32_t base, struct islet_idmap_ahead *a,
                       struct islet_err *err) ISLET_MUST_CHECK;
/* The same in two steps: the holder's clone, then its maps and the fd. */
int islet_idmap_ahead_clone (struct islet_idmap_ahead *a, struct islet_err *err) ISLET_MUST_CHECK;
int islet_idmap_ahead_map (uint32_t base, struct islet_idmap_ahead *a,
                           struct islet_err *err) ISLET_MUST_CHECK;
void islet_idmap_ahead_end (struct islet_idmap_ahead *a);

/* ---- image.c: what a sandbox's root is made of ---- */
struct islet_bind
{
  const char *source; /* host path */
  const char *target; /* path inside the sandbox */
};

struct islet_image
{
  char *name;
  char *lower;                    /* the read-only lower layer of the root overlay */
  const struct islet_bind *binds; /* read-only host directories, NULL-terminated by source */
  /* an OCI image (lower is NULL): its unpacked layers, bottom first, and
     what its config says execs get */
  char **layers;
  size_t n_layers;
  char **env;    /* K=V, NULL-terminated */
  char *workdir; /* NULL: /workspace */
  uid_t uid;     /* User, inside the sandbox */
  gid_t gid;
};

/* Open an image by name, building it on first use.  "host" is the host's /usr
 * (read-only) with a small generated /etc; anything else is an image of the
 * store (oci.h) by id, id prefix or name. */
int islet_image_open (const char *state_dir, const char *name, struct islet_image *out,
                      struct islet_err *err) ISLET_MUST_CHECK;
/* The same in two steps, for a sandbox's supervisor, which reads what its
 * init needs (the layers) before the init starts and the rest while it
 * starts: env, workdir, uid and gid are set by islet_image_read_config
 * (nothing to do for host). */
int islet_image_open_root (const char *state_dir, const char *name, struct islet_image *out,
                           struct islet_err *err) ISLET_MUST_CHECK;
int islet_image_read_config (const char *state_dir, struct islet_image *img,
                             struct islet_err *err) ISLET_MUST_CHECK;
void islet_image_fini (struct islet_image *img);
/* Rename the directory tmp, built aside, to dst (0755), once its files are
 * on disk if sync, so that dst exists only whole; on failure tmp is removed. */
int islet_image_publish (const char *tmp, const char *dst, bool sync,
                         struct islet_err *err) ISLET_MUST_CHECK;
/* What a create records for the image ref names: "host", or the image's id
 * ("sha256:..."), so the sandbox keeps its layers when a name moves.  ref
 * NULL: the default image (ISLET_DEFAULT_IMAGE) if the store has it, else
 * "host"; ref "default": the default image, NOTFOUND if not built.  For
 * a stored image *hold is a lock that keeps `image rm` from removing it:
 * the caller closes it once its config.json names the image (-1: none). */
int islet_image_resolve (const char *state_dir, const char *ref, char *out, size_t size, int *hold,
                         struct islet_err *err) ISLET_MUST_CHECK;

/* ---- rootfs.c: the mount namespace, run in the sandbox's first process ---- */

/* A volume (volume.h) a sandbox mounts at each start, as its config.json
 * records it. */
struct islet_vmount
{
  char *volume;  /* its name */
  char *source;  /* its directory on the host */
  char *path;    /* absolute, in the sandbox */
  char *subpath; /* "" for the whole volume */
};

struct islet_rootfs
{
  const struct islet_image *image;
  const char *upper, *work; /* overlay upper and work dirs in the sandbox's volume */
  const char *target;       /* an empty host directory: the stage the root is assembled in */
  uint32_t uid_base;        /* the sandbox's uid range, for an OCI image's idmapped layers */
  const struct islet_vmount *mounts; /* volumes, mounted read-write through an idmap */
  size_t n_mounts;
  int userns; /* the idmap's user namespace made ahead (islet_idmap_ahead), or -1 */
  /* With userns -1: the namespace's fd, asked for when the first idmapped
     mount is made, which the caller then owns; NULL: made where it is used.
     The supervisor makes it while its init starts (init.c). */
  int (*take_userns) (void *arg, struct islet_err *err);
  void *take_arg;
};

/* Make mounts private, assemble root (overlay, /usr, /proc with masks, /dev,
 * /dev/pts with at most 64 ptys, /dev/shm), pivot into it and drop the
 * host's tree.  No option of a mount the sandbox can see names a path in the
 * host's state directory. */
int islet_rootfs_setup (const struct islet_rootfs *spec, struct islet_err *err) ISLET_MUST_CHECK;

/* volume_mount.c, from islet_rootfs_setup: each of spec's volumes (or its
 * subpath, which must not leave it) mounted at its path under root (the
 * new root, not yet pivoted into), idmapped to the sandbox's uid range,
 * nosuid and nodev.  Paths in the root are resolved inside it, on its own
 * files only. */
int islet_rootfs_mount_volumes (const struct islet_rootfs *spec, const char *root,
                                struct islet_err *err) ISLET_MUST_CHECK;

/* Files the sandbox's writable layer needs before first start (owned by base).
 * Only on a new, empty upper: once the sandbox has run, its upper is its own,
 * and the host must not follow paths in it. */
int islet_rootfs_prepare_upper (const char *upper, const char *work, uint32_t base,
                                const char *hostname, struct islet_err *err) ISLET_MUST_CHECK;

/* A writable layer copied from another sandbox's (a snapshot, a fork):
 * give its files of uids from..from+RANGE-1 to to..to+RANGE-1, set-id bits
 * kept.  Only on a copy nothing has mounted yet. */
int islet_rootfs_shift_owners (const char *upper, uint32_t from, uint32_t to,
                               struct islet_err *err) ISLET_MUST_CHECK;
/* And its /etc/hosts and /etc/hostname, if they are as islet wrote them for
 * old_name, now for new_name; no link in it is followed. */
int islet_rootfs_rename_upper (const char *upper, const char *old_name, const char *new_name,
                               struct islet_err *err) ISLET_MUST_CHECK;

/* ---- ns.c ---- */
enum islet_ns
{
  ISLET_NS_IPC,
  ISLET_NS_UTS,
  ISLET_NS_NET,
  ISLET_NS_CGROUP,
  ISLET_NS_PID,
  ISLET_NS_MNT,
  ISLET_NS_USER,
  ISLET_NS_COUNT,
};

/* Open every /proc/<pid>/ns/ entry as an O_CLOEXEC fd. */
int islet_ns_open (pid_t pid, int fds[ISLET_NS_COUNT], struct islet_err *err) ISLET_MUST_CHECK;
void islet_ns_close (int fds[ISLET_NS_COUNT]);

/* Join every namespace but the user one (real root needed), then the user one
 * (after which the caller has no privilege over the host).  join_pid: also the
 * pid namespace (for children). */
int islet_ns_join (const int fds[ISLET_NS_COUNT], bool join_pid,
                   struct islet_err *err) ISLET_MUST_CHECK;

/* The current (new) network namespace made usable: its loopback up, and
 * its ports below 1024 open to any user, as they are in a Docker
 * container: a server in a sandbox binds port 80 without a capability.
 * The namespace is the sandbox's own, so those ports guard nothing of the
 * host's; it is owned by the host's user namespace, so the sandbox cannot
 * change either setting back or further. */
int islet_ns_net_init (struct islet_err *err) ISLET_MUST_CHECK;

/* ---- mountinfo.c: what is mounted where, in this mount namespace ---- */
struct islet_mount
{
  unsigned major, minor;
  const char *root;  /* the mounted directory, within its file system */
  const char *point; /* where it is mounted */
  const char *fstype;
  const char *source;
  const char *options; /* the file system's own (super) options */
};

/* Parse one line of /proc/self/mountinfo in place (paths unescaped); -1 if
 * it is not one.  The strings point into line. */
int islet_mountinfo_parse (char *line, struct islet_mount *out);

/* Call fn on each mount, in the kernel's order (a later mount on the same
 * point is on top).  fn returns 0 to go on, 1 to stop (then 0 is
 * returned), -1 with *err set to fail. */
typedef int (*islet_mount_fn) (const struct islet_mount *m, void *data, struct islet_err *err);
int islet_mountinfo_each (islet_mount_fn fn, void *data, struct islet_err *err) ISLET_MUST_CHECK;
/* The same for another mountinfo file (/proc/PID/mountinfo: the mounts of
 * that process's namespace, as seen from its root). */
int islet_mountinfo_each_in (const char *path, islet_mount_fn fn, void *data,
                             struct islet_err *err) ISLET_MUST_CHECK;

/* ---- caps.c: what a process keeps when it enters the sandbox ---- */
struct islet_creds
{
  uid_t uid; /* inside the sandbox */
  gid_t gid;
  uint32_t nofile; /* RLIMIT_NOFILE */
  uint64_t keep;   /* capabilities kept permitted and effective (1 << CAP_x); 0: none */
  /* A build's RUN: root's capabilities in its own user namespace, this set
     only.  Uid 0 holds them and gets them again at each execve; a change to
     another uid drops them (root's usual rules, not SECBIT_NOROOT and
     SECBIT_NO_SETUID_FIXUP, still locked).  0: none. */
  uint64_t root_caps;
};

/* The capabilities of a build's RUN as root (docs/SECURITY.md says why each). */
#define ISLET_BUILD_CAPS                                                                           \
  ((uint64_t) 1 << CAP_CHOWN | (uint64_t) 1 << CAP_DAC_OVERRIDE | (uint64_t) 1 << CAP_FOWNER       \
   | (uint64_t) 1 << CAP_FSETID | (uint64_t) 1 << CAP_SETUID | (uint64_t) 1 << CAP_SETGID          \
   | (uint64_t) 1 << CAP_SETFCAP)

/* Become uid/gid inside the user namespace, lock out root's privileges
 * (securebits), empty every capability set but c->keep (the bounding,
 * inheritable and ambient sets are always emptied), set no_new_privs and
 * rlimits. */
int islet_caps_drop (const struct islet_creds *c, struct islet_err *err) ISLET_MUST_CHECK;

/* Close every fd >= lowfd except keep (may be -1). */
void islet_close_fds_from (int lowfd, int keep);

#endif
