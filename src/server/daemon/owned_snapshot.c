/* isletd's middle for Daytona's snapshots: a key's names for an image
 * (daytona.snapshot.create) or for a snapshot of one of its sandboxes'
 * files (sandbox.createSnapshot), the latter a core snapshot
 * (include/islet/snapshot.h) named by the row's id.  Another key's
 * snapshots are "no snapshot", as its sandboxes are "no sandbox". */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/snapshot.h"
#include "islet/util.h"
#include "owned.h"
#include "server.h"

static void
new_uuid (char out[40])
{
  unsigned char b[16];

  if (getrandom (b, sizeof b, 0) != (ssize_t) sizeof b)
    {
      uint64_t t = islet_now_ns ();
      memcpy (b, &t, 8);
      memcpy (b + 8, &t, 8);
    }
  b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
  snprintf (out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
            b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
            b[15]);
}

static int
check_name (const char *name, struct islet_err *err)
{
  if (name == NULL || !owned_name_ok (name))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "snapshot name must be 1 to 255 bytes, without '/' or control characters");
  return 0;
}

/* The key's new row of an image snapshot (image "" while it is built),
 * added to the store; *out left empty on failure. */
static int
row_add (const struct owner *k, const char *name, const char *image, const char *state,
         struct islet_store_snapshot *out, struct islet_err *err)
{
  int64_t now = (int64_t) time (NULL);

  *out = (struct islet_store_snapshot){
    .key_id = k->key_id,
    .name = islet_xstrdup (name),
    .image = islet_xstrdup (image),
    .state = islet_xstrdup (state),
    .created = now,
    .updated = now,
  };
  new_uuid (out->id);
  if (islet_store_snapshot_add (k->srv->store, out, err) < 0)
    {
      islet_store_snapshot_fini (out);
      return -1;
    }
  return 0;
}

/* The row taken back: its pull or build could not start. */
static int
row_undo (const struct owner *k, struct islet_store_snapshot *out)
{
  struct islet_err e;

  if (islet_store_snapshot_delete (k->srv->store, out->id, &e) < 0)
    fprintf (stderr, "isletd: %s\n", e.msg);
  islet_store_snapshot_fini (out);
  return -1;
}

/* An image in the store is active at once; another is pending until its
 * pull (pull.c) starts, pulling while it runs. */
int
owned_snapshot_of_image (const struct owner *k, const char *name, const char *image,
                         struct islet_store_snapshot *out, struct islet_err *err)
{
  struct islet_err e;
  bool here;

  if (check_name (name, err) < 0)
    return -1;
  if (image == NULL || *image == '\0')
    return islet_fail (err, ISLET_E_INVALID, 0, "imageName is required");
  here = owned_image_here (k, image, &e) == 0;
  if (!here && (e.kind != ISLET_E_INVALID || strcmp (image, "default") == 0))
    {
      *err = e; /* a store that cannot be read; the default image is built, not pulled */
      return -1;
    }
  if (row_add (k, name, image, here ? "active" : "pending", out, err) < 0)
    return -1;
  if (!here && owned_pull_start (k, image, out->id, err) < 0)
    return row_undo (k, out);
  return 0;
}

int
owned_snapshot_of_build (const struct owner *k, const char *name, const char *dockerfile,
                         char *const *contexts, struct islet_store_snapshot *out,
                         struct islet_err *err)
{
  bool first = false;

  if (check_name (name, err) < 0 || owned_contexts_here (k, contexts, err) < 0
      || owned_build_room (k, &first, err) < 0)
    return -1;
  /* the image is the build's id once it is made; until then none */
  if (row_add (k, name, "", first ? "building" : "pending", out, err) < 0)
    return -1;
  if (owned_pending_snapshot_build (k, out->id, dockerfile, contexts, err) < 0)
    return row_undo (k, out);
  return 0;
}

int
owned_snapshot_take (const struct owner *k, const struct owned *o, const char *name,
                     struct islet_store_snapshot *out, struct islet_err *err)
{
  int64_t now = (int64_t) time (NULL);
  struct islet_err e;

