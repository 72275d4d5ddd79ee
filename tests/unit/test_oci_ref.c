/* Image references, normalised as Docker does, and digests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "islet/oci.h"

static void
expect_ref (const char *in, const char *want)
{
  struct islet_ref r;
  struct islet_err err = { 0 };
  char *s;

  assert_int_equal (islet_ref_parse (in, &r, &err), 0);
  s = islet_ref_string (&r);
  assert_string_equal (s, want);
  free (s);
  islet_ref_fini (&r);
}

static void
expect_refused (const char *in)
{
  struct islet_ref r;
  struct islet_err err = { 0 };

  assert_int_equal (islet_ref_parse (in, &r, &err), -1);
  assert_int_equal (err.kind, ISLET_E_INVALID);
  assert_true (strstr (err.msg, "reference") != NULL);
}

static void
test_docker_hub (void **state)
{
  expect_ref ("python:3.12-slim", "docker.io/library/python:3.12-slim");
  expect_ref ("python", "docker.io/library/python:latest");
  expect_ref ("kortix/suna:0.1.2.8", "docker.io/kortix/suna:0.1.2.8");
  expect_ref ("docker.io/library/busybox", "docker.io/library/busybox:latest");
  expect_ref ("index.docker.io/library/busybox:1", "docker.io/library/busybox:1");
}

static void
test_other_registries (void **state)
{
  expect_ref ("127.0.0.1:5000/test/app:1", "127.0.0.1:5000/test/app:1");
  expect_ref ("localhost/app", "localhost/app:latest");
  expect_ref ("ghcr.io/owner/repo/sub:v1.2", "ghcr.io/owner/repo/sub:v1.2");
  /* a first component without a dot, port or "localhost" is a namespace */
  expect_ref ("myorg/app:2", "docker.io/myorg/app:2");
}

static void
test_digests (void **state)
{
  const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  char in[200], want[200];

  snprintf (in, sizeof in, "alpine@%s", d);
  snprintf (want, sizeof want, "docker.io/library/alpine@%s", d);
  expect_ref (in, want);
  /* a tag and a digest: the tag is kept for the name, the digest pins */
  snprintf (in, sizeof in, "alpine:3@%s", d);
  expect_ref (in, "docker.io/library/alpine:3");
  assert_true (islet_digest_valid (d));
  assert_false (islet_digest_valid ("sha256:0123"));
  assert_false (islet_digest_valid (
      "sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
  assert_false (islet_digest_valid (
      "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
}

static void
test_refused (void **state)
{
  expect_refused ("Python:3");
  expect_refused ("python:");
  expect_refused ("python:-x");
  expect_refused ("a//b");
  expect_refused ("app@sha256:xyz");
  expect_refused ("");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_docker_hub),
    cmocka_unit_test (test_other_registries),
    cmocka_unit_test (test_digests),
    cmocka_unit_test (test_refused),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
