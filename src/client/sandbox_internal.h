#ifndef ISLET_SANDBOX_INTERNAL_H
#define ISLET_SANDBOX_INTERNAL_H

#include <pthread.h>

#include "islet/backend.h"
#include "islet/sandbox.h"

struct islet_disk_pool;

struct islet_ctx
{
  char *state_dir; /* or, with a backend, where it is (its URL) */
  char *runtime;
  pthread_rwlock_t pool_lock;      /* read: pool in use; write: pool opened or replaced */
  struct islet_disk_pool *pool;    /* opened on first need */
  const struct islet_backend *ops; /* local_ops, or a backend's */
  void *ops_self;                  /* what ops are given: the ctx itself, or the backend's */
  pthread_mutex_t sessions_lock;   /* guards the three below */
  struct agent_sessions *sessions; /* kept sessions with file agents (client.c) */
  size_t n_sessions;
  uint64_t sessions_gen;
  int forker_sock; /* to islet-run --fork-supervisors, or -1 (sandbox.c) */
  pid_t forker_pid;
  void (*warm_refill) (void *arg, int taken); /* after a warm take; NULL: islet-run */
  void *warm_refill_arg;
};

/* The local operations (sandbox.c, client.c), the table ops.c hands a
 * state directory's calls to; self is the ctx. */
extern const struct islet_backend local_ops;
int local_exec (void *self, const char *id, const struct islet_exec_req *req,
                struct islet_exec_result *out, struct islet_err *err);
int local_exec_open (void *self, const char *id, const struct islet_exec_req *req, int *conn,
                     struct islet_err *err);
int local_fs_read (void *self, const char *id, const char *path, size_t max, char **data,
                   size_t *len, struct islet_err *err);
int local_fs_copy_in (void *self, const char *id, int host_fd, const char *path, unsigned mode,
                      struct islet_err *err);
int local_fs_write (void *self, const char *id, const char *path, const void *data, size_t len,
                    unsigned mode, struct islet_err *err);
int local_fs_copy_out (void *self, const char *id, const char *path, int host_fd,
                       struct islet_err *err);
int local_fs_remove (void *self, const char *id, const char *path, bool recursive,
                     struct islet_err *err);
int local_fs_mkdir (void *self, const char *id, const char *path, unsigned mode,
                    struct islet_err *err);
int local_fs_move (void *self, const char *id, const char *from, const char *to,
                   struct islet_err *err);
int local_fs_stat (void *self, const char *id, const char *path, json_t **out,
                   struct islet_err *err);
int local_fs_list (void *self, const char *id, const char *path, unsigned depth, json_t **out,
                   struct islet_err *err);
int local_fs_chown (void *self, const char *id, const char *path, int64_t uid, int64_t gid,
                    int mode, struct islet_err *err);
int local_create (void *self, const struct islet_create_opts *opts, char id[ISLET_ID_LEN + 1],
                  struct islet_err *err);
int local_get (void *self, const char *ref, struct islet_sandbox_info *out, struct islet_err *err);
int local_list (void *self, struct islet_sandbox_info **out, size_t *n, struct islet_err *err);
int local_start (void *self, const char *ref, struct islet_err *err);
int local_stop (void *self, const char *ref, struct islet_err *err);
int sandbox_stop_id (struct islet_ctx *ctx, const char *id, struct islet_err *err);
/* pause.c */
int local_pause (void *self, const char *ref, struct islet_err *err);
int local_resume (void *self, const char *ref, struct islet_err *err);
/* resize.c */
int local_resize (void *self, const char *ref, const struct islet_resize *r, struct islet_err *err);
/* The host's shared nftables table dropped when no sandbox uses it
   (islet-run --net-reset). */
int net_host_reset (const struct islet_ctx *ctx, struct islet_err *err) ISLET_MUST_CHECK;
int local_set_network (void *self, const char *ref, const struct islet_net *net,
                       struct islet_err *err);
