/* isletd's pulls of images from registries: daytona.snapshot.create of an
 * image not on this machine, and create({image}) of one.  Each pull is an
 * islet-image child (fetching, verifying and unpacking never happen in
 * isletd's own process, which holds every key's sandboxes), run by a thread
 * of its own.  A key has at most PULLS_RUNNING pulls running and
 * PULLS_QUEUED waiting; an image past its disk quota is refused by the
 * child before a layer is fetched.  Registries are spoken to as `islet
 * image pull` does: HTTPS, plain HTTP only for loopback and the hosts of
 * --insecure-registry; credentials from Docker's config.json of isletd's
 * environment.  A child dies with isletd (PR_SET_PDEATHSIG); the snapshot
 * rows a kill leaves pending or pulling are marked failed at the next
 * start (owned_snapshot_sweep), and the store never records an image
 * before all its layers are in (oci_pull.c).
 *
 * Waiters of one key for one reference share its pull.  A waiter that is
 * called off (its sandbox deleted) leaves; when none is left and no
 * snapshot row waits for it, the pull is called off: the child gets
 * SIGTERM, stops its transfers and unpacker within about a second and
 * removes what it added; one still running PULL_OFF_GRACE_MS later is
 * killed (then the blobs it had verified stay, as after any kill, for the
 * next pull to reuse). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/util.h"
#include "owned.h"
#include "server.h"

#define PULLS_RUNNING 2
#define PULLS_QUEUED 8
#define PULL_ANSWER_MAX (64 * 1024)
#define PULL_OFF_GRACE_MS 5000
#define PULL_WAIT_POLL_MS 100

struct pull
{
  struct pull *next;
  struct srv *srv;
  int64_t key_id;
  char *ref;
  char snap_id[40]; /* the snapshot row it fills; "" for none */
  uint64_t max_bytes;
  bool running, done;
  int refs;     /* the thread, and its waiters */
  int waiters;  /* owned_pull_wait's callers still waiting */
  uint64_t off; /* islet_now_ns when it was called off; 0: it was not */
  pid_t pid;
  struct islet_err err;
  int rc;
};

struct pulls
{
  pthread_mutex_t lock;
  pthread_cond_t changed;
  struct pull *list;
  char **insecure; /* --insecure-registry hosts, NULL-terminated */
  bool stopping;
};

int
pulls_new (struct pulls **out, char *const *insecure, struct islet_err *err)
{
  struct pulls *p = islet_xcalloc (1, sizeof *p);
  size_t n = 0;

  (void) err;
  pthread_mutex_init (&p->lock, NULL);
  pthread_cond_init (&p->changed, NULL);
  while (insecure && insecure[n])
    n++;
  p->insecure = islet_xcalloc (n + 1, sizeof *p->insecure);
  for (size_t i = 0; i < n; i++)
    p->insecure[i] = islet_xstrdup (insecure[i]);
  *out = p;
  return 0;
}

/* At stop: the children are killed, their threads end soon after (the
 * streams count of srv waits for them); rows they leave are swept at the
 * next start. */
void
pulls_shutdown (struct pulls *p)
{
  if (p == NULL)
    return;
  pthread_mutex_lock (&p->lock);
  p->stopping = true;
  for (struct pull *j = p->list; j; j = j->next)
    if (j->pid > 0)
      kill (j->pid, SIGKILL);
  pthread_cond_broadcast (&p->changed);
  pthread_mutex_unlock (&p->lock);
}

void
pulls_free (struct pulls *p)
{
  if (p == NULL)
    return;
  islet_strv_free (p->insecure);
  pthread_mutex_destroy (&p->lock);
  pthread_cond_destroy (&p->changed);
  free (p);
}

static size_t
count_of (struct pulls *p, int64_t key_id, bool running)
{
  size_t n = 0;

  for (struct pull *j = p->list; j; j = j->next)
    if (j->key_id == key_id && !j->done && (!running || j->running))
      n++;
  return n;
}

/* Under p->lock. */
static void
unref (struct pulls *p, struct pull *j)
{
  if (--j->refs > 0)
    return;
  for (struct pull **at = &p->list; *at; at = &(*at)->next)
    if (*at == j)
      {
        *at = j->next;
        break;
      }
  free (j->ref);
  free (j);
}

