/* The image store, read side: finding an image, its layers and its config;
 * listing with honest sizes.  What writes the store is oci_write.c.
 *
 *   <state>/images/blobs/sha256/<hex>  manifests, configs, layer blobs, by digest
 *   <state>/images/layers/<hex>        a layer blob unpacked, read-only shared
 *   <state>/images/meta/<hex>.json     an image record (hex: its config digest)
 *   <state>/images/tmp/                work in progress, renamed into place whole */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "islet/oci.h"
#include "islet/proto.h"
#include "islet/util.h"

char *
islet_imgstore_blob_path (const char *state_dir, const char *digest)
{
  char *p;
  if (!islet_digest_valid (digest))
    return NULL;
  p = islet_xasprintf ("%s/images/blobs/sha256/%s", state_dir, digest + 7);
  if (access (p, F_OK) < 0)
    {
      free (p);
      return NULL;
    }
  return p;
}

int
islet_imgstore_use_lock (const char *state_dir, int op, struct islet_err *err)
{
  return islet_imgstore_flock (state_dir, ".use", op, err);
}

int
islet_imgstore_flock (const char *state_dir, const char *name, int op, struct islet_err *err)
{
  cleanup_free char *images = islet_xasprintf ("%s/images", state_dir);

  return islet_lock_file (images, 0755, name, op, err);
}

static json_t *
load_json (const char *path, struct islet_err *err)
{
  cleanup_free char *text = NULL;
  json_error_t jerr;
  json_t *j;

  if (islet_read_file_at (AT_FDCWD, path, 4u << 20, &text, NULL, err) < 0)
    return NULL;
  j = json_loads (text, 0, &jerr);
  if (j == NULL)
    islet_fail (err, ISLET_E_INVALID, 0, "`%s`: %s", path, jerr.text);
  return j;
}

/* Every image record, as a JSON array (an empty one when there are none). */
static json_t *
load_records (const char *state_dir, struct islet_err *err)
{
  cleanup_free char *dir = islet_xasprintf ("%s/images/meta", state_dir);
  cleanup_dir DIR *d = opendir (dir);
  json_t *all = json_array ();
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    {
      size_t n = strlen (e->d_name);
      cleanup_free char *p = NULL;
      json_t *rec;
      if (n != 64 + 5 || strcmp (e->d_name + 64, ".json") != 0)
        continue;
      p = islet_xasprintf ("%s/%s", dir, e->d_name);
      rec = load_json (p, err);
      if (rec == NULL)
        {
          json_decref (all);
          return NULL;
        }
      json_array_append_new (all, rec);
    }
  return all;
}

static bool
is_hex (const char *s)
{
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
      return false;
  return true;
}

/* The record ref names: an id, a unique id prefix of 12+ digits, or a name. */
static json_t *
find_record (json_t *all, const char *ref, struct islet_err *err)
{
  const char *hex = strncmp (ref, "sha256:", 7) == 0 ? ref + 7 : ref;
  cleanup_free char *norm = NULL;
  struct islet_ref r;
  json_t *rec, *found = NULL, *name;
  size_t i, j;

  if (strlen (hex) >= 12 && strlen (hex) <= 64 && is_hex (hex))
    {
      json_array_foreach (all, i, rec)
      {
        const char *id = json_string_value (json_object_get (rec, "id"));
        if (id && strncmp (id + 7, hex, strlen (hex)) == 0)
          {
            if (found)
              return islet_fail (err, ISLET_E_INVALID, 0, "image id `%s` is ambiguous", ref), NULL;
            found = rec;
          }
      }
      if (found)
        return found;
    }
  if (islet_ref_parse (ref, &r, err) < 0)
    return NULL;
  norm = islet_ref_string (&r);
  islet_ref_fini (&r);
  json_array_foreach (all, i, rec)
      json_array_foreach (json_object_get (rec, "names"), j,
                          name) if (strcmp (json_string_value (name), norm) == 0) return rec;
  islet_fail (err, ISLET_E_NOTFOUND, 0, "no image `%s` (%s); see `islet image ls`", ref, norm);
  return NULL;
}

/* The record of a whole image id (`sha256:` and 64 digits, or the
 * digits), read by its own name: a sandbox's supervisor and a create name
 * their image so, and need not read every record.  NULL, err untouched, if
 * ref is no whole id or no record has it: the caller looks further. */
static json_t *
record_by_id (const char *state_dir, const char *ref)
{
  const char *hex = strncmp (ref, "sha256:", 7) == 0 ? ref + 7 : ref;
  cleanup_free char *path = NULL;
  struct islet_err ignored;
  const char *id;
  json_t *rec;

  if (strlen (hex) != 64 || !is_hex (hex))
    return NULL;
  path = islet_xasprintf ("%s/images/meta/%s.json", state_dir, hex);
  rec = load_json (path, &ignored);
  id = rec ? json_string_value (json_object_get (rec, "id")) : NULL;
  if (rec && (id == NULL || strncmp (id, "sha256:", 7) != 0 || strcmp (id + 7, hex) != 0))
    {
      json_decref (rec);
      return NULL;
    }
  return rec;
}

