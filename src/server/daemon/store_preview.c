/* Which sandboxes are public (store.h): their preview links need no token;
 * and the signed preview URLs expired by their owners. */
#include "store_internal.h"

int
islet_store_sandbox_public (struct islet_store *st, const char *id, bool *out,
                            struct islet_err *err)
{
  STORE_LOCKED (st);
  return store_row_exists (st, "SELECT 1 FROM sandbox_public WHERE id = ?", id, out,
                           "read whether a sandbox is public", err);
}

int
store_public_forget (struct islet_store *st, const char *id, struct islet_err *err)
{
  return store_run_key (st, "DELETE FROM sandbox_public WHERE id = ?", id,
                        "forget whether a sandbox was public", err);
}

int
islet_store_sandbox_set_public (struct islet_store *st, const char *id, bool on,
                                struct islet_err *err)
{
  STORE_LOCKED (st);
  return store_run_key (st,
                        on ? "INSERT OR IGNORE INTO sandbox_public (id) VALUES (?)"
                           : "DELETE FROM sandbox_public WHERE id = ?",
                        id, "set whether a sandbox is public", err);
}

int
islet_store_preview_expire (struct islet_store *st, const char *mac, int64_t expires, int64_t now,
                            struct islet_err *err)
{
  cleanup_stmt sqlite3_stmt *prune = NULL;
  cleanup_stmt sqlite3_stmt *s = NULL;

  STORE_LOCKED (st);
  if (store_prepare (st, "DELETE FROM preview_expired WHERE expires < ?", &prune, err) < 0)
    return -1;
  sqlite3_bind_int64 (prune, 1, now);
  if (sqlite3_step (prune) != SQLITE_DONE)
    return store_db_fail (st, err, "prune the expired preview URLs");
  if (store_prepare (st, "INSERT OR IGNORE INTO preview_expired (mac, expires) VALUES (?, ?)", &s,
                     err)
      < 0)
    return -1;
  sqlite3_bind_text (s, 1, mac, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 2, expires);
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, "expire a preview URL");
  return 0;
}

int
islet_store_preview_expired (struct islet_store *st, const char *mac, bool *out,
                             struct islet_err *err)
{
  STORE_LOCKED (st);
  return store_row_exists (st, "SELECT 1 FROM preview_expired WHERE mac = ?", mac, out,
                           "read whether a preview URL was expired", err);
}
