/* Snapshots of sandboxes (include/islet/snapshot.h): the records in
 * <state>/snapshots, their layers in the disk pool (src/core/disk.c).
 *
 * <state>/snapshots/.lock is held exclusive by whoever adds or removes a
 * snapshot, and shared by a create that uses one, from finding it until its
 * config.json names it.  A snapshot is taken in two steps: its layer (one
 * btrfs ioctl, complete or absent), then its record (renamed into place).
 * A kill between them leaves a layer without a record, which nothing lists
 * and the next change under the lock removes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "islet/config.h"
#include "islet/disk.h"
#include "islet/proto.h"
#include "islet/snapshot.h"
#include "islet/util.h"
#include "sandbox_internal.h"

static char *
snap_dir (const struct islet_ctx *ctx)
{
  return islet_xasprintf ("%s/snapshots", ctx->state_dir);
}

static bool
name_valid (const char *name)
{
  return islet_name_ok (name, ISLET_SNAPSHOT_NAME_MAX);
}

int
snapshot_lock (const struct islet_ctx *ctx, int op, struct islet_err *err)
{
  cleanup_free char *dir = snap_dir (ctx);

  return islet_lock_file (dir, 0700, ".lock", op, err);
}

static json_t *
record_json (const struct islet_snapshot_info *s)
{
  json_t *j = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "id", s->id, "name", s->name, "image",
                         s->image, "source", s->source, "source_name", s->source_name, "uid_base",
                         (json_int_t) s->uid_base, "created", (json_int_t) s->created, "bytes",
                         (json_int_t) s->bytes);

  if (j && s->label[0])
    json_object_set_new (j, "label", json_string (s->label));
  return j;
}

static int
record_load (const char *path, struct islet_snapshot_info *out, struct islet_err *err)
{
  cleanup_free char *text = NULL;
  cleanup_json json_t *j = NULL;
  const char *id, *name, *image, *src, *src_name, *label = NULL;
  json_int_t base, created, bytes;
  json_error_t jerr;

  if (islet_read_file_at (AT_FDCWD, path, 1 << 16, &text, NULL, err) < 0)
    {
      if (err->errnum == ENOENT)
        err->kind = ISLET_E_NOTFOUND;
      return -1;
    }
  j = json_loads (text, 0, &jerr);
  if (j == NULL
      || json_unpack_ex (j, &jerr, 0, "{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s?s}", "id", &id, "name",
                         &name, "image", &image, "source", &src, "source_name", &src_name,
                         "uid_base", &base, "created", &created, "bytes", &bytes, "label", &label)
             < 0)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s`: %s", path, jerr.text);
  memset (out, 0, sizeof *out);
  snprintf (out->id, sizeof out->id, "%s", id);
  snprintf (out->name, sizeof out->name, "%s", name);
  snprintf (out->image, sizeof out->image, "%s", image);
  snprintf (out->source, sizeof out->source, "%s", src);
  snprintf (out->source_name, sizeof out->source_name, "%s", src_name);
  snprintf (out->label, sizeof out->label, "%s", label ? label : "");
  out->uid_base = (uint32_t) base;
  out->created = created;
  out->bytes = (uint64_t) bytes;
  return 0;
}

/* Call fn on each record (of a file name ending in .json) until it returns 1. */
typedef int (*record_fn) (const struct islet_snapshot_info *s, void *arg);

