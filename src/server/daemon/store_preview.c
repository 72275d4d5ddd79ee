/* Which sandboxes are public (store.h): their preview links need no token. */
#include "store_internal.h"

int
islet_store_sandbox_public (struct islet_store *st, const char *id, bool *out,
                            struct islet_err *err)
{
  cleanup_stmt sqlite3_stmt *s = NULL;
  int rc;

  STORE_LOCKED (st);
  if (store_prepare (st, "SELECT 1 FROM sandbox_public WHERE id = ?", &s, err) < 0)
    return -1;
  sqlite3_bind_text (s, 1, id, -1, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return store_db_fail (st, err, "read whether a sandbox is public");
  *out = rc == SQLITE_ROW;
  return 0;
}

int
store_public_forget (struct islet_store *st, const char *id, struct islet_err *err)
{
  cleanup_stmt sqlite3_stmt *s = NULL;

  if (store_prepare (st, "DELETE FROM sandbox_public WHERE id = ?", &s, err) < 0)
    return -1;
  sqlite3_bind_text (s, 1, id, -1, SQLITE_STATIC);
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, "forget whether a sandbox was public");
  return 0;
}

int
islet_store_sandbox_set_public (struct islet_store *st, const char *id, bool on,
                                struct islet_err *err)
{
  cleanup_stmt sqlite3_stmt *s = NULL;

  STORE_LOCKED (st);
  if (store_prepare (st,
                     on ? "INSERT OR IGNORE INTO sandbox_public (id) VALUES (?)"
                        : "DELETE FROM sandbox_public WHERE id = ?",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_text (s, 1, id, -1, SQLITE_STATIC);
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, "set whether a sandbox is public");
  return 0;
}
