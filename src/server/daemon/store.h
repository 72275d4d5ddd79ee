/* isletd's own records, in <state>/isletd.db (SQLite, WAL): API keys (only
 * their SHA-256), which key owns which sandbox plus the Daytona fields the
 * core does not hold, each key's /v1 defaults, and the audit log.  The sandboxes themselves stay
 * the core's: this store never says whether one exists or runs. */
#ifndef ISLET_STORE_H
#define ISLET_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "islet/err.h"
#include "islet/sandbox.h"

struct islet_store;

int islet_store_open (const char *path, struct islet_store **out,
                      struct islet_err *err) ISLET_MUST_CHECK;
void islet_store_close (struct islet_store *st);

/* ---- API keys ---- */

/* What one key may hold at once, over all its sandboxes (running, stopped,
 * being made, or of one request): each -1 when there is no bound. */
struct islet_quota
{
  int64_t sandboxes, memory_mb, cpu_millis, disk_mb;
  int64_t volumes, volume_mb; /* its volumes: how many, their sizes together */
};
#define ISLET_QUOTA_NONE                                                                           \
  {                                                                                                \
    -1, -1, -1, -1, -1, -1                                                                         \
  }

int islet_store_key_count (struct islet_store *st, int64_t *n,
                           struct islet_err *err) ISLET_MUST_CHECK;
/* q: the key's own quota (-1 in a field: the server's default for it);
 * NULL: the defaults for all. */
int islet_store_key_add (struct islet_store *st, const char *hash_hex, const char *name,
                         const struct islet_quota *q, int64_t *id,
                         struct islet_err *err) ISLET_MUST_CHECK;
/* The key's own quota, -1 where it has none (the server's default). */
int islet_store_key_quota (struct islet_store *st, int64_t id, struct islet_quota *out,
                           struct islet_err *err) ISLET_MUST_CHECK;
/* Every key, oldest first: [{id, name, created, revoked, max_sandboxes,
 * max_memory_mb, max_cpu_millis, max_disk_mb}] (times in unix seconds,
 * revoked null while valid, a max null where the key has none of its own). */
int islet_store_key_list (struct islet_store *st, json_t **out,
                          struct islet_err *err) ISLET_MUST_CHECK;
/* Revoke a key: from now on it gets 401.  ISLET_E_NOTFOUND if no valid key
 * has that id. */
int islet_store_key_revoke (struct islet_store *st, int64_t id,
                            struct islet_err *err) ISLET_MUST_CHECK;
/* Key id exists and is not revoked; ISLET_E_NOTFOUND if not. */
int islet_store_key_valid (struct islet_store *st, int64_t id,
                           struct islet_err *err) ISLET_MUST_CHECK;
/* The id of a key that is not revoked; ISLET_E_NOTFOUND if none. */
int islet_store_key_find (struct islet_store *st, const char *hash_hex, int64_t *id,
                          struct islet_err *err) ISLET_MUST_CHECK;

/* ---- sandbox ownership and Daytona fields ---- */

/* Where a row is in its sandbox's life.  Only a ready row is a key's
 * sandbox to the API (found, listed, reaped), and a building or failed one
 * is found; the others are isletd's own
 * marks, written before the sandbox exists or while it goes, so that a
 * kill of isletd leaves nothing that no row owns: the sweep at start
 * (owned_sweep) destroys their sandboxes and removes them. */
enum islet_store_phase
{
  ISLET_PHASE_READY = 0,
  ISLET_PHASE_CREATING, /* the core is making it */
  ISLET_PHASE_SCRATCH,  /* one request's sandbox (/v1/execute), never ready */
  ISLET_PHASE_DELETING, /* the core is destroying it */
  /* a key's sandbox to the API (found, listed, deleted) that the core has
   * not made yet: its image is being pulled or built (owned_pending.c) */
  ISLET_PHASE_BUILDING,
  ISLET_PHASE_FAILED, /* the same whose pull or build failed: kept until deleted */
};

