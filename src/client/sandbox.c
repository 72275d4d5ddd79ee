/* Sandbox lifecycle, on the caller's side: state on disk, the volume, the uid
 * range, and starting and stopping the supervisor (islet-run). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "islet/cgroup.h"
#include "islet/config.h"
#include "islet/contain.h"
#include "islet/disk.h"
#include "islet/proto.h"
#include "islet/sandbox.h"
#include "islet/util.h"
#include "sandbox_internal.h"

/* Stop every running sandbox: what a read-only pool needs before it can
 * be mounted anew (their writable layers fail with EIO or EROFS by then). */
static void
stop_all (struct islet_ctx *ctx)
{
  cleanup_free struct islet_sandbox_info *all = NULL;
  struct islet_err ignored;
  size_t n = 0;

  if (islet_sandbox_list (ctx, &all, &n, &ignored) < 0)
    return;
  for (size_t i = 0; i < n; i++)
    if (all[i].state == ISLET_SB_RUNNING)
      (void) !islet_sandbox_stop (ctx, all[i].id, &ignored);
}

/* Open the pool, or open anew one that turned read-only (which remounts
 * it); with the write lock held, so that no other thread uses it. */
static int
pool_reopen (struct islet_ctx *ctx, struct islet_err *err)
{
  if (ctx->pool != NULL && !islet_disk_readonly (ctx->pool))
    return 0;
  islet_disk_pool_free (ctx->pool);
  ctx->pool = NULL;
  if (islet_disk_pool_open (ctx->state_dir, &ctx->pool, err) == 0)
    return 0;
  if (err->errnum == EROFS && err->kind == ISLET_E_CONFLICT)
    {
      stop_all (ctx);
      if (islet_disk_pool_open (ctx->state_dir, &ctx->pool, err) == 0)
        return 0;
    }
  return islet_wrap (err, "disk pool");
}

/* The pool, held (a read lock) until pool_put; nothing is held on failure. */
static int
pool (struct islet_ctx *ctx, struct islet_disk_pool **out, struct islet_err *err)
{
  int r;

  pthread_rwlock_rdlock (&ctx->pool_lock);
  if (ctx->pool != NULL && !islet_disk_readonly (ctx->pool))
    {
      *out = ctx->pool;
      return 0;
    }
  pthread_rwlock_unlock (&ctx->pool_lock);
  pthread_rwlock_wrlock (&ctx->pool_lock);
  r = pool_reopen (ctx, err);
  pthread_rwlock_unlock (&ctx->pool_lock);
  if (r < 0)
    return -1;
  /* replaced meanwhile, it is still open: only a reset closes it for good */
  pthread_rwlock_rdlock (&ctx->pool_lock);
  *out = ctx->pool;
  if (*out == NULL)
    {
      pthread_rwlock_unlock (&ctx->pool_lock);
      return islet_fail (err, ISLET_E_CONFLICT, 0, "disk pool: removed meanwhile");
    }
  return 0;
}

static void
pool_put (struct islet_ctx *ctx)
{
  pthread_rwlock_unlock (&ctx->pool_lock);
}

int
sandbox_pool (struct islet_ctx *ctx, struct islet_disk_pool **out, struct islet_err *err)
{
  return pool (ctx, out, err);
}

void
sandbox_pool_put (struct islet_ctx *ctx)
{
  pool_put (ctx);
}

char *
sandbox_dir (const struct islet_ctx *ctx, const char *id)
{
  return islet_xasprintf ("%s/sandboxes/%s", ctx->state_dir, id);
}

bool
sandbox_id_valid (const char *id)
{
  size_t n = strlen (id);
  if (n != ISLET_ID_LEN)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
      return false;
  return true;
}

