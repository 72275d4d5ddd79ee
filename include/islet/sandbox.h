/* Sandboxes: create, start, stop, destroy, list, inspect.
 *
 * A sandbox's state lives under <state>/sandboxes/<id>/ (config.json, the
 * supervisor's control socket, its log); its files live in its own volume in
 * the disk pool.  A running sandbox is a supervisor process (islet-run) that
 * outlives whoever started it; "running" means its control socket answers. */
#ifndef ISLET_SANDBOX_H
#define ISLET_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "islet/err.h"
#include "islet/limits.h"
#include "islet/net.h"

#define ISLET_ID_LEN 12   /* hex characters of a sandbox id */
#define ISLET_NAME_MAX 63 /* a sandbox name is also its hostname */

enum islet_sandbox_state
{
  ISLET_SB_STOPPED = 0,
  ISLET_SB_RUNNING,
  ISLET_SB_BROKEN, /* its create or remove was cut short: it can only be removed */
  ISLET_SB_PAUSED, /* running, every process frozen in place */
};

struct islet_sandbox_info
{
  char id[ISLET_ID_LEN + 1];
  char name[ISLET_NAME_MAX + 1];
  char image[80];                  /* "host" or an image id, "sha256:..." */
  char snapshot[ISLET_ID_LEN + 1]; /* the snapshot its files came from, or "" */
  enum islet_sandbox_state state;
  struct islet_limits limits;
  uint32_t uid_base;     /* host uid that the sandbox's root maps to */
  int64_t created;       /* unix seconds */
  uint32_t created_nsec; /* and nanoseconds, for the order of a listing */
  pid_t supervisor;      /* host pid of islet-run, 0 when stopped */
  bool disk_enforced;
  struct islet_net net; /* outbound network: mode none unless asked */
  bool build;           /* a build's RUN sandbox (islet_create_opts.build) */
  bool archived;        /* stopped, its files in an archive (archive.c) */
  bool created_stamp;   /* started for the warm pool: created is the time of
                           its take, the mtime of its directory's `created` */
};

/* Opaque: a state directory opened for use.  One ctx may be shared by the
 * threads of a process (the disk pool it opens on first need is opened
 * once, under a lock); islet_state_reset must not run beside other calls. */
struct islet_ctx;
struct islet_volume_mount;

/* Open (creating if needed) a state directory.  runtime is the islet-run binary
 * (NULL: look beside the calling program, then in PATH). */
int islet_ctx_open (const char *state_dir, const char *runtime, struct islet_ctx **out,
                    struct islet_err *err) ISLET_MUST_CHECK;
void islet_ctx_free (struct islet_ctx *ctx);

/* For a long-lived caller (isletd): keep one islet-run process that forks
 * the supervisor of each sandbox this ctx starts, instead of a fork and an
 * exec of islet-run per start (the exec is most of a start's cost on hosts
 * where a program's start is slow).  It ends with the ctx or the caller;
 * if it is gone, starts fork and exec again. */
int islet_ctx_fork_supervisors (struct islet_ctx *ctx, struct islet_err *err) ISLET_MUST_CHECK;
const char *islet_ctx_state_dir (const struct islet_ctx *ctx);

struct islet_create_opts
{
  const char *name;  /* NULL: "islet-<id>" */
  const char *image; /* NULL: "host" (the host's /usr, read-only) */
  /* Files from a snapshot (its name or id; include/islet/snapshot.h) or
   * from another sandbox as they are now (its id or name): its image and
   * its writable layer, copied on write.  At most one of image, snapshot
   * and fork. */
  const char *snapshot;
  const char *fork;
  struct islet_limits limits;
  struct islet_net net; /* zero: mode none, loopback only */
  /* Called with the sandbox's id before anything of it exists (or, for one
   * taken from the warm pool, before it is handed over), for a caller that
   * must record a sandbox before it can outlive the caller (isletd writes
   * its store row here); -1 ends the create with nothing left.  NULL: none.
   * Local sandboxes only. */
  int (*claim) (void *arg, const char *id, struct islet_err *err);
  void *claim_arg;
  /* Volumes (volume.h) mounted at each start; they must exist.  Local
   * sandboxes only. */
  const struct islet_volume_mount *volumes;
  size_t n_volumes;
  /* A build's RUN sandbox: a command run as its root holds ISLET_BUILD_CAPS
   * in the sandbox's user namespace (docs/SECURITY.md).  Local sandboxes
   * only; no API face sets it. */
  bool build;
  /* The id to give it (ISLET_ID_LEN hex digits, used by nothing), for a
   * caller that named the sandbox before it could be made (isletd's row of
   * a sandbox whose image is still being built); NULL: a random one.  Never
   * taken from the warm pool.  Local sandboxes only. */
  const char *id;
};

