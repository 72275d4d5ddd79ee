/* Sandboxes whose image is pulled or built first: create({image: REF}) of
 * an image not on the machine, and create({image: Image...}).  The create
 * answers at once with a row in phase building (it holds the key's quota
 * and the name from then on, as every create's row does), and a thread of
 * the job pulls or builds, then makes the core's sandbox under the row's
 * id.  Daytona's states follow the job: pending_build while the build
 * waits for a slot, building_snapshot while it runs, pulling_snapshot
 * during a pull, starting while the sandbox is made; then started, or the
 * row failed (build_failed, error for a pull) with the reason, kept until
 * the key deletes it.  A delete calls the job off: its child killed, the
 * row gone at once.
 *
 * A build's output is its log, <state>/isletd-builds/ID.log (its first
 * 1 MiB, build.c), followed by GET /api/sandbox/ID/build-logs; a failure's
 * state and reason are kept beside it (ID.failed), as the row's phase keeps
 * only that it failed.  A kill of isletd leaves rows building: the sweep at
 * the next start fails them (owned_pending_swept), destroying a sandbox
 * the job had begun, so none is ever started without its image.
 *
 * snapshot.create from an Image is a job too, of the snapshot's row (its
 * id a UUID): the same slots, log and call-off, its states the snapshot's
 * (pending, building, then active with the built image or build_failed);
 * its delete waits for the job's end, so that nothing of it is left. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "islet/util.h"
#include "islet/volume.h"
#include "owned.h"
#include "server.h"

enum stage
{
  ST_PENDING,  /* waiting for a build slot */
  ST_PULLING,  /* pulling its image */
  ST_BUILDING, /* building its image */
  ST_STARTING, /* the core makes the sandbox: a delete waits for it */
  ST_DONE,
};

static const char *const stage_words[] = {
  [ST_PENDING] = "pending_build",
  [ST_PULLING] = "pulling_snapshot",
  [ST_BUILDING] = "building_snapshot",
  [ST_STARTING] = "starting",
  [ST_DONE] = "starting",
};

struct job
{
  struct job *next;
  struct srv *srv;
  int64_t key_id;
  char id[40];   /* the sandbox's, or the snapshot's (a UUID) */
  bool snapshot; /* a snapshot's build: its row is the snapshot's, no sandbox is made */
  enum stage stage;
  bool cancelled;
  pid_t pid; /* islet-image's, while it runs */
  char *pull_ref, *dockerfile;
  char **contexts; /* the build's context hashes (object storage), or NULL */
  /* what the sandbox is made with */
  struct islet_limits limits;
  struct islet_net net;
  struct islet_volume_mount *volumes;
  size_t n_volumes;
};

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_changed = PTHREAD_COND_INITIALIZER;
static struct job *jobs;

/* Under jobs_lock. */
static struct job *
job_find (struct srv *srv, const char *id)
{
  for (struct job *j = jobs; j; j = j->next)
    if (j->srv == srv && strcmp (j->id, id) == 0)
      return j;
  return NULL;
}

static char *
file_of (struct srv *srv, const char *id, const char *ext)
{
  return islet_xasprintf ("%s/isletd-builds/%s.%s", srv->state_dir, id, ext);
}

char *
owned_pending_log (struct srv *srv, const char *id)
{
  return file_of (srv, id, "log");
}

bool
owned_pending_running (struct srv *srv, const char *id)
{
  bool on;

  pthread_mutex_lock (&jobs_lock);
  on = job_find (srv, id) != NULL;
  pthread_mutex_unlock (&jobs_lock);
  return on;
}

void
owned_pending_info (const struct islet_store_sandbox *row, struct islet_sandbox_info *info)
{
  *info = (struct islet_sandbox_info){ .state = ISLET_SB_STOPPED,
                                       .limits = ISLET_LIMITS_DEFAULT,
                                       .created = row->created };
  snprintf (info->id, sizeof info->id, "%s", row->id);
  snprintf (info->name, sizeof info->name, "%s", row->name ? row->name : row->id);
  info->limits.memory_mb = (uint64_t) row->memory_mb;
  info->limits.cpu_millis = (uint32_t) row->cpu_millis;
  info->limits.disk_mb = (uint64_t) row->disk_mb;
}