struct islet_store_sandbox
{
  char id[ISLET_ID_LEN + 1];
  int64_t key_id;
  char *name;     /* the Daytona name, unique per key; NULL in rows of older isletd */
  char *labels;   /* JSON object text, without the language label */
  char *env;      /* JSON object text */
  char *language; /* code-toolbox-language */
  char *target;
  int64_t auto_stop, auto_archive, auto_delete; /* minutes; stop and delete enforced (reaper.c) */
  int64_t created, updated, last_activity;      /* unix seconds */
  int64_t stopped_at; /* when it was stopped (or first seen stopped); 0 while running */
  enum islet_store_phase phase;
  /* what it holds of its key's quota (its limits when made) */
  int64_t memory_mb, cpu_millis, disk_mb;
  int64_t auto_pause; /* minutes idle before a pause (reaper.c); 0: never */
};

void islet_store_sandbox_fini (struct islet_store_sandbox *s);
/* Insert s, in its phase (creating or scratch), if the key's sandboxes
 * with it stay within q (the key's whole quota, defaults applied): else
 * ISLET_E_LIMIT naming the bound.  ISLET_E_CONFLICT if the key has another
 * sandbox of that name, in any phase. */
int islet_store_sandbox_claim (struct islet_store *st, const struct islet_store_sandbox *s,
                               const struct islet_quota *q, struct islet_err *err) ISLET_MUST_CHECK;
int islet_store_sandbox_set_phase (struct islet_store *st, const char *id,
                                   enum islet_store_phase phase,
                                   struct islet_err *err) ISLET_MUST_CHECK;
/* Every row that is not ready, of every key (the sweep's). */
int islet_store_sandbox_unready (struct islet_store *st, struct islet_store_sandbox **out,
                                 size_t *n, struct islet_err *err) ISLET_MUST_CHECK;
/* Change the fields of row->id's row that a request is about: fn gets the
 * row as the store has it now, changes those fields (or fails, and the row
 * stays as it was), and the row is written back before any other change is
 * taken.  Two requests that change different fields of one sandbox (its
 * labels, its env, an interval, its clock after a start) then never undo
 * each other, as writing back a row read earlier would.  Never the phase
 * or the share of the quota.  On success *row is the row as written;
 * ISLET_E_NOTFOUND if it is gone.  fn runs under the store's lock: it
 * must not call the store. */
typedef int (*islet_store_change_fn) (struct islet_store_sandbox *row, const void *arg,
                                      struct islet_err *err);
int islet_store_sandbox_change (struct islet_store *st, struct islet_store_sandbox *row,
                                islet_store_change_fn fn, const void *arg,
                                struct islet_err *err) ISLET_MUST_CHECK;
/* ISLET_E_NOTFOUND if the store has no row for id. */
int islet_store_sandbox_get (struct islet_store *st, const char *id,
                             struct islet_store_sandbox *out,
                             struct islet_err *err) ISLET_MUST_CHECK;
/* The ready rows of key_id (-1: of every key) that come after (after_created,
 * after_id) in the order (created, id), in that order: the pages of a
 * listing, and the reaper's rounds.  Free with islet_store_sandbox_list_free. */
int islet_store_sandbox_list (struct islet_store *st, int64_t key_id, int64_t after_created,
                              const char *after_id, struct islet_store_sandbox **out, size_t *n,
                              struct islet_err *err) ISLET_MUST_CHECK;
void islet_store_sandbox_list_free (struct islet_store_sandbox *rows, size_t n);
/* The row of key_id's sandbox whose id or name is ref (ISLET_E_NOTFOUND):
 * find and get in one, answered from memory while the store is unchanged. */
int islet_store_sandbox_lookup (struct islet_store *st, int64_t key_id, const char *ref,
                                struct islet_store_sandbox *out,
                                struct islet_err *err) ISLET_MUST_CHECK;
/* The id of key_id's sandbox whose id or name is ref; ISLET_E_NOTFOUND. */
int islet_store_sandbox_find (struct islet_store *st, int64_t key_id, const char *ref,
                              char id[ISLET_ID_LEN + 1], struct islet_err *err) ISLET_MUST_CHECK;