static int
each_record (const struct islet_ctx *ctx, record_fn fn, void *arg, struct islet_err *err)
{
  cleanup_free char *dir = snap_dir (ctx);
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;

  if (d == NULL && errno == ENOENT)
    return 0;
  if (d == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
  while ((de = readdir (d)) != NULL)
    {
      size_t n = strlen (de->d_name);
      cleanup_free char *path = NULL;
      struct islet_snapshot_info s;
      struct islet_err e;

      if (de->d_name[0] == '.' || n < 6 || strcmp (de->d_name + n - 5, ".json") != 0)
        continue;
      path = islet_xasprintf ("%s/%s", dir, de->d_name);
      if (record_load (path, &s, &e) < 0)
        continue; /* removed meanwhile */
      if (fn (&s, arg))
        return 0;
    }
  return 0;
}

struct find
{
  const char *ref;
  struct islet_snapshot_info *out;
  bool found;
};

static int
find_id (const struct islet_snapshot_info *s, void *arg)
{
  struct find *f = arg;

  if (strcmp (s->id, f->ref) != 0)
    return 0;
  *f->out = *s;
  f->found = true;
  return 1;
}

static int
local_snapshot_get (struct islet_ctx *ctx, const char *ref, struct islet_snapshot_info *out,
                    struct islet_err *err)
{
  struct find f = { ref, out, false };

  if (ref == NULL || *ref == '\0')
    return islet_fail (err, ISLET_E_INVALID, 0, "empty snapshot name");
  if (name_valid (ref))
    {
      cleanup_free char *dir = snap_dir (ctx);
      cleanup_free char *path = islet_xasprintf ("%s/%s.json", dir, ref);
      if (record_load (path, out, err) == 0)
        return 0;
      if (err->kind != ISLET_E_NOTFOUND)
        return -1;
    }
  if (each_record (ctx, find_id, &f, err) < 0)
    return -1;
  if (!f.found)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no snapshot `%s`", ref);
  return 0;
}

int
islet_snapshot_get (struct islet_ctx *ctx, const char *ref, struct islet_snapshot_info *out,
                    struct islet_err *err)
{
  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "snapshot", err);
  return local_snapshot_get (ctx, ref, out, err);
}

struct list
{
  struct islet_snapshot_info *v;
  size_t n;
};

static int
add_one (const struct islet_snapshot_info *s, void *arg)
{
  struct list *l = arg;

  l->v = islet_xrealloc (l->v, (l->n + 1) * sizeof *l->v);
  l->v[l->n++] = *s;
  return 0;
}

static int
by_created (const void *a, const void *b)
{
  const struct islet_snapshot_info *x = a, *y = b;

  if (x->created != y->created)
    return x->created < y->created ? -1 : 1;
  return strcmp (x->name, y->name);
}

int
islet_snapshot_list (struct islet_ctx *ctx, struct islet_snapshot_info **out, size_t *n,
                     struct islet_err *err)
{
  struct list l = { NULL, 0 };

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "snapshot", err);
  if (each_record (ctx, add_one, &l, err) < 0)
    {
      free (l.v);
      return -1;
    }
  if (l.n)
    qsort (l.v, l.n, sizeof *l.v, by_created);
  *out = l.v;
  *n = l.n;
  return 0;
}

static int
mark_id (const struct islet_snapshot_info *s, void *arg)
{
  json_object_set_new (arg, s->id, json_true ());
  return 0;
}

/* Remove layers that have no record: left by a snapshot cut short between
 * its two steps.  Under the exclusive lock, so none is in the making. */
static void
sweep_layers (struct islet_ctx *ctx, struct islet_disk_pool *p)
{
  cleanup_json json_t *ids = json_object ();
  cleanup_free char *dir = islet_disk_snapshot_dir (p);
  cleanup_dir DIR *d = NULL;
  struct islet_err ignored;
  struct dirent *de;

  if (each_record (ctx, mark_id, ids, &ignored) < 0)
    return;
  d = opendir (dir);
  while (d && (de = readdir (d)) != NULL)
    if (de->d_name[0] != '.' && json_object_get (ids, de->d_name) == NULL)
      (void) !islet_disk_snapshot_destroy (p, de->d_name, &ignored);
}

static void
new_id (char id[ISLET_ID_LEN + 1])
{
  unsigned char rnd[ISLET_ID_LEN / 2];

  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    {
      uint64_t t = islet_now_ns () ^ (uint64_t) getpid ();
      memcpy (rnd, &t, sizeof rnd);
    }
  for (size_t i = 0; i < sizeof rnd; i++)
    snprintf (id + 2 * i, 3, "%02x", rnd[i]);
}