/* sandbox.c: the disk pool, held until sandbox_pool_put */
int sandbox_pool (struct islet_ctx *ctx, struct islet_disk_pool **out, struct islet_err *err);
void sandbox_pool_put (struct islet_ctx *ctx);
int local_destroy (void *self, const char *ref, bool force, struct islet_err *err);

/* sandbox_spawn.c: a supervisor being started.  supervisor_begin starts
 * islet-run (unless a forker will fork it at once), which waits for
 * supervisor_go's word that config.json is whole; supervisor_go then
 * waits for the sandbox to run (cfg_fd, if not -1, is synced meanwhile).
 * supervisor_abandon lets one go that will not be told (it refuses the
 * start) and waits until it has; spawn_supervisor is begin and go at once,
 * for a sandbox whose config exists. */
struct supervisor_start
{
  int ready; /* its word on the start, or -1 */
  int go;    /* the word that config.json is whole, or -1 */
  pid_t pid; /* to reap, or -1 */
};
/* spawn_detached's flags: the exec'd program in a session of its own;
 * its fds 0, 1 and 2 /dev/null. */
#define SPAWN_SESSION 1u
#define SPAWN_NULL_STDIO 2u
pid_t spawn_detached (const char *path, char *const argv[], char *const env[], const int fds[2],
                      unsigned flags, struct islet_err *err);
int supervisor_begin (struct islet_ctx *ctx, const char *id, struct supervisor_start *st,
                      struct islet_err *err);
int supervisor_go (struct islet_ctx *ctx, const char *id, struct supervisor_start *st, int cfg_fd,
                   struct islet_err *err);
void supervisor_abandon (struct islet_ctx *ctx, const char *id, struct supervisor_start *st);
int spawn_supervisor (struct islet_ctx *ctx, const char *id, int cfg_fd, struct islet_err *err);

/* Whether ctx is a state directory on this machine (not a backend). */
#define CTX_LOCAL(ctx) ((ctx)->ops == &local_ops)

/* sandbox.c: make the names index of a state directory if it has none. */
int names_index_init (const char *state_dir, struct islet_err *err);

/* ctx.c: a state-directory operation asked of a backend ctx: -1 with err set. */
int backend_refuse (const struct islet_ctx *ctx, const char *what, struct islet_err *err);

/* client.c: close the kept file sessions of sandbox id (it is being stopped
 * or removed); sessions in use then are closed when they come back. */
void sessions_drop (struct islet_ctx *ctx, const char *id);
void sessions_free (struct islet_ctx *ctx);

char *sandbox_dir (const struct islet_ctx *ctx, const char *id);
/* Remove name's link in <state>/names if it still points at id. */
void name_release (const char *state_dir, const char *name, const char *id);
/* Read the sandbox's config.json, let edit change it, and write it back
 * atomically (a start reads the new one). */
int sandbox_config_edit (struct islet_ctx *ctx, const char *id,
                         int (*edit) (json_t *cfg, const void *arg, const char *path,
                                      struct islet_err *err),
                         const void *arg, struct islet_err *err) ISLET_MUST_CHECK;

/* volume.c: for a create with volumes, check them and hold the volumes'
 * lock shared (*hold, -1 when there are none) until config.json names
 * them, so that no remove misses the new sandbox; then the config's
 * "mounts" (a new reference). */
int volume_hold (struct islet_ctx *ctx, const struct islet_create_opts *opts, int *hold,
                 struct islet_err *err);
json_t *volume_mounts_json (struct islet_disk_pool *pool, const struct islet_create_opts *opts);
/* A fork shares its source's volumes: the source's config "mounts" (*out
 * NULL when it has none), a new reference. */
int volume_mounts_of (struct islet_ctx *ctx, const char *id, json_t **out, struct islet_err *err);
/* Forget every volume's record (a reset, which removes the pool with them). */
int volume_records_remove (struct islet_ctx *ctx, struct islet_err *err);

/* Connect to a running sandbox's supervisor (ISLET_E_CONFLICT if not running). */
int sandbox_connect (const struct islet_ctx *ctx, const char *id, struct islet_err *err);
bool sandbox_supervised (const struct islet_ctx *ctx, const char *id);
/* One request {"op": op} to id's supervisor over ctl.sock, and its answer
 * (ISLET_E_CONFLICT if it is not running). */
