/* The store's volumes: which key owns which volume, under the name it
 * gave.  The volume itself is the core's (include/islet/volume.h), named
 * by the row's id, so two keys may each have a volume of one name. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "islet/util.h"
#include "store_internal.h"

/* Its own statement, run after the others' at open. */
const char store_volumes_schema[] = "CREATE TABLE IF NOT EXISTS volumes ("
                                    "  id TEXT PRIMARY KEY," /* a UUID: the core's volume name */
                                    "  key_id INTEGER NOT NULL REFERENCES api_keys(id),"
                                    "  name TEXT NOT NULL,"
                                    "  size_mb INTEGER NOT NULL,"
                                    "  created INTEGER NOT NULL,"
                                    "  UNIQUE (key_id, name));";

static void
row_read (sqlite3_stmt *s, void *row)
{
  struct islet_store_volume *v = row;

  memset (v, 0, sizeof *v);
  snprintf (v->id, sizeof v->id, "%s", (const char *) sqlite3_column_text (s, 0));
  v->key_id = sqlite3_column_int64 (s, 1);
  snprintf (v->name, sizeof v->name, "%s", (const char *) sqlite3_column_text (s, 2));
  v->size_mb = sqlite3_column_int64 (s, 3);
  v->created = sqlite3_column_int64 (s, 4);
}

static const struct store_row_kind volume_rows = { sizeof (struct islet_store_volume), row_read,
                                                   NULL };

int
islet_store_volume_claim (struct islet_store *st, const struct islet_store_volume *v,
                          int64_t max_count, int64_t max_mb, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *sum = NULL;
  cleanup_stmt sqlite3_stmt *s = NULL;
  int64_t count, mb;

  /* a name taken is the answer even when the quota is full too */
  if (store_prepare (st,
                     "SELECT count(*), coalesce(sum(size_mb), 0), count(name = ?2 OR NULL)"
                     " FROM volumes WHERE key_id = ?1",
                     &sum, err)
      < 0)
    return -1;
  sqlite3_bind_int64 (sum, 1, v->key_id);
  sqlite3_bind_text (sum, 2, v->name, -1, SQLITE_STATIC);
  if (sqlite3_step (sum) != SQLITE_ROW)
    return store_db_fail (st, err, "sum the key's volumes");
  count = sqlite3_column_int64 (sum, 0);
  mb = sqlite3_column_int64 (sum, 1);
  if (sqlite3_column_int64 (sum, 2) > 0)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "volume `%s` exists", v->name);
  if (max_count >= 0 && count + 1 > max_count)
    return islet_fail (err, ISLET_E_LIMIT, 0,
                       "the key's quota of %lld volumes is reached (it has %lld)",
                       (long long) max_count, (long long) count);
  if (max_mb >= 0 && mb + v->size_mb > max_mb)
    return islet_fail (err, ISLET_E_LIMIT, 0,
                       "the key's quota of %lld MiB of volumes would be passed: %lld MiB are "
                       "held and %lld MiB asked",
                       (long long) max_mb, (long long) mb, (long long) v->size_mb);
  if (store_prepare (st,
                     "INSERT INTO volumes (id, key_id, name, size_mb, created)"
                     " VALUES (?, ?, ?, ?, ?)",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_text (s, 1, v->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 2, v->key_id);
  sqlite3_bind_text (s, 3, v->name, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 4, v->size_mb);
  sqlite3_bind_int64 (s, 5, v->created);
  if (sqlite3_step (s) != SQLITE_DONE)
    {
      if (sqlite3_extended_errcode (st->db) == SQLITE_CONSTRAINT_UNIQUE)
        return islet_fail (err, ISLET_E_CONFLICT, 0, "volume `%s` exists", v->name);
      return store_db_fail (st, err, "insert volume");
    }
  return 0;
}

int
islet_store_volume_find (struct islet_store *st, int64_t key_id, const char *ref, bool by_name,
                         struct islet_store_volume *out, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *by_id_s = NULL;
  cleanup_stmt sqlite3_stmt *by_name_s = NULL;
  sqlite3_stmt *s;
  int rc;

  if (by_name)
    rc = store_prepare (st,
                        "SELECT id, key_id, name, size_mb, created FROM volumes"
                        " WHERE key_id = ? AND name = ?",
                        &by_name_s, err);
  else
    rc = store_prepare (st,
                        "SELECT id, key_id, name, size_mb, created FROM volumes"
                        " WHERE key_id = ? AND id = ?",
                        &by_id_s, err);
  if (rc < 0)
    return -1;
  s = by_name ? by_name_s : by_id_s;
  sqlite3_bind_int64 (s, 1, key_id);
  sqlite3_bind_text (s, 2, ref, -1, SQLITE_STATIC);
  rc = store_row (st, s, &volume_rows, out, "find volume", err);
  if (rc == 0)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no volume '%s'", ref);
  return rc < 0 ? -1 : 0;
}

int
islet_store_volume_list (struct islet_store *st, int64_t key_id, struct islet_store_volume **out,
                         size_t *n, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  void *rows;

  if (store_prepare (st,
                     "SELECT id, key_id, name, size_mb, created FROM volumes WHERE key_id = ?"
                     " ORDER BY created, rowid",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, key_id);
  if (store_rows (st, s, &volume_rows, &rows, n, "list volumes", err) < 0)
    return -1;
  *out = rows;
  return 0;
}

int
islet_store_volume_delete (struct islet_store *st, const char *id, struct islet_err *err)
{
  STORE_LOCKED (st);
  return store_run_key (st, "DELETE FROM volumes WHERE id = ?", id, "delete volume", err);
}
