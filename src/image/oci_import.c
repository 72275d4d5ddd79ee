/* Import without a registry: an OCI image layout (index.json, blobs/) or a
 * `docker save` archive (manifest.json, <hex>.json configs, layer tars), as
 * a directory or a tar of one.  A tar is first unpacked into images/tmp by
 * the confined layer unpacker; files are then opened with openat2
 * RESOLVE_IN_ROOT, so the archive's own symlinks stay inside it.  Every blob
 * enters the store only under its verified digest: an OCI blob's name is its
 * digest, a docker config's file name is its digest, and a docker layer's
 * digest must be the config's diff_id for it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "islet/oci.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "oci_internal.h"

#define MAX_DEPTH 2 /* an index may point at an index, but not forever */

struct import
{
  const char *state_dir;
  const char *name; /* normalised, or NULL */
  int root;         /* the layout or archive's directory */
  json_t *ids;
};

static int
open_in (int root, const char *path, struct islet_err *err)
{
  struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
                          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
  int fd = (int) syscall (SYS_openat2, root, path, &how, sizeof how);
  if (fd < 0)
    return islet_fail (err, ISLET_E_NOTFOUND, errno, "open `%s` in the archive", path);
  return fd;
}

/* The store's copy of the blob `digest`, copied in from path (verified). */
static json_t *
add_json_blob (struct import *im, const char *path, const char *digest, struct islet_err *err)
{
  cleanup_close int fd = open_in (im->root, path, err);
  cleanup_free char *stored = NULL;
  json_error_t jerr;
  json_t *j;

  if (fd < 0 || islet_imgstore_add_blob (im->state_dir, fd, digest, err) < 0)
    return NULL;
  stored = islet_imgstore_blob_path (im->state_dir, digest);
  j = json_load_file (stored, 0, &jerr);
  if (j == NULL)
    islet_fail (err, ISLET_E_INVALID, 0, "`%s`: %s", path, jerr.text);
  return j;
}

/* A JSON file of the archive (index.json, manifest.json). */
static json_t *
load_in (int root, const char *path, struct islet_err *err)
{
  cleanup_close int fd = open_in (root, path, err);
  json_t *j;

  if (fd < 0)
    return NULL;
  j = json_loadfd (fd, 0, NULL);
  if (j == NULL)
    islet_fail (err, ISLET_E_INVALID, 0, "`%s` is not JSON", path);
  return j;
}

const char *
oci_this_arch (void)
{
  static const struct
  {
    const char *uname, *oci;
  } arch[] = {
    { "x86_64", "amd64" },    { "aarch64", "arm64" }, { "armv7l", "arm" },      { "i686", "386" },
    { "ppc64le", "ppc64le" }, { "s390x", "s390x" },   { "riscv64", "riscv64" },
  };
  static struct utsname u;
  uname (&u);
  for (size_t i = 0; i < sizeof arch / sizeof arch[0]; i++)
    if (strcmp (u.machine, arch[i].uname) == 0)
      return arch[i].oci;
  return u.machine;
}

/* The entry of an index's "manifests" for this machine (linux/<arch>). */
json_t *
oci_pick_platform (json_t *index, struct islet_err *err)
{
  json_t *m;
  size_t i;

  json_array_foreach (json_object_get (index, "manifests"), i, m)
  {
    json_t *p = json_object_get (m, "platform");
    const char *os = json_string_value (json_object_get (p, "os"));
    const char *arch = json_string_value (json_object_get (p, "architecture"));
    if (os && arch && strcmp (os, "linux") == 0 && strcmp (arch, oci_this_arch ()) == 0)
      return m;
  }
  islet_fail (err, ISLET_E_NOTFOUND, 0, "the image index has no manifest for linux/%s",
              oci_this_arch ());
  return NULL;
}

