/* What a remove finds of a sandbox's directory once the sandbox is stopped
 * (src/client/sandbox_broken.c, sandbox_remains): a whole sandbox, none,
 * one withdrawn by its own supervisor (no config, the directory's lock
 * held), or a broken one (no config, nobody holds it), which the remove
 * must take away itself. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "islet/util.h"
#include "sandbox_internal.h"

#define ID "0123456789ab"

struct fixture
{
  struct islet_ctx ctx;
  char state[64];
  char dir[128];
  char cfg[160];
};

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof *f);
  char sandboxes[96];

  snprintf (f->state, sizeof f->state, "/tmp/islet-unit-remains.XXXXXX");
  if (mkdtemp (f->state) == NULL)
    return -1;
  snprintf (sandboxes, sizeof sandboxes, "%s/sandboxes", f->state);
  snprintf (f->dir, sizeof f->dir, "%s/" ID, sandboxes);
  snprintf (f->cfg, sizeof f->cfg, "%s/config.json", f->dir);
  if (mkdir (sandboxes, 0700) < 0 || mkdir (f->dir, 0700) < 0)
    return -1;
  f->ctx.state_dir = f->state;
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;
  char sandboxes[96];

  (void) unlink (f->cfg);
  (void) rmdir (f->dir);
  snprintf (sandboxes, sizeof sandboxes, "%s/sandboxes", f->state);
  (void) rmdir (sandboxes);
  (void) rmdir (f->state);
  free (f);
  return 0;
}

static void
whole_with_its_config (void **state)
{
  struct fixture *f = *state;
  struct islet_err err;
  int fd = open (f->cfg, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

  assert_true (fd >= 0);
  close (fd);
  assert_int_equal (sandbox_remains (&f->ctx, ID, &err), SANDBOX_WHOLE);
}

static void
gone_without_its_directory (void **state)
{
  struct fixture *f = *state;
  struct islet_err err;

  assert_int_equal (rmdir (f->dir), 0);
  assert_int_equal (sandbox_remains (&f->ctx, ID, &err), SANDBOX_GONE);
}

/* the supervisor's withdraw: its lock on the directory, then no config */
static void
withdrawn_while_its_lock_is_held (void **state)
{
  struct fixture *f = *state;
  struct islet_err err;
  int held = open (f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  assert_true (held >= 0);
  assert_int_equal (flock (held, LOCK_EX), 0);
  assert_int_equal (sandbox_remains (&f->ctx, ID, &err), SANDBOX_WITHDRAWN);
  /* its supervisor died before it removed the rest */
  close (held);
  assert_int_equal (sandbox_remains (&f->ctx, ID, &err), SANDBOX_BROKEN);
}

/* removed, lock and all, between the look for the config and the lock */
static void
gone_once_its_directory_is_removed (void **state)
{
  struct fixture *f = *state;
  struct islet_err err;

  assert_int_equal (sandbox_remains (&f->ctx, ID, &err), SANDBOX_BROKEN);
  assert_int_equal (rmdir (f->dir), 0);
  assert_int_equal (sandbox_remains (&f->ctx, ID, &err), SANDBOX_GONE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (whole_with_its_config, setup, teardown),
    cmocka_unit_test_setup_teardown (gone_without_its_directory, setup, teardown),
    cmocka_unit_test_setup_teardown (withdrawn_while_its_lock_is_held, setup, teardown),
    cmocka_unit_test_setup_teardown (gone_once_its_directory_is_removed, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
