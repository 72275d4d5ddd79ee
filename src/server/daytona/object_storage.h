/* The object storage face (object_storage.c) and its signature check
 * (object_storage_sig.c). */
#ifndef ISLET_OBJECT_STORAGE_H
#define ISLET_OBJECT_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "islet/err.h"

struct srv;
struct owner;

#define OBJ_PREFIX "/object-storage/"
#define OBJ_BUCKET "islet-build-contexts"
#define OBJ_REGION "islet"
#define OBJ_KEY_MAX_LEN 1024
#define OBJ_DEPTH_MAX 16

/* ---- object_storage.c ---- */
/* The API key of a credential of push-access that is still good, and its
 * secret. */
int obj_cred_check (struct srv *srv, const char *access, int64_t *key_id, char secret[65],
                    struct islet_err *err) ISLET_MUST_CHECK;
/* Take n bytes of the key's space for objects (dir: its directory), within
 * its disk quota; give them back with obj_release once the body is kept
 * or dropped. */
int obj_reserve (const struct owner *k, const char *dir, uint64_t n,
                 struct islet_err *err) ISLET_MUST_CHECK;
void obj_release (int64_t key_id, uint64_t n);
/* An object key of plain names separated by `/`. */
bool obj_key_ok (const char *key);

/* ---- object_storage_sig.c ---- */
#define SIGV4_QUERY_MAX 32

/* What the Authorization header says. */
struct sigv4_auth
{
  char access_key[128];
  char date[9]; /* YYYYMMDD of the credential's scope */
  char region[64];
  char signed_headers[1024];
  char signature[65];
};

/* A request header's value by its lower-case name, NULL if absent. */
typedef const char *(*sigv4_header_fn) (void *u, const char *name);

int sigv4_parse (const char *authorization, struct sigv4_auth *a,
                 struct islet_err *err) ISLET_MUST_CHECK;
/* The request (method, target: the path and query as sent) signed with
 * secret as a says, within 15 minutes of now (unix seconds).  The payload's
 * hash is taken as x-amz-content-sha256 says; the caller compares it with
 * the body's. */
int sigv4_verify (const struct sigv4_auth *a, const char *secret, const char *method,
                  const char *target, sigv4_header_fn header, void *u, int64_t now,
                  struct islet_err *err) ISLET_MUST_CHECK;
void sigv4_sha256_hex (const void *data, size_t n, char out[65]);

#endif