/* Take the layer and write the record, with the lock held. */
static int
take (struct islet_ctx *ctx, const struct islet_sandbox_info *sb, struct islet_snapshot_info *s,
      struct islet_err *err)
{
  cleanup_free char *dir = snap_dir (ctx);
  cleanup_free char *path = islet_xasprintf ("%s/%s.json", dir, s->name);
  cleanup_free char *text = NULL;
  cleanup_json json_t *j = NULL;
  struct islet_disk_pool *p = NULL;
  struct islet_err ignored;
  int r;

  if (access (path, F_OK) == 0)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "a snapshot named `%s` exists", s->name);
  if (sandbox_pool (ctx, &p, err) < 0)
    return -1;
  sweep_layers (ctx, p);
  r = islet_disk_snapshot (p, sb->id, s->id, err);
  if (r == 0 && islet_disk_snapshot_usage (p, s->id, &s->bytes, &ignored) < 0)
    s->bytes = 0;
  sandbox_pool_put (ctx);
  if (r < 0)
    return islet_wrap (err, "snapshot sandbox `%s`", sb->id);
  j = record_json (s);
  text = json_dumps (j, JSON_INDENT (2));
  if (getenv ("ISLET_TEST_SNAPSHOT_PAUSE_MS")) /* for the test that kills a snapshot here */
    {
      long ms = atol (getenv ("ISLET_TEST_SNAPSHOT_PAUSE_MS"));
      struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
      nanosleep (&ts, NULL);
    }
  if (islet_write_file_atomic (path, text, strlen (text), 0600, err) < 0)
    {
      if (sandbox_pool (ctx, &p, &ignored) == 0)
        {
          (void) !islet_disk_snapshot_destroy (p, s->id, &ignored);
          sandbox_pool_put (ctx);
        }
      return -1;
    }
  return 0;
}

/* Whether sb's files can be copied (a snapshot, a fork): not while its
 * create or remove was cut short, nor while they are an archive. */
static int
copy_source_ok (struct islet_ctx *ctx, const struct islet_sandbox_info *sb, struct islet_err *err)
{
  if (sb->state == ISLET_SB_BROKEN)
    return islet_fail (err, ISLET_E_CONFLICT, 0,
                       "sandbox `%s` is broken (its create or remove was cut short)", sb->id);
  if (islet_sandbox_archive_pending (ctx, sb->id))
    return islet_fail (err, ISLET_E_CONFLICT, 0,
                       "sandbox `%s` is archived (its files are kept compressed, not as a volume "
                       "to copy): start it first",
                       sb->id);
  return 0;
}

int
islet_snapshot_create (struct islet_ctx *ctx, const char *sandbox_ref, const char *name,
                       struct islet_snapshot_info *out, struct islet_err *err)
{
  return islet_snapshot_create_as (ctx, sandbox_ref, name, NULL, out, err);
}

int
islet_snapshot_create_as (struct islet_ctx *ctx, const char *sandbox_ref, const char *name,
                          const char *label, struct islet_snapshot_info *out, struct islet_err *err)
{
  struct islet_sandbox_info sb;
  struct islet_snapshot_info s = { 0 };
  cleanup_close int lock = -1;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "snapshot", err);
  if (name == NULL || !name_valid (name))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "snapshot name `%s` is not valid: 1 to %d letters, digits, '.', '_' and "
                       "'-', not starting with '.' or '-'",
                       name ? name : "", ISLET_SNAPSHOT_NAME_MAX);
  if (islet_sandbox_get (ctx, sandbox_ref, &sb, err) < 0)
    return -1;
  if (copy_source_ok (ctx, &sb, err) < 0)
    return -1;
  new_id (s.id);
  snprintf (s.name, sizeof s.name, "%s", name);
  snprintf (s.image, sizeof s.image, "%s", sb.image);
  memcpy (s.source, sb.id, sizeof s.source);
  snprintf (s.source_name, sizeof s.source_name, "%s", sb.name);
  snprintf (s.label, sizeof s.label, "%s", label ? label : "");
  s.uid_base = sb.uid_base;
  s.created = (int64_t) time (NULL);
  lock = snapshot_lock (ctx, LOCK_EX, err);
  if (lock < 0 || take (ctx, &sb, &s, err) < 0)
    return -1;
  if (out)
    *out = s;
  return 0;
}