static bool
name_valid (const char *name)
{
  size_t n = strlen (name);
  if (n == 0 || n > ISLET_NAME_MAX || name[0] == '-' || name[n - 1] == '-')
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z')
          || (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
      return false;
  return true;
}

/* The name index: <state>/names/<name> is a symbolic link to the id.
 * symlink(2) either makes the link or fails with EEXIST, so two creates with
 * one name cannot both win, and no lock or listing is needed. */
static char *
name_path (const char *state_dir, const char *name)
{
  return islet_xasprintf ("%s/names/%s", state_dir, name);
}

/* The id a name's link points at, or "" if the name is free. */
static int
name_lookup (const char *state_dir, const char *name, char id[ISLET_ID_LEN + 1],
             struct islet_err *err)
{
  cleanup_free char *path = name_path (state_dir, name);
  char buf[ISLET_ID_LEN + 2];
  ssize_t n = readlink (path, buf, sizeof buf);

  id[0] = '\0';
  if (n < 0 && (errno == ENOENT || errno == ENOTDIR))
    return 0;
  if (n < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "read `%s`", path);
  buf[n] = '\0';
  if (!sandbox_id_valid (buf))
    return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s` does not point at a sandbox id", path);
  memcpy (id, buf, ISLET_ID_LEN + 1);
  return 0;
}

/* Remove name's link if it still points at id. */
void
name_release (const char *state_dir, const char *name, const char *id)
{
  cleanup_free char *path = name_path (state_dir, name);
  char cur[ISLET_ID_LEN + 1];
  struct islet_err ignored;

  if (name_lookup (state_dir, name, cur, &ignored) == 0 && strcmp (cur, id) == 0)
    (void) unlink (path);
}

static bool
sandbox_exists (const char *state_dir, const char *id)
{
  cleanup_free char *dir = islet_xasprintf ("%s/sandboxes/%s", state_dir, id);
  return access (dir, F_OK) == 0;
}

bool
sandbox_dir_exists (const struct islet_ctx *ctx, const char *id)
{
  return sandbox_id_valid (id) && sandbox_exists (ctx->state_dir, id);
}

/* Claim name for id.  A link left by a sandbox that is gone (a crash
 * between removing its directory and its link) is taken over. */
static int
name_claim (const char *state_dir, const char *name, const char *id, struct islet_err *err)
{
  cleanup_free char *path = name_path (state_dir, name);

  for (int attempt = 0; attempt < 3; attempt++)
    {
      char owner[ISLET_ID_LEN + 1];

      if (symlink (id, path) == 0)
        return 0;
      if (errno != EEXIST)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "create `%s`", path);
      if (name_lookup (state_dir, name, owner, err) < 0)
        return -1;
      if (owner[0] != '\0' && sandbox_exists (state_dir, owner))
        return islet_fail (err, ISLET_E_CONFLICT, 0, "a sandbox named `%s` exists", name);
      if (owner[0] != '\0')
        name_release (state_dir, name, owner);
    }
  return islet_fail (err, ISLET_E_CONFLICT, 0, "name `%s` is contended", name);
}

/* Make <state>/names, and index the sandboxes of a state directory made
 * before the index existed.  The index is made under a temporary name and
 * renamed into place, so a crash never leaves a half index. */
int
names_index_init (const char *state_dir, struct islet_err *err)
{
  cleanup_free char *names = islet_xasprintf ("%s/names", state_dir);
  cleanup_free char *tmp = NULL;
  cleanup_free char *sandboxes = NULL;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;

  if (access (names, F_OK) == 0)
    return 0;
  tmp = islet_xasprintf ("%s/names.%d", state_dir, (int) getpid ());
  sandboxes = islet_xasprintf ("%s/sandboxes", state_dir);
  if (islet_rm_rf (tmp, err) < 0)
    return -1;
  if (mkdir (tmp, 0700) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", tmp);
  d = opendir (sandboxes);
  if (d == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", sandboxes);
  while ((de = readdir (d)) != NULL)
    {
      cleanup_free char *cfg = NULL;
      cleanup_free char *text = NULL;
      cleanup_json json_t *j = NULL;
      const char *name;
      struct islet_err ignored;

      if (!sandbox_id_valid (de->d_name))
        continue;
      cfg = islet_xasprintf ("%s/%s/config.json", sandboxes, de->d_name);
      if (islet_read_file_at (AT_FDCWD, cfg, 1 << 20, &text, NULL, &ignored) < 0)
        continue;
      j = json_loads (text, 0, NULL);
      name = json_string_value (json_object_get (j, "name"));
      if (name && name_valid (name))
        {
          cleanup_free char *link = islet_xasprintf ("%s/%s", tmp, name);
          (void) symlink (de->d_name, link);
        }
    }
  if (rename (tmp, names) < 0)
    {
      int e = errno;
      struct islet_err ignored;
      (void) !islet_rm_rf (tmp, &ignored);
      if (e == EEXIST || e == ENOTEMPTY) /* another process indexed first */
        return 0;
      return islet_fail (err, ISLET_E_SYSTEM, e, "rename `%s`", tmp);
    }
  return 0;
}

int
sandbox_config_edit (struct islet_ctx *ctx, const char *id,
                     int (*edit) (json_t *cfg, const void *arg, const char *path,
                                  struct islet_err *err),
                     const void *arg, struct islet_err *err)
{
  cleanup_free char *dir = sandbox_dir (ctx, id);
  cleanup_free char *path = islet_xasprintf ("%s/config.json", dir);
  cleanup_free char *text = NULL;
  cleanup_free char *out = NULL;
  cleanup_json json_t *cfg = NULL;

  if (islet_read_file_at (AT_FDCWD, path, 1 << 20, &text, NULL, err) < 0)
    return -1;
  cfg = json_loads (text, 0, NULL);
  if (!json_is_object (cfg))
    return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s` does not parse", path);
  if (edit (cfg, arg, path, err) < 0)
    return -1;
  out = json_dumps (cfg, JSON_INDENT (2));
  return islet_write_file_atomic (path, out, strlen (out), 0600, err);
}

int
sandbox_load (const struct islet_ctx *ctx, const char *id, struct islet_sandbox_info *out,
              struct islet_err *err)
{
  cleanup_free char *dir = sandbox_dir (ctx, id);
  cleanup_free char *path = islet_xasprintf ("%s/config.json", dir);

  if (islet_config_load (path, out, NULL, err) < 0)
    {
      if (err->kind == ISLET_E_NOTFOUND)
        return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox `%s`", id);
      return -1;
    }
  if (strcmp (out->id, id) != 0)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s` is for sandbox `%s`", path, out->id);
  {
    cleanup_close int fd = sandbox_connect (ctx, id, NULL);
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (fd >= 0)
      {
        out->state = sandbox_frozen (id) ? ISLET_SB_PAUSED : ISLET_SB_RUNNING;
        if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
          out->supervisor = cred.pid;
      }
  }
  out->archived = out->state == ISLET_SB_STOPPED && sandbox_archived (ctx, id);
  return 0;
}

/* Whether a supervisor of id lives: it holds the run lock from before its
 * start to its exit (src/runtime/main.c), also while the sandbox does not
 * answer yet (starting) or no longer (stopping). */
bool
sandbox_supervised (const struct islet_ctx *ctx, const char *id)
{
  cleanup_free char *lock = islet_xasprintf ("%s/sandboxes/%s/run.lock", ctx->state_dir, id);
  cleanup_close int fd = open (lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

  /* taken at once: nobody holds it (closing our fd lets it go again) */
  return fd >= 0 && flock (fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

bool
islet_sandbox_running (struct islet_ctx *ctx, const char *id)
{
  cleanup_free char *dir = NULL;
  cleanup_free char *sock = NULL;
  struct stat st;

  if (!CTX_LOCAL (ctx))
    {
      struct islet_sandbox_info info;
      struct islet_err ignored;
      return ctx->ops->get (ctx->ops_self, id, &info, &ignored) == 0
             && info.state == ISLET_SB_RUNNING;
    }
  if (!sandbox_id_valid (id))
    return false;
  /* a stop unlinks the socket before anything else; a supervisor that died
   * left it behind, but not its run lock, which it holds while it lives
   * (src/runtime/main.c) */
  dir = sandbox_dir (ctx, id);
  sock = islet_xasprintf ("%s/ctl.sock", dir);
  if (stat (sock, &st) < 0 || !S_ISSOCK (st.st_mode))
    return false;
  return sandbox_supervised (ctx, id);
}

static int
connect_to (const struct islet_ctx *ctx, const char *id, const char *name, struct islet_err *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int fd = -1;
  int n = snprintf (addr.sun_path, sizeof addr.sun_path, "%s/sandboxes/%s/%s", ctx->state_dir, id,
                    name);

  if (n < 0 || (size_t) n >= sizeof addr.sun_path)
    return islet_fail (err, ISLET_E_INVALID, ENAMETOOLONG, "the state directory path is too long");
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "socket");
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      if (errno == ENOENT || errno == ECONNREFUSED)
        return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` is not running", id);
      return islet_fail (err, ISLET_E_SYSTEM, errno, "connect to sandbox `%s`", id);
    }
  return islet_take_fd (&fd);
}