/* Create and start a sandbox; id receives its id.  On failure nothing is left:
 * no volume, cgroup, uid-range claim, process or directory. */
int islet_sandbox_create (struct islet_ctx *ctx, const struct islet_create_opts *opts,
                          char id[ISLET_ID_LEN + 1], struct islet_err *err) ISLET_MUST_CHECK;

/* Resolve an id, a unique id prefix or a name. */
int islet_sandbox_get (struct islet_ctx *ctx, const char *ref, struct islet_sandbox_info *out,
                       struct islet_err *err) ISLET_MUST_CHECK;

/* Only the id that ref names, into id: locally without reading the
 * sandbox's config or asking its supervisor (which an exec does next and
 * which refuses it when the sandbox is not running). */
int islet_sandbox_resolve (struct islet_ctx *ctx, const char *ref, char id[ISLET_ID_LEN + 1],
                           struct islet_err *err) ISLET_MUST_CHECK;

/* Whether the sandbox id (a full id) has a supervisor serving it, asked
 * without waking the supervisor: for a caller that already knows the
 * sandbox and checks, per request, that it still runs. */
bool islet_sandbox_running (struct islet_ctx *ctx, const char *id);

/* All sandboxes, sorted by creation time; *out is malloc'd. */
int islet_sandbox_list (struct islet_ctx *ctx, struct islet_sandbox_info **out, size_t *n,
                        struct islet_err *err) ISLET_MUST_CHECK;

int islet_sandbox_start (struct islet_ctx *ctx, const char *id,
                         struct islet_err *err) ISLET_MUST_CHECK;

/* Archive a stopped sandbox's files (src/client/archive.c): its volume
 * sent compressed to <state>/archive/ID.btrfs.zst, then deleted, so the
 * pool's space is free; *compacted false when the pool is a plain
 * directory (the files stay).  Restore before its next start: a no-op for
 * a sandbox that has no archive.  Forget: its archive's files removed. */
int islet_sandbox_archive_files (struct islet_ctx *ctx, const char *id, bool *compacted,
                                 struct islet_err *err) ISLET_MUST_CHECK;
int islet_sandbox_restore_files (struct islet_ctx *ctx, const char *id,
                                 struct islet_err *err) ISLET_MUST_CHECK;
void islet_sandbox_archive_forget (struct islet_ctx *ctx, const char *id);
/* Whether id has an archive, or one cut short, for a restore to finish. */
bool islet_sandbox_archive_pending (struct islet_ctx *ctx, const char *id);

/* Stop: every process gone, the writable layer and /workspace kept. */
int islet_sandbox_stop (struct islet_ctx *ctx, const char *id,
                        struct islet_err *err) ISLET_MUST_CHECK;

/* Pause: every process of a running sandbox frozen in place, its memory
 * kept; exec and file requests are refused (ISLET_E_CONFLICT) until a
 * resume (islet_sandbox_start of a paused sandbox resumes it too).  A stop
 * or destroy of a paused sandbox works as of a running one. */
int islet_sandbox_pause (struct islet_ctx *ctx, const char *ref,
                         struct islet_err *err) ISLET_MUST_CHECK;
int islet_sandbox_resume (struct islet_ctx *ctx, const char *ref,
                          struct islet_err *err) ISLET_MUST_CHECK;

/* New limits for a sandbox, running, paused or stopped: each field 0 keeps
 * the current one.  Memory and CPU go to its live cgroup, disk to its
 * volume's quota, and all to its config (a start keeps them).  Refused
 * (ISLET_E_CONFLICT) below what it uses: memory below its current use,
 * disk below the bytes its volume holds. */
struct islet_resize
{
  uint64_t memory_mb;
  uint32_t cpu_millis;
  uint64_t disk_mb;
};
int islet_sandbox_resize (struct islet_ctx *ctx, const char *ref, const struct islet_resize *r,
                          struct islet_err *err) ISLET_MUST_CHECK;

/* What a sandbox uses now, from the kernel's counters: CPU time and
 * memory from its cgroup (0 when stopped), the bytes its volume holds as
 * the disk quota counts them.  info as islet_sandbox_get gave it.  A
 * state directory's sandboxes only (ISLET_E_INVALID on a backend ctx). */
struct islet_sandbox_usage
{
  uint64_t at_ns;        /* when it was read (islet_now_ns, monotonic) */
  uint64_t cpu_ns;       /* CPU time since the sandbox started */
  uint64_t memory_bytes; /* memory charged now, page cache included */
  uint64_t memory_cache; /* of which page cache that may be dropped */
  uint64_t disk_bytes;
};
int islet_sandbox_usage (struct islet_ctx *ctx, const struct islet_sandbox_info *info,
                         struct islet_sandbox_usage *out, struct islet_err *err) ISLET_MUST_CHECK;

