/* What the store's files (store.c, store_sandbox.c, store_audit.c, ...) share: the connection,
 * its caches and the helpers every statement goes through.  Only they
 * include SQLite. */
#ifndef ISLET_STORE_INTERNAL_H
#define ISLET_STORE_INTERNAL_H

#include <pthread.h>

#include <sqlite3.h>

#include "store.h"

/* Every statement of this file is a string literal, fewer than this many:
 * each is prepared once and kept, keyed by its address. */
#define STMT_CACHE_MAX 64

/* Answers kept in memory, so that a request's key and sandbox cost no
 * query: the valid keys found (hash -> id) and the sandboxes resolved
 * ((key, id or name) -> row).  Both are emptied by every write of this
 * connection to those tables, and whenever another connection committed
 * anything (PRAGMA data_version, checked under the lock before each use):
 * `isletd key revoke`, run as a process of its own, takes effect on the
 * next request as it did without the caches.  Sizes are capped; a full
 * cache is emptied. */
#define KEYS_CACHED_MAX 64
#define SANDBOXES_CACHED_MAX 512

struct cached_key
{
  char hash[65];
  int64_t id;
};

struct cached_sandbox
{
  int64_t key_id;
  char *ref;
  struct islet_store_sandbox row;
};

struct islet_store
{
  sqlite3 *db;
  pthread_mutex_t lock;
  struct
  {
    const char *sql;
    sqlite3_stmt *stmt;
  } cache[STMT_CACHE_MAX];
  size_t n_cache;
  int64_t data_version; /* as of the last check; -1: never checked */
  struct cached_key keys[KEYS_CACHED_MAX];
  size_t n_keys;
  struct cached_sandbox *sandboxes; /* SANDBOXES_CACHED_MAX of them */
  size_t n_sandboxes;
  /* the audit log's bounds (islet_store_audit_bounds), and what it lost */
  int64_t audit_max_age_s, audit_max_rows;
  uint64_t audit_adds, audit_lost;
};

#define cleanup_stmt __attribute__ ((cleanup (store_resetp)))
#define cleanup_stmt_once __attribute__ ((cleanup (store_finalizep)))
/* Hold the store's lock until the end of the scope. */
#define STORE_LOCKED(st)                                                                           \
  __attribute__ ((cleanup (store_unlockp))) struct islet_store *locked_ = (st);                    \
  pthread_mutex_lock (&locked_->lock)

/* A cached statement is reset at the end of its use (under the store's
 * lock, which every function takes before its statement), not finalized. */
void store_resetp (sqlite3_stmt **s);
void store_finalizep (sqlite3_stmt **s);
void store_unlockp (struct islet_store **st);
int store_db_fail (struct islet_store *st, struct islet_err *err, const char *what);
/* Forget whether sandbox id was public (its row is gone); the lock held. */
int store_public_forget (struct islet_store *st, const char *id, struct islet_err *err);
/* sql must be a string literal (its address is the cache's key). */
int store_prepare (struct islet_store *st, const char *sql, sqlite3_stmt **out,
                   struct islet_err *err);

/* The one-key statements the per-table files share (the lock held; sql a
 * literal with one ? bound to key; what names it in an error): run to its
 * end, or whether it yields a row. */
int store_run_key (struct islet_store *st, const char *sql, const char *key, const char *what,
                   struct islet_err *err) ISLET_MUST_CHECK;
int store_row_exists (struct islet_store *st, const char *sql, const char *key, bool *out,
                      const char *what, struct islet_err *err) ISLET_MUST_CHECK;

/* How one table's rows are read from a statement's columns, and let go. */
struct store_row_kind
{
  size_t size;
  void (*read) (sqlite3_stmt *s, void *row);
  void (*fini) (void *row); /* NULL: a row holds nothing to free */
};
/* Every row s yields, into *out (malloc'd, *n of them; none: NULL, 0). */
int store_rows (struct islet_store *st, sqlite3_stmt *s, const struct store_row_kind *k, void **out,
                size_t *n, const char *what, struct islet_err *err) ISLET_MUST_CHECK;
/* The first row s yields into row: 1, 0 if it yields none, -1. */
int store_row (struct islet_store *st, sqlite3_stmt *s, const struct store_row_kind *k, void *row,
               const char *what, struct islet_err *err) ISLET_MUST_CHECK;

/* Under the lock, before a cached answer is used: empty the caches if
 * another connection has committed since the last look. */
int store_caches_check (struct islet_store *st, struct islet_err *err) ISLET_MUST_CHECK;
/* store_sandbox.c: empty the sandbox rows' cache (the lock held). */
void store_sandboxes_forget (struct islet_store *st);

/* A key's quota, field i in the order of the api_keys columns (store.c). */
#define QUOTA_FIELDS 6
int64_t *store_quota_field (struct islet_quota *q, size_t i);

/* store_volume.c: the volumes table, its own statement */
extern const char store_volumes_schema[];

#endif