int islet_store_sandbox_delete (struct islet_store *st, const char *id,
                                struct islet_err *err) ISLET_MUST_CHECK;
int islet_store_sandbox_set_stopped (struct islet_store *st, const char *id, int64_t when,
                                     struct islet_err *err) ISLET_MUST_CHECK;
int islet_store_sandbox_touch (struct islet_store *st, const char *id,
                               struct islet_err *err) ISLET_MUST_CHECK;
/* A sandbox's time to live: destroy_at in unix seconds (0: none, the
 * entry removed); *destroy_at 0 when it has none. */
int islet_store_ttl_set (struct islet_store *st, const char *id, int64_t destroy_at,
                         struct islet_err *err) ISLET_MUST_CHECK;
int islet_store_ttl_get (struct islet_store *st, const char *id, int64_t *destroy_at,
                         struct islet_err *err) ISLET_MUST_CHECK;
/* The sandboxes whose time is up at now, soonest first (*ids malloc'd). */
int islet_store_ttl_due (struct islet_store *st, int64_t now, char (**ids)[ISLET_ID_LEN + 1],
                         size_t *n, struct islet_err *err) ISLET_MUST_CHECK;
/* Replace the row's env (a JSON object's text), and nothing else. */
int islet_store_sandbox_set_env (struct islet_store *st, const char *id, const char *env,
                                 struct islet_err *err) ISLET_MUST_CHECK;

/* Whether sandbox id is public (its previews need no token); set it. */
int islet_store_sandbox_public (struct islet_store *st, const char *id, bool *out,
                                struct islet_err *err) ISLET_MUST_CHECK;
int islet_store_sandbox_set_public (struct islet_store *st, const char *id, bool on,
                                    struct islet_err *err) ISLET_MUST_CHECK;

/* A signed preview URL (by its MAC) expired before its time: kept until
 * expires (unix seconds), those past now pruned on the way. */
int islet_store_preview_expire (struct islet_store *st, const char *mac, int64_t expires,
                                int64_t now, struct islet_err *err) ISLET_MUST_CHECK;
int islet_store_preview_expired (struct islet_store *st, const char *mac, bool *out,
                                 struct islet_err *err) ISLET_MUST_CHECK;

/* ---- volumes: a key's, by the name it gave (store_volume.c) ---- */
struct islet_store_volume
{
  char id[37]; /* a UUID, also the core's volume name */
  int64_t key_id;
  char name[256];
  int64_t size_mb, created;
};
/* Insert v if the key's volumes with it stay within max_count and max_mb
 * (-1: no bound), else ISLET_E_LIMIT naming the bound; ISLET_E_CONFLICT if
 * the key has a volume of that name. */
int islet_store_volume_claim (struct islet_store *st, const struct islet_store_volume *v,
                              int64_t max_count, int64_t max_mb,
                              struct islet_err *err) ISLET_MUST_CHECK;
/* key_id's volume whose id (or, by_name, name) is ref; ISLET_E_NOTFOUND. */
int islet_store_volume_find (struct islet_store *st, int64_t key_id, const char *ref, bool by_name,
                             struct islet_store_volume *out,
                             struct islet_err *err) ISLET_MUST_CHECK;
/* key_id's volumes, oldest first (*out malloc'd). */
int islet_store_volume_list (struct islet_store *st, int64_t key_id,
                             struct islet_store_volume **out, size_t *n,
                             struct islet_err *err) ISLET_MUST_CHECK;
int islet_store_volume_delete (struct islet_store *st, const char *id,
                               struct islet_err *err) ISLET_MUST_CHECK;

/* ---- the defaults of /v1 (GET/PUT /v1/config), one JSON object per key ---- */
/* *text: the key's object as stored (malloc'd), NULL if it never set one. */
int islet_store_v1_config_get (struct islet_store *st, int64_t key_id, char **text,
                               struct islet_err *err) ISLET_MUST_CHECK;