int sandbox_ask (struct islet_ctx *ctx, const char *id, const char *op, struct islet_err *err);
/* The same for an exec: exec.sock if it has one, else ctl.sock. */
int sandbox_connect_exec (const struct islet_ctx *ctx, const char *id, struct islet_err *err);

/* Resolve a reference (an id, a name, or a unique prefix of an id) to an
 * id, from the directory and the name index alone: no config is read and no
 * supervisor is asked. */
int sandbox_resolve (struct islet_ctx *ctx, const char *ref, char id[ISLET_ID_LEN + 1],
                     struct islet_err *err);

/* pause.c: whether the sandbox's group is frozen (false if it has none). */
bool sandbox_frozen (const char *id);
/* archive.c: whether the sandbox's files are in a whole archive, the one
 * mark of an archived sandbox (a start restores it first). */
bool sandbox_archived (const struct islet_ctx *ctx, const char *id);

int sandbox_load (const struct islet_ctx *ctx, const char *id, struct islet_sandbox_info *out,
                  struct islet_err *err);

bool sandbox_id_valid (const char *id);
/* Whether id is an id and <state>/sandboxes/<id> exists. */
bool sandbox_dir_exists (const struct islet_ctx *ctx, const char *id);

/* Remove what a sandbox holds on disk: its volume, uid range (if uid_base),
 * directory and name (if any), and a cgroup left behind. */
int sandbox_remove_storage (struct islet_ctx *ctx, const char *id, const char *name,
                            uint32_t uid_base, struct islet_err *err);

/* Half-made sandboxes (sandbox_broken.c).  A create locks its directory
 * (the fd returned) until it is done. */
int sandbox_create_guard (const char *dir, struct islet_err *err);
/* sandbox_load, or for a directory that a create or a remove cut short
 * left without a config, what is known of it with state ISLET_SB_BROKEN;
 * one being created is ISLET_E_NOTFOUND. */
int sandbox_load_any (const struct islet_ctx *ctx, const char *id, struct islet_sandbox_info *out,
                      struct islet_err *err);
/* Remove whatever a broken sandbox holds. */
int sandbox_remove_broken (struct islet_ctx *ctx, const char *id, struct islet_err *err);
/* What is left of a sandbox's directory, as a remove sees it once the
 * sandbox is stopped. */
enum sandbox_remains
{
  SANDBOX_WHOLE,     /* its config: the remove's to do */
  SANDBOX_GONE,      /* no directory any more */
  SANDBOX_WITHDRAWN, /* no config, its lock held: withdrawn by its own
                        supervisor (islet_sandbox_withdraw), which removes
                        the rest */
  SANDBOX_BROKEN,    /* no config and nobody holds it: a create or a
                        removal cut short (a supervisor that died after its
                        withdraw) */
};
/* One of enum sandbox_remains, or -1. */
int sandbox_remains (const struct islet_ctx *ctx, const char *id, struct islet_err *err);
/* For reset, once every sandbox is removed: remove broken ones left and the
 * name links and uid claims of sandboxes that are gone. */
int sandbox_sweep_leftovers (struct islet_ctx *ctx, struct islet_err *err);

/* The exec request of req (stdin: whether stdin frames follow it), and
 * its answer on conn, where it went: the request's stdin sent, the output
 * and the result taken (client.c; a one-shot sandbox's too, oneshot.c). */
json_t *exec_msg (const struct islet_exec_req *req, bool stdin_follows, struct islet_err *err);
int exec_answer (int conn, const struct islet_exec_req *req, struct islet_exec_result *out,
                 struct islet_err *err) ISLET_MUST_CHECK;

/* islet-run with a1 a2 a3 started as a child (its pid), a socket of type
 * (SOCK_STREAM, SOCK_SEQPACKET) to it as its fd 3, our end in *sock, the
 * only fd it gets besides 0-2 (sandbox.c). */
