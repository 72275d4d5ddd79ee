/* The sandboxes table: a key's sandbox rows, their phases, the quota
 * a claim is held to, and the rows cached per (key, id or name). */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "islet/report.h"
#include "islet/util.h"
#include "store_internal.h"

/* The sandbox rows cached (store_internal.h), let go. */
void
store_sandboxes_forget (struct islet_store *st)
{
  for (size_t i = 0; i < st->n_sandboxes; i++)
    {
      free (st->sandboxes[i].ref);
      islet_store_sandbox_fini (&st->sandboxes[i].row);
    }
  st->n_sandboxes = 0;
}

void
islet_store_sandbox_fini (struct islet_store_sandbox *s)
{
  free (s->labels);
  free (s->env);
  free (s->language);
  free (s->target);
  free (s->name);
  s->labels = s->env = s->language = s->target = s->name = NULL;
}

static const char *const phase_names[] = {
  [ISLET_PHASE_READY] = "ready",       [ISLET_PHASE_CREATING] = "creating",
  [ISLET_PHASE_SCRATCH] = "scratch",   [ISLET_PHASE_DELETING] = "deleting",
  [ISLET_PHASE_BUILDING] = "building", [ISLET_PHASE_FAILED] = "failed",
};

static enum islet_store_phase
phase_of (const unsigned char *text)
{
  for (size_t i = 0; text && i < sizeof phase_names / sizeof phase_names[0]; i++)
    if (strcmp ((const char *) text, phase_names[i]) == 0)
      return (enum islet_store_phase) i;
  return ISLET_PHASE_READY;
}

static int
sandbox_put_locked (struct islet_store *st, const struct islet_store_sandbox *sb,
                    struct islet_err *err)
{
  cleanup_stmt sqlite3_stmt *s = NULL;

