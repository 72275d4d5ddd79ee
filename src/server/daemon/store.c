/* The SQLite store (see store.h): keys, sandboxes, /v1 defaults; the audit
 * log is store_audit.c.  One connection, serialized by a mutex: every
 * operation is a statement or two, far shorter than the sandbox work around
 * it.  WAL lets readers (the sqlite3 shell, backups) in meanwhile. */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "islet/report.h"
#include "islet/util.h"
#include "store_internal.h"

/* A cached statement is reset at the end of its use (under the store's
 * lock, which every function takes before its statement), not finalized. */
void
store_resetp (sqlite3_stmt **s)
{
  if (*s)
    {
      sqlite3_reset (*s);
      sqlite3_clear_bindings (*s);
    }
}

void
store_finalizep (sqlite3_stmt **s)
{
  if (*s)
    sqlite3_finalize (*s);
}

int
store_db_fail (struct islet_store *st, struct islet_err *err, const char *what)
{
  return islet_fail (err, ISLET_E_SYSTEM, 0, "%s: %s", what, sqlite3_errmsg (st->db));
}

void
store_unlockp (struct islet_store **st)
{
  if (*st)
    pthread_mutex_unlock (&(*st)->lock);
}

int
store_prepare (struct islet_store *st, const char *sql, sqlite3_stmt **out, struct islet_err *err)
{
  for (size_t i = 0; i < st->n_cache; i++)
    if (st->cache[i].sql == sql)
      {
        *out = st->cache[i].stmt;
        return 0;
      }
  if (st->n_cache == STMT_CACHE_MAX)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "more than %d statements", STMT_CACHE_MAX);
  if (sqlite3_prepare_v3 (st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
    return store_db_fail (st, err, "store_prepare statement");
  st->cache[st->n_cache].sql = sql;
  st->cache[st->n_cache].stmt = *out;
  st->n_cache++;
  return 0;
}

int
store_run_key (struct islet_store *st, const char *sql, const char *key, const char *what,
               struct islet_err *err)
{
  cleanup_stmt sqlite3_stmt *s = NULL;

  if (store_prepare (st, sql, &s, err) < 0)
    return -1;
  sqlite3_bind_text (s, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, what);
  return 0;
}

int
store_row_exists (struct islet_store *st, const char *sql, const char *key, bool *out,
                  const char *what, struct islet_err *err)
{
  cleanup_stmt sqlite3_stmt *s = NULL;
  int rc;

  if (store_prepare (st, sql, &s, err) < 0)
    return -1;
  sqlite3_bind_text (s, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return store_db_fail (st, err, what);
  *out = rc == SQLITE_ROW;
  return 0;
}

int
store_rows (struct islet_store *st, sqlite3_stmt *s, const struct store_row_kind *k, void **out,
            size_t *n, const char *what, struct islet_err *err)
{
  char *v = NULL;
  size_t count = 0, cap = 0;
  int rc;

  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      if (count == cap)
        v = islet_xrealloc (v, (cap = cap ? 2 * cap : 16) * k->size);
      k->read (s, v + count++ * k->size);
    }
  if (rc != SQLITE_DONE)
    {
      for (size_t i = 0; k->fini && i < count; i++)
        k->fini (v + i * k->size);
      free (v);
      return store_db_fail (st, err, what);
    }
  *out = v;
  *n = count;
  return 0;
}

int
store_row (struct islet_store *st, sqlite3_stmt *s, const struct store_row_kind *k, void *row,
           const char *what, struct islet_err *err)
{
  int rc = sqlite3_step (s);

  if (rc == SQLITE_DONE)
    return 0;
  if (rc != SQLITE_ROW)
    return store_db_fail (st, err, what);
  k->read (s, row);
  return 1;
}

static const char schema[]
    = "CREATE TABLE IF NOT EXISTS api_keys ("
      "  id INTEGER PRIMARY KEY,"
      "  hash TEXT NOT NULL UNIQUE," /* hex SHA-256 of the key; the key itself is never stored */
      "  name TEXT NOT NULL DEFAULT '',"
      "  created INTEGER NOT NULL,"
      "  revoked INTEGER," /* unix seconds, NULL while valid */
      /* the key's quota (struct islet_quota); NULL: the server's default */
      "  max_sandboxes INTEGER, max_memory_mb INTEGER, max_cpu_millis INTEGER,"
      "  max_disk_mb INTEGER);"
      "CREATE TABLE IF NOT EXISTS sandboxes ("
      "  id TEXT PRIMARY KEY,"
      "  key_id INTEGER NOT NULL REFERENCES api_keys(id),"
      "  name TEXT," /* the Daytona name: unique per key (organization), not global */
      "  labels TEXT NOT NULL DEFAULT '{}',"
      "  env TEXT NOT NULL DEFAULT '{}',"
      "  language TEXT NOT NULL DEFAULT 'python',"
      "  target TEXT NOT NULL DEFAULT 'local',"
      "  auto_stop INTEGER NOT NULL DEFAULT 0,"
      "  auto_archive INTEGER NOT NULL DEFAULT 0,"
      "  auto_delete INTEGER NOT NULL DEFAULT -1,"
      "  created INTEGER NOT NULL,"
      "  updated INTEGER NOT NULL,"
      "  last_activity INTEGER NOT NULL,"
      "  stopped_at INTEGER NOT NULL DEFAULT 0," /* when first seen stopped; 0 while running */
      "  phase TEXT NOT NULL DEFAULT 'ready',"   /* enum islet_store_phase */
      "  memory_mb INTEGER NOT NULL DEFAULT 0,"  /* its share of the key's quota */
      "  cpu_millis INTEGER NOT NULL DEFAULT 0,"
      "  disk_mb INTEGER NOT NULL DEFAULT 0,"
      "  auto_pause INTEGER NOT NULL DEFAULT 0,"
      "  UNIQUE (key_id, name));"
      "CREATE INDEX IF NOT EXISTS sandboxes_key ON sandboxes(key_id);"
      "CREATE TABLE IF NOT EXISTS audit ("
      "  id INTEGER PRIMARY KEY,"
      "  time INTEGER NOT NULL," /* unix milliseconds */
      "  key_id INTEGER NOT NULL,"
      "  sandbox TEXT NOT NULL DEFAULT '',"
      "  action TEXT NOT NULL,"
      "  status INTEGER NOT NULL,"
      "  result TEXT NOT NULL,"
      "  duration_ms INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS audit_key ON audit(key_id, id);"
      /* added after the first schema: IF NOT EXISTS adds it to an older store */
      "CREATE TABLE IF NOT EXISTS v1_config ("
      "  key_id INTEGER PRIMARY KEY REFERENCES api_keys(id),"
      "  config TEXT NOT NULL);" /* a JSON object: the key's /v1 defaults */
      /* the sandboxes made with `public: true` (their previews need no token) */
      "CREATE TABLE IF NOT EXISTS sandbox_public (id TEXT PRIMARY KEY);"
      /* signed preview URLs expired before their time, kept until it */
      "CREATE TABLE IF NOT EXISTS preview_expired ("
      "  mac TEXT PRIMARY KEY,"
      "  expires INTEGER NOT NULL);"
      /* a sandbox's time to live (setTtl): destroyed at that unix second */
      "CREATE TABLE IF NOT EXISTS sandbox_ttl (id TEXT PRIMARY KEY, destroy_at INTEGER NOT NULL);"
      /* Daytona's snapshots (store_snapshot.c) */
      "CREATE TABLE IF NOT EXISTS snapshots ("
      "  id TEXT PRIMARY KEY,"
      "  key_id INTEGER NOT NULL REFERENCES api_keys(id),"
      "  name TEXT NOT NULL,"
      "  image TEXT NOT NULL," /* the image as named, or the sandbox's image id */
      "  core TEXT,"           /* the core's snapshot of a sandbox's files; NULL: an image */
      "  source TEXT,"         /* the sandbox it was taken of */
      "  state TEXT NOT NULL,"
      "  error TEXT,"
      "  created INTEGER NOT NULL,"
      "  updated INTEGER NOT NULL,"
      "  UNIQUE (key_id, name));"
      /* the stopped sandboxes archived (sandbox.archive()) until their next start */
      "CREATE TABLE IF NOT EXISTS sandbox_archived (id TEXT PRIMARY KEY);";

static void
keys_forget (struct islet_store *st)
{
  st->n_keys = 0;
}

/* Under the lock, before a cached answer is used: empty the caches if
 * another connection has committed since the last look. */
int
store_caches_check (struct islet_store *st, struct islet_err *err)
{
  cleanup_stmt sqlite3_stmt *s = NULL;
  int64_t v;

  if (store_prepare (st, "PRAGMA data_version", &s, err) < 0)
    return -1;
  if (sqlite3_step (s) != SQLITE_ROW)
    return store_db_fail (st, err, "read the data version");
  v = sqlite3_column_int64 (s, 0);
  if (v != st->data_version)
    {
      keys_forget (st);
      store_sandboxes_forget (st);
      st->data_version = v;
    }
  return 0;
}

/* Columns added since the first schema, for a store made by an older
 * isletd (CREATE TABLE IF NOT EXISTS leaves an existing table alone). */
static int
migrate (struct islet_store *st, char **msg)
{
  static const struct
  {
    const char *table, *column, *sql;
  } added[] = {
    { "sandboxes", "name",
      "ALTER TABLE sandboxes ADD COLUMN name TEXT;"
      "CREATE UNIQUE INDEX IF NOT EXISTS sandboxes_name ON sandboxes(key_id, name);" },
    { "sandboxes", "stopped_at",
      "ALTER TABLE sandboxes ADD COLUMN stopped_at INTEGER NOT NULL DEFAULT 0;" },
    { "sandboxes", "phase",
      "ALTER TABLE sandboxes ADD COLUMN phase TEXT NOT NULL DEFAULT 'ready';" },
    { "sandboxes", "memory_mb",
      "ALTER TABLE sandboxes ADD COLUMN memory_mb INTEGER NOT NULL DEFAULT 0;"
      "ALTER TABLE sandboxes ADD COLUMN cpu_millis INTEGER NOT NULL DEFAULT 0;"
      "ALTER TABLE sandboxes ADD COLUMN disk_mb INTEGER NOT NULL DEFAULT 0;" },
    { "api_keys", "max_sandboxes",
      "ALTER TABLE api_keys ADD COLUMN max_sandboxes INTEGER;"
      "ALTER TABLE api_keys ADD COLUMN max_memory_mb INTEGER;"
      "ALTER TABLE api_keys ADD COLUMN max_cpu_millis INTEGER;"
      "ALTER TABLE api_keys ADD COLUMN max_disk_mb INTEGER;" },
    { "sandboxes", "auto_pause",
      "ALTER TABLE sandboxes ADD COLUMN auto_pause INTEGER NOT NULL DEFAULT 0;" },
    /* the quota of a key's volumes (store_volume.c) */
    { "api_keys", "max_volumes",
      "ALTER TABLE api_keys ADD COLUMN max_volumes INTEGER;"
      "ALTER TABLE api_keys ADD COLUMN max_volume_mb INTEGER;" },
  };

  for (size_t i = 0; i < sizeof added / sizeof added[0]; i++)
    {
      cleanup_stmt_once sqlite3_stmt *s = NULL;
      int rc;

      if (sqlite3_prepare_v2 (st->db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &s,
                              NULL)
          != SQLITE_OK)
        return -1;
      sqlite3_bind_text (s, 1, added[i].table, -1, SQLITE_STATIC);
      sqlite3_bind_text (s, 2, added[i].column, -1, SQLITE_STATIC);
      rc = sqlite3_step (s);
      if (rc == SQLITE_DONE && sqlite3_exec (st->db, added[i].sql, NULL, NULL, msg) != SQLITE_OK)
        return -1;
      if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return -1;
    }
  return 0;
}

int
islet_store_open (const char *path, struct islet_store **out, struct islet_err *err)
{
  struct islet_store *st = islet_xcalloc (1, sizeof *st);
  char *msg = NULL;
  int fd;

  /* create it 0600 before SQLite does: it holds key hashes and the audit log */
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      free (st);
      return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
    }
  close (fd);
  if (sqlite3_open_v2 (path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL)
      != SQLITE_OK)
    {
      islet_fail (err, ISLET_E_SYSTEM, 0, "open `%s`: %s", path,
                  st->db ? sqlite3_errmsg (st->db) : "out of memory");
      sqlite3_close (st->db);
      free (st);
      return -1;
    }
  sqlite3_busy_timeout (st->db, 5000);
  /* WAL with synchronous=NORMAL: a commit is in the WAL file (the OS's page
   * cache) before it returns, so a crash or kill -9 of isletd loses nothing;
   * only a power loss may drop the last commits, never corrupt the store.
   * FULL would add an fsync to every request that records activity or
   * audits. */
  if (sqlite3_exec (st->db,
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON;",
                    NULL, NULL, &msg)
          != SQLITE_OK
      || sqlite3_exec (st->db, schema, NULL, NULL, &msg) != SQLITE_OK
      || sqlite3_exec (st->db, store_volumes_schema, NULL, NULL, &msg) != SQLITE_OK)
    {
      islet_fail (err, ISLET_E_SYSTEM, 0, "set up `%s`: %s", path, msg ? msg : "unknown error");
      sqlite3_free (msg);
      sqlite3_close (st->db);
      free (st);
      return -1;
    }
  if (migrate (st, &msg) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, 0, "upgrade `%s`: %s", path, msg ? msg : "unknown error");
      sqlite3_free (msg);
      sqlite3_close (st->db);
      free (st);
      return -1;
    }
  pthread_mutex_init (&st->lock, NULL);
  st->data_version = -1;
  st->sandboxes = islet_xcalloc (SANDBOXES_CACHED_MAX, sizeof *st->sandboxes);
  *out = st;
  return 0;
}