pid_t runtime_spawn (const struct islet_ctx *ctx, int type, const char *a1, const char *a2,
                     const char *a3, int *sock, struct islet_err *err);

/* How a create starts the sandbox it makes (sandbox_create_with), by
 * default its supervisor, waited for until the sandbox runs.  begin(ctx,
 * id, arg) once the sandbox's directory is there, before the storage and
 * config.json are made (what it starts loads meanwhile); go(ctx, id, arg)
 * once they are (config.json not synced); abandon(arg) when a step
 * failed, before what was made is removed: it stops and reaps what begin
 * started. */
struct sandbox_launch
{
  int (*begin) (struct islet_ctx *ctx, const char *id, void *arg, struct islet_err *err);
  int (*go) (struct islet_ctx *ctx, const char *id, void *arg, struct islet_err *err);
  void (*abandon) (void *arg);
  void *arg;
};
int sandbox_create_with (struct islet_ctx *ctx, const struct islet_create_opts *opts,
                         const struct sandbox_launch *launch, char id[ISLET_ID_LEN + 1],
                         struct islet_err *err);

/* Create and start a sandbox, never from the warm pool.  With for_pool, it
 * is marked as being filled into the pool (<state>/warm/filling/<id>) from
 * its first moment, so that no listing shows it. */
int sandbox_create_cold (struct islet_ctx *ctx, const struct islet_create_opts *opts, bool for_pool,
                         char id[ISLET_ID_LEN + 1], struct islet_err *err);

/* Snapshots (snapshot.c): <state>/snapshots/.lock taken with flock op
 * (LOCK_SH: a create using a snapshot; LOCK_EX: a change); returns its fd. */
int snapshot_lock (const struct islet_ctx *ctx, int op, struct islet_err *err);
/* For reset: every snapshot removed, records and layers. */
int snapshot_reset (struct islet_ctx *ctx, struct islet_err *err);
/* Where a create's files come from when it names a snapshot or a sandbox
 * to fork. */
struct snapshot_source
{
  char snap[ISLET_ID_LEN + 1]; /* a snapshot's id, or "" */
  char from[ISLET_ID_LEN + 1]; /* a sandbox's id, or "" */
  char image[80];
  char name[ISLET_NAME_MAX + 1]; /* the name its files were made under */
  uint32_t uid_base;             /* the range its files' owners are in */
  int hold;                      /* the snapshot lock, shared (-1: none); closed by the caller */
};
int snapshot_source (struct islet_ctx *ctx, const struct islet_create_opts *opts,
                     struct snapshot_source *src, struct islet_err *err);

/* The warm pool (src/client/warm.c).  warm_take returns 1 with a pooled
 * sandbox's id, of the image a create of opts->image gets, claimed with
 * opts->claim; 0 if none could be taken; -1 when the claim refused (the
 * pooled sandbox is back in the pool); and starts a refill, unless it took
 * one, refill_due is not NULL and the refill would be a detached islet-run:
 * then *refill_due is set, for the caller's warm_refill_start once the
 * taken sandbox's command has its result.  That returns the child that
 * detaches the refill (-1: none), which the caller reaps with fill_reap
 * later, when it has exited: no wait for it after the result. */
bool warm_fits (const struct islet_create_opts *opts);
int warm_take (struct islet_ctx *ctx, const struct islet_create_opts *opts,
               char id[ISLET_ID_LEN + 1], bool *refill_due, struct islet_err *err);
/* warm_take for `islet run`: *conn is a connection to the taken sandbox's
 * supervisor, for its `run` (src/runtime/pooled.c), which sets the times
 * that a take sets (so no `ping` first). */
int warm_take_run (struct islet_ctx *ctx, const struct islet_create_opts *opts,
                   char id[ISLET_ID_LEN + 1], bool *refill_due, int *conn, struct islet_err *err);
pid_t warm_refill_start (struct islet_ctx *ctx);
void fill_reap (pid_t pid);
bool warm_is_pooled (const struct islet_ctx *ctx, const char *id);

#endif