int
islet_imgstore_open (const char *state_dir, const char *ref, struct islet_oci_image *out,
                     struct islet_err *err)
{
  if (islet_imgstore_open_record (state_dir, ref, out, err) < 0)
    return -1;
  out->config = islet_imgstore_read_config (
      state_dir, json_string_value (json_object_get (out->record, "config")), err);
  if (out->config == NULL)
    {
      islet_oci_image_fini (out);
      return -1;
    }
  return 0;
}

json_t *
islet_imgstore_read_config (const char *state_dir, const char *digest, struct islet_err *err)
{
  cleanup_free char *cfgpath = islet_imgstore_blob_path (state_dir, digest);
  cleanup_json json_t *cfg = NULL;
  json_t *config;

  if (cfgpath == NULL)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "the image config blob `%s` is missing",
                       digest ? digest : "(none)"),
           NULL;
  cfg = load_json (cfgpath, err);
  if (cfg == NULL)
    return NULL;
  config = json_object_get (cfg, "config");
  return config ? json_incref (config) : json_object ();
}

int
islet_imgstore_open_record (const char *state_dir, const char *ref, struct islet_oci_image *out,
                            struct islet_err *err)
{
  cleanup_json json_t *all = NULL;
  cleanup_json json_t *own = NULL;
  json_t *rec, *layers, *l;
  size_t i;

  *out = (struct islet_oci_image){ 0 };
  rec = own = record_by_id (state_dir, ref);
  if (rec == NULL
      && ((all = load_records (state_dir, err)) == NULL
          || (rec = find_record (all, ref, err)) == NULL))
    return -1;
  snprintf (out->id, sizeof out->id, "%s", json_string_value (json_object_get (rec, "id")));
  layers = json_object_get (rec, "layers");
  out->layers = islet_xcalloc (json_array_size (layers) + 1, sizeof *out->layers);
  json_array_foreach (layers, i, l)
  {
    const char *dg = json_string_value (l);
    if (!islet_digest_valid (dg))
      {
        islet_oci_image_fini (out);
        return islet_fail (err, ISLET_E_INVALID, 0, "image `%s`: a layer is not a digest", ref);
      }
    out->layers[out->n_layers++] = islet_xasprintf ("%s/images/layers/%s", state_dir, dg + 7);
  }
  out->record = json_incref (rec);
  return 0;
}

void
islet_oci_image_fini (struct islet_oci_image *img)
{
  islet_strv_free (img->layers);
  json_decref (img->config);
  json_decref (img->record);
  *img = (struct islet_oci_image){ 0 };
}

/* ---- disk use: blocks actually allocated, each inode once ---- */

static void *du_seen;
static uint64_t du_total;

static int
ino_cmp (const void *a, const void *b)
{
  const struct stat *x = a, *y = b;
  if (x->st_dev != y->st_dev)
    return x->st_dev < y->st_dev ? -1 : 1;
  return x->st_ino < y->st_ino ? -1 : x->st_ino > y->st_ino;
}

static int
du_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  if (st->st_nlink > 1 && !S_ISDIR (st->st_mode))
    {
      struct stat *key = islet_xmalloc (sizeof *key);
      *key = *st;
      if (*(struct stat **) tsearch (key, &du_seen, ino_cmp) != key)
        {
          free (key);
          return 0;
        }
    }
  du_total += (uint64_t) st->st_blocks * 512;
  return 0;
}

uint64_t
islet_imgstore_du (const char *path)
{
  du_seen = NULL;
  du_total = 0;
  (void) nftw (path, du_one, 32, FTW_PHYS | FTW_MOUNT);
  tdestroy (du_seen, free);
  du_seen = NULL;
  return du_total;
}

json_t *
islet_imgstore_list (const char *state_dir, struct islet_err *err)
{
  cleanup_json json_t *all = load_records (state_dir, err);
  json_t *out, *images, *seen, *rec, *l;
  uint64_t total = 0;
  size_t i, j;

  if (all == NULL)
    return NULL;
  images = json_array ();
  seen = json_object (); /* layer digest -> bytes, each layer sized once */
  json_array_foreach (all, i, rec)
  {
    json_t *layers = json_array ();
    uint64_t size = 0;
    json_array_foreach (json_object_get (rec, "layers"), j, l)
    {
      const char *dg = json_string_value (l);
      json_t *known = json_object_get (seen, dg);
      uint64_t bytes;
      if (known)
        bytes = (uint64_t) json_integer_value (known);
      else
        {
          cleanup_free char *p = islet_xasprintf ("%s/images/layers/%s", state_dir, dg + 7);
          bytes = islet_imgstore_du (p);
          json_object_set_new (seen, dg, json_integer ((json_int_t) bytes));
          total += bytes;
        }
      size += bytes;
      json_array_append_new (layers,
                             json_pack ("{s:s,s:I}", "digest", dg, "bytes", (json_int_t) bytes));
    }
    json_array_append_new (images,
                           json_pack ("{s:O,s:O,s:O,s:o,s:I}", "id", json_object_get (rec, "id"),
                                      "names", json_object_get (rec, "names"), "created",
                                      json_object_get (rec, "created"), "layers", layers, "bytes",
                                      (json_int_t) size));
  }
  out = json_pack ("{s:o,s:I,s:I}", "images", images, "layers_bytes_total", (json_int_t) total,
                   "layers_count", (json_int_t) json_object_size (seen));
  json_decref (seen);
  return out;
}