void
islet_store_close (struct islet_store *st)
{
  if (st == NULL)
    return;
  for (size_t i = 0; i < st->n_cache; i++)
    sqlite3_finalize (st->cache[i].stmt);
  store_sandboxes_forget (st);
  free (st->sandboxes);
  sqlite3_close (st->db);
  pthread_mutex_destroy (&st->lock);
  free (st);
}

/* ---- keys ---- */

int
islet_store_key_count (struct islet_store *st, int64_t *n, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;

  if (store_prepare (st, "SELECT count(*) FROM api_keys", &s, err) < 0)
    return -1;
  if (sqlite3_step (s) != SQLITE_ROW)
    return store_db_fail (st, err, "count keys");
  *n = sqlite3_column_int64 (s, 0);
  return 0;
}

/* A quota's fields in the order of the api_keys columns. */
int64_t *
store_quota_field (struct islet_quota *q, size_t i)
{
  int64_t *f[] = { &q->sandboxes, &q->memory_mb, &q->cpu_millis,
                   &q->disk_mb,   &q->volumes,   &q->volume_mb };
  return f[i];
}

int
islet_store_key_add (struct islet_store *st, const char *hash_hex, const char *name,
                     const struct islet_quota *q, int64_t *id, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  struct islet_quota none = ISLET_QUOTA_NONE, own = q ? *q : none;

  if (store_prepare (st,
                     "INSERT INTO api_keys(hash, name, created, max_sandboxes, max_memory_mb,"
                     " max_cpu_millis, max_disk_mb, max_volumes, max_volume_mb)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_text (s, 1, hash_hex, -1, SQLITE_STATIC);
  sqlite3_bind_text (s, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 3, (sqlite3_int64) time (NULL));
  for (size_t i = 0; i < QUOTA_FIELDS; i++)
    if (*store_quota_field (&own, i) >= 0)
      sqlite3_bind_int64 (s, 4 + (int) i, *store_quota_field (&own, i));
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, "add key");
  *id = sqlite3_last_insert_rowid (st->db);
  return 0;
}

static json_t *
int_or_null (sqlite3_stmt *s, int i)
{
  if (sqlite3_column_type (s, i) == SQLITE_NULL)
    return json_null ();
  return json_integer ((json_int_t) sqlite3_column_int64 (s, i));
}

int
islet_store_key_list (struct islet_store *st, json_t **out, struct islet_err *err)
{
  static const char *const quota_names[QUOTA_FIELDS] = { "max_sandboxes",  "max_memory_mb",
                                                         "max_cpu_millis", "max_disk_mb",
                                                         "max_volumes",    "max_volume_mb" };
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  json_t *a;
  int rc;

  if (store_prepare (
          st,
          "SELECT id, name, created, revoked, max_sandboxes, max_memory_mb, max_cpu_millis,"
          " max_disk_mb, max_volumes, max_volume_mb FROM api_keys ORDER BY id",
          &s, err)
      < 0)
    return -1;
  a = json_array ();
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      /* a name stored before names were checked may not be UTF-8: shown
       * with U+FFFD rather than the key left out of the list */
      json_t *k = json_pack (
          "{s:I,s:o,s:I,s:o}", "id", (json_int_t) sqlite3_column_int64 (s, 0), "name",
          islet_json_bytes ((const char *) sqlite3_column_text (s, 1),
                            (size_t) sqlite3_column_bytes (s, 1)),
          "created", (json_int_t) sqlite3_column_int64 (s, 2), "revoked", int_or_null (s, 3));
      for (int i = 0; i < QUOTA_FIELDS; i++)
        json_object_set_new (k, quota_names[i], int_or_null (s, 4 + i));
      json_array_append_new (a, k);
    }
  if (rc != SQLITE_DONE)
    {
      json_decref (a);
      return store_db_fail (st, err, "list keys");
    }
  *out = a;
  return 0;
}

