/* Removing images: rm (refused while a sandbox uses the image) and prune
 * (blobs and layers no image references).  Both hold the store's lock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <string.h>
#include <unistd.h>

#include "islet/oci.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "oci_internal.h"

int
oci_copy_fd (int in, int out, struct islet_err *err)
{
  cleanup_free char *buf = islet_xmalloc (1 << 16);
  for (;;)
    {
      ssize_t n = read (in, buf, 1 << 16);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "read");
      if (n == 0)
        return 0;
      if (islet_write_all (out, buf, (size_t) n) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "write");
    }
}

/* "WHAT `NAME`" of the first JSON file of dir (each entry's `file`
 * inside it, or the entry itself when file is NULL) whose "image" is id,
 * or NULL. */
static char *
first_on (const char *dir, const char *file, const char *what, const char *id)
{
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    {
      cleanup_free char *p = NULL;
      json_t *j;
      char *found = NULL;
      if (e->d_name[0] == '.')
        continue;
      p = file ? islet_xasprintf ("%s/%s/%s", dir, e->d_name, file)
               : islet_xasprintf ("%s/%s", dir, e->d_name);
      j = json_load_file (p, 0, NULL);
      if (j && strcmp (json_string_value (json_object_get (j, "image")) ?: "", id) == 0)
        found = islet_xasprintf ("%s `%s`", what,
                                 json_string_value (json_object_get (j, "name")) ?: e->d_name);
      json_decref (j);
      if (found)
        return found;
    }
  return NULL;
}

/* What keeps image id: a sandbox of state_dir made on it, or a snapshot
 * whose layer goes over it (<state>/snapshots/NAME.json,
 * src/client/snapshot.c); NULL: nothing. */
static char *
user_of (const char *state_dir, const char *id)
{
  cleanup_free char *sandboxes = islet_xasprintf ("%s/sandboxes", state_dir);
  cleanup_free char *snapshots = islet_xasprintf ("%s/snapshots", state_dir);
  char *found = first_on (sandboxes, "config.json", "sandbox", id);

  return found ? found : first_on (snapshots, NULL, "snapshot", id);
}

/* Add every digest an image record references to the set refs. */
static void
collect_refs (const char *state_dir, json_t *refs)
{
  cleanup_free char *dir = islet_xasprintf ("%s/images/meta", state_dir);
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    {
      cleanup_free char *p = NULL;
      json_t *rec, *l;
      size_t i;
      if (e->d_name[0] == '.')
        continue;
      p = islet_xasprintf ("%s/%s", dir, e->d_name);
      rec = json_load_file (p, 0, NULL);
      if (rec == NULL)
        continue;
      json_object_set (refs, json_string_value (json_object_get (rec, "manifest")) ?: "",
                       json_true ());
      json_object_set (refs, json_string_value (json_object_get (rec, "config")) ?: "",
                       json_true ());
      json_array_foreach (json_object_get (rec, "layers"), i, l)
          json_object_set (refs, json_string_value (l) ?: "", json_true ());
      json_decref (rec);
    }
}

/* Remove the entries of dir (blobs or layers) whose digest refs lacks. */
static int
sweep (const char *state_dir, const char *sub, json_t *refs, uint64_t *freed, struct islet_err *err)
{
  cleanup_free char *dir = islet_xasprintf ("%s/images/%s", state_dir, sub);
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    {
      cleanup_free char *dg = islet_xasprintf ("sha256:%s", e->d_name);
      cleanup_free char *p = NULL;
      if (e->d_name[0] == '.' || json_object_get (refs, dg))
        continue;
      p = islet_xasprintf ("%s/%s", dir, e->d_name);
      *freed += islet_imgstore_du (p);
      if (islet_rm_rf (p, err) < 0)
        return -1;
    }
  return 0;
}

static void
list_into (const char *state_dir, const char *sub, json_t *set)
{
  cleanup_free char *dir = islet_xasprintf ("%s/images/%s", state_dir, sub);
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    if (e->d_name[0] != '.')
      {
        cleanup_free char *dg = islet_xasprintf ("sha256:%s", e->d_name);
        json_object_set_new (set, dg, json_true ());
      }
}

json_t *
oci_store_contents (const char *state_dir)
{
  json_t *set = json_object ();

  list_into (state_dir, "blobs/sha256", set);
  list_into (state_dir, "layers", set);
  return set;
}

int
oci_store_drop_new (const char *state_dir, json_t *before, struct islet_err *err)
{
  cleanup_json json_t *keep = json_deep_copy (before);
  uint64_t freed = 0;

  collect_refs (state_dir, keep);
  oci_store_clear_tmp (state_dir);
  if (sweep (state_dir, "layers", keep, &freed, err) < 0
      || sweep (state_dir, "blobs/sha256", keep, &freed, err) < 0)
    return -1;
  return 0;
}

static int
prune_locked (const char *state_dir, uint64_t *freed, struct islet_err *err)
{
  json_t *refs = json_object ();
  int rc;

  *freed = 0;
  collect_refs (state_dir, refs);
  rc = sweep (state_dir, "layers", refs, freed, err) < 0
               || sweep (state_dir, "blobs/sha256", refs, freed, err) < 0
           ? -1
           : 0;
  json_decref (refs);
  return rc;
}

int
islet_imgstore_prune (const char *state_dir, uint64_t *freed, struct islet_err *err)
{
  cleanup_close int lock = oci_store_begin (state_dir, err);
  cleanup_close int use = lock < 0 ? -1 : islet_imgstore_use_lock (state_dir, LOCK_EX, err);
  if (use < 0)
    return -1;
  return prune_locked (state_dir, freed, err);
}

/* Take the name ref off record when ref is one of its several names, as
 * docker rmi untags; false when ref is its id or its only name. */
static bool
untag (json_t *record, const char *ref)
{
  json_t *names = json_object_get (record, "names");
  struct islet_ref r;
  struct islet_err ignored;
  cleanup_free char *norm = NULL;

  if (json_array_size (names) < 2 || islet_ref_parse (ref, &r, &ignored) < 0)
    return false;
  norm = islet_ref_string (&r);
  islet_ref_fini (&r);
  for (size_t i = 0; i < json_array_size (names); i++)
    if (strcmp (json_string_value (json_array_get (names, i)) ?: "", norm) == 0)
      {
        json_array_remove (names, i);
        return true;
      }
  return false;
}

int
islet_imgstore_rm (const char *state_dir, const char *ref, struct islet_err *err)
{
  cleanup_close int lock = oci_store_begin (state_dir, err);
  /* no create may pick the image between the check and the removal */
  cleanup_close int use = lock < 0 ? -1 : islet_imgstore_use_lock (state_dir, LOCK_EX, err);
  struct islet_oci_image img;
  cleanup_free char *user = NULL;
  cleanup_free char *meta = NULL;
  uint64_t freed;

  if (use < 0 || islet_imgstore_open (state_dir, ref, &img, err) < 0)
    return -1;
  meta = islet_xasprintf ("%s/images/meta/%s.json", state_dir, img.id + 7);
  if (untag (img.record, ref))
    {
      /* one of several names: the image stays, under its other names */
      cleanup_free char *text = json_dumps (img.record, JSON_INDENT (2));
      islet_oci_image_fini (&img);
      return islet_write_file_atomic (meta, text, strlen (text), 0644, err);
    }
  user = user_of (state_dir, img.id);
  islet_oci_image_fini (&img);
  if (user)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "image `%s` is in use by %s", ref, user);
  if (unlink (meta) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "remove `%s`", meta);
  return prune_locked (state_dir, &freed, err);
}
