// wrap: islet_sandbox_create islet_sandbox_get islet_sandbox_destroy islet_sandbox_list sqlite3_step
// server: daemon/metrics.c daemon/owned.c daemon/owned_pending.c daemon/build.c daemon/pull.c daemon/store.c daemon/store_sandbox.c daemon/store_audit.c daemon/store_preview.c daemon/store_volume.c daemon/store_ttl.c daemon/store_snapshot.c http/reply.c daytona/sandbox_net.c
/* isletd's middle (src/server/daemon/owned.c) on a real store and a pretend core:
 * a create is the core's sandbox and the store's row as one, whichever
 * store statement fails (SQLite's way of testing: fail each in turn), and
 * another key's sandbox is the same "no sandbox" as a missing one. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "islet/util.h"
#include "server.h"

/* ---- the pretend core: sandboxes are entries of a table ---- */

#define CORE_MAX 16

static struct islet_sandbox_info core[CORE_MAX];
static size_t n_core;
static unsigned core_creates, next_id;

int
__wrap_islet_sandbox_create (struct islet_ctx *ctx, const struct islet_create_opts *opts,
                             char id[ISLET_ID_LEN + 1], struct islet_err *err)
{
  struct islet_sandbox_info *s;

  (void) ctx;
  if (n_core == CORE_MAX)
    return islet_fail (err, ISLET_E_LIMIT, 0, "pretend core full");
  s = &core[n_core];
  *s = (struct islet_sandbox_info){ .state = ISLET_SB_RUNNING, .limits = opts->limits };
  snprintf (s->id, sizeof s->id, "%012x", ++next_id);
  /* as the core does: the caller's claim before anything exists */
  if (opts->claim && opts->claim (opts->claim_arg, s->id, err) < 0)
    return -1;
  memcpy (s->name, "islet-", 6);
  memcpy (s->name + 6, s->id, ISLET_ID_LEN + 1);
  snprintf (s->image, sizeof s->image, "host");
  memcpy (id, s->id, ISLET_ID_LEN + 1);
  n_core++;
  core_creates++;
  return 0;
}

static struct islet_sandbox_info *
core_find (const char *id)
{
  for (size_t i = 0; i < n_core; i++)
    if (strcmp (core[i].id, id) == 0)
      return &core[i];
  return NULL;
}

int
__wrap_islet_sandbox_get (struct islet_ctx *ctx, const char *ref, struct islet_sandbox_info *out,
                          struct islet_err *err)
{
  struct islet_sandbox_info *s = core_find (ref);

  (void) ctx;
  if (s == NULL)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox `%s`", ref);
  *out = *s;
  return 0;
}

int
__wrap_islet_sandbox_destroy (struct islet_ctx *ctx, const char *id, bool force,
                              struct islet_err *err)
{
  struct islet_sandbox_info *s = core_find (id);

  (void) ctx;
  (void) force;
  if (s == NULL)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox `%s`", id);
  *s = core[--n_core];
  return 0;
}

int
__wrap_islet_sandbox_list (struct islet_ctx *ctx, struct islet_sandbox_info **out, size_t *n,
                           struct islet_err *err)
{
  (void) ctx;
  (void) err;
  *out = islet_xcalloc (n_core + 1, sizeof **out);
  memcpy (*out, core, n_core * sizeof *core);
  *n = n_core;
  return 0;
}

/* ---- fault injection: the fail_at-th sqlite3_step fails (0: none) ---- */

static unsigned steps, fail_at;

int __real_sqlite3_step (sqlite3_stmt *s);

int
__wrap_sqlite3_step (sqlite3_stmt *s)
{
  if (fail_at != 0 && ++steps == fail_at)
    return SQLITE_IOERR;
  return __real_sqlite3_step (s);
}

/* ---- what the middle calls besides: events ---- */

static unsigned events;

void
sio_sandbox_event (struct srv *srv, int64_t key_id, json_t *dto, const char *old_state)
{
  (void) srv;
  (void) key_id;
  (void) old_state;
  assert_non_null (json_object_get (dto, "id"));
  assert_non_null (json_object_get (dto, "state"));
  events++;
}

/* the image jobs' threads (owned_pending.c) are counted by the HTTP
   server, which this test has none of */
void
srv_stream_begin (struct srv *srv)
{
  (void) srv;
}

void
srv_stream_end (struct srv *srv)
{
  (void) srv;
}

/* nor object storage: no build here has a context */
int
object_storage_context_path (struct srv *srv, int64_t key_id, const char *hash, char **path,
                             struct islet_err *err)
{
  (void) srv;
  (void) key_id;
  (void) path;
  return islet_fail (err, ISLET_E_INVALID, 0, "no context %s", hash);
}