int
islet_store_key_revoke (struct islet_store *st, int64_t id, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;

  if (store_prepare (st, "UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL", &s,
                     err)
      < 0)
    return -1;
  keys_forget (st);
  sqlite3_bind_int64 (s, 1, (sqlite3_int64) time (NULL));
  sqlite3_bind_int64 (s, 2, id);
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, "revoke key");
  if (sqlite3_changes (st->db) == 0)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no valid key with id %lld", (long long) id);
  return 0;
}

int
islet_store_key_quota (struct islet_store *st, int64_t id, struct islet_quota *out,
                       struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  int rc;

  if (store_prepare (
          st,
          "SELECT max_sandboxes, max_memory_mb, max_cpu_millis, max_disk_mb, max_volumes,"
          " max_volume_mb FROM api_keys WHERE id = ?",
          &s, err)
      < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, id);
  rc = sqlite3_step (s);
  if (rc == SQLITE_DONE)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no key %lld", (long long) id);
  if (rc != SQLITE_ROW)
    return store_db_fail (st, err, "read the key's quota");
  for (size_t i = 0; i < QUOTA_FIELDS; i++)
    *store_quota_field (out, i) = sqlite3_column_type (s, (int) i) == SQLITE_NULL
                                      ? -1
                                      : sqlite3_column_int64 (s, (int) i);
  return 0;
}

