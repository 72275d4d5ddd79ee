/* Daytona's volumes: POST/GET /api/volumes, GET /api/volumes/{id},
 * GET /api/volumes/by-name/{name}, DELETE /api/volumes/{id}, and the
 * `volumes` of a sandbox create.
 *
 * A volume is a key's: the store's row says whose, under the name the key
 * gave; another key's volume is not there (404).  The core's volume is
 * named by the row's id (a UUID), so two keys may use one name.  Its size
 * is islet's own `sizeMb` (Daytona's create has a name only), by default
 * ISLET_VOLUME_SIZE_DEFAULT_MB. */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "islet/util.h"
#include "islet/volume.h"
#include "server.h"

static void
uuid_v4 (char out[37])
{
  unsigned char b[16];

  if (getrandom (b, sizeof b, 0) != (ssize_t) sizeof b)
    {
      /* getrandom of 16 bytes does not fail once the pool is up */
      struct timespec t;
      clock_gettime (CLOCK_REALTIME, &t);
      memcpy (b, &t, sizeof t < sizeof b ? sizeof t : sizeof b);
    }
  b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
  snprintf (out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
            b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
            b[15]);
}

/* The VolumeDto: ready while the core has it; a row whose volume the core
 * lost (a create cut short) says so rather than look usable. */
static json_t *
volume_dto (struct req *r, const struct islet_store_volume *v)
{
  cleanup_free char *org = islet_xasprintf ("key-%lld", (long long) v->key_id);
  struct islet_volume_info info = { 0 };
  struct islet_err err;
  char created[32];
  bool here = islet_volume_get (r->srv->ctx, v->id, &info, &err) == 0;

  iso_time (v->created, created);
  return json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s,s:n,s:s?,s:{s:I,s:I}}", "id", v->id, "name", v->name,
                    "organizationId", org, "state", here ? "ready" : "error", "createdAt", created,
                    "updatedAt", created, "lastUsedAt", "errorReason", here ? NULL : err.msg,
                    "islet", "sizeMb", (json_int_t) v->size_mb, "usedBytes",
                    (json_int_t) info.used_bytes);
}

static int
create_body (json_t *j, const char **name, uint64_t *size_mb, struct resp *out)
{
  const char *k;
  json_t *v;

  json_object_foreach (j, k, v)
  {
    if (strcmp (k, "name") == 0 && json_is_string (v))
      *name = json_string_value (v);
    else if (strcmp (k, "sizeMb") == 0 && json_is_integer (v) && json_integer_value (v) > 0
             && json_integer_value (v) <= ((json_int_t) 1 << 30))
      *size_mb = (uint64_t) json_integer_value (v);
    else
      {
        reply_error (out, 400, "BAD_REQUEST",
                     "%s is not a field of a volume create that islet knows, or not valid "
                     "(name: a string; sizeMb: MiB, a positive integer)",
                     k);
        return -1;
      }
  }
  if (*name == NULL || !owned_name_ok (*name))
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "a volume needs a name: 1 to 255 bytes, no '/' or control characters");
      return -1;
    }
  return 0;
}

