/* Volumes (include/islet/volume.h): the record, the subvolume, and the
 * rule that a volume some sandbox mounts stays.
 *
 * <state>/volume-records/.lock orders the changes: a create or remove of a
 * volume holds it exclusive; a sandbox create holds it shared from the
 * check that its volumes exist until its config.json names them, so a
 * remove never misses a sandbox that is being made with the volume. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "islet/config.h"
#include "islet/disk.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "islet/volume.h"
#include "sandbox_internal.h"

#define RECORD_MAX 4096

/* Places a sandbox's files are not: the sandbox's kernel and device views
 * and the host's read-only binds.  A volume there would be hidden or would
 * hide them. */
static const char *const reserved_paths[] = {
  "/proc", "/dev", "/sys", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
};

bool
islet_volume_name_ok (const char *name)
{
  return islet_name_ok (name, ISLET_VOLUME_NAME_MAX);
}

static int
name_check (const char *name, struct islet_err *err)
{
  if (!islet_volume_name_ok (name))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "volume name `%s` is not valid: 1 to %d letters, digits, '-', '_' and '.', "
                       "not starting with '.' or '-'",
                       name ? name : "", ISLET_VOLUME_NAME_MAX);
  return 0;
}

/* Each component of p: not empty, not `.` nor `..`. */
static bool
components_plain (const char *p)
{
  while (*p)
    {
      size_t len = strcspn (p, "/");
      if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
        return false;
      p += len;
      if (*p == '/')
        p++;
      if (*p == '\0' && p[-1] == '/')
        return false; /* a trailing slash */
    }
  return true;
}

static bool
under (const char *path, const char *dir)
{
  size_t n = strlen (dir);
  return strncmp (path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int
mount_check (const struct islet_volume_mount *m, struct islet_err *err)
{
  if (name_check (m->volume, err) < 0)
    return -1;
  if (m->path == NULL || m->path[0] != '/' || m->path[1] == '\0'
      || strlen (m->path) > ISLET_VOLUME_PATH_MAX || !components_plain (m->path + 1))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "mount path `%s` of volume `%s` is not valid: an absolute path other than "
                       "/, without `.`, `..` or empty parts",
                       m->path ? m->path : "", m->volume);
  for (size_t i = 0; i < sizeof reserved_paths / sizeof reserved_paths[0]; i++)
    if (under (m->path, reserved_paths[i]))
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "mount path `%s` of volume `%s` is under %s, which is not the sandbox's "
                         "own files",
                         m->path, m->volume, reserved_paths[i]);
  if (m->subpath && m->subpath[0]
      && (m->subpath[0] == '/' || strlen (m->subpath) > ISLET_VOLUME_PATH_MAX
          || !components_plain (m->subpath)))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "subpath `%s` of volume `%s` is not valid: a relative path inside the "
                       "volume, without `.`, `..` or empty parts",
                       m->subpath, m->volume);
  return 0;
}

int
islet_volume_mounts_check (const struct islet_volume_mount *m, size_t n, struct islet_err *err)
{
  if (n > ISLET_VOLUME_MOUNTS_MAX)
    return islet_fail (err, ISLET_E_INVALID, 0, "%zu volumes: a sandbox mounts at most %d", n,
                       ISLET_VOLUME_MOUNTS_MAX);
  for (size_t i = 0; i < n; i++)
    {
      if (mount_check (&m[i], err) < 0)
        return -1;
      for (size_t j = 0; j < i; j++)
        if (under (m[i].path, m[j].path) || under (m[j].path, m[i].path))
          return islet_fail (err, ISLET_E_INVALID, 0,
                             "volume mount paths `%s` and `%s`: one is inside the other", m[j].path,
                             m[i].path);
    }
  return 0;
}

int
islet_volume_mount_parse (char *s, struct islet_volume_mount *m, struct islet_err *err)
{
  char *path = strchr (s, ':');
  char *sub;

  if (path == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "volume `%s`: expected NAME:/PATH[:SUBPATH]", s);
  *path++ = '\0';
  sub = strchr (path, ':');
  if (sub)
    *sub++ = '\0';
  *m = (struct islet_volume_mount){ .volume = s, .path = path, .subpath = sub };
  return mount_check (m, err);
}