int
islet_store_key_valid (struct islet_store *st, int64_t id, struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  int rc;

  if (store_prepare (st, "SELECT 1 FROM api_keys WHERE id = ? AND revoked IS NULL", &s, err) < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, id);
  rc = sqlite3_step (s);
  if (rc == SQLITE_DONE)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no valid key %lld", (long long) id);
  if (rc != SQLITE_ROW)
    return store_db_fail (st, err, "find key");
  return 0;
}

int
islet_store_key_find (struct islet_store *st, const char *hash_hex, int64_t *id,
                      struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  int rc;

  if (store_caches_check (st, err) < 0)
    return -1;
  for (size_t i = 0; i < st->n_keys; i++)
    if (strcmp (st->keys[i].hash, hash_hex) == 0)
      {
        *id = st->keys[i].id;
        return 0;
      }
  if (store_prepare (st, "SELECT id FROM api_keys WHERE hash = ? AND revoked IS NULL", &s, err) < 0)
    return -1;
  sqlite3_bind_text (s, 1, hash_hex, -1, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc == SQLITE_DONE)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no such key");
  if (rc != SQLITE_ROW)
    return store_db_fail (st, err, "find key");
  *id = sqlite3_column_int64 (s, 0);
  /* only valid keys are kept: a stream of wrong ones cannot fill memory */
  if (st->n_keys == KEYS_CACHED_MAX)
    keys_forget (st);
  snprintf (st->keys[st->n_keys].hash, sizeof st->keys[0].hash, "%s", hash_hex);
  st->keys[st->n_keys++].id = *id;
  return 0;
}

