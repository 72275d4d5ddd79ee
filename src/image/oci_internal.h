/* What the oci_*.c files share and nothing else uses. */
#ifndef ISLET_OCI_INTERNAL_H
#define ISLET_OCI_INTERNAL_H

#include <jansson.h>
#include <signal.h>
#include <stdint.h>

#include "islet/err.h"

/* Lock the image store (creating its directories), returning the lock's
 * fd; _begin also clears images/tmp, which nothing uses under the lock. */
int oci_store_lock (const char *state_dir, struct islet_err *err);
int oci_store_begin (const char *state_dir, struct islet_err *err);
/* oci_store_begin if the lock is free now, else -1 with err->errnum
 * EWOULDBLOCK. */
int oci_store_try_begin (const char *state_dir, struct islet_err *err);
/* Empty images/tmp (under the lock). */
void oci_store_clear_tmp (const char *state_dir);

/* The digests ("sha256:HEX") of the store's blobs and unpacked layers now,
 * as a JSON object used as a set. */
json_t *oci_store_contents (const char *state_dir);
/* Remove the blobs and layers that neither before (oci_store_contents of
 * an earlier moment) nor an image record has: what a change that was
 * called off added (under the lock). */
int oci_store_drop_new (const char *state_dir, json_t *before,
                        struct islet_err *err) ISLET_MUST_CHECK;

/* Set from a signal handler: a pull stops (its transfers abort, its
 * unpacker is killed) and removes what it added. */
extern volatile sig_atomic_t oci_stop;

/* Copy everything from in (at its offset) to out. */
int oci_copy_fd (int in, int out, struct islet_err *err) ISLET_MUST_CHECK;

/* Add a small JSON document (compact, keys sorted) as a blob; its digest
 * into out, its size into *size (may be NULL). */
int oci_add_json (const char *state_dir, json_t *j, char out[72], uint64_t *size,
                  struct islet_err *err) ISLET_MUST_CHECK;

/* The entry of an image index's "manifests" for linux on this machine's
 * architecture (borrowed from index), or NULL with *err set. */
json_t *oci_pick_platform (json_t *index, struct islet_err *err);

/* This machine's architecture as OCI names it (amd64, arm64...). */
const char *oci_this_arch (void);

#endif