int
owned_image_answer (const char *out, int status, struct islet_err *err)
{
  cleanup_json json_t *a = out ? json_loads (out, 0, NULL) : NULL;
  json_t *e = json_object_get (a, "error");
  const char *kind;

  if (a != NULL && e == NULL && WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  if (e == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "islet-image ended without an answer (status %d)",
                       status);
  kind = json_string_value (json_object_get (e, "kind")) ?: "";
  islet_fail (err, ISLET_E_SYSTEM, 0, "%s",
              json_string_value (json_object_get (e, "message")) ?: "");
  for (int i = ISLET_E_INVALID; i <= ISLET_E_SYSTEM; i++)
    if (strcmp (islet_errkind_name ((enum islet_errkind) i), kind) == 0)
      err->kind = (enum islet_errkind) i;
  return -1;
}

/* The argv of islet-image for j: STATE pull REF [--insecure-registry H]...
 * [--max-bytes N]; its strings borrowed but for the program's and the
 * number's, which *own holds. */
static char **
pull_argv (struct pulls *p, struct pull *j, char *own[2])
{
  size_t n = 0, k = 0;
  char **argv;

  while (p->insecure && p->insecure[n])
    n++;
  argv = islet_xcalloc (2 * n + 8, sizeof *argv);
  own[0] = islet_program_path ("islet-image");
  own[1] = islet_xasprintf ("%" PRIu64, j->max_bytes);
  argv[k++] = own[0];
  argv[k++] = j->srv->state_dir;
  argv[k++] = (char *) "pull";
  argv[k++] = j->ref;
  for (size_t i = 0; i < n; i++)
    {
      argv[k++] = (char *) "--insecure-registry";
      argv[k++] = p->insecure[i];
    }
  if (j->max_bytes)
    {
      argv[k++] = (char *) "--max-bytes";
      argv[k++] = own[1];
    }
  return argv;
}

/* Run islet-image for j, its stdout read here, its progress lines on
 * isletd's stderr. */
static void
run_child (struct pulls *p, struct pull *j)
{
  char *own[2] = { NULL, NULL };
  cleanup_free char **argv = pull_argv (p, j, own);
  cleanup_free char *out = islet_xmalloc (PULL_ANSWER_MAX + 1);
  size_t len = 0;
  int fds[2], status = 0, fork_errno;
  bool stopping;
  ssize_t r;
  pid_t pid;

  if (pipe2 (fds, O_CLOEXEC) < 0)
    {
      j->rc = islet_fail (&j->err, ISLET_E_SYSTEM, errno, "pipe");
      goto out;
    }
  pthread_mutex_lock (&p->lock);
  stopping = p->stopping;
  pid = stopping ? -1 : fork ();
  fork_errno = errno;
  if (pid == 0)
    {
      /* only async-signal-safe calls: isletd has other threads */
      if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || dup2 (fds[1], STDOUT_FILENO) < 0)
        _exit (127);
      if (strchr (argv[0], '/'))
        execv (argv[0], argv);
      else
        execvp (argv[0], argv);
      _exit (127);
    }
  j->pid = pid;
  if (pid > 0 && j->off) /* called off while it was forked */
    kill (pid, SIGTERM);
  pthread_mutex_unlock (&p->lock);
  close (fds[1]);
  if (pid < 0)
    {
      close (fds[0]);
      j->rc = stopping ? islet_fail (&j->err, ISLET_E_CONFLICT, 0, "isletd is stopping")
                       : islet_fail (&j->err, ISLET_E_SYSTEM, fork_errno, "fork");
      goto out;
    }
  /* the answer is one line; a longer one is cut, and then not JSON */
  for (;;)
    {
      struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
      if (poll (&pfd, 1, 500) == 0)
        {
          pthread_mutex_lock (&p->lock);
          if (j->off && islet_now_ns () - j->off > (uint64_t) PULL_OFF_GRACE_MS * 1000000)
            kill (pid, SIGKILL);
          pthread_mutex_unlock (&p->lock);
          continue;
        }
      r = read (fds[0], out + len, PULL_ANSWER_MAX - len);
      if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
        break;
      if (r > 0 && (len += (size_t) r) == PULL_ANSWER_MAX)
        break;
    }
  out[len] = '\0';
  close (fds[0]);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  pthread_mutex_lock (&p->lock);
  j->pid = 0;
  pthread_mutex_unlock (&p->lock);
  j->rc = owned_image_answer (out, status, &j->err);
out:
  free (own[0]);
  free (own[1]);
}