/* ---- fixtures ---- */

struct fixture
{
  char dir[64];
  struct srv srv;
  int64_t key, other;
};

static int
setup (void **state)
{
  struct fixture *f = islet_xcalloc (1, sizeof *f);
  cleanup_free char *db = NULL;
  struct islet_err err;

  snprintf (f->dir, sizeof f->dir, "/tmp/islet-test-owned-XXXXXX");
  assert_non_null (mkdtemp (f->dir));
  db = islet_xasprintf ("%s/isletd.db", f->dir);
  assert_int_equal (islet_store_open (db, &f->srv.store, &err), 0);
  f->srv.url = islet_xstrdup ("http://127.0.0.1:1");
  f->srv.ceiling = (struct islet_limits) OWNED_CEILING_DEFAULT;
  f->srv.quota_default = (struct islet_quota) ISLET_QUOTA_NONE;
  assert_int_equal (islet_store_key_add (f->srv.store, "a", "a", NULL, &f->key, &err), 0);
  assert_int_equal (islet_store_key_add (f->srv.store, "b", "b", NULL, &f->other, &err), 0);
  n_core = core_creates = events = steps = fail_at = 0;
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;
  cleanup_free char *cmd = islet_xasprintf ("rm -rf '%s'", f->dir);

  fail_at = 0;
  islet_store_close (f->srv.store);
  free (f->srv.url);
  assert_int_equal (system (cmd), 0);
  free (f);
  return 0;
}

static size_t
rows_of (struct fixture *f)
{
  struct islet_store_sandbox *rows = NULL;
  struct islet_err err;
  size_t n = 0;

  assert_int_equal (islet_store_sandbox_list (f->srv.store, -1, INT64_MIN, "", &rows, &n, &err), 0);
  islet_store_sandbox_list_free (rows, n);
  return n;
}

static const struct owned_spec spec = { .name = "web",
                                        .limits = ISLET_LIMITS_DEFAULT,
                                        .auto_delete = -1 };

/* The rows of sandbox_public (a public sandbox's mark), read apart from
 * the store (whose sqlite3_step is the one that fails). */