const char *
owned_pending_state (struct srv *srv, const struct islet_store_sandbox *row, char **reason)
{
  const char *word = "pending_build";

  *reason = NULL;
  if (row->phase == ISLET_PHASE_FAILED)
    {
      cleanup_free char *path = file_of (srv, row->id, "failed");
      struct islet_err ignored;
      char *text = NULL, *nl;
      size_t len;

      if (islet_read_file_at (AT_FDCWD, path, 64 * 1024, &text, &len, &ignored) < 0
          || !(nl = strchr (text, '\n')))
        {
          free (text);
          *reason = islet_xstrdup ("its image was not made (the reason was lost)");
          return "build_failed";
        }
      *nl = '\0';
      *reason = islet_xstrdup (nl + 1);
      word = strcmp (text, "error") == 0 ? "error" : "build_failed";
      free (text);
      return word;
    }
  pthread_mutex_lock (&jobs_lock);
  for (struct job *j = job_find (srv, row->id); j; j = NULL)
    word = stage_words[j->stage];
  pthread_mutex_unlock (&jobs_lock);
  return word;
}

/* The row's event, in the state it now has. */
static void
job_event (struct srv *srv, int64_t key_id, const char *id, const char *old_state)
{
  struct owner k = { .srv = srv, .key_id = key_id };
  cleanup_owned struct owned o = { 0 };
  struct islet_err ignored;

  if (owned_open (&k, id, &o, &ignored) == 0)
    owned_event (&k, &o, NULL, old_state);
}

/* The row failed: its state and reason kept first, then its phase. */
static void
fail (struct srv *srv, const char *id, const char *word, const char *reason)
{
  cleanup_free char *path = file_of (srv, id, "failed");
  cleanup_free char *text = islet_xasprintf ("%s\n%s", word, reason);
  struct islet_err e;

  if (islet_write_file_atomic (path, text, strlen (text), 0600, &e) < 0)
    fprintf (stderr, "isletd: sandbox %s: %s\n", id, e.msg);
  if (islet_store_sandbox_set_phase (srv->store, id, ISLET_PHASE_FAILED, &e) < 0)
    fprintf (stderr, "isletd: sandbox %s: %s\n", id, e.msg);
}

/* ---- the job's thread ---- */

/* A snapshot's row in its new state (a delete may have removed it: then
 * the update touches nothing). */
static void
snapshot_mark (struct job *j, const char *state, const char *error)
{
  struct islet_err e;

  if (islet_store_snapshot_set_state (j->srv->store, j->id, state, error, &e) < 0)
    fprintf (stderr, "isletd: snapshot %s: %s\n", j->id, e.msg);
}

/* The job's stage now st: its row says so. */
static void
job_stage (struct job *j, enum stage st, const char *snapshot_state)
{
  enum stage was;

  pthread_mutex_lock (&jobs_lock);
  was = j->stage;
  j->stage = st;
  pthread_mutex_unlock (&jobs_lock);
  if (j->snapshot)
    snapshot_mark (j, snapshot_state, NULL);
  else
    job_event (j->srv, j->key_id, j->id, stage_words[was]);
}

static void
on_pulling (void *arg)
{
  job_stage (arg, ST_PULLING, "pulling");
}

static void
on_building (void *arg)
{
  job_stage (arg, ST_BUILDING, "building");
}

static void
on_child (void *arg, pid_t pid)
{
  struct job *j = arg;

  pthread_mutex_lock (&jobs_lock);
  j->pid = pid;
  if (pid > 0 && j->cancelled) /* called off before its pid was known */
    kill (pid, SIGKILL);
  pthread_mutex_unlock (&jobs_lock);
}

static bool
is_cancelled (void *arg)
{
  struct job *j = arg;
  bool c;

  pthread_mutex_lock (&jobs_lock);
  c = j->cancelled;
  pthread_mutex_unlock (&jobs_lock);
  return c;
}