int
sandbox_connect (const struct islet_ctx *ctx, const char *id, struct islet_err *err)
{
  return connect_to (ctx, id, "ctl.sock", err);
}

/* exec.sock, where the sandbox's ready exec handler takes the connection
 * itself (src/runtime/exec.c); a supervisor that has none yet (before its
 * second exec, or of an older islet-run) serves execs on ctl.sock. */
int
sandbox_connect_exec (const struct islet_ctx *ctx, const char *id, struct islet_err *err)
{
  int fd = connect_to (ctx, id, "exec.sock", err);

  if (fd < 0 && err && err->kind == ISLET_E_CONFLICT)
    fd = connect_to (ctx, id, "ctl.sock", err);
  return fd;
}

static void __attribute__ ((noreturn))
exec_runtime (const struct islet_ctx *ctx, int fd, const char *a1, const char *a2, const char *a3)
{
  if (fd != 3 && dup2 (fd, 3) < 0)
    _exit (125);
  fcntl (3, F_SETFD, 0);
  islet_close_fds_from (4, -1);
  execl (ctx->runtime, "islet-run", a1, a2, a3, (char *) NULL);
  _exit (127);
}

pid_t
runtime_spawn (const struct islet_ctx *ctx, int type, const char *a1, const char *a2,
               const char *a3, int *sock, struct islet_err *err)
{
  int sp[2];
  pid_t pid;

  if (socketpair (AF_UNIX, type | SOCK_CLOEXEC, 0, sp) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "socketpair");
  pid = fork ();
  if (pid == 0)
    exec_runtime (ctx, sp[1], a1, a2, a3);
  close (sp[1]);
  if (pid < 0)
    {
      int e = errno;
      close (sp[0]);
      return islet_fail (err, ISLET_E_SYSTEM, e, "fork");
    }
  *sock = sp[0];
  return pid;
}

