/* isletd's image builds: create({image: Image...}) sends a Dockerfile
 * (buildInfo.dockerfileContent), built by an islet-image child (`build -f
 * -`, the Dockerfile on its stdin) as `islet image build` builds it: each RUN
 * in an islet sandbox of its own, never in isletd or on the host.  A
 * sandbox's or a snapshot's build (owned_pending.c) runs while its create
 * has answered, and keeps the child's output as its build log (the first
 * BUILD_LOG_MAX bytes).  A key has at most BUILDS_PER_KEY running and
 * BUILDS_WAITING waiting for a slot (a 429 past that), and the machine at
 * most BUILDS_RUNNING running, so one key's builds never hold another's
 * back for longer than one build; each RUN's
 * network is isletd's default network (none unless --default-network
 * says all); the layers it adds to the store are bounded by the key's disk
 * quota.  A base image (FROM) not on the machine is pulled first.  The
 * child dies with isletd (PR_SET_PDEATHSIG); what a killed build leaves,
 * the next build removes (oci_build.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "islet/util.h"
#include "owned.h"
#include "server.h"

#define BUILDS_RUNNING 2
#define BUILDS_PER_KEY 1
#define BUILDS_WAITING 4
#define BUILD_WAIT_S 900 /* a build waits this long for its slot at most */
#define BUILD_KEYS_MAX 256
_Static_assert(BUILDS_PER_KEY + BUILDS_WAITING == OWNED_BUILDS_HELD,
               "owned_pending.c refuses a create past OWNED_BUILDS_HELD");
#define BUILD_ANSWER_MAX (64 * 1024)
#define BUILD_LOG_MAX (1u << 20)

/* The keys with a build running or waiting; a slot is freed with a
 * broadcast, each waiter checks its own key's count and the machine's. */
struct key_builds
{
  int64_t key_id;
  unsigned running, waiting;
};

static pthread_mutex_t builds_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t builds_freed = PTHREAD_COND_INITIALIZER;
static struct key_builds builds_of[BUILD_KEYS_MAX];
static unsigned builds_running;

/* Under builds_lock: key_id's entry, made if missing (NULL: the table is full). */
static struct key_builds *
key_entry (int64_t key_id)
{
  struct key_builds *free_one = NULL;

  for (size_t i = 0; i < BUILD_KEYS_MAX; i++)
    if ((builds_of[i].running || builds_of[i].waiting) && builds_of[i].key_id == key_id)
      return &builds_of[i];
    else if (free_one == NULL && !builds_of[i].running && !builds_of[i].waiting)
      free_one = &builds_of[i];
  if (free_one)
    free_one->key_id = key_id;
  return free_one;
}

/* Whether a watched build stops waiting: its sandbox deleted, or isletd
 * stopping. */
static bool
called_off (const struct srv *srv, const struct owned_build_watch *w)
{
  return (w && w->cancelled (w->arg)) || __atomic_load_n (&srv->stopping, __ATOMIC_ACQUIRE);
}

/* A build slot for key_id: its own (BUILDS_PER_KEY) and one of the
 * machine's, waited for; a 429 when the key already has BUILDS_WAITING
 * builds waiting, or after BUILD_WAIT_S; a watched build's wait ends
 * within a second of its call-off. */
static int
slot_take (const struct srv *srv, int64_t key_id, const struct owned_build_watch *w,
           struct islet_err *err)
{
  struct timespec step;
  bool off = false;
  struct timespec until;
  struct key_builds *kb;
  int rc = 0;