/* The image there: the core's sandbox under the row's id, the row ready. */
static int
job_make (struct job *j, const char *image, struct islet_err *err)
{
  struct islet_create_opts opts = { .id = j->id,
                                    .image = image,
                                    .limits = j->limits,
                                    .net = j->net,
                                    .volumes = j->volumes,
                                    .n_volumes = j->n_volumes };
  char id[ISLET_ID_LEN + 1];
  struct islet_err e;

  if (islet_sandbox_create (j->srv->ctx, &opts, id, err) < 0)
    return -1;
  if (islet_store_sandbox_set_phase (j->srv->store, j->id, ISLET_PHASE_READY, err) < 0)
    {
      if (islet_sandbox_destroy (j->srv->ctx, j->id, true, &e) < 0)
        fprintf (stderr, "isletd: take back sandbox %s: %s\n", j->id, e.msg);
      return -1;
    }
  return 0;
}

static void
job_free (struct job *j)
{
  for (size_t i = 0; i < j->n_volumes; i++)
    {
      free ((char *) j->volumes[i].volume);
      free ((char *) j->volumes[i].path);
      free ((char *) j->volumes[i].subpath);
    }
  free (j->volumes);
  free (j->pull_ref);
  free (j->dockerfile);
  islet_strv_free (j->contexts);
  free (j);
}

/* Its image pulled or built into image[72]; the log says what it does. */
static int
job_image (struct job *j, int log, char image[72], struct islet_err *err)
{
  struct owner k = { .srv = j->srv, .key_id = j->key_id };
  struct owned_build_watch w = { .log_fd = log,
                                 .pulling = on_pulling,
                                 .building = on_building,
                                 .child = on_child,
                                 .cancelled = is_cancelled,
                                 .arg = j };
  cleanup_free char *line = NULL;

  if (j->dockerfile)
    return owned_image_build (&k, j->dockerfile, j->contexts, &w, image, err);
  line = islet_xasprintf ("islet: pulling %s\n", j->pull_ref);
  (void) !islet_write_all (log, line, strlen (line));
  snprintf (image, 72, "%s", j->pull_ref);
  return owned_image_ensure (&k, j->pull_ref, is_cancelled, j, err);
}

/* A delete that came meanwhile has removed the row: nothing to fail. */
static void
fail_unless_cancelled (struct job *j, const char *word, const char *reason)
{
  pthread_mutex_lock (&jobs_lock);
  if (!j->cancelled)
    fail (j->srv, j->id, word, reason);
  pthread_mutex_unlock (&jobs_lock);
}

/* The event of a failure, FAILED_EVENT_MS after it: the SDK's waiter takes
 * the state alone from an event and fails at once, with the errorReason of
 * its last poll (none); its poll, once a second, brings the reason first. */
#define FAILED_EVENT_MS 1500

static void
failed_event (struct job *j, const char *old_state)
{
  for (int i = 0; i < FAILED_EVENT_MS / 100; i++)
    {
      if (__atomic_load_n (&j->srv->stopping, __ATOMIC_ACQUIRE) || is_cancelled (j))
        return;
      usleep (100 * 1000);
    }
  job_event (j->srv, j->key_id, j->id, old_state);
}

/* A snapshot's build ended: its row active with the image, or
 * build_failed with the reason; a row a delete removed stays removed, a
 * stop's leftover is the sweep's (owned_snapshot_sweep). */
static void
snapshot_end (struct job *j, int rc, const char *image, const struct islet_err *err)
{
  struct islet_err e;

  if (is_cancelled (j) || (rc < 0 && __atomic_load_n (&j->srv->stopping, __ATOMIC_ACQUIRE)))
    return;
  if (rc < 0)
    snapshot_mark (j, "build_failed", err->msg);
  else if (islet_store_snapshot_built (j->srv->store, j->id, image, &e) < 0)
    fprintf (stderr, "isletd: snapshot %s: %s\n", j->id, e.msg);
}