int
islet_ctx_fork_supervisors (struct islet_ctx *ctx, struct islet_err *err)
{
  pid_t pid;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "a supervisor forker", err);
  if (ctx->forker_sock >= 0)
    return 0;
  pid = runtime_spawn (ctx, SOCK_SEQPACKET, "--fork-supervisors", ctx->state_dir, NULL,
                       &ctx->forker_sock, err);
  if (pid < 0)
    return -1;
  ctx->forker_pid = pid;
  return 0;
}

/* What a sandbox that is not running may still hold: a cgroup left by a
 * supervisor that was killed, and its socket file. */
static void
clear_stale (struct islet_ctx *ctx, const char *id)
{
  cleanup_free char *dir = sandbox_dir (ctx, id);
  cleanup_free char *sock = islet_xasprintf ("%s/ctl.sock", dir);
  struct islet_cg *cg = NULL;
  struct islet_err ignored;

  if (islet_cg_open (id, &cg, &ignored) == 0)
    (void) !islet_cg_destroy (cg, &ignored);
  (void) unlink (sock);
}

int
local_start (void *self, const char *ref, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  struct islet_sandbox_info info;

  if (islet_sandbox_get (ctx, ref, &info, err) < 0)
    return -1;
  if (info.state == ISLET_SB_PAUSED)
    return islet_sandbox_resume (ctx, info.id, err);
  if (info.state == ISLET_SB_RUNNING)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` is already running", info.id);
  if (info.state == ISLET_SB_BROKEN)
    return islet_fail (err, ISLET_E_CONFLICT, 0,
                       "sandbox `%s` is broken (its create or remove was cut short): remove it",
                       info.id);
  clear_stale (ctx, info.id);
  /* archived files come back whole before anything runs on them */
  if (islet_sandbox_archive_pending (ctx, info.id)
      && islet_sandbox_restore_files (ctx, info.id, err) < 0)
    return -1;
  return spawn_supervisor (ctx, info.id, -1, err);
}

/* The stop of the sandbox id, already resolved: its supervisor asked over
 * ctl.sock (ISLET_E_CONFLICT if it is not running). */
int
sandbox_stop_id (struct islet_ctx *ctx, const char *id, struct islet_err *err)
{
  sessions_drop (ctx, id);
  return sandbox_ask (ctx, id, "stop", err);
}

int
local_stop (void *self, const char *ref, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  struct islet_sandbox_info info;

  if (islet_sandbox_get (ctx, ref, &info, err) < 0)
    return -1;
  return sandbox_stop_id (ctx, info.id, err);
}

/* Remove what a sandbox holds on disk: its volume, its uid range, its
 * directory and its name.  Every step is tried; the first failure is
 * reported. */
int
sandbox_remove_storage (struct islet_ctx *ctx, const char *id, const char *name, uint32_t uid_base,
                        struct islet_err *err)
{
  cleanup_free char *dir = sandbox_dir (ctx, id);
  struct islet_disk_pool *p = NULL;
  struct islet_err e;
  int rc = 0;

  clear_stale (ctx, id);
  islet_sandbox_archive_forget (ctx, id);
  if (pool (ctx, &p, &e) == 0)
    {
      rc = islet_disk_destroy (p, id, &e);
      pool_put (ctx);
    }
  else
    rc = -1;
  if (rc < 0)
    {
      islet_wrap (&e, "remove the volume of `%s`", id);
      *err = e;
    }
  if (uid_base && islet_idmap_release (ctx->state_dir, id, uid_base, &e) < 0 && rc == 0)
    {
      *err = e;
      rc = -1;
    }
  if (islet_rm_rf (dir, &e) < 0 && rc == 0)
    {
      *err = e;
      rc = -1;
    }
  if (name && name[0])
    name_release (ctx->state_dir, name, id);
  return rc;
}

/* The writable layer of a sandbox made from a snapshot or another
 * sandbox: a copy-on-write snapshot of that one's, its files given to this
 * sandbox's uids. */
static int
volume_from (struct islet_disk_pool *p, const struct snapshot_source *src,
             const struct islet_sandbox_info *info, char **volume, struct islet_err *err)
{
  return islet_disk_create_from (p, info->id, src->snap[0] ? src->snap : NULL,
                                 src->snap[0] ? NULL : src->from, info->limits.disk_mb << 20,
                                 volume, err);
}

/* Everything a create makes before its supervisor starts; the last is
 * config.json, whose descriptor it returns unsynced (spawn_supervisor). */
static int
prepare (struct islet_ctx *ctx, const struct islet_create_opts *opts,
         const struct snapshot_source *src, struct islet_sandbox_info *info, struct islet_err *err)
{
  cleanup_free char *dir = sandbox_dir (ctx, info->id);
  cleanup_free char *cfgpath = islet_xasprintf ("%s/config.json", dir);
  cleanup_free char *volume = NULL;
  cleanup_free char *upper = NULL;
  cleanup_free char *work = NULL;
  cleanup_free char *root = islet_xasprintf ("%s/root", dir);
  cleanup_free char *text = NULL;
  cleanup_json json_t *cfg = NULL;
  cleanup_json json_t *mounts = NULL;
  struct islet_disk_pool *p = NULL;
  struct islet_image img = { 0 };
  int r;

  if (mkdir (root, 0755) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", root);
  if (islet_idmap_claim (ctx->state_dir, info->id, &info->uid_base, err) < 0)
    return -1;
  if (pool (ctx, &p, err) < 0)
    return -1;
  if (src)
    r = volume_from (p, src, info, &volume, err);
  else
    r = islet_disk_create (p, info->id, info->limits.disk_mb << 20, &volume, err);
  info->disk_enforced = islet_disk_enforced (p);
  pool_put (ctx);
  if (r < 0)
    return -1;
  if (islet_image_open (ctx->state_dir, info->image, &img, err) < 0)
    return -1;
  islet_image_fini (&img);
  upper = islet_xasprintf ("%s/upper", volume);
  work = islet_xasprintf ("%s/work", volume);
  if (src == NULL && islet_rootfs_prepare_upper (upper, work, info->uid_base, info->name, err) < 0)
    return -1;
  if (src
      && (islet_rootfs_shift_owners (upper, src->uid_base, info->uid_base, err) < 0
          || islet_rootfs_rename_upper (upper, src->name, info->name, err) < 0))
    return -1;
  cfg = islet_config_json (info, volume);
  if (opts->n_volumes)
    {
      if (pool (ctx, &p, err) < 0)
        return -1;
      json_object_set_new (cfg, "mounts", volume_mounts_json (p, opts));
      pool_put (ctx);
    }
  else if (src && src->from[0] && volume_mounts_of (ctx, src->from, &mounts, err) < 0)
    return -1;
  if (mounts)
    json_object_set (cfg, "mounts", mounts);
  text = json_dumps (cfg, JSON_INDENT (2));
  return islet_write_file_unsynced (cfgpath, text, strlen (text), 0600, err);
}

int
local_create (void *self, const struct islet_create_opts *opts, char id[ISLET_ID_LEN + 1],
              struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  int taken = opts->id == NULL && warm_fits (opts) ? warm_take (ctx, opts, id, NULL, err) : 0;

  if (taken != 0)
    return taken > 0 ? 0 : -1;
  return sandbox_create_cold (ctx, opts, false, id, err);
}

/* A pooled sandbox's `created`, whose mtime its take sets (config.c). */
static int
stamp_create (const char *dir, struct islet_err *err)
{
  cleanup_free char *path = islet_xasprintf ("%s/created", dir);
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create `%s`", path);
  close (fd);
  return 0;
}

static int create (struct islet_ctx *ctx, const struct islet_create_opts *opts, bool for_pool,
                   const struct sandbox_launch *launch, char id[ISLET_ID_LEN + 1],
                   struct islet_err *err);

int
sandbox_create_cold (struct islet_ctx *ctx, const struct islet_create_opts *opts, bool for_pool,
                     char id[ISLET_ID_LEN + 1], struct islet_err *err)
{
  return create (ctx, opts, for_pool, NULL, id, err);
}

int
sandbox_create_with (struct islet_ctx *ctx, const struct islet_create_opts *opts,
                     const struct sandbox_launch *launch, char id[ISLET_ID_LEN + 1],
                     struct islet_err *err)
{
  return create (ctx, opts, false, launch, id, err);
}

static int
create (struct islet_ctx *ctx, const struct islet_create_opts *opts, bool for_pool,
        const struct sandbox_launch *launch, char id[ISLET_ID_LEN + 1], struct islet_err *err)
{
  cleanup_free char *filling = NULL;
  cleanup_close int guard = -1;
  cleanup_close int image_hold = -1; /* keeps `image rm` off the image until config.json names it */
  cleanup_close int volume_lock = -1; /* keeps `volume rm` off its volumes the same way */
  cleanup_close int snap_hold = -1;   /* keeps `snapshot rm` off the snapshot likewise */
  cleanup_close int cfg_fd = -1;
  struct islet_sandbox_info info = { 0 };
  struct supervisor_start sup = { .ready = -1, .go = -1, .pid = -1 };
  struct snapshot_source src = { .hold = -1 };
  bool copied = opts->snapshot != NULL || opts->fork != NULL;
  unsigned char rnd[ISLET_ID_LEN / 2];

  if (islet_limits_validate (&opts->limits, err) < 0 || islet_net_validate (&opts->net, err) < 0)
    return -1;
  if (opts->name && !name_valid (opts->name))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "name `%s` is not valid: 1 to %d letters, digits and inner dashes",
                       opts->name, ISLET_NAME_MAX);
  if (copied && snapshot_source (ctx, opts, &src, err) < 0)
    return -1;
  snap_hold = src.hold;
  memcpy (info.snapshot, src.snap, sizeof info.snapshot);
  if (islet_image_resolve (ctx->state_dir, copied ? src.image : opts->image, info.image,
                           sizeof info.image, &image_hold, err)
      < 0)
    return -1;
  if (volume_hold (ctx, opts, &volume_lock, err) < 0)
    return -1;
  if (opts->id)
    {
      if (!sandbox_id_valid (opts->id) || for_pool)
        return islet_fail (err, ISLET_E_INVALID, 0, "`%s` is not a sandbox id", opts->id);
      memcpy (info.id, opts->id, ISLET_ID_LEN + 1);
    }
  else if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "getrandom");
  for (size_t i = 0; opts->id == NULL && i < sizeof rnd; i++)
    snprintf (info.id + 2 * i, 3, "%02x", rnd[i]);
  if (opts->claim && !for_pool && opts->claim (opts->claim_arg, info.id, err) < 0)
    return -1;
  snprintf (info.name, sizeof info.name, "%s", opts->name ? opts->name : "");
  if (!opts->name)
    snprintf (info.name, sizeof info.name, "islet-%s", info.id);
  info.limits = opts->limits;
  info.net = opts->net;
  info.build = opts->build;
  info.created_stamp = for_pool;
  {
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    info.created = (int64_t) now.tv_sec;
    info.created_nsec = (uint32_t) now.tv_nsec;
  }
  /* the directory first: a name whose link points at no directory is free */
  {
    cleanup_free char *dir = sandbox_dir (ctx, info.id);
    if (for_pool)
      {
        int fd;
        filling = islet_xasprintf ("%s/warm/filling/%s", ctx->state_dir, info.id);
        fd = open (filling, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
          return islet_fail (err, ISLET_E_SYSTEM, errno, "create `%s`", filling);
        close (fd);
      }
    if (mkdir (dir, 0700) < 0)
      {
        int e = errno;
        if (filling)
          (void) unlink (filling);
        return islet_fail (err, ISLET_E_SYSTEM, e, "mkdir `%s`", dir);
      }
    /* held to the end: a directory without a config that nobody holds is
     * a create cut short (sandbox_broken.c) */
    guard = sandbox_create_guard (dir, err);
    if (guard >= 0 && for_pool && stamp_create (dir, err) < 0)
      {
        close (guard);
        guard = -1;
      }
    if (guard < 0)
      {
        struct islet_err ignored;
        (void) !islet_rm_rf (dir, &ignored);
        if (filling)
          (void) unlink (filling);
        return -1;
      }
  }
  if (name_claim (ctx->state_dir, info.name, info.id, err) < 0)
    {
      struct islet_err ignored;
      cleanup_free char *dir = sandbox_dir (ctx, info.id);
      (void) !islet_rm_rf (dir, &ignored);
      if (filling)
        (void) unlink (filling);
      return -1;
    }
  /* islet-run starts while the volume and the config are made, and waits
     for the word that the config is whole (supervisor_go; a launch of the
     caller's likewise) */
  if ((launch ? launch->begin (ctx, info.id, launch->arg, err)
              : supervisor_begin (ctx, info.id, &sup, err))
      == 0)
    cfg_fd = prepare (ctx, opts, copied ? &src : NULL, &info, err);
  if (cfg_fd < 0
      || (launch ? launch->go (ctx, info.id, launch->arg, err)
                 : supervisor_go (ctx, info.id, &sup, cfg_fd, err))
             < 0)
    {
      struct islet_err ignored; /* the first error is the one to report */
      if (launch)
        launch->abandon (launch->arg);
      else
        supervisor_abandon (ctx, info.id, &sup);
      (void) sandbox_remove_storage (ctx, info.id, info.name, info.uid_base, &ignored);
      if (filling)
        (void) unlink (filling);
      return -1;
    }
  memcpy (id, info.id, sizeof info.id);
  return 0;
}

int
sandbox_resolve (struct islet_ctx *ctx, const char *ref, char id[ISLET_ID_LEN + 1],
                 struct islet_err *err)
{
  cleanup_free char *dir = NULL;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  size_t len = strlen (ref), hits = 0;

  if (*ref == '\0')
    return islet_fail (err, ISLET_E_INVALID, 0, "empty sandbox id");
  if (sandbox_id_valid (ref) && sandbox_exists (ctx->state_dir, ref))
    {
      memcpy (id, ref, ISLET_ID_LEN + 1);
      return 0;
    }
  if (name_valid (ref))
    {
      if (name_lookup (ctx->state_dir, ref, id, err) < 0)
        return -1;
      if (id[0] != '\0' && sandbox_exists (ctx->state_dir, id))
        return 0;
    }
  /* a unique prefix of an id */
  dir = islet_xasprintf ("%s/sandboxes", ctx->state_dir);
  d = opendir (dir);
  if (d == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
  while (len < ISLET_ID_LEN && (de = readdir (d)) != NULL)
    if (sandbox_id_valid (de->d_name) && strncmp (de->d_name, ref, len) == 0 && hits++ == 0)
      memcpy (id, de->d_name, ISLET_ID_LEN + 1);
  if (hits == 1)
    return 0;
  if (hits > 1)
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` matches %zu sandboxes: give more of the id",
                       ref, hits);
  return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox `%s`", ref);
}