  clock_gettime (CLOCK_REALTIME, &until);
  until.tv_sec += BUILD_WAIT_S;
  pthread_mutex_lock (&builds_lock);
  kb = key_entry (key_id);
  if (kb == NULL || kb->waiting >= BUILDS_WAITING)
    {
      pthread_mutex_unlock (&builds_lock);
      return islet_fail (err, ISLET_E_LIMIT, 0,
                         "%d image builds of this key are waiting: try again when one is done",
                         BUILDS_WAITING);
    }
  kb->waiting++;
  while (rc == 0 && !off && (kb->running >= BUILDS_PER_KEY || builds_running >= BUILDS_RUNNING))
    {
      clock_gettime (CLOCK_REALTIME, &step);
      step.tv_sec++;
      rc = pthread_cond_timedwait (&builds_freed, &builds_lock,
                                   step.tv_sec < until.tv_sec ? &step : &until);
      if (rc == ETIMEDOUT && step.tv_sec < until.tv_sec)
        rc = 0; /* a second's look at the call-off, not the deadline */
      off = called_off (srv, w);
    }
  kb->waiting--;
  if (rc == 0 && !off)
    {
      kb->running++;
      builds_running++;
    }
  pthread_mutex_unlock (&builds_lock);
  if (off)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "the build was called off");
  if (rc != 0)
    return islet_fail (err, ISLET_E_LIMIT, 0,
                       "no image build slot came free in %d s: try again later", BUILD_WAIT_S);
  return 0;
}

static void
slot_give (int64_t key_id)
{
  pthread_mutex_lock (&builds_lock);
  key_entry (key_id)->running--;
  builds_running--;
  pthread_cond_broadcast (&builds_freed);
  pthread_mutex_unlock (&builds_lock);
}

/* Fork and exec argv with stdin from in, stdout to out and stderr to
 * errfd; the child dies with isletd.  Only async-signal-safe calls in the
 * child. */
static pid_t
spawn (char **argv, int in, int out, int errfd)
{
  pid_t pid = fork ();

  if (pid != 0)
    return pid;
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || dup2 (in, STDIN_FILENO) < 0
      || dup2 (out, STDOUT_FILENO) < 0 || dup2 (errfd, STDERR_FILENO) < 0)
    _exit (127);
  execv (argv[0], argv);
  _exit (127);
}

/* islet-image's arguments: the fixed ones, then --context-tar TAR for
 * each context (tars[i] malloc'd, freed by the caller). */
static char **
build_argv (char *const *fixed, size_t n_fixed, char **tars, size_t n_tars)
{
  char **argv = islet_xcalloc (n_fixed + 2 * n_tars + 1, sizeof *argv);

  memcpy (argv, fixed, n_fixed * sizeof *argv);
  for (size_t i = 0; i < n_tars; i++)
    {
      argv[n_fixed + 2 * i] = (char *) "--context-tar";
      argv[n_fixed + 2 * i + 1] = tars[i];
    }
  return argv;
}

/* The child's output into the log, its first BUILD_LOG_MAX bytes; the
 * rest read and dropped, once said so. */
static void
log_piece (int log_fd, size_t *logged, const char *buf, size_t n)
{
  static const char cut[] = "\nislet: the build log is cut here (its first 1 MiB is kept)\n";
  size_t room = *logged < BUILD_LOG_MAX ? BUILD_LOG_MAX - *logged : 0;
  size_t take = n < room ? n : room;

  if (room == 0)
    return;
  /* a log that cannot be written is only lost: the build goes on */
  (void) !islet_write_all (log_fd, buf, take);
  *logged += take;
  if (*logged == BUILD_LOG_MAX)
    {
      (void) !islet_write_all (log_fd, cut, sizeof cut - 1);
      (*logged)++;
    }
}

/* Read the child's answer (out, its stdout) into answer and its output
 * (errs, its stderr; -1: none) into w's log, until both end. */
