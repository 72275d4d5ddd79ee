/* The image store, write side: blobs added only under their verified
 * digest, layers unpacked once, image records, rm and prune.  Every change
 * holds the store's lock (an flock on <state>/images/.lock, the one the
 * host image is built under); every new file or directory is made in
 * images/tmp and renamed into place whole, so a kill -9 leaves only
 * temporaries, which the next change removes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/oci.h"
#include "islet/util.h"
#include "oci_internal.h"

static const char *const store_dirs[] = { "images",        "images/blobs", "images/blobs/sha256",
                                          "images/layers", "images/meta",  "images/tmp" };

static int
store_lock_op (const char *state_dir, int op, struct islet_err *err)
{
  for (size_t i = 0; i < sizeof store_dirs / sizeof store_dirs[0]; i++)
    {
      cleanup_free char *d = islet_xasprintf ("%s/%s", state_dir, store_dirs[i]);
      if (mkdir (d, 0755) < 0 && errno != EEXIST)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", d);
    }
  return islet_imgstore_flock (state_dir, ".lock", op, err);
}

int
oci_store_lock (const char *state_dir, struct islet_err *err)
{
  return store_lock_op (state_dir, LOCK_EX, err);
}

/* Remove what interrupted changes left in images/tmp (under the lock). */
void
oci_store_clear_tmp (const char *state_dir)
{
  cleanup_free char *tmp = islet_xasprintf ("%s/images/tmp", state_dir);
  struct islet_err ignored;
  if (islet_rm_rf (tmp, &ignored) == 0)
    (void) mkdir (tmp, 0755);
}

int
oci_store_begin (const char *state_dir, struct islet_err *err)
{
  int fd = oci_store_lock (state_dir, err);
  if (fd >= 0)
    oci_store_clear_tmp (state_dir);
  return fd;
}

int
oci_store_try_begin (const char *state_dir, struct islet_err *err)
{
  int fd = store_lock_op (state_dir, LOCK_EX | LOCK_NB, err);
  if (fd >= 0)
    oci_store_clear_tmp (state_dir);
  return fd;
}