void
api_volume_create (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  struct islet_store_volume v = { .key_id = r->key_id, .created = (int64_t) time (NULL) };
  const char *name = NULL;
  uint64_t size_mb = ISLET_VOLUME_SIZE_DEFAULT_MB;
  struct owner k = req_owner (r);
  struct islet_quota q;
  struct islet_err err;

  if (j == NULL || create_body (j, &name, &size_mb, out) < 0)
    return;
  uuid_v4 (v.id);
  snprintf (v.name, sizeof v.name, "%s", name);
  v.size_mb = (int64_t) size_mb;
  /* the row first, under the store's lock with the key's quota; the
     core's volume after, and the row goes again if that fails */
  if (owned_quota (&k, &q, &err) < 0
      || islet_store_volume_claim (r->srv->store, &v, q.volumes, q.volume_mb, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  if (islet_volume_create (r->srv->ctx, v.id, size_mb, &err) < 0)
    {
      struct islet_err ignored;
      (void) !islet_store_volume_delete (r->srv->store, v.id, &ignored);
      reply_islet_err (out, &err, false);
      return;
    }
  reply_json (out, 200, volume_dto (r, &v));
}

void
api_volume_list (struct req *r, struct resp *out)
{
  cleanup_free struct islet_store_volume *v = NULL;
  struct islet_err err;
  size_t n = 0;
  json_t *a;

  if (islet_store_volume_list (r->srv->store, r->key_id, &v, &n, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  a = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (a, volume_dto (r, &v[i]));
  reply_json (out, 200, a);
}

static void
get_one (struct req *r, struct resp *out, bool by_name)
{
  struct islet_store_volume v;
  struct islet_err err;

  if (islet_store_volume_find (r->srv->store, r->key_id, r->params[0], by_name, &v, &err) < 0)
    reply_islet_err (out, &err, false);
  else
    reply_json (out, 200, volume_dto (r, &v));
}

void
api_volume_get (struct req *r, struct resp *out)
{
  get_one (r, out, false);
}

void
api_volume_get_by_name (struct req *r, struct resp *out)
{
  get_one (r, out, true);
}

void
api_volume_delete (struct req *r, struct resp *out)
{
  struct islet_store_volume v;
  struct islet_err err;

  if (islet_store_volume_find (r->srv->store, r->key_id, r->params[0], false, &v, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  /* the core refuses while a sandbox, running or stopped, mounts it, and
     names it; a volume the core lost only has its row left to remove */
  if (islet_volume_remove (r->srv->ctx, v.id, &err) < 0 && err.kind != ISLET_E_NOTFOUND)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  if (islet_store_volume_delete (r->srv->store, v.id, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  reply_json (out, 200, json_object ());
}

int
volumes_field (struct req *r, json_t *body, struct islet_volume_mount **mounts, size_t *n,
               struct resp *out)
{
  json_t *a = json_object_get (body, "volumes"), *item;
  struct islet_volume_mount *m;
  struct islet_err err;
  size_t i;

  *mounts = NULL;
  *n = 0;
  if (a == NULL || json_is_null (a))
    return 0;
  if (!json_is_array (a) || json_array_size (a) > ISLET_VOLUME_MOUNTS_MAX)
    {
      reply_error (out, 400, "BAD_REQUEST", "volumes must be an array of at most %d objects",
                   ISLET_VOLUME_MOUNTS_MAX);
      return -1;
    }
  m = islet_xcalloc (json_array_size (a) + 1, sizeof *m);
  json_array_foreach (a, i, item)
  {
    struct islet_store_volume v;
    const char *id = NULL, *path = NULL, *sub = NULL;

    if (json_unpack (item, "{s:s,s:s,s?s}", "volumeId", &id, "mountPath", &path, "subpath", &sub)
        < 0)
      {
        free (m);
        reply_error (out, 400, "BAD_REQUEST",
                     "volumes entry %zu must be {volumeId, mountPath, subpath?} of strings", i);
        return -1;
      }
    if (islet_store_volume_find (r->srv->store, r->key_id, id, false, &v, &err) < 0)
      {
        free (m);
        if (err.kind == ISLET_E_NOTFOUND)
          reply_error (out, 400, "BAD_REQUEST",
                       "volumes cannot be honoured: entry %zu names no volume '%s' of this key", i,
                       id);
        else
          reply_islet_err (out, &err, false);
        return -1;
      }
    /* the body's string is the row's id: it lives as long as the body */
    m[i] = (struct islet_volume_mount){ .volume = id, .path = path, .subpath = sub };
  }
  if (islet_volume_mounts_check (m, json_array_size (a), &err) < 0)
    {
      free (m);
      reply_islet_err (out, &err, false);
      return -1;
    }
  *mounts = m;
  *n = json_array_size (a);
  return 0;
}