/* ---- the defaults of /v1, per key ---- */

int
islet_store_v1_config_get (struct islet_store *st, int64_t key_id, char **text,
                           struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;
  int rc;

  *text = NULL;
  if (store_prepare (st, "SELECT config FROM v1_config WHERE key_id = ?", &s, err) < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, key_id);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    *text = islet_xstrdup ((const char *) sqlite3_column_text (s, 0));
  else if (rc != SQLITE_DONE)
    return store_db_fail (st, err, "read the /v1 config");
  return 0;
}

int
islet_store_v1_config_put (struct islet_store *st, int64_t key_id, const char *text,
                           struct islet_err *err)
{
  STORE_LOCKED (st);
  cleanup_stmt sqlite3_stmt *s = NULL;

  if (store_prepare (st,
                     "INSERT INTO v1_config(key_id, config) VALUES (?, ?) "
                     "ON CONFLICT(key_id) DO UPDATE SET config = excluded.config",
                     &s, err)
      < 0)
    return -1;
  sqlite3_bind_int64 (s, 1, key_id);
  sqlite3_bind_text (s, 2, text, -1, SQLITE_STATIC);
  if (sqlite3_step (s) != SQLITE_DONE)
    return store_db_fail (st, err, "write the /v1 config");
  return 0;
}