static void
set_state (struct pull *j, const char *state, const char *error)
{
  struct islet_err e;

  if (j->snap_id[0]
      && islet_store_snapshot_set_state (j->srv->store, j->snap_id, state, error, &e) < 0)
    fprintf (stderr, "isletd: snapshot %s: %s\n", j->snap_id, e.msg);
}

static void *
pull_thread (void *arg)
{
  struct pull *j = arg;
  struct srv *srv = j->srv;
  struct pulls *p = srv->pulls;

  pthread_mutex_lock (&p->lock);
  while (!p->stopping && !j->off && count_of (p, j->key_id, true) >= PULLS_RUNNING)
    pthread_cond_wait (&p->changed, &p->lock);
  j->running = true;
  if (j->off) /* called off while it was queued */
    {
      pthread_mutex_unlock (&p->lock);
      j->rc = islet_fail (&j->err, ISLET_E_CONFLICT, 0, "the pull was called off");
      goto done;
    }
  pthread_mutex_unlock (&p->lock);
  set_state (j, "pulling", NULL);
  run_child (p, j);
done:
  if (j->rc < 0 && j->err.kind == ISLET_E_LIMIT && j->max_bytes)
    islet_wrap (&j->err, "past the key's disk quota of %" PRIu64 " MiB", j->max_bytes >> 20);
  if (j->rc == 0)
    set_state (j, "active", NULL);
  else if (!p->stopping) /* else the sweep at the next start says why */
    {
      cleanup_free char *why = islet_xasprintf (
          "image `%s` is not on this machine and its pull failed: %s", j->ref, j->err.msg);
      set_state (j, "error", why);
    }
  pthread_mutex_lock (&p->lock);
  j->done = true;
  pthread_cond_broadcast (&p->changed);
  unref (p, j);
  pthread_mutex_unlock (&p->lock);
  srv_stream_end (srv);
  return NULL;
}

/* A running or queued pull of ref for key_id that waiters share (not a
 * snapshot row's, not called off), joined: a reference and a waiter more. */
static struct pull *
shared_of (struct pulls *p, int64_t key_id, const char *ref)
{
  struct pull *found = NULL;

  pthread_mutex_lock (&p->lock);
  for (struct pull *j = p->list; j && !found; j = j->next)
    if (j->key_id == key_id && !j->done && !j->off && j->waiters > 0 && !j->snap_id[0]
        && strcmp (j->ref, ref) == 0)
      found = j;
  if (found)
    {
      found->refs++;
      found->waiters++;
    }
  pthread_mutex_unlock (&p->lock);
  return found;
}

/* A new pull of ref for k, queued; its thread started.  *out: the job,
 * with a reference for the caller when want_ref. */
static int
pull_start (const struct owner *k, const char *ref, const char *snap_id, bool want_ref,
            struct pull **out, struct islet_err *err)
{
  struct pulls *p = k->srv->pulls;
  struct islet_quota q = { 0 };
  pthread_attr_t attr;
  struct pull *j;
  pthread_t t;
  int rc;

