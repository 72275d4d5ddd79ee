/* The store's sandbox_ttl table: when a sandbox is destroyed whatever its
 * state (setTtl).  Apart from the sandboxes table, so that a row's other
 * fields never carry it. */
#include <string.h>

#include "islet/util.h"
#include "store_internal.h"

int
islet_store_ttl_set (struct islet_store *st, const char *id, int64_t destroy_at,
                     struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  int rc;

  rc = destroy_at
           ? store_prepare (st,
                            "INSERT INTO sandbox_ttl (id, destroy_at) VALUES (?, ?) "
                            "ON CONFLICT (id) DO UPDATE SET destroy_at = excluded.destroy_at",
                            &s, err)
           : store_prepare (st, "DELETE FROM sandbox_ttl WHERE id = ?", &s, err);
  if (rc < 0)
    return -1;
  sqlite3_bind_text (s, 1, id, -1, SQLITE_STATIC);
  if (destroy_at)
    sqlite3_bind_int64 (s, 2, (sqlite3_int64) destroy_at);
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, "set a sandbox's time to live");
  return 0;
}

int
islet_store_ttl_get (struct islet_store *st, const char *id, int64_t *destroy_at,
                     struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  int rc;

  *destroy_at = 0;
  if (store_prepare (st, "SELECT destroy_at FROM sandbox_ttl WHERE id = ?", &s, err) < 0)
    return -1;
  sqlite3_bind_text (s, 1, id, -1, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    *destroy_at = sqlite3_column_int64 (s, 0);
  else if (rc != SQLITE_DONE)
    return store_db_fail (st, err, "read a sandbox's time to live");
  return 0;
}

int
islet_store_ttl_due (struct islet_store *st, int64_t now, char (**ids)[ISLET_ID_LEN + 1], size_t *n,
                     struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  size_t cap = 0;
  int rc;

  *ids = NULL;
  *n = 0;
  if (store_prepare (st, "SELECT id FROM sandbox_ttl WHERE destroy_at <= ? ORDER BY destroy_at", &s,
                     err)
      < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, (sqlite3_int64) now);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      const char *id = (const char *) sqlite3_column_text (s, 0);

      if (id == NULL || strlen (id) != ISLET_ID_LEN)
        continue;
      if (*n == cap)
        *ids = islet_xrealloc (*ids, (cap = cap ? cap * 2 : 8) * sizeof **ids);
      memcpy ((*ids)[(*n)++], id, ISLET_ID_LEN + 1);
    }
  if (rc != SQLITE_DONE)
    {
      free (*ids);
      *ids = NULL;
      *n = 0;
      return store_db_fail (st, err, "list the sandboxes whose time to live is over");
    }
  return 0;
}