/* The name of a sandbox whose config names snapshot id, or NULL. */
static char *
user_of (struct islet_ctx *ctx, const char *id)
{
  cleanup_free char *dir = islet_xasprintf ("%s/sandboxes", ctx->state_dir);
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;

  while (d && (de = readdir (d)) != NULL)
    {
      cleanup_free char *path = NULL;
      struct islet_sandbox_info info;
      struct islet_err ignored;

      if (!sandbox_id_valid (de->d_name))
        continue;
      path = islet_xasprintf ("%s/%s/config.json", dir, de->d_name);
      if (islet_config_load (path, &info, NULL, &ignored) == 0 && strcmp (info.snapshot, id) == 0)
        return islet_xstrdup (info.name);
    }
  return NULL;
}

int
islet_snapshot_rm (struct islet_ctx *ctx, const char *ref, struct islet_err *err)
{
  cleanup_close int lock = -1;
  cleanup_free char *user = NULL;
  cleanup_free char *dir = NULL;
  cleanup_free char *path = NULL;
  struct islet_snapshot_info s;
  struct islet_disk_pool *p = NULL;
  int r;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "snapshot", err);
  lock = snapshot_lock (ctx, LOCK_EX, err);
  if (lock < 0 || local_snapshot_get (ctx, ref, &s, err) < 0)
    return -1;
  user = user_of (ctx, s.id);
  if (user)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "snapshot `%s` is in use by sandbox `%s`", s.name,
                       user);
  dir = snap_dir (ctx);
  path = islet_xasprintf ("%s/%s.json", dir, s.name);
  /* the record first: a kill after it leaves a layer that the next change
   * sweeps, never a record without its layer */
  if (unlink (path) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "remove `%s`", path);
  if (sandbox_pool (ctx, &p, err) < 0)
    return -1;
  r = islet_disk_snapshot_destroy (p, s.id, err);
  sandbox_pool_put (ctx);
  return r;
}

int
snapshot_source (struct islet_ctx *ctx, const struct islet_create_opts *opts,
                 struct snapshot_source *src, struct islet_err *err)
{
  struct islet_sandbox_info sb;

  memset (src, 0, sizeof *src);
  src->hold = -1;
  if (opts->image && (opts->snapshot || opts->fork))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "a sandbox is made from an image or from a snapshot or sandbox, not both");
  if (opts->snapshot && opts->fork)
    return islet_fail (err, ISLET_E_INVALID, 0, "a sandbox is made from a snapshot or a sandbox");
  if (opts->snapshot)
    {
      struct islet_snapshot_info s;

      src->hold = snapshot_lock (ctx, LOCK_SH, err);
      if (src->hold < 0)
        return -1;
      if (local_snapshot_get (ctx, opts->snapshot, &s, err) < 0)
        {
          close (src->hold);
          src->hold = -1;
          return -1;
        }
      memcpy (src->snap, s.id, sizeof src->snap);
      snprintf (src->image, sizeof src->image, "%s", s.image);
      snprintf (src->name, sizeof src->name, "%s", s.source_name);
      src->uid_base = s.uid_base;
      return 0;
    }
  if (islet_sandbox_get (ctx, opts->fork, &sb, err) < 0 || copy_source_ok (ctx, &sb, err) < 0)
    return -1;
  memcpy (src->from, sb.id, sizeof src->from);
  snprintf (src->image, sizeof src->image, "%s", sb.image);
  snprintf (src->name, sizeof src->name, "%s", sb.name);
  src->uid_base = sb.uid_base;
  return 0;
}

int
snapshot_reset (struct islet_ctx *ctx, struct islet_err *err)
{
  cleanup_free char *dir = snap_dir (ctx);
  cleanup_close int lock = snapshot_lock (ctx, LOCK_EX, err);
  struct islet_disk_pool *p = NULL;

  if (lock < 0)
    return -1;
  /* records first (as a remove does), then every layer has none */
  if (islet_rm_rf (dir, err) < 0)
    return -1;
  if (sandbox_pool (ctx, &p, err) < 0)
    return -1;
  sweep_layers (ctx, p);
  sandbox_pool_put (ctx);
  return 0;
}