static void *
job_thread (void *arg)
{
  struct job *j = arg;
  struct srv *srv = j->srv;
  cleanup_free char *path = owned_pending_log (srv, j->id);
  cleanup_close int log = open (path, O_WRONLY | O_APPEND | O_CLOEXEC);
  struct islet_err err = { 0 };
  char image[72] = "";
  bool cancelled;
  int rc;

  rc = job_image (j, log, image, &err);
  if (j->snapshot)
    {
      snapshot_end (j, rc, image, &err);
      goto out;
    }
  pthread_mutex_lock (&jobs_lock);
  cancelled = j->cancelled;
  if (!cancelled && rc == 0)
    j->stage = ST_STARTING;
  pthread_mutex_unlock (&jobs_lock);
  if (cancelled)
    ; /* the row is gone with its delete */
  else if (rc < 0 && __atomic_load_n (&srv->stopping, __ATOMIC_ACQUIRE))
    ; /* cut short by the stop: the sweep at the next start says so */
  else if (rc < 0)
    {
      fail_unless_cancelled (j, j->dockerfile ? "build_failed" : "error", err.msg);
      failed_event (j, stage_words[j->dockerfile ? ST_BUILDING : ST_PULLING]);
    }
  else if (job_make (j, image, &err) < 0)
    {
      cleanup_free char *why = islet_xasprintf ("its image is made, the sandbox not: %s", err.msg);
      fail_unless_cancelled (j, "error", why);
      failed_event (j, "starting");
    }
  else
    {
      metrics_create (srv->metrics, true);
      /* sandbox.created again, now that the core has made it: the SDK takes
         a whole object (its image's id, the snapshot field) only from that
         event, and the state alone from a state.updated */
      job_event (srv, j->key_id, j->id, NULL);
    }
out:
  pthread_mutex_lock (&jobs_lock);
  for (struct job **at = &jobs; *at; at = &(*at)->next)
    if (*at == j)
      {
        *at = j->next;
        break;
      }
  pthread_cond_broadcast (&jobs_changed);
  pthread_mutex_unlock (&jobs_lock);
  job_free (j);
  srv_stream_end (srv);
  return NULL;
}

/* ---- create ---- */

static struct job *
job_new (const struct owner *k, const struct owned_spec *spec, const char *id, const char *pull_ref,
         const char *dockerfile, char *const *contexts)
{
  size_t n = 0;

  struct job *j = islet_xcalloc (1, sizeof *j);

  *j = (struct job){ .srv = k->srv,
                     .key_id = k->key_id,
                     .snapshot = spec == NULL,
                     .stage = dockerfile ? ST_PENDING : ST_PULLING,
                     .pull_ref = pull_ref ? islet_xstrdup (pull_ref) : NULL,
                     .dockerfile = dockerfile ? islet_xstrdup (dockerfile) : NULL };
  snprintf (j->id, sizeof j->id, "%s", id);
  while (contexts && contexts[n])
    n++;
  if (n)
    j->contexts = islet_xcalloc (n + 1, sizeof *j->contexts);
  for (size_t i = 0; i < n; i++)
    j->contexts[i] = islet_xstrdup (contexts[i]);
  if (spec == NULL)
    return j;
  j->limits = spec->limits;
  j->net = spec->net;
  j->n_volumes = spec->n_volumes;
  j->volumes = islet_xcalloc (spec->n_volumes + 1, sizeof *j->volumes);
  for (size_t i = 0; i < spec->n_volumes; i++)
    j->volumes[i] = (struct islet_volume_mount){
      .volume = islet_xstrdup (spec->volumes[i].volume),
      .path = islet_xstrdup (spec->volumes[i].path),
      .subpath = spec->volumes[i].subpath ? islet_xstrdup (spec->volumes[i].subpath) : NULL
    };
  return j;
}

/* The key's builds not yet over. */
static int
builds_held (const struct owner *k)
{
  int n = 0;

  pthread_mutex_lock (&jobs_lock);
  for (struct job *j = jobs; j; j = j->next)
    if (j->srv == k->srv && j->key_id == k->key_id && j->dockerfile && !j->cancelled
        && j->stage < ST_STARTING)
      n++;
  pthread_mutex_unlock (&jobs_lock);
  return n;
}

int
owned_build_room (const struct owner *k, bool *first, struct islet_err *err)
{
  int held = builds_held (k);

  /* the build slots' bound (build.c), said at the create rather than as
     a sandbox or snapshot failed later */
  if (held >= OWNED_BUILDS_HELD)
    return islet_fail (err, ISLET_E_LIMIT, 0,
                       "%d image builds of this key are waiting or running: try again when one "
                       "is done",
                       OWNED_BUILDS_HELD);
  if (first)
    *first = held == 0;
  return 0;
}