/* A new outbound network for a sandbox (include/islet/net.h), kept in its
 * config and, while it runs, applied at once: the table is replaced in one
 * transaction (connections the new settings do not allow stop at their
 * next packet), a link is made or removed as the mode asks. */
int islet_sandbox_set_network (struct islet_ctx *ctx, const char *ref, const struct islet_net *net,
                               struct islet_err *err) ISLET_MUST_CHECK;

/* Destroy: stop (a running sandbox needs force), then remove every trace. */
int islet_sandbox_destroy (struct islet_ctx *ctx, const char *id, bool force,
                           struct islet_err *err) ISLET_MUST_CHECK;

/* A removal by the sandbox's own supervisor (islet-run), in two halves
 * around the moment it tells that the sandbox has ended.  The withdraw,
 * once no process of the sandbox runs: the lock of its directory taken on
 * dir_fd (an open descriptor of <state>/sandboxes/<id>, which the caller
 * keeps open until the removal is done), its config.json and sockets
 * removed and its name released.  From then on it is not listed, resolved,
 * started or reached, its name may be taken again, and a crash before the
 * second half leaves a broken sandbox (no config, nobody holding the lock),
 * which `islet rm`, `system reset` and the next sweeps remove.  The second
 * half removes its volume, uid range and directory.  Both may be called
 * again after a partial failure. */
int islet_sandbox_withdraw (const char *state_dir, const char *id, const char *name, int dir_fd,
                            struct islet_err *err) ISLET_MUST_CHECK;
int islet_sandbox_remove_withdrawn (struct islet_ctx *ctx, const char *id, uint32_t uid_base,
                                    struct islet_err *err) ISLET_MUST_CHECK;

/* The same times set through the root of the sandbox's init (host pid
 * init): by a take, and by the supervisor of a sandbox that a `run` takes. */
int islet_sandbox_touch_root (pid_t init, struct islet_err *err) ISLET_MUST_CHECK;

/* A sandbox made ahead and handed out now (isletd's /v1 pool): the times of
 * its /, /workspace, /tmp, /var/tmp, /root and /home set to now, as a
 * take from the warm pool sets them, so that they are not the fill's. */
int islet_sandbox_touch (struct islet_ctx *ctx, const char *id,
                         struct islet_err *err) ISLET_MUST_CHECK;

/* The warm pool: started sandboxes kept ready, so that a create with no
 * name, the default image and the default limits takes one (about the cost
 * of an exec) instead of starting one; a background refill then starts a
 * replacement.  Each pooled sandbox is used once.  Pooled sandboxes are
 * hidden from islet_sandbox_list.  size 0 (the default) turns the pool off
 * and removes its sandboxes; set fills it before returning. */
int islet_warm_set (struct islet_ctx *ctx, unsigned size, struct islet_err *err) ISLET_MUST_CHECK;
int islet_warm_get (struct islet_ctx *ctx, unsigned *size, unsigned *ready,
                    struct islet_err *err) ISLET_MUST_CHECK;
/* Start sandboxes until the pool is full (what the background refill runs). */
int islet_warm_fill (struct islet_ctx *ctx, struct islet_err *err) ISLET_MUST_CHECK;
/* For a server that keeps the pool itself (isletd --create-pool): what a
 * pool from before holds is removed (a crash's leftovers, or sandboxes of
 * an older build), the pool marked the server's, the size and the network
 * mode (none or all) of its sandboxes set, nothing started (the caller
 * fills it with islet_warm_fill off its requests' path).  size 0: a pool a
 * server marked is removed, one set with islet_warm_set stays. */
int islet_warm_own (struct islet_ctx *ctx, unsigned size, enum islet_net_mode mode,
                    struct islet_err *err) ISLET_MUST_CHECK;
/* Called after each create that fitted the pool (taken: 1 it took one, 0
 * none was ready, -1 the claim refused it) instead of starting `islet-run
 * --warm-fill` (fn NULL: that again); from the creating thread, so it
 * should only wake the caller's own refill. */
void islet_ctx_warm_refill (struct islet_ctx *ctx, void (*fn) (void *arg, int taken), void *arg);

/* Destroy every sandbox of the state directory and release its disk pool
 * (unmount, delete the image): the state directory is left as new. */
int islet_state_reset (struct islet_ctx *ctx, struct islet_err *err) ISLET_MUST_CHECK;

#endif