  if (check_name (name, err) < 0)
    return -1;
  *out = (struct islet_store_snapshot){
    .key_id = k->key_id,
    .name = islet_xstrdup (name),
    .image = islet_xstrdup (o->info.image),
    .source = islet_xstrdup (o->info.id),
    .state = islet_xstrdup ("snapshotting"),
    .created = now,
    .updated = now,
  };
  new_uuid (out->id);
  out->core = islet_xstrdup (out->id);
  /* the row first, marked snapshotting: a kill of isletd before it is
   * active leaves a row that the sweep at start removes with its layer */
  if (islet_store_snapshot_add (k->srv->store, out, err) < 0)
    goto fail;
  if (islet_snapshot_create_as (k->srv->ctx, o->info.id, out->core, name, NULL, err) < 0)
    {
      if (islet_store_snapshot_delete (k->srv->store, out->id, &e) < 0)
        fprintf (stderr, "isletd: %s (the sweep at the next start removes it)\n", e.msg);
      goto fail;
    }
  if (islet_store_snapshot_set_state (k->srv->store, out->id, "active", NULL, err) < 0)
    goto fail;
  free (out->state);
  out->state = islet_xstrdup ("active");
  return 0;
fail:
  islet_store_snapshot_fini (out);
  return -1;
}

int
owned_snapshot_get (const struct owner *k, const char *ref, struct islet_store_snapshot *out,
                    struct islet_err *err)
{
  return islet_store_snapshot_get (k->srv->store, k->key_id, ref, out, err);
}

/* A sandbox of the key that runs on the image snapshot s names. */
static int
image_user (const struct owner *k, const struct islet_store_snapshot *s, char *user, size_t size,
            struct islet_err *err)
{
  cleanup_free struct islet_sandbox_info *list = NULL;
  char id[80];
  int hold = -1;
  size_t n = 0;

  user[0] = '\0';
  if (islet_image_resolve (islet_ctx_state_dir (k->srv->ctx), s->image, id, sizeof id, &hold, err)
      < 0)
    return err->kind == ISLET_E_NOTFOUND ? 0 : -1; /* gone: nobody runs on it */
  if (hold >= 0)
    close (hold);
  if (owned_list (k, &list, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n && user[0] == '\0'; i++)
    if (strcmp (list[i].image, id) == 0)
      snprintf (user, size, "%s", list[i].name);
  return 0;
}

int
owned_snapshot_delete (const struct owner *k, const char *ref, struct islet_err *err)
{
  struct islet_store_snapshot s;
  char user[ISLET_NAME_MAX + 256];
  int rc = -1;

  if (owned_snapshot_get (k, ref, &s, err) < 0)
    return -1;
  /* a build under way is called off first, its image never made; the
     row read again, as the build may have ended meanwhile */
  if (strcmp (s.state, "pending") == 0 || strcmp (s.state, "pulling") == 0
      || strcmp (s.state, "building") == 0)
    {
      owned_pending_snapshot_cancel (k->srv, s.id);
      islet_store_snapshot_fini (&s);
      if (owned_snapshot_get (k, ref, &s, err) < 0)
        return -1;
    }
  if (s.core == NULL && s.image[0] == '\0')
    user[0] = '\0'; /* a build's, not made: no sandbox runs on it */
  else if (s.core == NULL && image_user (k, &s, user, sizeof user, err) < 0)
    goto out;
  if (s.core == NULL && user[0])
    {
      islet_fail (err, ISLET_E_CONFLICT, 0, "snapshot '%s' is in use by sandbox '%s'", s.name,
                  user);
      goto out;
    }
  /* the core refuses while a sandbox made from it exists */
  if (s.core && islet_snapshot_rm (k->srv->ctx, s.core, err) < 0 && err->kind != ISLET_E_NOTFOUND)
    {
      if (err->kind == ISLET_E_CONFLICT)
        islet_fail (err, ISLET_E_CONFLICT, 0, "snapshot '%s' is in use by a sandbox made from it",
                    s.name);
      goto out;
    }
  rc = islet_store_snapshot_delete (k->srv->store, s.id, err);
  if (rc == 0)
    owned_pending_forget (k->srv, s.id); /* its build's log */
out:
  islet_store_snapshot_fini (&s);
  return rc;
}

int
owned_snapshot_spec (const struct owner *k, const char *ref, struct owned_spec *spec,
                     struct islet_store_snapshot *keep, struct islet_err *err)
{
  struct islet_err ignored;