int
owned_contexts_here (const struct owner *k, char *const *contexts, struct islet_err *err)
{
  for (size_t i = 0; contexts && contexts[i]; i++)
    {
      cleanup_free char *path = NULL;
      if (object_storage_context_path (k->srv, k->key_id, contexts[i], &path, err) < 0)
        return -1;
    }
  return 0;
}

/* Its log, empty, so that its URL answers from the start. */
static int
log_begin (struct srv *srv, const char *id, struct islet_err *err)
{
  cleanup_free char *dir = islet_xasprintf ("%s/isletd-builds", srv->state_dir);
  cleanup_free char *path = owned_pending_log (srv, id);
  int fd;

  if (islet_mkdir_p (dir, 0700, err) < 0)
    return -1;
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create `%s`", path);
  close (fd);
  return 0;
}

void
owned_pending_forget (struct srv *srv, const char *id)
{
  cleanup_free char *log = owned_pending_log (srv, id);
  cleanup_free char *failed = file_of (srv, id, "failed");

  (void) unlink (log);
  (void) unlink (failed);
}

/* The row in phase building, within the key's bounds. */
static int
row_claim (const struct owner *k, const struct owned_spec *spec, struct islet_store_sandbox *row,
           struct islet_err *err)
{
  struct islet_quota q = { 0 };
  unsigned char rnd[ISLET_ID_LEN / 2];

  if (k->key_id < 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "an image to pull or build needs an API key");
  if (owned_within_ceiling (k->srv, &spec->limits, err) < 0 || owned_quota (k, &q, err) < 0)
    return -1;
  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "getrandom");
  owned_row_of (k, spec, ISLET_PHASE_BUILDING, row);
  for (size_t i = 0; i < sizeof rnd; i++)
    snprintf (row->id + 2 * i, 3, "%02x", rnd[i]);
  if (row->name == NULL)
    row->name = islet_xstrdup (row->id); /* Daytona's default name is the id */
  return islet_store_sandbox_claim (k->srv->store, row, &q, err);
}

/* j listed and its thread started; j freed if it cannot be. */
static int
job_start (struct job *j, struct islet_err *err)
{
  struct srv *srv = j->srv;
  pthread_attr_t attr;
  pthread_t t;
  int rc;

  pthread_mutex_lock (&jobs_lock);
  j->next = jobs;
  jobs = j;
  srv_stream_begin (srv);
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  rc = pthread_create (&t, &attr, job_thread, j);
  pthread_attr_destroy (&attr);
  if (rc != 0)
    {
      jobs = j->next;
      pthread_mutex_unlock (&jobs_lock);
      job_free (j);
      srv_stream_end (srv);
      return islet_fail (err, ISLET_E_SYSTEM, rc, "start the image's job");
    }
  pthread_mutex_unlock (&jobs_lock);
  return 0;
}

int
owned_pending_snapshot_build (const struct owner *k, const char *snap_id, const char *dockerfile,
                              char *const *contexts, struct islet_err *err)
{
  if (log_begin (k->srv, snap_id, err) < 0)
    return -1;
  if (job_start (job_new (k, NULL, snap_id, NULL, dockerfile, contexts), err) < 0)
    {
      owned_pending_forget (k->srv, snap_id);
      return -1;
    }
  return 0;
}

/* Called off at once: its child killed, its wait for a slot ended. */
static void
job_cancel (struct job *j)
{
  j->cancelled = true;
  if (j->pid > 0)
    kill (j->pid, SIGKILL);
}

/* The job ends within this of its call-off: its child is killed, and what
 * it leaves (the RUN's sandbox) is reaped (build.c). */
#define CANCEL_WAIT_S 30

void
owned_pending_snapshot_cancel (struct srv *srv, const char *snap_id)
{
  struct timespec until;
  struct job *j;
  int rc = 0;

  clock_gettime (CLOCK_REALTIME, &until);
  until.tv_sec += CANCEL_WAIT_S;
  pthread_mutex_lock (&jobs_lock);
  if ((j = job_find (srv, snap_id)) != NULL)
    job_cancel (j);
  while (rc == 0 && job_find (srv, snap_id) != NULL)
    rc = pthread_cond_timedwait (&jobs_changed, &jobs_lock, &until);
  pthread_mutex_unlock (&jobs_lock);
  if (rc != 0)
    fprintf (stderr, "isletd: snapshot %s: its build did not end within %d s of its call-off\n",
             snap_id, CANCEL_WAIT_S);
}