  if (k->key_id >= 0 && owned_quota (k, &q, err) < 0)
    return -1;
  if (want_ref && (j = shared_of (p, k->key_id, ref)) != NULL)
    {
      *out = j;
      return 0;
    }
  j = islet_xcalloc (1, sizeof *j);
  *j = (struct pull){ .srv = k->srv,
                      .key_id = k->key_id,
                      .ref = islet_xstrdup (ref),
                      .refs = want_ref ? 2 : 1,
                      .waiters = want_ref ? 1 : 0,
                      .max_bytes = q.disk_mb > 0 ? (uint64_t) q.disk_mb << 20 : 0 };
  snprintf (j->snap_id, sizeof j->snap_id, "%s", snap_id ? snap_id : "");
  pthread_mutex_lock (&p->lock);
  if (p->stopping || count_of (p, k->key_id, false) >= PULLS_RUNNING + PULLS_QUEUED)
    {
      bool stopping = p->stopping;
      pthread_mutex_unlock (&p->lock);
      free (j->ref);
      free (j);
      if (stopping)
        return islet_fail (err, ISLET_E_CONFLICT, 0, "isletd is stopping");
      return islet_fail (err, ISLET_E_LIMIT, 0,
                         "%d pulls of this key are running or waiting: try again when one is done",
                         PULLS_RUNNING + PULLS_QUEUED);
    }
  j->next = p->list;
  p->list = j;
  srv_stream_begin (k->srv);
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  rc = pthread_create (&t, &attr, pull_thread, j);
  pthread_attr_destroy (&attr);
  if (rc != 0)
    {
      j->refs = 1;
      j->done = true;
      unref (p, j);
      pthread_mutex_unlock (&p->lock);
      srv_stream_end (k->srv);
      return islet_fail (err, ISLET_E_SYSTEM, rc, "start a pull");
    }
  pthread_mutex_unlock (&p->lock);
  *out = want_ref ? j : NULL;
  return 0;
}

int
owned_pull_start (const struct owner *k, const char *ref, const char *snap_id,
                  struct islet_err *err)
{
  struct pull *ignored;

  return pull_start (k, ref, snap_id, false, &ignored, err);
}

/* Under p->lock: a waiter of j leaves; the last one calls the pull off. */
static void
leave (struct pulls *p, struct pull *j)
{
  if (--j->waiters > 0 || j->done || j->off)
    return;
  j->off = islet_now_ns ();
  if (j->pid > 0)
    kill (j->pid, SIGTERM);
  pthread_cond_broadcast (&p->changed);
}

int
owned_pull_wait (const struct owner *k, const char *ref, bool (*called_off) (void *), void *arg,
                 struct islet_err *err)
{
  struct pulls *p = k->srv->pulls;
  struct pull *j;
  bool off = false;
  int rc;

  if (pull_start (k, ref, NULL, true, &j, err) < 0)
    return -1;
  pthread_mutex_lock (&p->lock);
  while (!j->done && !off)
    if (called_off == NULL)
      pthread_cond_wait (&p->changed, &p->lock);
    else
      {
        struct timespec ts;
        clock_gettime (CLOCK_REALTIME, &ts);
        ts.tv_nsec += PULL_WAIT_POLL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait (&p->changed, &p->lock, &ts);
        pthread_mutex_unlock (&p->lock);
        off = called_off (arg);
        pthread_mutex_lock (&p->lock);
      }
  if (off && !j->done)
    {
      leave (p, j);
      rc = islet_fail (err, ISLET_E_CONFLICT, 0, "the pull of `%s` was called off", ref);
    }
  else
    {
      j->waiters--;
      rc = j->rc;
      if (rc < 0)
        *err = j->err;
    }
  unref (p, j);
  pthread_mutex_unlock (&p->lock);
  return rc;
}

int
owned_image_ensure (const struct owner *k, const char *ref, bool (*called_off) (void *), void *arg,
                    struct islet_err *err)
{
  if (owned_image_here (k, ref, err) == 0)
    return 0;
  /* a store that cannot be read; the default image is built, not pulled */
  if (err->kind != ISLET_E_INVALID || strcmp (ref, "default") == 0)
    return -1;
  if (owned_pull_wait (k, ref, called_off, arg, err) == 0)
    return 0;
  if (err->kind == ISLET_E_CONFLICT && called_off && called_off (arg))
    return -1;
  /* the registry's or the image's fault, not isletd's */
  if (err->kind == ISLET_E_SYSTEM || err->kind == ISLET_E_NOTFOUND)
    err->kind = ISLET_E_INVALID;
  return islet_wrap (err, "image `%s` is not on this machine and its pull failed", ref);
}
