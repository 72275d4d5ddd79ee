/* OCI images: a content-addressed store under <state>/images, filled by
 * import (docker save archives, OCI image layouts), and the overlay that
 * stacks an image's layers under a sandbox's writable layer.
 *
 *   oci_digest.c  sha256 digests of blobs
 *   oci_ref.c     image references, normalised as Docker does
 *   oci_unpack.c  one layer tar into a directory of its own, confined
 *   oci_store.c   blobs, unpacked layers, image records; ls, rm, prune
 *   oci_import.c  docker save archives and OCI layouts (directory or tar)
 *   oci_mount.c   the root overlay of an image, with idmapped layers
 *   oci_default.c the default image, built by mmdebstrap
 */
#ifndef ISLET_OCI_H
#define ISLET_OCI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "islet/err.h"

#define ISLET_DIGEST_LEN 71 /* "sha256:" and 64 hex digits */

/* ---- oci_digest.c ---- */
/* "sha256:" followed by 64 lower-case hex digits, nothing else. */
bool islet_digest_valid (const char *digest);
/* The sha256 digest of what fd holds from its current offset to its end. */
int islet_digest_fd (int fd, char out[ISLET_DIGEST_LEN + 1], uint64_t *size,
                     struct islet_err *err) ISLET_MUST_CHECK;

/* ---- oci_ref.c ---- */
struct islet_ref
{
  char *registry;   /* "docker.io", "127.0.0.1:5000" */
  char *repository; /* "library/python" */
  char *tag;        /* "3.12-slim"; "latest" when neither tag nor digest was given */
  char *digest;     /* "sha256:..." or NULL */
};
/* Parse and normalise: "python:3.12-slim" is docker.io/library/python:3.12-slim. */
int islet_ref_parse (const char *text, struct islet_ref *out,
                     struct islet_err *err) ISLET_MUST_CHECK;
void islet_ref_fini (struct islet_ref *ref);
/* "registry/repository:tag" or "registry/repository@digest", malloc'd. */
char *islet_ref_string (const struct islet_ref *ref);

/* ---- oci_unpack.c ---- */
/* Unpack the layer tar (plain, gzip or zstd) that fd holds into the empty
 * directory dir, in a child confined to dir (chroot).  OCI whiteouts become
 * overlayfs ones.  Device nodes and `..` in names are refused. */
int islet_layer_unpack (int fd, const char *dir, struct islet_err *err) ISLET_MUST_CHECK;
/* The same, its files' bytes counted into *used as they are written (holes
 * not): past max (0: no bound) it stops with ISLET_E_LIMIT, and the caller
 * removes dir. */
int islet_layer_unpack_max (int fd, const char *dir, uint64_t max, uint64_t *used,
                            struct islet_err *err) ISLET_MUST_CHECK;

/* ---- oci_store.c ---- */
struct islet_oci_image
{
  char id[ISLET_DIGEST_LEN + 1]; /* the config's digest */
  char **layers;                 /* unpacked layer directories, bottom first */
  size_t n_layers;
  json_t *config; /* the image config's "config" object (Env, Cmd...) */
  json_t *record; /* the whole record, as stored */
};

/* Blobs are <state>/images/blobs/sha256/<hex>.  Copy what fd holds into the
 * store, refused unless its digest is `digest`. */
int islet_imgstore_add_blob (const char *state_dir, int fd, const char *digest,
                             struct islet_err *err) ISLET_MUST_CHECK;
/* The blob's path (malloc'd), or NULL when it is not in the store. */
char *islet_imgstore_blob_path (const char *state_dir, const char *digest);
/* Unpack the layer blob `digest` once, into <state>/images/layers/<hex>. */
int islet_imgstore_unpack_layer (const char *state_dir, const char *digest,
                                 struct islet_err *err) ISLET_MUST_CHECK;
/* The same, the bytes it writes added to *used and bounded by max
 * (islet_layer_unpack_max); a layer already unpacked adds nothing. */
int islet_imgstore_unpack_layer_max (const char *state_dir, const char *digest, uint64_t max,
                                     uint64_t *used, struct islet_err *err) ISLET_MUST_CHECK;
/* Record an image made of blobs already in the store (manifest and config
 * JSON), named `name` (a normalised reference, may be NULL). */
int islet_imgstore_record (const char *state_dir, const char *name, const char *manifest_digest,
                           const char *config_digest, json_t *layer_digests,
                           struct islet_err *err) ISLET_MUST_CHECK;
/* The lock on images/.use: a create holds it shared (LOCK_SH) from finding
 * its image until its config.json names it; rm and prune hold it exclusive
 * while they decide what is unused and remove it.  Returns its fd. */
int islet_imgstore_use_lock (const char *state_dir, int op, struct islet_err *err) ISLET_MUST_CHECK;
/* Lock the file images/NAME (made with images/ if need be) with flock op;
 * returns its fd.  images/.lock serialises the store's changes. */