/* ---- the records ---- */

static char *
records_dir (const struct islet_ctx *ctx)
{
  return islet_xasprintf ("%s/volume-records", ctx->state_dir);
}

static char *
record_path (const struct islet_ctx *ctx, const char *name)
{
  return islet_xasprintf ("%s/volume-records/%s.json", ctx->state_dir, name);
}

/* The subvolume's name in the pool: sandbox ids are hex, so never this. */
static char *
subvol_name (const char *name)
{
  return islet_xasprintf ("vol-%s", name);
}

/* The lock of the records, taken as op (LOCK_SH, LOCK_EX); its fd. */
static int
records_lock (const struct islet_ctx *ctx, int op, struct islet_err *err)
{
  cleanup_free char *dir = records_dir (ctx);

  return islet_lock_file (dir, 0700, ".lock", op, err);
}

static int
record_read (const struct islet_ctx *ctx, const char *name, struct islet_volume_info *out,
             struct islet_err *err)
{
  cleanup_free char *path = record_path (ctx, name);
  cleanup_free char *text = NULL;
  cleanup_json json_t *j = NULL;
  json_int_t size = 0, created = 0;

  if (islet_read_file_at (AT_FDCWD, path, RECORD_MAX, &text, NULL, err) < 0)
    {
      if (err->errnum == ENOENT)
        return islet_fail (err, ISLET_E_NOTFOUND, 0, "no volume `%s`", name);
      return -1;
    }
  j = json_loads (text, 0, NULL);
  if (json_unpack (j, "{s:I,s:I}", "size_mb", &size, "created", &created) < 0 || size <= 0)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s`: not a volume record", path);
  memset (out, 0, sizeof *out);
  snprintf (out->name, sizeof out->name, "%s", name);
  out->size_mb = (uint64_t) size;
  out->created = created;
  return 0;
}

/* ---- create, get, list, remove ---- */

static int
subvol_make (struct islet_ctx *ctx, const char *sub, uint64_t size_mb, struct islet_err *err)
{
  cleanup_free char *path = NULL;
  struct islet_disk_pool *p = NULL;
  struct islet_err ignored;
  int r;

  if (sandbox_pool (ctx, &p, err) < 0)
    return -1;
  r = islet_disk_create (p, sub, size_mb << 20, &path, err);
  if (r < 0 && err->errnum == EEXIST)
    {
      /* left by a create cut short before its record: nobody's */
      if (islet_disk_destroy (p, sub, &ignored) == 0)
        r = islet_disk_create (p, sub, size_mb << 20, &path, err);
    }
  /* its root belongs to the sandboxes' root (uid 0 as they see it, through
   * their idmapped mounts), with the mode of a shared directory */
  if (r == 0 && (chown (path, 0, 0) < 0 || chmod (path, 0755) < 0))
    {
      r = islet_fail (err, ISLET_E_SYSTEM, errno, "chmod `%s`", path);
      (void) !islet_disk_destroy (p, sub, &ignored);
    }
  sandbox_pool_put (ctx);
  return r;
}

int
islet_volume_create (struct islet_ctx *ctx, const char *name, uint64_t size_mb,
                     struct islet_err *err)
{
  cleanup_free char *path = NULL;
  cleanup_free char *sub = NULL;
  cleanup_free char *text = NULL;
  cleanup_close int lock = -1;
  struct stat st;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "a volume create", err);
  if (name_check (name, err) < 0)
    return -1;
  if (size_mb == 0)
    size_mb = ISLET_VOLUME_SIZE_DEFAULT_MB;
  if (size_mb > ((uint64_t) 1 << 30))
    return islet_fail (err, ISLET_E_INVALID, 0, "volume size %llu MiB is too large",
                       (unsigned long long) size_mb);
  lock = records_lock (ctx, LOCK_EX, err);
  if (lock < 0)
    return -1;
  path = record_path (ctx, name);
  if (lstat (path, &st) == 0)
    return islet_fail (err, ISLET_E_CONFLICT, EEXIST, "volume `%s` exists", name);
  sub = subvol_name (name);
  if (subvol_make (ctx, sub, size_mb, err) < 0)
    return islet_wrap (err, "create volume `%s`", name);
  {
    cleanup_json json_t *j = json_pack ("{s:s,s:I,s:I}", "name", name, "size_mb",
                                        (json_int_t) size_mb, "created", (json_int_t) time (NULL));
    text = json_dumps (j, JSON_COMPACT);
  }
  if (islet_write_file_atomic (path, text, strlen (text), 0600, err) < 0)
    {
      struct islet_disk_pool *p = NULL;
      struct islet_err ignored;
      if (sandbox_pool (ctx, &p, &ignored) == 0)
        {
          (void) !islet_disk_destroy (p, sub, &ignored);
          sandbox_pool_put (ctx);
        }
      return islet_wrap (err, "create volume `%s`", name);
    }
  return 0;
}

int
islet_volume_get (struct islet_ctx *ctx, const char *name, struct islet_volume_info *out,
                  struct islet_err *err)
{
  cleanup_free char *sub = NULL;
  struct islet_disk_pool *p = NULL;
  struct islet_err ignored;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "a volume", err);
  if (!islet_volume_name_ok (name))
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no volume `%s`", name ? name : "");
  if (record_read (ctx, name, out, err) < 0)
    return -1;
  sub = subvol_name (name);
  if (sandbox_pool (ctx, &p, &ignored) == 0)
    {
      if (islet_disk_usage (p, sub, &out->used_bytes, &ignored) < 0)
        out->used_bytes = 0;
      sandbox_pool_put (ctx);
    }
  return 0;
}

static int
by_name (const void *a, const void *b)
{
  return strcmp (((const struct islet_volume_info *) a)->name,
                 ((const struct islet_volume_info *) b)->name);
}

int
islet_volume_list (struct islet_ctx *ctx, struct islet_volume_info **out, size_t *n,
                   struct islet_err *err)
{
  cleanup_free char *dir = NULL;
  cleanup_dir DIR *d = NULL;
  cleanup_free struct islet_volume_info *v = NULL;
  size_t len = 0, cap = 0;
  struct dirent *de;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "a volume list", err);
  dir = records_dir (ctx);
  d = opendir (dir);
  if (d == NULL && errno != ENOENT)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
  while (d && (de = readdir (d)) != NULL)
    {
      size_t nl = strlen (de->d_name);
      char name[ISLET_VOLUME_NAME_MAX + 1];
      struct islet_err e;

      if (de->d_name[0] == '.' || nl <= 5 || nl - 5 > ISLET_VOLUME_NAME_MAX
          || strcmp (de->d_name + nl - 5, ".json") != 0)
        continue;
      memcpy (name, de->d_name, nl - 5);
      name[nl - 5] = '\0';
      if (len == cap)
        {
          cap = cap ? 2 * cap : 16;
          v = islet_xrealloc (v, cap * sizeof *v);
        }
      /* one removed meanwhile is simply not listed */
      if (islet_volume_get (ctx, name, &v[len], &e) == 0)
        len++;
    }
  if (len)
    qsort (v, len, sizeof *v, by_name);
  *out = islet_take_ptr (&v);
  *n = len;
  return 0;
}

/* The first sandbox whose config.json mounts the volume: 1 with user set
 * ("ID (NAME)"), 0 if none does. */
static int
first_user (const struct islet_ctx *ctx, const char *name, char **user, struct islet_err *err)
{
  cleanup_free char *dir = islet_xasprintf ("%s/sandboxes", ctx->state_dir);
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;

  if (d == NULL)
    return errno == ENOENT ? 0 : islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
  while ((de = readdir (d)) != NULL)
    {
      cleanup_free char *cfg = NULL;
      struct islet_vmount *m = NULL;
      struct islet_sandbox_info info;
      size_t n = 0;
      int found = 0;
      struct islet_err e;

      if (!sandbox_id_valid (de->d_name))
        continue;
      cfg = islet_xasprintf ("%s/%s/config.json", dir, de->d_name);
      if (islet_config_load (cfg, &info, NULL, &e) < 0
          || islet_config_mounts_load (cfg, &m, &n, &e) < 0)
        continue; /* no config: a create cut short, which mounts nothing yet */
      for (size_t i = 0; i < n && !found; i++)
        found = strcmp (m[i].volume, name) == 0;
      islet_vmounts_free (m, n);
      if (found)
        {
          *user = islet_xasprintf ("%s (%s)", info.id, info.name);
          return 1;
        }
    }
  return 0;
}

int
islet_volume_remove (struct islet_ctx *ctx, const char *name, struct islet_err *err)
{
  cleanup_free char *path = NULL;
  cleanup_free char *sub = NULL;
  cleanup_free char *user = NULL;
  cleanup_close int lock = -1;
  struct islet_volume_info info;
  struct islet_disk_pool *p = NULL;
  int r;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "a volume remove", err);
  if (!islet_volume_name_ok (name))
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no volume `%s`", name ? name : "");
  lock = records_lock (ctx, LOCK_EX, err);
  if (lock < 0 || record_read (ctx, name, &info, err) < 0)
    return -1;
  r = first_user (ctx, name, &user, err);
  if (r < 0)
    return -1;
  if (r > 0)
    return islet_fail (err, ISLET_E_CONFLICT, 0,
                       "volume `%s` is mounted by sandbox %s: remove the sandbox first", name,
                       user);
  /* the record first: a remove cut short leaves a subvolume without a
   * record, which is nobody's and which a create of the name replaces */
  path = record_path (ctx, name);
  if (unlink (path) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "unlink `%s`", path);
  sub = subvol_name (name);
  if (sandbox_pool (ctx, &p, err) < 0)
    return -1;
  r = islet_disk_destroy (p, sub, err);
  sandbox_pool_put (ctx);
  return r;
}

/* ---- a sandbox's create (sandbox.c) ---- */

int
volume_hold (struct islet_ctx *ctx, const struct islet_create_opts *opts, int *hold,
             struct islet_err *err)
{
  cleanup_close int lock = -1;

  *hold = -1;
  if (opts->n_volumes == 0)
    return 0;
  if (islet_volume_mounts_check (opts->volumes, opts->n_volumes, err) < 0)
    return -1;
  lock = records_lock (ctx, LOCK_SH, err);
  if (lock < 0)
    return -1;
  for (size_t i = 0; i < opts->n_volumes; i++)
    {
      struct islet_volume_info info;
      if (record_read (ctx, opts->volumes[i].volume, &info, err) < 0)
        return -1;
    }
  *hold = islet_take_fd (&lock);
  return 0;
}

json_t *
volume_mounts_json (struct islet_disk_pool *pool, const struct islet_create_opts *opts)
{
  json_t *a = json_array ();

  for (size_t i = 0; i < opts->n_volumes; i++)
    {
      const struct islet_volume_mount *m = &opts->volumes[i];
      cleanup_free char *sub = subvol_name (m->volume);
      struct islet_vmount vm = {
        .volume = (char *) m->volume,
        .source = islet_disk_path (pool, sub),
        .path = (char *) m->path,
        .subpath = (char *) (m->subpath ? m->subpath : ""),
      };
      json_array_append_new (a, islet_config_mount_json (&vm));
      free (vm.source);
    }
  return a;
}

int
volume_records_remove (struct islet_ctx *ctx, struct islet_err *err)
{
  cleanup_free char *dir = records_dir (ctx);

  return islet_rm_rf (dir, err);
}

int
volume_mounts_of (struct islet_ctx *ctx, const char *id, json_t **out, struct islet_err *err)
{
  cleanup_free char *dir = sandbox_dir (ctx, id);
  cleanup_free char *cfg = islet_xasprintf ("%s/config.json", dir);
  struct islet_vmount *m = NULL;
  size_t n = 0;

  *out = NULL;
  if (islet_config_mounts_load (cfg, &m, &n, err) < 0)
    return islet_wrap (err, "the volumes of sandbox `%s`", id);
  if (n)
    *out = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (*out, islet_config_mount_json (&m[i]));
  islet_vmounts_free (m, n);
  return 0;
}
