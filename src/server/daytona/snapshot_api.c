/* Daytona's snapshots: /api/snapshots... (daytona.snapshot.*) and
 * POST /api/sandbox/{id}/snapshot (sandbox.createSnapshot).  A face of the
 * middle (owned.h, owned_snapshot.c). */
#include <stdlib.h>
#include <string.h>

#include "islet/util.h"
#include "server.h"

static void
reply_snapshot (struct resp *out, int rc, struct islet_store_snapshot *s,
                const struct islet_err *err)
{
  if (rc < 0)
    reply_islet_err (out, err, false);
  else
    reply_json (out, 200, owned_snapshot_dto (s));
  if (rc == 0)
    islet_store_snapshot_fini (s);
}

static void
strv_freep (char ***v)
{
  islet_strv_free (*v);
}

void
api_snapshot_create (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  struct owner k = req_owner (r);
  struct islet_store_snapshot s;
  const char *name = NULL, *image = NULL;
  cleanup_free char *from = NULL, *dockerfile = NULL;
  __attribute__ ((cleanup (strv_freep))) char **contexts = NULL;
  struct islet_err err;

  if (j == NULL || field_string (j, "name", &name, out) < 0
      || field_string (j, "imageName", &image, out) < 0)
    return;
  /* an Image: a FROM line alone names the image; any other Dockerfile is
     built in the background, the answer at once (pending or building), and
     the snapshot is its result */
  if (daytona_build_info (j, &from, &dockerfile, &contexts, out) < 0)
    return;
  if ((from || dockerfile) && image)
    {
      reply_error (out, 400, "BAD_REQUEST", "imageName and buildInfo both name an image: give one");
      return;
    }
  if (from)
    image = from;
  if (dockerfile)
    {
      reply_snapshot (out, owned_snapshot_of_build (&k, name, dockerfile, contexts, &s, &err), &s,
                      &err);
      return;
    }
  reply_snapshot (out, owned_snapshot_of_image (&k, name, image, &s, &err), &s, &err);
}

void
api_snapshot_get (struct req *r, struct resp *out)
{
  struct owner k = req_owner (r);
  struct islet_store_snapshot s;
  struct islet_err err;

  reply_snapshot (out, owned_snapshot_get (&k, r->params[0], &s, &err), &s, &err);
}

/* activate: a snapshot here is never deactivated, so it is answered as it is */
void
api_snapshot_activate (struct req *r, struct resp *out)
{
  api_snapshot_get (r, out);
}

void
api_snapshot_delete (struct req *r, struct resp *out)
{
  struct owner k = req_owner (r);
  struct islet_err err;

  if (owned_snapshot_delete (&k, r->params[0], &err) < 0)
    reply_islet_err (out, &err, false);
  else
    reply_json (out, 200, json_object ());
}

/* A positive integer query parameter, def when absent; 0 with a 400 when bad. */
static long
query_count (struct req *r, const char *name, long def, long max, struct resp *out)
{
  const char *v = req_query (r, name);
  char *end;
  long n;

  if (v == NULL || *v == '\0')
    return def;
  n = strtol (v, &end, 10);
  if (*end != '\0' || n < 1 || n > max)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s must be an integer from 1 to %ld", name, max);
      return 0;
    }
  return n;
}

/* ?page=P&limit=L (from 1; 100 a page by default, at most 200), optionally
 * only those of ?name= or ?sourceSandboxId=: {items, total, page, totalPages} */
void
api_snapshot_list (struct req *r, struct resp *out)
{
  struct owner k = req_owner (r);
  struct islet_store_snapshot *v = NULL;
  const char *name = req_query (r, "name"), *source = req_query (r, "sourceSandboxId");
  long page = query_count (r, "page", 1, 1L << 30, out), limit;
  size_t n = 0, total = 0;
  struct islet_err err;
  json_t *items;

  if (page == 0 || (limit = query_count (r, "limit", 100, 200, out)) == 0)
    return;
  if (islet_store_snapshot_list (r->srv->store, k.key_id, &v, &n, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  items = json_array ();
  for (size_t i = 0; i < n; i++)
    {
      if ((name == NULL || strcmp (v[i].name, name) == 0)
          && (source == NULL || (v[i].source && strcmp (v[i].source, source) == 0))
          && total++ / (size_t) limit == (size_t) page - 1)
        json_array_append_new (items, owned_snapshot_dto (&v[i]));
      islet_store_snapshot_fini (&v[i]);
    }
  free (v);
  reply_json (out, 200,
              json_pack ("{s:o,s:I,s:I,s:I}", "items", items, "total", (json_int_t) total, "page",
                         (json_int_t) page, "totalPages",
                         (json_int_t) ((total + (size_t) limit - 1) / (size_t) limit)));
}

/* sandbox.createSnapshot(name): the sandbox as the SDK reads it after */
void
api_sandbox_snapshot (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_owned struct owned o = { 0 };
  struct owner k = req_owner (r);
  struct islet_store_snapshot s;
  const char *name = NULL;
  struct islet_err err;

  if (j == NULL || field_string (j, "name", &name, out) < 0)
    return;
  if (owned_open (&k, r->params[0], &o, &err) < 0
      || owned_snapshot_take (&k, &o, name, &s, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  islet_store_snapshot_fini (&s);
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", o.info.id);
  reply_json (out, 200, owned_dto (&k, &o, NULL));
}