static int
public_rows (struct fixture *f)
{
  cleanup_free char *db = islet_xasprintf ("%s/isletd.db", f->dir);
  sqlite3 *h = NULL;
  sqlite3_stmt *s = NULL;
  int n;

  assert_int_equal (sqlite3_open_v2 (db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_prepare_v2 (h, "SELECT count(*) FROM sandbox_public", -1, &s, NULL),
                    SQLITE_OK);
  assert_int_equal (__real_sqlite3_step (s), SQLITE_ROW);
  n = sqlite3_column_int (s, 0);
  sqlite3_finalize (s);
  sqlite3_close (h);
  return n;
}

/* ---- tests ---- */

/* Fail the 1st, 2nd, ... store statement of a create in turn, until one
 * runs out of statements before the fault: each create that failed left
 * no sandbox in the core, no row and no event; each that worked (a failed
 * quick check is only a check) left one of each; the rollback was seen at
 * work (a failure after the core had made its sandbox). */
static void
create_faults (struct fixture *f, const struct owned_spec *sp)
{
  struct owner k = { .srv = &f->srv, .key_id = f->key };
  bool rolled_back = false, clean = false;

  for (unsigned n = 1; n <= 64 && !clean; n++)
    {
      struct owned o = { 0 };
      struct islet_err err;
      unsigned creates = core_creates;
      int rc;

      steps = 0;
      events = 0;
      fail_at = n;
      rc = owned_create (&k, sp, &o, &err);
      clean = steps < n;
      fail_at = 0;
      if (rc == 0)
        {
          assert_int_equal (n_core, 1);
          assert_int_equal (rows_of (f), 1);
          assert_int_equal (events, 1);
          assert_int_equal (public_rows (f), sp->is_public ? 1 : 0);
          assert_int_equal (owned_destroy (&k, &o, &err), 0);
          owned_fini (&o);
        }
      else
        {
          assert_false (clean);
          assert_int_equal (events, 0);
          rolled_back |= core_creates > creates;
        }
      assert_int_equal (n_core, 0);
      assert_int_equal (rows_of (f), 0);
      assert_int_equal (public_rows (f), 0);
    }
  assert_true (clean);
  assert_true (rolled_back);
}

static void
create_is_one_under_store_faults (void **state)
{
  create_faults (*state, &spec);
}

/* A public sandbox's mark is made with it and goes with it. */
static void
public_create_is_one_under_store_faults (void **state)
{
  struct owned_spec pub = spec;

  pub.is_public = true;
  create_faults (*state, &pub);
}

static void
core_failure_leaves_no_row (void **state)
{
  struct fixture *f = *state;
  struct owner k = { .srv = &f->srv, .key_id = f->key };
  struct owned o = { 0 };
  struct islet_err err;

  n_core = CORE_MAX; /* the pretend core refuses */
  assert_int_equal (owned_create (&k, &spec, &o, &err), -1);
  assert_int_equal (err.kind, ISLET_E_LIMIT);
  n_core = 0;
  assert_int_equal (rows_of (f), 0);
  assert_int_equal (events, 0);
}

/* Another key's sandbox, by id or by name, is what a missing one is. */
static void
another_keys_sandbox_is_not_found (void **state)
{
  struct fixture *f = *state;
  struct owner a = { .srv = &f->srv, .key_id = f->key };
  struct owner b = { .srv = &f->srv, .key_id = f->other };
  struct owned o = { 0 }, seen = { 0 };
  struct islet_err err;
  char want[64], core_name[64];

  assert_int_equal (owned_create (&a, &spec, &o, &err), 0);
  snprintf (want, sizeof want, "no sandbox '%s'", o.info.id);
  snprintf (core_name, sizeof core_name, "islet-%s", o.info.id);
  assert_int_equal (owned_open (&a, "web", &seen, &err), 0);
  assert_string_equal (seen.info.id, o.info.id);
  owned_fini (&seen);
  assert_int_equal (owned_open (&b, o.info.id, &seen, &err), -1);
  assert_int_equal (err.kind, ISLET_E_NOTFOUND);
  assert_string_equal (err.msg, want);
  assert_int_equal (owned_open (&b, "web", &seen, &err), -1);
  assert_string_equal (err.msg, "no sandbox 'web'");
  assert_int_equal (owned_open (&a, "nothing", &seen, &err), -1);
  assert_string_equal (err.msg, "no sandbox 'nothing'");
  /* and the core's own name is never looked up */
  assert_int_equal (owned_open (&a, core_name, &seen, &err), -1);
  assert_int_equal (owned_destroy (&a, &o, &err), 0);
  assert_int_equal (n_core, 0);
  assert_int_equal (rows_of (f), 0);
  owned_fini (&o);
}

/* A row of key in phase, for a sandbox the pretend core has (made) or not. */
static void
row_in (struct fixture *f, int64_t key, enum islet_store_phase phase, bool made, char id[13])
{
  struct islet_store_sandbox row = { .key_id = key, .phase = phase, .created = 1 };
  struct islet_quota none = ISLET_QUOTA_NONE;
  struct islet_err err;

  snprintf (row.id, sizeof row.id, "%012x", ++next_id);
  row.name = row.id;
  if (made)
    {
      core[n_core] = (struct islet_sandbox_info){ .state = ISLET_SB_RUNNING };
      memcpy (core[n_core].id, row.id, sizeof row.id);
      n_core++;
    }
  assert_int_equal (islet_store_sandbox_claim (f->srv.store, &row, &none, &err), 0);
  memcpy (id, row.id, sizeof row.id);
}

/* What a kill of isletd leaves: rows of creates, one-request runs and
 * deletes cut short (their sandboxes made or not), a ready row whose
 * sandbox is gone, isletd's own probe sandbox.  The sweep destroys what
 * they name and removes them; a whole sandbox and its row stay. */
static void
sweep_takes_back_what_a_kill_left (void **state)
{
  struct fixture *f = *state;
  struct owner k = { .srv = &f->srv, .key_id = f->key };
  struct owned o = { 0 }, seen = { 0 };
  struct islet_err err;
  char ids[5][13];

  assert_int_equal (owned_create (&k, &spec, &o, &err), 0);
  row_in (f, f->key, ISLET_PHASE_CREATING, true, ids[0]);
  row_in (f, f->key, ISLET_PHASE_CREATING, false, ids[1]);
  row_in (f, f->other, ISLET_PHASE_SCRATCH, true, ids[2]);
  row_in (f, f->other, ISLET_PHASE_DELETING, true, ids[3]);
  row_in (f, f->key, ISLET_PHASE_READY, false, ids[4]);
  core[n_core] = (struct islet_sandbox_info){ .state = ISLET_SB_RUNNING };
  snprintf (core[n_core].id, sizeof core[n_core].id, "%012x", ++next_id);
  snprintf (core[n_core].name, sizeof core[n_core].name, "isletd-own-1-1");
  n_core++;
  assert_int_equal (n_core, 5);
  assert_int_equal (rows_of (f), 2); /* only ready rows are listed */

  assert_int_equal (owned_sweep (&f->srv, &err), 0);
  assert_int_equal (n_core, 1);
  assert_string_equal (core[0].id, o.info.id);
  assert_int_equal (rows_of (f), 1);
  assert_int_equal (owned_open (&k, "web", &seen, &err), 0);
  owned_fini (&seen);
  owned_fini (&o);
}

/* The quota is the sum of what the key's rows hold, whatever their phase;
 * over it nothing is made, and the error names the bound. */
static void
quota_holds_and_names_the_bound (void **state)
{
  struct fixture *f = *state;
  struct owner k = { .srv = &f->srv, .key_id = f->key };
  struct islet_quota q = { .sandboxes = 2, .memory_mb = -1, .cpu_millis = -1, .disk_mb = -1 };
  struct owned o = { 0 }, p = { 0 };
  struct owned_spec big = spec;
  char scratch[ISLET_ID_LEN + 1];
  struct islet_err err;
  int64_t id;

  assert_int_equal (islet_store_key_add (f->srv.store, "c", "c", &q, &id, &err), 0);
  k.key_id = id;
  assert_int_equal (owned_create (&k, &spec, &o, &err), 0);
  assert_int_equal (owned_scratch_begin (&k, &spec.limits, NULL, scratch, &err), 0);
  big.name = "second";
  assert_int_equal (owned_create (&k, &big, &p, &err), -1);
  assert_int_equal (err.kind, ISLET_E_LIMIT);
  assert_non_null (strstr (err.msg, "2 sandboxes (--max-sandboxes)"));
  assert_int_equal (n_core, 2);
  owned_scratch_end (&k, scratch);
  assert_int_equal (owned_create (&k, &big, &p, &err), 0);
  /* a limit over the server's ceiling is refused before anything */
  big.name = "huge";
  big.limits.memory_mb = 1 << 20;
  assert_int_equal (owned_destroy (&k, &p, &err), 0);
  assert_int_equal (owned_create (&k, &big, &p, &err), -1);
  assert_int_equal (err.kind, ISLET_E_INVALID);
  assert_non_null (strstr (err.msg, "ceiling"));
  assert_int_equal (n_core, 1);
  owned_fini (&p);
  owned_fini (&o);
}

/* The one start of a face's spec: islet's defaults, then the limits the
 * face names in its own names and units, and nothing else of the fields;
 * a bad one is refused naming the face's field. */
static void
spec_starts_from_the_defaults_and_the_face_limits (void **state)
{
  const struct islet_limits dflt = ISLET_LIMITS_DEFAULT;
  json_t *daytona = json_pack ("{s:f,s:i,s:s}", "cpu", 0.5, "memory", 2, "name", "x");
  json_t *v1 = json_pack ("{s:f,s:i}", "execution_timeout", 2.5, "temp_storage_mb", 512);
  json_t *bad = json_pack ("{s:i}", "cpus", 5000);
  struct owned_spec sp;
  struct islet_err err;
  bool given;

  (void) state;
  assert_int_equal (owned_spec_init (&sp, ISLET_FACE_DAYTONA, daytona, &given, &err), 0);
  assert_true (given);
  assert_int_equal (sp.limits.cpu_millis, 500);
  assert_int_equal (sp.limits.memory_mb, 2048);
  assert_int_equal (sp.limits.disk_mb, dflt.disk_mb);
  assert_int_equal (sp.auto_delete, -1);
  assert_null (sp.name);
  assert_int_equal (owned_spec_init (&sp, ISLET_FACE_V1, v1, NULL, &err), 0);
  assert_int_equal (sp.limits.timeout_s, 3); /* rounded up */
  assert_int_equal (sp.limits.disk_mb, 512);
  assert_int_equal (sp.limits.memory_mb, dflt.memory_mb);
  assert_int_equal (owned_spec_init (&sp, ISLET_FACE_MCP, NULL, &given, &err), 0);
  assert_false (given);
  assert_true (islet_limits_equal (&sp.limits, &dflt));
  assert_int_equal (owned_spec_init (&sp, ISLET_FACE_MCP, bad, NULL, &err), -1);
  assert_int_equal (err.kind, ISLET_E_INVALID);
  assert_non_null (strstr (err.msg, "cpus"));
  json_decref (daytona);
  json_decref (v1);
  json_decref (bad);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (create_is_one_under_store_faults, setup, teardown),
    cmocka_unit_test_setup_teardown (public_create_is_one_under_store_faults, setup, teardown),
    cmocka_unit_test_setup_teardown (core_failure_leaves_no_row, setup, teardown),
    cmocka_unit_test_setup_teardown (another_keys_sandbox_is_not_found, setup, teardown),
    cmocka_unit_test_setup_teardown (sweep_takes_back_what_a_kill_left, setup, teardown),
    cmocka_unit_test_setup_teardown (quota_holds_and_names_the_bound, setup, teardown),
    cmocka_unit_test (spec_starts_from_the_defaults_and_the_face_limits),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