  /* an upsert, not INSERT OR REPLACE: that would delete the row of another
   * sandbox holding the same name instead of failing */
  if (store_prepare (st,
                     "INSERT INTO sandboxes(id, key_id, labels, env, language, target,"
                     " auto_stop, auto_archive, auto_delete, created, updated, last_activity, name,"
                     " stopped_at, phase, memory_mb, cpu_millis, disk_mb, auto_pause)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                     " ON CONFLICT(id) DO UPDATE SET key_id = excluded.key_id,"
                     " labels = excluded.labels, env = excluded.env, language = excluded.language,"
                     " target = excluded.target, auto_stop = excluded.auto_stop,"
                     " auto_archive = excluded.auto_archive, auto_delete = excluded.auto_delete,"
                     " created = excluded.created, updated = excluded.updated,"
                     " last_activity = excluded.last_activity, name = excluded.name,"
                     " stopped_at = excluded.stopped_at, auto_pause = excluded.auto_pause",
                     &s, err)
      < 0)
    return -1;
  store_sandboxes_forget (st);
  sqlite3_bind_text (s, 1, sb->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 2, sb->key_id);
  sqlite3_bind_text (s, 3, sb->labels ? sb->labels : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_text (s, 4, sb->env ? sb->env : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_text (s, 5, sb->language ? sb->language : "python", -1, SQLITE_STATIC);
  sqlite3_bind_text (s, 6, sb->target ? sb->target : "local", -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 7, sb->auto_stop);
  sqlite3_bind_int64 (s, 8, sb->auto_archive);
  sqlite3_bind_int64 (s, 9, sb->auto_delete);
  sqlite3_bind_int64 (s, 10, sb->created);
  sqlite3_bind_int64 (s, 11, sb->updated);
  sqlite3_bind_int64 (s, 12, sb->last_activity);
  if (sb->name)
    sqlite3_bind_text (s, 13, sb->name, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 14, sb->stopped_at);
  sqlite3_bind_text (s, 15, phase_names[sb->phase], -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 16, sb->memory_mb);
  sqlite3_bind_int64 (s, 17, sb->cpu_millis);
  sqlite3_bind_int64 (s, 18, sb->disk_mb);
  sqlite3_bind_int64 (s, 19, sb->auto_pause);
  if (sqlite3_step (s) != SQLITE_DONE)
    {
      if (sqlite3_extended_errcode (st->db) == SQLITE_CONSTRAINT_UNIQUE)
        return islet_fail (err, ISLET_E_CONFLICT, 0, "a sandbox named '%s' exists already",
                           sb->name ? sb->name : "");
      return store_db_fail (st, err, "save sandbox");
    }
  return 0;
}

static int sandbox_get_locked (struct islet_store *st, const char *id,
                               struct islet_store_sandbox *out, struct islet_err *err);

int
islet_store_sandbox_change (struct islet_store *st, struct islet_store_sandbox *row,
                            islet_store_change_fn fn, const void *arg, struct islet_err *err)
{
  STORE_LOCKED (st);
  struct islet_store_sandbox now = { 0 };

  /* the one connection and its lock: no other change comes between the
   * read and the write */
  if (sandbox_get_locked (st, row->id, &now, err) < 0 || fn (&now, arg, err) < 0
      || sandbox_put_locked (st, &now, err) < 0)
    {
      islet_store_sandbox_fini (&now);
      return -1;
    }
  islet_store_sandbox_fini (row);
  *row = now;
  return 0;
}

/* ISLET_E_LIMIT when one more sandbox like sb would take the key past a
 * bound of q, given what its sandboxes hold (in q's order). */
static int
quota_check (const struct islet_quota *q, const int64_t held[QUOTA_FIELDS],
             const struct islet_store_sandbox *sb, struct islet_err *err)
{
  static const struct
  {
    const char *what, *flag;
    double unit; /* shown in units of this many */
  } fields[QUOTA_FIELDS] = {
    { "sandboxes", "--max-sandboxes", 1 },
    { "MiB of memory", "--max-memory", 1 },
    { "CPUs", "--max-cpus", 1000 },
    { "MiB of disk", "--max-disk", 1 },
  };
  struct islet_quota bound = *q;
  const int64_t more[QUOTA_FIELDS] = { 1, sb->memory_mb, sb->cpu_millis, sb->disk_mb };

  for (size_t i = 0; i < QUOTA_FIELDS; i++)
    {
      int64_t max = *store_quota_field (&bound, i);
      if (max >= 0 && held[i] + more[i] > max)
        return islet_fail (err, ISLET_E_LIMIT, 0,
                           "over the key's quota: it may hold %g %s (%s), its sandboxes hold "
                           "%g, this one asks for %g",
                           (double) max / fields[i].unit, fields[i].what, fields[i].flag,
                           (double) held[i] / fields[i].unit, (double) more[i] / fields[i].unit);
    }
  return 0;
}

int
islet_store_sandbox_claim (struct islet_store *st, const struct islet_store_sandbox *sb,
                           const struct islet_quota *q, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  int64_t held[QUOTA_FIELDS];

  /* one connection under one lock: nothing is inserted between the sum and
   * the insert, so concurrent creates cannot pass the quota together */
  if (store_prepare (st,
                     "SELECT count(*), total(memory_mb), total(cpu_millis), total(disk_mb)"
                     " FROM sandboxes WHERE key_id = ?",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, sb->key_id);
  if (sqlite3_step (s) != SQLITE_ROW)
    return store_db_fail (st, err, "sum the key's sandboxes");
  for (int i = 0; i < QUOTA_FIELDS; i++)
    held[i] = sqlite3_column_int64 (s, i);
  if (quota_check (q, held, sb, err) < 0)
    return -1;
  return sandbox_put_locked (st, sb, err);
}

static char *
column_dup (sqlite3_stmt *s, int i)
{
  const unsigned char *t = sqlite3_column_text (s, i);
  return islet_xstrdup (t ? (const char *) t : "");
}

#define SANDBOX_COLUMNS                                                                            \
  "id, key_id, labels, env, language, target, auto_stop, auto_archive, auto_delete, created,"      \
  " updated, last_activity, name, stopped_at, phase, memory_mb, cpu_millis, disk_mb, auto_pause"

static void
row_read (sqlite3_stmt *s, void *row)
{
  struct islet_store_sandbox *out = row;

  memset (out, 0, sizeof *out);
  snprintf (out->id, sizeof out->id, "%s", (const char *) sqlite3_column_text (s, 0));
  out->key_id = sqlite3_column_int64 (s, 1);
  out->labels = column_dup (s, 2);
  out->env = column_dup (s, 3);
  out->language = column_dup (s, 4);
  out->target = column_dup (s, 5);
  out->auto_stop = sqlite3_column_int64 (s, 6);
  out->auto_archive = sqlite3_column_int64 (s, 7);
  out->auto_delete = sqlite3_column_int64 (s, 8);
  out->created = sqlite3_column_int64 (s, 9);
  out->updated = sqlite3_column_int64 (s, 10);
  out->last_activity = sqlite3_column_int64 (s, 11);
  if (sqlite3_column_type (s, 12) != SQLITE_NULL)
    out->name = column_dup (s, 12);
  out->stopped_at = sqlite3_column_int64 (s, 13);
  out->phase = phase_of (sqlite3_column_text (s, 14));
  out->memory_mb = sqlite3_column_int64 (s, 15);
  out->cpu_millis = sqlite3_column_int64 (s, 16);
  out->disk_mb = sqlite3_column_int64 (s, 17);
  out->auto_pause = sqlite3_column_int64 (s, 18);
}

static void
row_fini (void *row)
{
  islet_store_sandbox_fini (row);
}

static const struct store_row_kind sandbox_rows = { sizeof (struct islet_store_sandbox), row_read,
                                                    row_fini };

static int sandbox_find_locked (struct islet_store *st, int64_t key_id, const char *ref,
                                char id[ISLET_ID_LEN + 1], struct islet_err *err);

static char *
dup_or_null (const char *s)
{
  return s ? islet_xstrdup (s) : NULL;
}

static void
row_copy (const struct islet_store_sandbox *from, struct islet_store_sandbox *to)
{
  *to = *from;
  to->name = dup_or_null (from->name);
  to->labels = dup_or_null (from->labels);
  to->env = dup_or_null (from->env);
  to->language = dup_or_null (from->language);
  to->target = dup_or_null (from->target);
}

int
islet_store_sandbox_lookup (struct islet_store *st, int64_t key_id, const char *ref,
                            struct islet_store_sandbox *out, struct islet_err *err)
{
  STORE_LOCKED (st);
  char id[ISLET_ID_LEN + 1];
  struct cached_sandbox *c;

  if (store_caches_check (st, err) < 0)
    return -1;
  for (size_t i = 0; i < st->n_sandboxes; i++)
    {
      c = &st->sandboxes[i];
      if (c->key_id == key_id && strcmp (c->ref, ref) == 0)
        {
          row_copy (&c->row, out);
          return 0;
        }
    }
  if (sandbox_find_locked (st, key_id, ref, id, err) < 0
      || sandbox_get_locked (st, id, out, err) < 0)
    return -1;
  if (st->n_sandboxes == SANDBOXES_CACHED_MAX)
    store_sandboxes_forget (st);
  c = &st->sandboxes[st->n_sandboxes++];
  c->key_id = key_id;
  c->ref = islet_xstrdup (ref);
  row_copy (out, &c->row);
  return 0;
}

int
islet_store_sandbox_get (struct islet_store *st, const char *id, struct islet_store_sandbox *out,
                         struct islet_err *err)
{
  STORE_LOCKED (st);
  return sandbox_get_locked (st, id, out, err);
}

static int
sandbox_get_locked (struct islet_store *st, const char *id, struct islet_store_sandbox *out,
                    struct islet_err *err)
{
  cleanup_stmt sqlite3_stmt *s = NULL;
  int rc;

  if (store_prepare (st, "SELECT " SANDBOX_COLUMNS " FROM sandboxes WHERE id = ?", &s, err) < 0)
    return -1;
  sqlite3_bind_text (s, 1, id, -1, SQLITE_STATIC);
  rc = store_row (st, s, &sandbox_rows, out, "load sandbox", err);
  if (rc == 0)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox `%s` in the store", id);
  return rc < 0 ? -1 : 0;
}

void
islet_store_sandbox_list_free (struct islet_store_sandbox *rows, size_t n)
{
  for (size_t i = 0; i < n; i++)
    islet_store_sandbox_fini (&rows[i]);
  free (rows);
}

/* Every row a statement yields (*out malloc'd). */
static int
rows_read (struct islet_store *st, sqlite3_stmt *s, struct islet_store_sandbox **out, size_t *n,
           struct islet_err *err)
{
  void *rows;

  if (store_rows (st, s, &sandbox_rows, &rows, n, "list sandboxes", err) < 0)
    return -1;
  *out = rows;
  return 0;
}

int
islet_store_sandbox_list (struct islet_store *st, int64_t key_id, int64_t after_created,
                          const char *after_id, struct islet_store_sandbox **out, size_t *n,
                          struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;

  if (store_prepare (st,
                     "SELECT " SANDBOX_COLUMNS " FROM sandboxes WHERE (?1 < 0 OR key_id = ?1)"
                     " AND phase = 'ready'"
                     " AND (created > ?2 OR (created = ?2 AND id > ?3)) ORDER BY created, id",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, key_id);
  sqlite3_bind_int64 (s, 2, after_created);
  sqlite3_bind_text (s, 3, after_id ? after_id : "", -1, SQLITE_STATIC);
  return rows_read (st, s, out, n, err);
}

int
islet_store_sandbox_find (struct islet_store *st, int64_t key_id, const char *ref,
                          char id[ISLET_ID_LEN + 1], struct islet_err *err)
{
  STORE_LOCKED (st);
  return sandbox_find_locked (st, key_id, ref, id, err);
}

static int
sandbox_find_locked (struct islet_store *st, int64_t key_id, const char *ref,
                     char id[ISLET_ID_LEN + 1], struct islet_err *err)
{
  cleanup_stmt sqlite3_stmt *s = NULL;
  int rc;

  if (store_prepare (st,
                     "SELECT id FROM sandboxes WHERE key_id = ?1 AND (id = ?2 OR name = ?2)"
                     " AND phase IN ('ready', 'building', 'failed') ORDER BY id = ?2 DESC LIMIT 1",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, key_id);
  sqlite3_bind_text (s, 2, ref, -1, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc == SQLITE_DONE)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "sandbox '%s' not found", ref);
  if (rc != SQLITE_ROW)
    return store_db_fail (st, err, "find sandbox");
  snprintf (id, ISLET_ID_LEN + 1, "%s", (const char *) sqlite3_column_text (s, 0));
  return 0;
}

int
islet_store_sandbox_delete (struct islet_store *st, const char *id, struct islet_err *err)
{
  STORE_LOCKED (st);

  store_sandboxes_forget (st);
  if (store_run_key (st, "DELETE FROM sandboxes WHERE id = ?", id, "delete sandbox", err) < 0)
    return -1;
  return store_public_forget (st, id, err);
}

int
islet_store_sandbox_set_phase (struct islet_store *st, const char *id, enum islet_store_phase phase,
                               struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;

  if (store_prepare (st, "UPDATE sandboxes SET phase = ? WHERE id = ?", &s, err) < 0)
    return -1;
  store_sandboxes_forget (st);
  sqlite3_bind_text (s, 1, phase_names[phase], -1, SQLITE_STATIC);
  sqlite3_bind_text (s, 2, id, -1, SQLITE_STATIC);
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, "mark sandbox");
  if (sqlite3_changes (st->db) == 0)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox `%s` in the store", id);
  return 0;
}

int
islet_store_sandbox_unready (struct islet_store *st, struct islet_store_sandbox **out, size_t *n,
                             struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;

  if (store_prepare (st, "SELECT " SANDBOX_COLUMNS " FROM sandboxes WHERE phase != 'ready'", &s,
                     err)
      < 0)
    return -1;
  return rows_read (st, s, out, n, err);
}

int
islet_store_sandbox_set_stopped (struct islet_store *st, const char *id, int64_t when,
                                 struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;

  if (store_prepare (st, "UPDATE sandboxes SET stopped_at = ? WHERE id = ?", &s, err) < 0)
    return -1;
  store_sandboxes_forget (st);
  sqlite3_bind_int64 (s, 1, when);
  sqlite3_bind_text (s, 2, id, -1, SQLITE_STATIC);
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, "mark sandbox stopped");
  return 0;
}

int
islet_store_sandbox_touch (struct islet_store *st, const char *id, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;

  int64_t now = (int64_t) time (NULL);

  if (store_prepare (st, "UPDATE sandboxes SET last_activity = ? WHERE id = ?", &s, err) < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, (sqlite3_int64) now);
  sqlite3_bind_text (s, 2, id, -1, SQLITE_STATIC);
  if (sqlite3_step (s) != SQLITE_DONE)
    {
      store_sandboxes_forget (st);
      return store_db_fail (st, err, "touch sandbox");
    }
  /* the one column changed: the cached rows follow it rather than go */
  for (size_t i = 0; i < st->n_sandboxes; i++)
    if (strcmp (st->sandboxes[i].row.id, id) == 0)
      st->sandboxes[i].row.last_activity = now;
  return 0;
}

int
islet_store_sandbox_set_env (struct islet_store *st, const char *id, const char *env,
                             struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;

  if (store_prepare (st, "UPDATE sandboxes SET env = ?, updated = ? WHERE id = ?", &s, err) < 0)
    return -1;
  sqlite3_bind_text (s, 1, env, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 2, (sqlite3_int64) time (NULL));
  sqlite3_bind_text (s, 3, id, -1, SQLITE_STATIC);
  store_sandboxes_forget (st);
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, "set a sandbox's env");
  if (sqlite3_changes (st->db) == 0)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox %s", id);
  return 0;
}