int
islet_imgstore_add_blob (const char *state_dir, int fd, const char *digest, struct islet_err *err)
{
  cleanup_free char *tmp = islet_xasprintf ("%s/images/tmp/blob.XXXXXX", state_dir);
  cleanup_free char *dst = NULL;
  cleanup_close int out = -1;
  char got[ISLET_DIGEST_LEN + 1];
  struct islet_err ignored;

  if (!islet_digest_valid (digest))
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` is not a sha256 digest", digest);
  dst = islet_xasprintf ("%s/images/blobs/sha256/%s", state_dir, digest + 7);
  if (access (dst, F_OK) == 0)
    return 0;
  out = mkstemp (tmp);
  if (out < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create `%s`", tmp);
  if (oci_copy_fd (fd, out, err) < 0 || lseek (out, 0, SEEK_SET) < 0
      || islet_digest_fd (out, got, NULL, err) < 0)
    goto fail;
  if (strcmp (got, digest) != 0)
    {
      islet_fail (err, ISLET_E_INVALID, 0, "blob `%s` has the digest `%s`: refused", digest, got);
      goto fail;
    }
  if (fchmod (out, 0644) < 0 || fsync (out) < 0 || rename (tmp, dst) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "store blob `%s`", digest);
      goto fail;
    }
  return 0;
fail:
  (void) !islet_rm_rf (tmp, &ignored);
  return -1;
}

/* Add a small JSON document as a blob; its digest into out. */
int
oci_add_json (const char *state_dir, json_t *j, char out[ISLET_DIGEST_LEN + 1], uint64_t *size,
              struct islet_err *err)
{
  cleanup_free char *text = json_dumps (j, JSON_COMPACT | JSON_SORT_KEYS);
  cleanup_close int fd = memfd_create ("islet-json", MFD_CLOEXEC);

  if (text == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, ENOMEM, "encode JSON");
  if (fd < 0 || islet_write_all (fd, text, strlen (text)) < 0 || lseek (fd, 0, SEEK_SET) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "write a JSON blob");
  if (islet_digest_fd (fd, out, size, err) < 0 || lseek (fd, 0, SEEK_SET) < 0)
    return -1;
  return islet_imgstore_add_blob (state_dir, fd, out, err);
}

int
islet_imgstore_unpack_layer (const char *state_dir, const char *digest, struct islet_err *err)
{
  uint64_t used = 0;

  return islet_imgstore_unpack_layer_max (state_dir, digest, 0, &used, err);
}

int
islet_imgstore_unpack_layer_max (const char *state_dir, const char *digest, uint64_t max,
                                 uint64_t *used, struct islet_err *err)
{
  cleanup_free char *blob = islet_imgstore_blob_path (state_dir, digest);
  cleanup_free char *dst = NULL;
  cleanup_free char *tmp = islet_xasprintf ("%s/images/tmp/layer.XXXXXX", state_dir);
  cleanup_close int fd = -1;
  struct islet_err ignored;

  if (blob == NULL)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "layer blob `%s` is not in the store", digest);
  dst = islet_xasprintf ("%s/images/layers/%s", state_dir, digest + 7);
  if (access (dst, F_OK) == 0)
    return 0;
  fd = open (blob, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", blob);
  if (mkdtemp (tmp) == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdtemp `%s`", tmp);
  if (islet_layer_unpack_max (fd, tmp, max, used, err) < 0)
    {
      islet_wrap (err, "unpack layer `%.19s`", digest);
      (void) !islet_rm_rf (tmp, &ignored);
      return -1;
    }
  return islet_image_publish (tmp, dst, true, err);
}

/* Take `name` off every record but keep_id's: a name is on one image. */
static int
untag_others (const char *state_dir, const char *name, const char *keep_id, struct islet_err *err)
{
  cleanup_free char *dir = islet_xasprintf ("%s/images/meta", state_dir);
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    {
      cleanup_free char *p = NULL;
      cleanup_free char *text = NULL;
      json_t *rec, *names;
      size_t i;
      if (strlen (e->d_name) != 69 || strncmp (e->d_name, keep_id + 7, 64) == 0)
        continue;
      p = islet_xasprintf ("%s/%s", dir, e->d_name);
      rec = json_load_file (p, 0, NULL);
      names = json_object_get (rec, "names");
      for (i = 0; i < json_array_size (names); i++)
        if (strcmp (json_string_value (json_array_get (names, i)), name) == 0)
          break;
      if (i < json_array_size (names))
        {
          json_array_remove (names, i);
          text = json_dumps (rec, JSON_INDENT (2));
          if (islet_write_file_atomic (p, text, strlen (text), 0644, err) < 0)
            {
              json_decref (rec);
              return -1;
            }
        }
      json_decref (rec);
    }
  return 0;
}

int
islet_imgstore_record (const char *state_dir, const char *name, const char *manifest_digest,
                       const char *config_digest, json_t *layer_digests, struct islet_err *err)
{
  cleanup_free char *path = islet_xasprintf ("%s/images/meta/%s.json", state_dir,
                                             config_digest + 7);
  cleanup_free char *text = NULL;
  json_t *rec = json_load_file (path, 0, NULL);
  json_t *names;
  int rc;

  if (rec == NULL)
    rec = json_pack ("{s:s,s:[],s:s,s:s,s:O,s:I}", "id", config_digest, "names", "manifest",
                     manifest_digest, "config", config_digest, "layers", layer_digests, "created",
                     (json_int_t) time (NULL));
  names = json_object_get (rec, "names");
  if (name)
    {
      size_t i;
      json_t *n;
      bool have = false;
      if (untag_others (state_dir, name, config_digest, err) < 0)
        {
          json_decref (rec);
          return -1;
        }
      json_array_foreach (names, i, n) have = have || strcmp (json_string_value (n), name) == 0;
      if (!have)
        json_array_append_new (names, json_string (name));
    }
  text = json_dumps (rec, JSON_INDENT (2));
  json_decref (rec);
  rc = islet_write_file_atomic (path, text, strlen (text), 0644, err);
  return rc;
}