int
owned_create_pending (const struct owner *k, const struct owned_spec *spec, const char *pull_ref,
                      const char *dockerfile, char *const *contexts, struct owned *o,
                      struct islet_err *err)
{
  struct islet_err e;

  *o = (struct owned){ 0 };
  /* a context the key has not uploaded is the request's fault: said now */
  if (owned_contexts_here (k, contexts, err) < 0)
    return -1;
  if (spec->name && !owned_name_ok (spec->name))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "name must be 1 to 255 bytes, without '/' or control characters");
  if (dockerfile && owned_build_room (k, NULL, err) < 0)
    return -1;
  if (row_claim (k, spec, &o->row, err) < 0)
    {
      owned_fini (o);
      return -1;
    }
  if (log_begin (k->srv, o->row.id, err) < 0
      || (spec->is_public
          && islet_store_sandbox_set_public (k->srv->store, o->row.id, true, err) < 0))
    goto undo;
  if (job_start (job_new (k, spec, o->row.id, pull_ref, dockerfile, contexts), err) < 0)
    goto undo;
  owned_pending_info (&o->row, &o->info);
  o->info.net = spec->net;
  owned_event (k, o, NULL, NULL);
  return 0;
undo:
  owned_pending_forget (k->srv, o->row.id);
  if (islet_store_sandbox_delete (k->srv->store, o->row.id, &e) < 0)
    fprintf (stderr, "isletd: %s (the sweep at the next start removes it)\n", e.msg);
  owned_fini (o);
  return -1;
}

/* ---- delete, sweep, stop ---- */

int
owned_pending_destroy (const struct owner *k, struct owned *o, struct islet_err *err)
{
  const char *was;
  cleanup_free char *reason = NULL;
  struct job *j;

  pthread_mutex_lock (&jobs_lock);
  /* the sandbox is being made: it is destroyed as any other once it is */
  while ((j = job_find (k->srv, o->row.id)) != NULL && j->stage == ST_STARTING)
    pthread_cond_wait (&jobs_changed, &jobs_lock);
  if (j)
    job_cancel (j);
  pthread_mutex_unlock (&jobs_lock);
  if (j == NULL)
    {
      /* what the row is now: a job that ended made it ready or failed */
      cleanup_owned struct owned now = { 0 };
      if (owned_open (k, o->row.id, &now, err) < 0)
        return -1;
      if (now.row.phase == ISLET_PHASE_READY)
        return owned_destroy (k, &now, err);
    }
  was = owned_pending_state (k->srv, &o->row, &reason);
  if (islet_store_sandbox_delete (k->srv->store, o->row.id, err) < 0)
    return -1;
  owned_pending_forget (k->srv, o->row.id);
  owned_event (k, o, "destroyed", was);
  return 0;
}

void
owned_pending_swept (struct srv *srv, const struct islet_store_sandbox *row)
{
  cleanup_free char *log = owned_pending_log (srv, row->id);
  cleanup_close int fd = open (log, O_RDONLY | O_CLOEXEC);
  char head[16] = "";
  struct islet_err e;

  /* a sandbox the job had begun to make: never started without its row */
  if (islet_sandbox_destroy (srv->ctx, row->id, true, &e) < 0 && e.kind != ISLET_E_NOTFOUND)
    {
      fprintf (stderr, "isletd: take back sandbox %s: %s\n", row->id, e.msg);
      return;
    }
  if (fd >= 0 && read (fd, head, sizeof head - 1) < 0)
    head[0] = '\0';
  fail (srv, row->id, strncmp (head, "islet: pulling", 14) == 0 ? "error" : "build_failed",
        "isletd stopped before its image was made: delete this sandbox and create it again");
}

void
owned_pending_shutdown (struct srv *srv)
{
  pthread_mutex_lock (&jobs_lock);
  for (struct job *j = jobs; j; j = j->next)
    if (j->srv == srv && j->pid > 0)
      kill (j->pid, SIGKILL);
  pthread_mutex_unlock (&jobs_lock);
}