static bool
is_index (json_t *j)
{
  const char *mt = json_string_value (json_object_get (j, "mediaType"));
  if (mt)
    return strcmp (mt, "application/vnd.oci.image.index.v1+json") == 0
           || strcmp (mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0;
  return json_object_get (j, "manifests") != NULL;
}

static char *
blob_rel (const char *digest)
{
  return islet_xasprintf ("blobs/sha256/%s", digest + 7);
}

static int
import_oci_manifest (struct import *im, const char *digest, const char *name, int depth,
                     struct islet_err *err)
{
  cleanup_free char *rel = NULL;
  cleanup_json json_t *man = NULL;
  json_t *layers, *l, *digests;
  const char *cfg;
  size_t i;
  int rc;

  if (!islet_digest_valid (digest))
    return islet_fail (err, ISLET_E_INVALID, 0, "manifest digest `%s` is not sha256", digest);
  rel = blob_rel (digest);
  man = add_json_blob (im, rel, digest, err);
  if (man == NULL)
    return -1;
  if (is_index (man))
    {
      json_t *m = depth < MAX_DEPTH ? oci_pick_platform (man, err) : NULL;
      if (m == NULL)
        return depth < MAX_DEPTH
                   ? -1
                   : islet_fail (err, ISLET_E_INVALID, 0, "image indexes nest too deep");
      return import_oci_manifest (im, json_string_value (json_object_get (m, "digest")), name,
                                  depth + 1, err);
    }
  cfg = json_string_value (json_object_get (json_object_get (man, "config"), "digest"));
  layers = json_object_get (man, "layers");
  if (!islet_digest_valid (cfg) || !json_is_array (layers))
    return islet_fail (err, ISLET_E_INVALID, 0, "manifest `%s` has no config or layers", digest);
  {
    cleanup_free char *crel = blob_rel (cfg);
    cleanup_json json_t *c = add_json_blob (im, crel, cfg, err);
    if (c == NULL)
      return -1;
  }
  digests = json_array ();
  json_array_foreach (layers, i, l)
  {
    const char *ld = json_string_value (json_object_get (l, "digest"));
    cleanup_free char *lrel = NULL;
    cleanup_close int fd = -1;
    if (!islet_digest_valid (ld))
      {
        json_decref (digests);
        return islet_fail (err, ISLET_E_INVALID, 0, "layer %zu of `%s` has no sha256 digest", i,
                           digest);
      }
    lrel = blob_rel (ld);
    fd = open_in (im->root, lrel, err);
    if (fd < 0 || islet_imgstore_add_blob (im->state_dir, fd, ld, err) < 0
        || islet_imgstore_unpack_layer (im->state_dir, ld, err) < 0)
      {
        json_decref (digests);
        return -1;
      }
    json_array_append_new (digests, json_string (ld));
  }
  rc = islet_imgstore_record (im->state_dir, name, digest, cfg, digests, err);
  json_decref (digests);
  if (rc == 0)
    json_array_append_new (im->ids, json_string (cfg));
  return rc;
}

/* A name from an index entry's annotations, normalised, or NULL. */
static char *
annotated_name (json_t *entry)
{
  json_t *ann = json_object_get (entry, "annotations");
  const char *full = json_string_value (json_object_get (ann, "io.containerd.image.name"));
  const char *ref = json_string_value (json_object_get (ann, "org.opencontainers.image.ref.name"));
  struct islet_ref r;
  struct islet_err ignored;
  char *out;

  if (full == NULL && ref && (strchr (ref, '/') || strchr (ref, ':')))
    full = ref;
  if (full == NULL || islet_ref_parse (full, &r, &ignored) < 0)
    return NULL;
  out = islet_ref_string (&r);
  islet_ref_fini (&r);
  return out;
}

static int
import_oci (struct import *im, struct islet_err *err)
{
  cleanup_json json_t *index = load_in (im->root, "index.json", err);
  json_t *m;
  size_t i;

  if (index == NULL)
    return -1;
  if (json_array_size (json_object_get (index, "manifests")) == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "index.json lists no manifests");
  json_array_foreach (json_object_get (index, "manifests"), i, m)
  {
    cleanup_free char *own = NULL;
    json_t *p = json_object_get (m, "platform");
    const char *name;
    const char *arch = json_string_value (json_object_get (p, "architecture"));
    if (arch && strcmp (arch, oci_this_arch ()) != 0)
      continue; /* another machine's variant of a multi-platform layout */
    own = annotated_name (m);
    name = im->name ? im->name : own;
    if (import_oci_manifest (im, json_string_value (json_object_get (m, "digest")), name, 0, err)
        < 0)
      return -1;
  }
  return 0;
}

/* The sha256 of a file in the archive. */
static int
digest_in (int root, const char *path, char out[ISLET_DIGEST_LEN + 1], struct islet_err *err)
{
  cleanup_close int fd = open_in (root, path, err);
  if (fd < 0 || islet_digest_fd (fd, out, NULL, err) < 0)
    return -1;
  return 0;
}

static int
import_docker_one (struct import *im, json_t *entry, struct islet_err *err)
{
  const char *cfgpath = json_string_value (json_object_get (entry, "Config"));
  json_t *layers = json_object_get (entry, "Layers");
  json_t *tags = json_object_get (entry, "RepoTags");
  json_t *diff_ids, *digests, *l;
  cleanup_json json_t *cfg = NULL;
  char cfgdg[ISLET_DIGEST_LEN + 1];
  const char *base;
  size_t i;
  int rc = -1;

  if (cfgpath == NULL || !json_is_array (layers))
    return islet_fail (err, ISLET_E_INVALID, 0, "manifest.json: an entry has no Config or Layers");
  if (digest_in (im->root, cfgpath, cfgdg, err) < 0)
    return -1;
  /* the config's file name is its digest: "<hex>.json" or "blobs/sha256/<hex>" */
  base = strrchr (cfgpath, '/') ? strrchr (cfgpath, '/') + 1 : cfgpath;
  if (strncmp (base, cfgdg + 7, 64) != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "config `%s` has the digest `%s`: refused", cfgpath,
                       cfgdg);
  cfg = add_json_blob (im, cfgpath, cfgdg, err);
  if (cfg == NULL)
    return -1;
  diff_ids = json_object_get (json_object_get (cfg, "rootfs"), "diff_ids");
  if (json_array_size (diff_ids) != json_array_size (layers))
    return islet_fail (err, ISLET_E_INVALID, 0, "config `%s` lists %zu layers, the manifest %zu",
                       cfgpath, json_array_size (diff_ids), json_array_size (layers));
  digests = json_array ();
  json_array_foreach (layers, i, l)
  {
    const char *want = json_string_value (json_array_get (diff_ids, i));
    const char *path = json_string_value (l);
    cleanup_close int fd = -1;
    /* docker save writes layers uncompressed: their digest is the diff_id */
    if (!islet_digest_valid (want) || path == NULL)
      {
        islet_fail (err, ISLET_E_INVALID, 0, "layer %zu has no sha256 diff_id", i);
        goto out;
      }
    fd = open_in (im->root, path, err);
    if (fd < 0 || islet_imgstore_add_blob (im->state_dir, fd, want, err) < 0
        || islet_imgstore_unpack_layer (im->state_dir, want, err) < 0)
      goto out;
    json_array_append_new (digests, json_string (want));
  }
  rc = 0;
  if (im->name)
    rc = islet_imgstore_record (im->state_dir, im->name, cfgdg, cfgdg, digests, err);
  json_array_foreach (tags, i, l)
  {
    struct islet_ref r;
    cleanup_free char *norm = NULL;
    if (rc < 0 || islet_ref_parse (json_string_value (l), &r, err) < 0)
      {
        rc = -1;
        break;
      }
    norm = islet_ref_string (&r);
    islet_ref_fini (&r);
    rc = islet_imgstore_record (im->state_dir, norm, cfgdg, cfgdg, digests, err);
  }
  if (rc == 0 && !im->name && json_array_size (tags) == 0)
    rc = islet_imgstore_record (im->state_dir, NULL, cfgdg, cfgdg, digests, err);
  if (rc == 0)
    json_array_append_new (im->ids, json_string (cfgdg));
out:
  json_decref (digests);
  return rc;
}

static int
import_docker (struct import *im, struct islet_err *err)
{
  cleanup_json json_t *man = load_in (im->root, "manifest.json", err);
  json_t *e;
  size_t i;

  if (man == NULL)
    return -1;
  if (!json_is_array (man) || json_array_size (man) == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "manifest.json lists no images");
  json_array_foreach (man, i, e) if (import_docker_one (im, e, err) < 0) return -1;
  return 0;
}

int
islet_oci_import (const char *state_dir, const char *path, const char *name, json_t **ids,
                  struct islet_err *err)
{
  cleanup_close int lock = oci_store_begin (state_dir, err);
  cleanup_free char *tmp = NULL;
  cleanup_free char *norm = NULL;
  struct import im = { .state_dir = state_dir, .root = -1 };
  struct stat st;
  int rc;

  if (lock < 0)
    return -1;
  if (name)
    {
      struct islet_ref r;
      if (islet_ref_parse (name, &r, err) < 0)
        return -1;
      norm = islet_ref_string (&r);
      islet_ref_fini (&r);
      im.name = norm;
    }
  if (stat (path, &st) < 0)
    return islet_fail (err, ISLET_E_NOTFOUND, errno, "`%s`", path);
  if (!S_ISDIR (st.st_mode))
    {
      cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
      tmp = islet_xasprintf ("%s/images/tmp/import.XXXXXX", state_dir);
      if (fd < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
      if (mkdtemp (tmp) == NULL)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdtemp `%s`", tmp);
      if (islet_layer_unpack (fd, tmp, err) < 0)
        return islet_wrap (err, "unpack `%s`", path);
      path = tmp;
    }
  im.root = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (im.root < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
  im.ids = json_array ();
  if (faccessat (im.root, "index.json", F_OK, 0) == 0)
    rc = import_oci (&im, err);
  else if (faccessat (im.root, "manifest.json", F_OK, 0) == 0)
    rc = import_docker (&im, err);
  else
    rc = islet_fail (err, ISLET_E_INVALID, 0,
                     "`%s` is neither an OCI image layout (index.json) nor a docker save archive "
                     "(manifest.json)",
                     path);
  close (im.root);
  if (tmp)
    {
      struct islet_err ignored;
      (void) !islet_rm_rf (tmp, &ignored);
    }
  if (rc < 0)
    {
      json_decref (im.ids);
      return -1;
    }
  *ids = im.ids;
  return 0;
}
