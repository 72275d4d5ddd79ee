/* Daytona's snapshots in the store (see store.h): a key's names for an
 * image or for a snapshot of a sandbox's files. */
#include <string.h>
#include <time.h>

#include "islet/util.h"
#include "store_internal.h"

#define SNAPSHOT_COLUMNS "id, key_id, name, image, core, source, state, error, created, updated"

void
islet_store_snapshot_fini (struct islet_store_snapshot *s)
{
  free (s->name);
  free (s->image);
  free (s->core);
  free (s->source);
  free (s->state);
  free (s->error);
  memset (s, 0, sizeof *s);
}

/* A text column, malloc'd; NULL for NULL. */
static char *
text_or_null (sqlite3_stmt *s, int i)
{
  const unsigned char *t = sqlite3_column_text (s, i);
  return t ? islet_xstrdup ((const char *) t) : NULL;
}

static void
snapshot_read (sqlite3_stmt *s, void *row)
{
  struct islet_store_snapshot *out = row;

  memset (out, 0, sizeof *out);
  snprintf (out->id, sizeof out->id, "%s", (const char *) sqlite3_column_text (s, 0));
  out->key_id = sqlite3_column_int64 (s, 1);
  out->name = text_or_null (s, 2);
  out->image = text_or_null (s, 3);
  out->core = text_or_null (s, 4);
  out->source = text_or_null (s, 5);
  out->state = text_or_null (s, 6);
  out->error = text_or_null (s, 7);
  out->created = sqlite3_column_int64 (s, 8);
  out->updated = sqlite3_column_int64 (s, 9);
}

static void
snapshot_fini (void *row)
{
  islet_store_snapshot_fini (row);
}

static const struct store_row_kind snapshot_rows = { sizeof (struct islet_store_snapshot),
                                                     snapshot_read, snapshot_fini };

static void
bind_or_null (sqlite3_stmt *s, int i, const char *v)
{
  if (v)
    sqlite3_bind_text (s, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (s, i);
}

int
islet_store_snapshot_add (struct islet_store *st, const struct islet_store_snapshot *sn,
                          struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  int rc;

  if (store_prepare (
          st, "INSERT INTO snapshots (" SNAPSHOT_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?)", &s, err)
      < 0)
    return -1;
  sqlite3_bind_text (s, 1, sn->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 2, sn->key_id);
  sqlite3_bind_text (s, 3, sn->name, -1, SQLITE_STATIC);
  sqlite3_bind_text (s, 4, sn->image, -1, SQLITE_STATIC);
  bind_or_null (s, 5, sn->core);
  bind_or_null (s, 6, sn->source);
  sqlite3_bind_text (s, 7, sn->state, -1, SQLITE_STATIC);
  bind_or_null (s, 8, sn->error);
  sqlite3_bind_int64 (s, 9, sn->created);
  sqlite3_bind_int64 (s, 10, sn->updated);
  rc = sqlite3_step (s);
  if (rc == SQLITE_CONSTRAINT)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "a snapshot named '%s' exists", sn->name);
  if (rc != SQLITE_DONE)
    return store_db_fail (st, err, "add snapshot");
  return 0;
}

int
islet_store_snapshot_get (struct islet_store *st, int64_t key_id, const char *ref,
                          struct islet_store_snapshot *out, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  int rc;

  /* the id first: a name may look like another snapshot's id */
  if (store_prepare (st,
                     "SELECT " SNAPSHOT_COLUMNS " FROM snapshots WHERE key_id = ?1 AND"
                     " (id = ?2 OR name = ?2) ORDER BY id = ?2 DESC LIMIT 1",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, key_id);
  sqlite3_bind_text (s, 2, ref, -1, SQLITE_STATIC);
  rc = store_row (st, s, &snapshot_rows, out, "find snapshot", err);
  if (rc == 0)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no snapshot '%s'", ref);
  return rc < 0 ? -1 : 0;
}

int
islet_store_snapshot_list (struct islet_store *st, int64_t key_id,
                           struct islet_store_snapshot **out, size_t *n, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  void *rows;

  if (store_prepare (st,
                     "SELECT " SNAPSHOT_COLUMNS " FROM snapshots WHERE ?1 < 0 OR key_id = ?1"
                     " ORDER BY created, rowid",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, key_id);
  if (store_rows (st, s, &snapshot_rows, &rows, n, "list snapshots", err) < 0)
    return -1;
  *out = rows;
  return 0;
}

int
islet_store_snapshot_set_state (struct islet_store *st, const char *id, const char *state,
                                const char *error, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;

  if (store_prepare (st, "UPDATE snapshots SET state = ?, error = ?, updated = ? WHERE id = ?", &s,
                     err)
      < 0)
    return -1;
  sqlite3_bind_text (s, 1, state, -1, SQLITE_STATIC);
  bind_or_null (s, 2, error);
  sqlite3_bind_int64 (s, 3, (int64_t) time (NULL));
  sqlite3_bind_text (s, 4, id, -1, SQLITE_STATIC);
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, "mark snapshot");
  return 0;
}

int
islet_store_snapshot_built (struct islet_store *st, const char *id, const char *image,
                            struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;

  if (store_prepare (st,
                     "UPDATE snapshots SET image = ?, state = 'active', error = NULL, updated = ? "
                     "WHERE id = ?",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_text (s, 1, image, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 2, (int64_t) time (NULL));
  sqlite3_bind_text (s, 3, id, -1, SQLITE_STATIC);
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, "mark snapshot built");
  return 0;
}

int
islet_store_snapshot_delete (struct islet_store *st, const char *id, struct islet_err *err)
{
  STORE_LOCKED (st);
  return store_run_key (st, "DELETE FROM snapshots WHERE id = ?", id, "delete snapshot", err);
}

/* ---- archived sandboxes ---- */

int
islet_store_sandbox_archived (struct islet_store *st, const char *id, bool *out,
                              struct islet_err *err)
{
  STORE_LOCKED (st);
  return store_row_exists (st, "SELECT 1 FROM sandbox_archived WHERE id = ?", id, out,
                           "read the archived mark", err);
}

int
islet_store_sandbox_set_archived (struct islet_store *st, const char *id, bool on,
                                  struct islet_err *err)
{
  STORE_LOCKED (st);
  return store_run_key (st,
                        on ? "INSERT OR IGNORE INTO sandbox_archived (id) VALUES (?)"
                           : "DELETE FROM sandbox_archived WHERE id = ?",
                        id, "mark the sandbox archived", err);
}