static void
read_child (int out, int errs, const struct owned_build_watch *w, char *answer)
{
  struct pollfd p[2] = { { .fd = out, .events = POLLIN }, { .fd = errs, .events = POLLIN } };
  size_t len = 0, logged = 0;
  char buf[8192];

  while (p[0].fd >= 0 || p[1].fd >= 0)
    {
      ssize_t r;
      if (poll (p, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (p[0].fd >= 0 && p[0].revents)
        {
          r = read (out, answer + len, BUILD_ANSWER_MAX - len);
          if (r > 0)
            len += (size_t) r;
          if (r == 0 || (r < 0 && errno != EINTR) || len == BUILD_ANSWER_MAX)
            p[0].fd = -1; /* a longer answer is cut, and then not JSON */
        }
      if (p[1].fd >= 0 && p[1].revents)
        {
          r = read (errs, buf, sizeof buf);
          if (r > 0)
            log_piece (w->log_fd, &logged, buf, (size_t) r);
          if (r == 0 || (r < 0 && errno != EINTR))
            p[1].fd = -1;
        }
    }
  answer[len] = '\0';
}

/* Run the build, its answer (stdout) into *answer; its output into w's
 * log (w NULL: dropped). */
static int
run_build (const struct owner *k, const char *dockerfile, char **tars, size_t n_tars,
           const struct owned_build_watch *w, char **answer, int *status, struct islet_err *err)
{
  cleanup_free char *prog = islet_program_path ("islet-image");
  const char *mode = k->srv->net_default == ISLET_NET_ALL ? "all" : "none";
  struct islet_quota q = { 0 };
  char max[24];
  char *fixed[] = { prog,          k->srv->state_dir,      (char *) "build",
                    (char *) "-f", (char *) "-",           (char *) "--network",
                    (char *) mode, (char *) "--max-bytes", max };
  cleanup_free char **argv = build_argv (fixed, sizeof fixed / sizeof fixed[0], tars, n_tars);
  cleanup_close int in = memfd_create ("islet-dockerfile", MFD_CLOEXEC);
  cleanup_close int null = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  int fds[2], efds[2] = { -1, -1 };
  pid_t pid;

  /* the key's disk quota bounds what its build adds to the image store */
  if (k->key_id >= 0 && owned_quota (k, &q, err) < 0)
    return -1;
  snprintf (max, sizeof max, "%llu",
            (unsigned long long) (q.disk_mb > 0 ? (uint64_t) q.disk_mb << 20 : 0));
  if (in < 0 || null < 0 || islet_write_all (in, dockerfile, strlen (dockerfile)) < 0
      || lseek (in, 0, SEEK_SET) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "hand the Dockerfile to islet-image");
  if (!strchr (prog, '/'))
    return islet_fail (err, ISLET_E_SYSTEM, 0, "islet-image is not beside isletd");
  if (pipe2 (fds, O_CLOEXEC) < 0 || (w && pipe2 (efds, O_CLOEXEC) < 0))
    return islet_fail (err, ISLET_E_SYSTEM, errno, "pipe");
  pid = spawn (argv, in, fds[1], w ? efds[1] : null);
  close (fds[1]);
  if (w)
    close (efds[1]);
  if (pid < 0)
    {
      close (fds[0]);
      if (w)
        close (efds[0]);
      return islet_fail (err, ISLET_E_SYSTEM, errno, "fork");
    }
  if (w)
    w->child (w->arg, pid);
  *answer = islet_xmalloc (BUILD_ANSWER_MAX + 1);
  read_child (fds[0], w ? efds[0] : -1, w, *answer);
  close (fds[0]);
  if (w)
    close (efds[0]);
  while (waitpid (pid, status, 0) < 0)
    if (errno != EINTR)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "wait for islet-image");
  if (w)
    w->child (w->arg, 0);
  return 0;
}

/* After a build killed by a delete: its RUN's sandbox and partial records
 * removed now, not at the next build's start. */
static void
reap_killed (const struct owner *k)
{
  cleanup_free char *prog = islet_program_path ("islet-image");
  char *argv[] = { prog, k->srv->state_dir, (char *) "build-reap", NULL };
  cleanup_close int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  int status;
  pid_t pid;

  if (null < 0 || !strchr (prog, '/') || (pid = spawn (argv, null, null, null)) < 0)
    return;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
}

/* The image of the Dockerfile's first FROM, when it names one literally
 * (no variable, no flag): malloc'd, or NULL. */
static char *
first_from (const char *df)
{
  for (const char *p = df; p && *p; p = strchr (p, '\n') ? strchr (p, '\n') + 1 : NULL)
    {
      const char *w = p + strspn (p, " \t");
      size_t len;
      if (strncasecmp (w, "FROM", 4) != 0 || (w[4] != ' ' && w[4] != '\t'))
        continue;
      w += 4 + strspn (w + 4, " \t");
      len = strcspn (w, " \t\r\n");
      if (len == 0 || *w == '-' || memchr (w, '$', len) || (len == 4 && strncmp (w, "host", 4) == 0)
          || (len == 7 && strncmp (w, "scratch", 7) == 0))
        return NULL;
      return strndup (w, len);
    }
  return NULL;
}

/* The base image there, pulled when it is not; a watched build's log and
 * state say so, and its call-off ends the pull's wait. */
static int
base_pull (const struct owner *k, const char *base, const struct owned_build_watch *w,
           struct islet_err *err)
{
  cleanup_free char *line = NULL;
  struct islet_err e;

  if (w == NULL)
    return owned_image_ensure (k, base, NULL, NULL, err);
  if (owned_image_here (k, base, &e) < 0 && e.kind == ISLET_E_INVALID)
    {
      /* not "islet: pulling", which marks a create({image: REF})'s log */
      line = islet_xasprintf ("islet: FROM %s is not on this machine: pulling it\n", base);
      (void) !islet_write_all (w->log_fd, line, strlen (line));
      w->pulling (w->arg);
    }
  return owned_image_ensure (k, base, w->cancelled, w->arg, err);
}

static void
tars_free (char **tars)
{
  for (size_t i = 0; tars && tars[i]; i++)
    free (tars[i]);
  free (tars);
}

int
owned_image_build (const struct owner *k, const char *dockerfile, char *const *contexts,
                   const struct owned_build_watch *w, char id[72], struct islet_err *err)
{
  cleanup_free char *answer = NULL, *base = first_from (dockerfile);
  cleanup_json json_t *a = NULL;
  char **tars = NULL;
  size_t n_tars = 0;
  int status = 0, rc;

  /* each context the key uploaded (object_storage.c), found before anything runs */
  while (contexts && contexts[n_tars])
    n_tars++;
  tars = islet_xcalloc (n_tars + 1, sizeof *tars);
  for (size_t i = 0; i < n_tars; i++)
    if (object_storage_context_path (k->srv, k->key_id, contexts[i], &tars[i], err) < 0)
      {
        tars_free (tars);
        return -1;
      }

  /* the base pulled first when it is not here, as create({image: REF}) does */
  if (base && base_pull (k, base, w, err) < 0)
    {
      tars_free (tars);
      return islet_wrap (err, "buildInfo: FROM %s", base);
    }

  if (slot_take (k->srv, k->key_id, w, err) < 0)
    {
      tars_free (tars);
      return -1;
    }
  if (w)
    w->building (w->arg);
  rc = run_build (k, dockerfile, tars, n_tars, w, &answer, &status, err);
  tars_free (tars);
  if (w && w->cancelled (w->arg))
    reap_killed (k);
  slot_give (k->key_id);
  if (rc < 0)
    return -1;
  if (owned_image_answer (answer, status, err) < 0)
    {
      /* the Dockerfile's fault (a step that failed, an instruction islet
         does not build, a FROM not on the machine), not isletd's */
      if (err->kind != ISLET_E_LIMIT)
        err->kind = ISLET_E_INVALID;
      return islet_wrap (err, "buildInfo: the image build failed");
    }
  a = json_loads (answer, 0, NULL);
  snprintf (id, 72, "%s", json_string_value (json_array_get (json_object_get (a, "ids"), 0)) ?: "");
  if (strncmp (id, "sha256:", 7) != 0)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "islet-image answered no image id");
  return 0;
}