int islet_imgstore_flock (const char *state_dir, const char *name, int op,
                          struct islet_err *err) ISLET_MUST_CHECK;
/* Find an image by name (normalised), id, or an id prefix of 12 digits or more. */
int islet_imgstore_open (const char *state_dir, const char *ref, struct islet_oci_image *out,
                         struct islet_err *err) ISLET_MUST_CHECK;
/* The same in two steps: the record alone (config NULL), then the
 * "config" object of the config blob digest (the record's "config", which
 * is also the image's id), a new reference; NULL with err on failure.  A
 * sandbox's supervisor reads the config while its init starts. */
int islet_imgstore_open_record (const char *state_dir, const char *ref, struct islet_oci_image *out,
                                struct islet_err *err) ISLET_MUST_CHECK;
json_t *islet_imgstore_read_config (const char *state_dir, const char *digest,
                                    struct islet_err *err);
void islet_oci_image_fini (struct islet_oci_image *img);
/* Every image, with its layers' sizes (each shared layer counted once in
 * "layers_bytes_total"), as JSON. */
json_t *islet_imgstore_list (const char *state_dir, struct islet_err *err);
/* Remove an image (refused while a sandbox of state_dir uses it) and the
 * blobs and layers no other image uses. */
int islet_imgstore_rm (const char *state_dir, const char *ref,
                       struct islet_err *err) ISLET_MUST_CHECK;
/* Remove blobs, layers and temporary directories no image references;
 * *freed: bytes freed. */
int islet_imgstore_prune (const char *state_dir, uint64_t *freed,
                          struct islet_err *err) ISLET_MUST_CHECK;
/* Bytes a directory tree takes on disk, each inode once. */
uint64_t islet_imgstore_du (const char *path);

/* ---- oci_import.c ---- */
/* Import a docker save archive or an OCI image layout (directory or tar).
 * name: what to call it when the archive names nothing (may be NULL).
 * Prints nothing; *ids receives the imported images' ids (JSON array). */
int islet_oci_import (const char *state_dir, const char *path, const char *name, json_t **ids,
                      struct islet_err *err) ISLET_MUST_CHECK;

/* ---- oci_pull.c ---- */
/* Pull ref from its registry into the store; *id: the image's id (a JSON
 * string).  insecure: registries (host[:port]) that may be plain HTTP
 * besides loopback ones (NULL-terminated, may be NULL).  max_bytes: when
 * not 0, an image whose config and layers (as its manifest gives their
 * sizes) are more is refused (ISLET_E_LIMIT) before any layer is fetched.
 * Progress lines go to progress when it is not NULL. */
int islet_oci_pull (const char *state_dir, const char *ref, char *const *insecure,
                    uint64_t max_bytes, FILE *progress, json_t **id,
                    struct islet_err *err) ISLET_MUST_CHECK;
/* From now on SIGINT and SIGTERM call a pull of this process off: it
 * stops within about a second and removes what it added (oci_pull.c). */
void islet_oci_pull_catch_signals (void);

/* ---- oci_build_file.c ---- */
/* The checks of a Dockerfile that need nothing but its text (and whether
 * the build has a context for COPY): what `islet image build` and isletd's
 * builds would refuse anyway, refused before anything is made, with the
 * same message (src/image/oci_build_file.c: the build's own reader). */
int islet_dockerfile_check (const char *dockerfile, bool has_context,
                            struct islet_err *err) ISLET_MUST_CHECK;

/* ---- oci_default.c ---- */
/* The name of the batteries-included default image in a store; a create
 * with no image uses it when the store has it (image.c), else `host`. */
#define ISLET_DEFAULT_IMAGE "localhost/islet-default:bookworm"
/* Make sure the store has the default image of today's package list:
 * imported from the machine's cache, built there first by mmdebstrap if
 * need be.  Progress lines (mmdebstrap's too) go to progress / stderr.
 * *id: the image's id (a JSON string). */
int islet_oci_build_default (const char *state_dir, FILE *progress, json_t **id,
                             struct islet_err *err) ISLET_MUST_CHECK;

/* ---- oci_mount.c ---- */
/* Mount on target an overlay of layers (bottom first), each seen through an
 * idmapped mount (uids 0..65535 of the image -> base..base+65535) attached
 * in the current directory (the stage) as l0, l1..., under the writable
 * upper and work directories.  Relative paths are from the stage.  userns:
 * the idmap's user namespace (islet_idmap_ahead), or -1 to make one here. */
int islet_oci_mount_root (char *const *layers, size_t n_layers, uint32_t base, int userns,
                          const char *upper, const char *work, const char *target,
                          struct islet_err *err) ISLET_MUST_CHECK;

#endif