int islet_store_v1_config_put (struct islet_store *st, int64_t key_id, const char *text,
                               struct islet_err *err) ISLET_MUST_CHECK;

/* ---- audit log ---- */
struct islet_audit
{
  int64_t key_id;
  const char *sandbox; /* "" when none */
  const char *action;
  int status;         /* the HTTP status of the answer */
  const char *result; /* "ok" or the error message */
  int64_t duration_ms;
};

/* Write a record; a failure is counted (islet_store_audit_lost). */
int islet_store_audit_add (struct islet_store *st, const struct islet_audit *a,
                           struct islet_err *err) ISLET_MUST_CHECK;
/* Keep records for max_age_s seconds and at most max_rows of them (0: no
 * bound); the writes then prune a batch now and then. */
void islet_store_audit_bounds (struct islet_store *st, int64_t max_age_s, int64_t max_rows);
/* Prune to the bounds now, whatever it takes (at start). */
int islet_store_audit_prune (struct islet_store *st, int64_t *deleted,
                             struct islet_err *err) ISLET_MUST_CHECK;
/* Records that could not be written since the store was opened. */
uint64_t islet_store_audit_lost (struct islet_store *st);
/* The newest `limit` records of one key (and of one sandbox, unless
 * sandbox is NULL), newest first, as a JSON array of {id, time, sandboxId,
 * action, status, result, durationMs}. */
int islet_store_audit_list (struct islet_store *st, int64_t key_id, const char *sandbox, int limit,
                            json_t **out, struct islet_err *err) ISLET_MUST_CHECK;

/* ---- Daytona's snapshots (store_snapshot.c) ---- */

struct islet_store_snapshot
{
  char id[40]; /* a UUID */
  int64_t key_id;
  char *name;               /* unique per key */
  char *image;              /* the image as named (an image snapshot), or the sandbox's image id */
  char *core;               /* the core's snapshot (include/islet/snapshot.h) name, or NULL */
  char *source;             /* the sandbox it was taken of, or NULL */
  char *state;              /* Daytona's: snapshotting, pulling, active, error */
  char *error;              /* errorReason, or NULL */
  int64_t created, updated; /* unix seconds */
};

void islet_store_snapshot_fini (struct islet_store_snapshot *s);
/* ISLET_E_CONFLICT if the key has a snapshot of that name. */
int islet_store_snapshot_add (struct islet_store *st, const struct islet_store_snapshot *s,
                              struct islet_err *err) ISLET_MUST_CHECK;
/* The key's snapshot whose id or name is ref; ISLET_E_NOTFOUND. */
int islet_store_snapshot_get (struct islet_store *st, int64_t key_id, const char *ref,
                              struct islet_store_snapshot *out,
                              struct islet_err *err) ISLET_MUST_CHECK;
/* The key's snapshots (key_id < 0: every key's), oldest first; *out malloc'd. */
int islet_store_snapshot_list (struct islet_store *st, int64_t key_id,
                               struct islet_store_snapshot **out, size_t *n,
                               struct islet_err *err) ISLET_MUST_CHECK;
int islet_store_snapshot_set_state (struct islet_store *st, const char *id, const char *state,
                                    const char *error, struct islet_err *err) ISLET_MUST_CHECK;
int islet_store_snapshot_delete (struct islet_store *st, const char *id,
                                 struct islet_err *err) ISLET_MUST_CHECK;
/* A built snapshot: its image (the build's id) and state active. */
int islet_store_snapshot_built (struct islet_store *st, const char *id, const char *image,
                                struct islet_err *err) ISLET_MUST_CHECK;

/* Whether a stopped sandbox is archived (sandbox_archived, store_snapshot.c). */
int islet_store_sandbox_archived (struct islet_store *st, const char *id, bool *out,
                                  struct islet_err *err) ISLET_MUST_CHECK;
int islet_store_sandbox_set_archived (struct islet_store *st, const char *id, bool on,
                                      struct islet_err *err) ISLET_MUST_CHECK;

#endif