  memset (keep, 0, sizeof *keep);
  if (ref == NULL || owned_snapshot_get (k, ref, keep, &ignored) < 0)
    {
      spec->image = ref; /* not one of the key's: an image's name, as before */
      return 0;
    }
  if (strcmp (keep->state, "active") != 0)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "snapshot '%s' is %s%s%s", keep->name, keep->state,
                       keep->error ? ": " : "", keep->error ? keep->error : "");
  if (keep->core)
    spec->snapshot = keep->core;
  else
    spec->image = keep->image;
  return 0;
}

/* Whether s is snapshot.create's of an Image: a build's row has a log,
 * from its create on, until it is deleted. */
static bool
built_by_us (struct srv *srv, const struct islet_store_snapshot *s)
{
  cleanup_free char *log = owned_pending_log (srv, s->id);

  return s->core == NULL && access (log, F_OK) == 0;
}

void
owned_snapshot_sweep (struct srv *srv)
{
  struct islet_store_snapshot *v = NULL;
  struct islet_err e;
  size_t n = 0, swept = 0;

  if (islet_store_snapshot_list (srv->store, -1, &v, &n, &e) < 0)
    {
      fprintf (stderr, "isletd: sweep snapshots: %s\n", e.msg);
      return;
    }
  for (size_t i = 0; i < n; i++)
    {
      /* a build's or a pull's child died with isletd: the store recorded
       * nothing of it unless it was complete, but the row cannot know
       * which.  Only a build's row is ever building; a pending or pulling
       * one (its base) is a build's when it has a log. */
      bool build = strcmp (v[i].state, "building") == 0 || built_by_us (srv, &v[i]);
      bool unfinished = strcmp (v[i].state, "pending") == 0 || strcmp (v[i].state, "pulling") == 0
                        || strcmp (v[i].state, "building") == 0;
      if (build && unfinished)
        {
          if (islet_store_snapshot_set_state (srv->store, v[i].id, "build_failed",
                                              "isletd stopped before its image was built: "
                                              "delete the snapshot and create it again",
                                              &e)
              == 0)
            swept++;
        }
      else if ((strcmp (v[i].state, "pending") == 0 || strcmp (v[i].state, "pulling") == 0)
               && islet_store_snapshot_set_state (srv->store, v[i].id, "error",
                                                  "the pull was cut short by a stop of isletd: "
                                                  "delete the snapshot and create it again",
                                                  &e)
                      == 0)
        swept++;
      if (strcmp (v[i].state, "snapshotting") == 0
          && (v[i].core == NULL || islet_snapshot_rm (srv->ctx, v[i].core, &e) == 0
              || e.kind == ISLET_E_NOTFOUND)
          && islet_store_snapshot_delete (srv->store, v[i].id, &e) == 0)
        swept++;
      islet_store_snapshot_fini (&v[i]);
    }
  free (v);
  if (swept)
    fprintf (stderr, "isletd: swept %zu snapshots left unfinished by a stop of isletd\n", swept);
}

json_t *
owned_snapshot_dto (const struct islet_store_snapshot *s)
{
  char created[32], updated[32];

  iso_time (s->created, created);
  iso_time (s->updated, updated);
  return json_pack ("{s:s,s:b,s:s,s:s,s:s,s:n,s:n,s:i,s:i,s:i,s:i,s:o,s:s,s:s,s:n,s:o,s:s}", "id",
                    s->id, "general", 0, "name", s->name, "imageName", s->image, "state", s->state,
                    "size", "entrypoint", "cpu", 1, "gpu", 0, "mem", 1, "disk", 3, "errorReason",
                    s->error ? json_string (s->error) : json_null (), "createdAt", created,
                    "updatedAt", updated, "lastUsedAt", "sourceSandboxId",
                    s->source ? json_string (s->source) : json_null (), "ref", s->image);
}
