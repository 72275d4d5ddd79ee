// server: daytona/object_storage_sig.c
/* AWS Signature V4 as object storage checks it (object_storage_sig.c):
 * the examples of Amazon's S3 documentation ("Signature Calculations for
 * the Authorization Header") verify with their secret and fail with any
 * other, and a request whose SignedHeaders leave out what must be signed,
 * are not sorted, or whose time is 15 minutes off is refused. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "object_storage.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define T0 1369353600 /* 20130524T000000Z */

struct hdrs
{
  const char *const *kv; /* name, value, ..., NULL */
};

static const char *
hdr (void *u, const char *name)
{
  const struct hdrs *h = u;
  for (size_t i = 0; h->kv[i]; i += 2)
    if (strcasecmp (h->kv[i], name) == 0)
      return h->kv[i + 1];
  return NULL;
}

static int
check (const char *auth, const char *secret, const char *method, const char *target,
       const char *const *kv, int64_t now)
{
  struct sigv4_auth a;
  struct islet_err err;
  struct hdrs h = { kv };

  if (sigv4_parse (auth, &a, &err) < 0)
    return -1;
  return sigv4_verify (&a, secret, method, target, hdr, &h, now, &err);
}

#define CRED "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"

static const char *const get_object[] = { "Host",
                                          "examplebucket.s3.amazonaws.com",
                                          "Range",
                                          "bytes=0-9",
                                          "x-amz-content-sha256",
                                          EMPTY,
                                          "x-amz-date",
                                          "20130524T000000Z",
                                          NULL };
#define GET_OBJECT_AUTH                                                                            \
  CRED "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"                                 \
       "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"

/* the same without Range: what a GET of a list signs */
static const char *const plain[] = { "Host",
                                     "examplebucket.s3.amazonaws.com",
                                     "x-amz-content-sha256",
                                     EMPTY,
                                     "x-amz-date",
                                     "20130524T000000Z",
                                     NULL };

static void
test_get_object (void **state)
{
  (void) state;
  assert_int_equal (check (GET_OBJECT_AUTH, SECRET, "GET", "/test.txt", get_object, T0), 0);
  assert_int_equal (check (GET_OBJECT_AUTH, SECRET "x", "GET", "/test.txt", get_object, T0), -1);
  assert_int_equal (check (GET_OBJECT_AUTH, SECRET, "PUT", "/test.txt", get_object, T0), -1);
  assert_int_equal (check (GET_OBJECT_AUTH, SECRET, "GET", "/test.txt?a=b", get_object, T0), -1);
  /* the clock: 15 minutes either way, not more */
  assert_int_equal (check (GET_OBJECT_AUTH, SECRET, "GET", "/test.txt", get_object, T0 + 900), 0);
  assert_int_equal (check (GET_OBJECT_AUTH, SECRET, "GET", "/test.txt", get_object, T0 + 901), -1);
  assert_int_equal (check (GET_OBJECT_AUTH, SECRET, "GET", "/test.txt", get_object, T0 - 901), -1);
}

static void
test_list_objects (void **state)
{
  const char *auth = CRED
      "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
      "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7";
  (void) state;
  /* the query sorted and encoded whatever order it came in */
  assert_int_equal (check (auth, SECRET, "GET", "/?max-keys=2&prefix=J", plain, T0), 0);
  assert_int_equal (check (auth, SECRET, "GET", "/?prefix=J&max-keys=2", plain, T0), 0);
  assert_int_equal (check (auth, SECRET, "GET", "/?max-keys=3&prefix=J", plain, T0), -1);
}

static void
test_signed_headers (void **state)
{
  (void) state;
  /* a signed header the request lacks */
  assert_int_equal (check (GET_OBJECT_AUTH, SECRET, "GET", "/test.txt", plain, T0), -1);
  /* host, x-amz-content-sha256 and x-amz-date must be signed */
  assert_int_equal (check (CRED
                           "SignedHeaders=range;x-amz-content-sha256;x-amz-date,Signature=" EMPTY,
                           SECRET, "GET", "/test.txt", get_object, T0),
                    -1);
  assert_int_equal (check (CRED "SignedHeaders=host;range;x-amz-date,Signature=" EMPTY, SECRET,
                           "GET", "/test.txt", get_object, T0),
                    -1);
  /* unsorted, upper case */
  assert_int_equal (check (CRED "SignedHeaders=range;host;x-amz-content-sha256;x-amz-date,"
                                "Signature=" EMPTY,
                           SECRET, "GET", "/test.txt", get_object, T0),
                    -1);
  assert_int_equal (check (CRED "SignedHeaders=Host;range;x-amz-content-sha256;x-amz-date,"
                                "Signature=" EMPTY,
                           SECRET, "GET", "/test.txt", get_object, T0),
                    -1);
}

static void
test_parse (void **state)
{
  struct sigv4_auth a;
  struct islet_err err;
  (void) state;
  assert_int_equal (sigv4_parse (GET_OBJECT_AUTH, &a, &err), 0);
  assert_string_equal (a.access_key, "AKIAIOSFODNN7EXAMPLE");
  assert_string_equal (a.date, "20130524");
  assert_string_equal (a.region, "us-east-1");
  assert_int_equal (sigv4_parse (NULL, &a, &err), -1);
  assert_int_equal (sigv4_parse ("Bearer islet_x", &a, &err), -1);
  assert_int_equal (sigv4_parse ("AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/sts/"
                                 "aws4_request,SignedHeaders=host,Signature=00",
                                 &a, &err),
                    -1);
  assert_int_equal (sigv4_parse ("AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/"
                                 "aws4_request/x,SignedHeaders=host,Signature=00",
                                 &a, &err),
                    -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_get_object),
    cmocka_unit_test (test_list_objects),
    cmocka_unit_test (test_signed_headers),
    cmocka_unit_test (test_parse),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
