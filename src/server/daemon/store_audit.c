/* The audit log of the store (see store.h): written, listed and kept
 * within its bounds. */
#include <string.h>
#include <time.h>

#include "islet/util.h"
#include "store_internal.h"

/* The audit log is pruned a batch at a time, every AUDIT_PRUNE_EVERY
 * records written, so that no write waits for a long delete: 90 MB an hour
 * under steady load would otherwise fill the state directory's disk. */
#define AUDIT_PRUNE_EVERY 256
#define AUDIT_PRUNE_BATCH 10000

void
islet_store_audit_bounds (struct islet_store *st, int64_t max_age_s, int64_t max_rows)
{
  STORE_LOCKED (st);
  st->audit_max_age_s = max_age_s;
  st->audit_max_rows = max_rows;
}

/* One batch of records older than the age bound, or past the newest
 * max_rows; the number deleted, -1 on a failure (the lock held). */
static int
prune_batch (struct islet_store *st, struct islet_err *err)
{
  static const char *const sql[] = {
    "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE time < ? ORDER BY id LIMIT ?)",
    "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE id <= "
    "(SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?) ORDER BY id LIMIT ?)",
  };
  struct timespec ts;
  int64_t bound[2];
  int n = 0;

  clock_gettime (CLOCK_REALTIME, &ts);
  bound[0] = st->audit_max_age_s > 0 ? ((int64_t) ts.tv_sec - st->audit_max_age_s) * 1000 : 0;
  bound[1] = st->audit_max_rows;
  for (int i = 0; i < 2; i++)
    {
      cleanup_stmt sqlite3_stmt *s = NULL;

      if (bound[i] <= 0)
        continue;
      if (store_prepare (st, sql[i], &s, err) < 0)
        return -1;
      sqlite3_bind_int64 (s, 1, bound[i]);
      sqlite3_bind_int (s, 2, AUDIT_PRUNE_BATCH);
      if (sqlite3_step (s) != SQLITE_DONE)
        return store_db_fail (st, err, "prune the audit log");
      n += sqlite3_changes (st->db);
    }
  return n;
}

int
islet_store_audit_prune (struct islet_store *st, int64_t *deleted, struct islet_err *err)
{
  STORE_LOCKED (st);
  int n;

  *deleted = 0;
  /* bounded: 1000 batches is ten million records */
  for (int i = 0; i < 1000; i++)
    {
      if ((n = prune_batch (st, err)) < 0)
        return -1;
      *deleted += n;
      if (n == 0)
        break;
    }
  return 0;
}

uint64_t
islet_store_audit_lost (struct islet_store *st)
{
  STORE_LOCKED (st);
  return st->audit_lost;
}

int
islet_store_audit_add (struct islet_store *st, const struct islet_audit *a, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  struct timespec ts;
  struct islet_err ignored;

  /* before the record: a full disk may take a delete when it takes no
   * insert, and the deleted pages are reused */
  if (++st->audit_adds % AUDIT_PRUNE_EVERY == 0)
    (void) prune_batch (st, &ignored);

  clock_gettime (CLOCK_REALTIME, &ts);
  if (store_prepare (st,
                     "INSERT INTO audit(time, key_id, sandbox, action, status, result, duration_ms)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, (sqlite3_int64) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
  sqlite3_bind_int64 (s, 2, a->key_id);
  sqlite3_bind_text (s, 3, a->sandbox ? a->sandbox : "", -1, SQLITE_STATIC);
  sqlite3_bind_text (s, 4, a->action, -1, SQLITE_STATIC);
  sqlite3_bind_int (s, 5, a->status);
  sqlite3_bind_text (s, 6, a->result, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 7, a->duration_ms);
  if (sqlite3_step (s) != SQLITE_DONE)
    {
      st->audit_lost++;
      return store_db_fail (st, err, "write audit record");
    }
  return 0;
}

int
islet_store_audit_list (struct islet_store *st, int64_t key_id, const char *sandbox, int limit,
                        json_t **out, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  json_t *a;
  int rc;

  if (store_prepare (st,
                     "SELECT id, time, sandbox, action, status, result, duration_ms FROM audit"
                     " WHERE key_id = ? AND (?2 IS NULL OR sandbox = ?2) ORDER BY id DESC LIMIT ?3",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, key_id);
  if (sandbox)
    sqlite3_bind_text (s, 2, sandbox, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (s, 2);
  sqlite3_bind_int (s, 3, limit);
  a = json_array ();
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      sqlite3_int64 ms = sqlite3_column_int64 (s, 1);
      time_t secs = (time_t) (ms / 1000);
      struct tm tm;
      char when[64];

      gmtime_r (&secs, &tm);
      snprintf (when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (ms % 1000));
      json_array_append_new (a, json_pack ("{s:I,s:s,s:s,s:s,s:i,s:s,s:I}", "id",
                                           (json_int_t) sqlite3_column_int64 (s, 0), "time", when,
                                           "sandboxId", (const char *) sqlite3_column_text (s, 2),
                                           "action", (const char *) sqlite3_column_text (s, 3),
                                           "status", sqlite3_column_int (s, 4), "result",
                                           (const char *) sqlite3_column_text (s, 5), "durationMs",
                                           (json_int_t) sqlite3_column_int64 (s, 6)));
    }
  if (rc != SQLITE_DONE)
    {
      json_decref (a);
      return store_db_fail (st, err, "read audit log");
    }
  *out = a;
  return 0;
}
