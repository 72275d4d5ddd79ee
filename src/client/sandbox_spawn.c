/* Starting a sandbox's supervisor (islet-run) and waiting for its word:
 * through the supervisor forker when the caller keeps one, else by an
 * exec of islet-run detached from the caller.  A create starts islet-run
 * before it has made the sandbox's volume and config (supervisor_begin):
 * the program's start and the create's preparation run side by side, and
 * islet-run reads config.json once the creator says it is whole
 * (supervisor_go). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "islet/contain.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "sandbox_internal.h"

/* The stacks of the two clones of spawn_detached, and the guard page below
 * each. */
#define SPAWN_STACK (64 * 1024)
#define SPAWN_GUARD 4096
/* islet-run's fds: the ready pipe, and the creator's word on its config */
#define FD_READY 3
#define FD_CONFIG 4

struct detached_spawn
{
  const char *path;
  char *const *argv;
  char *const *envp;
  int fds[2];              /* to be fds 3 and 4 of islet-run (either may be -1) */
  unsigned flags;          /* SPAWN_* */
  const sigset_t *mask;    /* the caller's, restored just before the exec */
  char *stack;             /* the grandchild's, SPAWN_STACK bytes */
  volatile int exec_errno; /* written by the grandchild if its exec failed */
};

/* With SPAWN_NULL_STDIO, /dev/null as fds 0, 1 and 2; fds[i] to
 * FD_READY + i, above every one first so that no move overwrites another;
 * every other fd closed. */
static int
spawn_fds (const int fds[2], unsigned flags)
{
  int high[2] = { -1, -1 };

  if (flags & SPAWN_NULL_STDIO)
    {
      /* not close-on-exec: it may be one of 0-2 itself (one the caller had
         closed), which dup2 onto itself leaves as it is */
      int null = open ("/dev/null", O_RDWR);
      for (int i = 0; i < 3; i++)
        if (null < 0 || dup2 (null, i) < 0)
          return -1;
    }
  for (int i = 0; i < 2; i++)
    if (fds[i] >= 0 && (high[i] = fcntl (fds[i], F_DUPFD_CLOEXEC, 16)) < 0)
      return -1;
  for (int i = 0; i < 2; i++)
    if (high[i] >= 0 && dup2 (high[i], FD_READY + i) < 0)
      return -1;
  islet_close_fds_from (high[1] >= 0 ? FD_CONFIG + 1 : high[0] >= 0 ? FD_READY + 1 : FD_READY, -1);
  return 0;
}

/* The grandchild, on the caller's memory until its exec: the caller's
 * signal handlers reset first (one running here would run on the caller's
 * memory), then its mask, then islet-run. */
static int
spawn_exec (void *arg)
{
  struct detached_spawn *s = arg;

  for (int sig = 1; sig < NSIG; sig++)
    {
      struct sigaction sa;
      if (sigaction (sig, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN && sa.sa_handler != SIG_DFL)
        {
          memset (&sa, 0, sizeof sa);
          sa.sa_handler = SIG_DFL;
          (void) sigaction (sig, &sa, NULL);
        }
    }
  sigprocmask (SIG_SETMASK, s->mask, NULL);
  if (((s->flags & SPAWN_SESSION) && setsid () < 0) || spawn_fds (s->fds, s->flags) < 0)
    {
      s->exec_errno = errno;
      _exit (125);
    }
  execve (s->path, s->argv, s->envp);
  s->exec_errno = errno;
  _exit (127);
}

/* The child: it starts the grandchild and exits once that one has exec'd
 * (CLONE_VFORK), so that the supervisor is nobody's child of the caller's. */
static int
spawn_detach (void *arg)
{
  struct detached_spawn *s = arg;
  pid_t pid = clone (spawn_exec, s->stack + SPAWN_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, s);

  if (pid < 0)
    _exit (126);
  _exit (s->exec_errno ? 127 : 0);
}

/* The two clones' stacks, each above a guard page: mapped once and kept,
 * for a fresh mapping's page faults cost more than the clones themselves
 * (on a VM, about 0.2 ms a start).  One start at a time uses them. */
static pthread_mutex_t stacks_lock = PTHREAD_MUTEX_INITIALIZER;

static char *
spawn_stacks (void)
{
  static char *stacks;
  char *map;

  if (stacks != NULL)
    return stacks;
  map = mmap (NULL, 2 * (SPAWN_GUARD + SPAWN_STACK), PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (map == MAP_FAILED)
    return NULL;
  if (mprotect (map, SPAWN_GUARD, PROT_NONE) < 0
      || mprotect (map + SPAWN_GUARD + SPAWN_STACK, SPAWN_GUARD, PROT_NONE) < 0)
    {
      int e = errno;
      munmap (map, 2 * (SPAWN_GUARD + SPAWN_STACK));
      errno = e;
      return NULL;
    }
  stacks = map + SPAWN_GUARD;
  return stacks;
}

/* Exec PATH (islet-run) with ARGV and the marks ENV[] added to the caller's
 * environment, fds[] its only fds besides 0-2 (as 3 and 4), in a process
 * detached from the caller: the caller's child exits as soon as its own
 * child has exec'd, and the caller reaps it (the pid returned).  Both
 * clones share the caller's memory (CLONE_VM | CLONE_VFORK, as posix_spawn
 * does) instead of copying it: a fork copies the caller's page tables, and
 * a fork and its child's fork cost the caller about 2 ms on a VM. */
pid_t
spawn_detached (const char *path, char *const argv[], char *const env[], const int fds[2],
                unsigned flags, struct islet_err *err)
{
  struct detached_spawn s = {
    .path = path, .argv = argv, .fds = { fds[0], fds[1] }, .flags = flags
  };
  cleanup_free char **envp = NULL;
  sigset_t all, old;
  size_t n = 0, k = 0, j = 0;
  char *stacks;
  pid_t pid;
  int e;

  /* made here, before the clones, which must not allocate */
  while (environ[n] != NULL)
    n++;
  while (env[k] != NULL)
    k++;
  envp = islet_xcalloc (n + k + 1, sizeof *envp);
  for (size_t i = 0; i < k; i++)
    envp[j++] = env[i];
  for (size_t i = 0; i < n; i++)
    if (strncmp (environ[i], "ISLET_RUN_", 10) != 0)
      envp[j++] = environ[i];
  s.envp = envp;
  pthread_mutex_lock (&stacks_lock);
  stacks = spawn_stacks ();
  if (stacks == NULL)
    {
      pthread_mutex_unlock (&stacks_lock);
      return islet_fail (err, ISLET_E_SYSTEM, errno, "map the stacks of islet-run's start");
    }
  s.stack = stacks + SPAWN_STACK + SPAWN_GUARD;
  s.mask = &old;
  /* no handler of the caller's may run on the shared memory before the
     grandchild has reset them all */
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  pid = clone (spawn_detach, stacks + SPAWN_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &s);
  e = errno;
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  pthread_mutex_unlock (&stacks_lock);
  if (pid < 0)
    return islet_fail (err, ISLET_E_SYSTEM, e, "clone");
  return pid;
}

/* Ask the forker for the supervisor of id, handing it the ready pipe's
 * write end; false if there is no forker (or it is gone). */
static bool
forker_spawn (struct islet_ctx *ctx, const char *id, int ready)
{
  return ctx->forker_sock >= 0 && islet_send_fd (ctx->forker_sock, id, strlen (id), ready, 0) == 0;
}

/* Start the supervisor of id (through the forker, else an exec of
 * islet-run): st->ready is the read end of the pipe on which it will say
 * how its start went, st->pid the pid to reap (-1 if the forker started
 * it).  With early, islet-run is started only if there is no forker, and
 * waits on st->go for the word that config.json is whole. */
static int
supervisor_launch (struct islet_ctx *ctx, const char *id, bool early, struct supervisor_start *st,
                   struct islet_err *err)
{
  int p[2], go[2] = { -1, -1 };

  if (early && ctx->forker_sock >= 0)
    return 0; /* the forker forks it at once, once asked: supervisor_go */
  if (pipe2 (p, O_CLOEXEC) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "pipe");
  if (!forker_spawn (ctx, id, p[1]))
    {
      char *argv[] = { "islet-run", ctx->state_dir, (char *) id, "3", NULL };
      char *env[] = { "ISLET_RUN_DETACHED=1", "ISLET_RUN_CONFIG_FD=4", NULL };
      int fds[2];

      if (!early)
        env[1] = NULL;
      /* a socket, not a pipe: a word to a supervisor that is gone raises
         no SIGPIPE in the caller (MSG_NOSIGNAL) */
      if (early && socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) < 0)
        {
          int e = errno;
          close (p[0]);
          close (p[1]);
          return islet_fail (err, ISLET_E_SYSTEM, e, "socketpair");
        }
      fds[0] = p[1];
      fds[1] = go[1];
      st->pid = spawn_detached (ctx->runtime, argv, env, fds, 0, err);
      if (go[1] >= 0)
        close (go[1]);
      if (st->pid < 0)
        {
          if (go[0] >= 0)
            close (go[0]);
          close (p[0]);
          close (p[1]);
          return -1;
        }
    }
  close (p[1]);
  st->ready = p[0];
  st->go = go[0];
  return 0;
}

/* Wait for the word of the supervisor launched with supervisor_launch: "ok"
 * once the sandbox runs, or an error.  Closes st->ready and reaps st->pid.
 * The "ok" comes from the sandbox's init, while the supervisor still holds
 * its end of the pipe: it is taken as soon as it is there, not at the end
 * of the pipe. */
static int
supervisor_wait (struct islet_ctx *ctx, const char *id, struct supervisor_start *st,
                 struct islet_err *err)
{
  char buf[1024];
  size_t got = 0;
  int status = 0;
  pid_t pid = st->pid;

  while (got < sizeof buf - 1)
    {
      ssize_t n = read (st->ready, buf + got, sizeof buf - 1 - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      got += (size_t) n;
      if (got == 2 && memcmp (buf, "ok", 2) == 0)
        break;
    }
  close (st->ready);
  st->ready = -1;
  st->pid = -1;
  buf[got] = '\0';
  while (pid > 0 && waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (got == 2 && memcmp (buf, "ok", 2) == 0)
    return 0;
  if (got > 0)
    {
      cleanup_json json_t *j = json_loads (buf, 0, NULL);
      if (j && islet_err_from_json (j, err) < 0)
        return islet_wrap (err, "start sandbox `%s`", id);
    }
  if (pid > 0 && WIFEXITED (status) && WEXITSTATUS (status) == 127)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "cannot run `%s`", ctx->runtime);
  return islet_fail (err, ISLET_E_SYSTEM, 0, "start sandbox `%s`: the supervisor died", id);
}

int
supervisor_begin (struct islet_ctx *ctx, const char *id, struct supervisor_start *st,
                  struct islet_err *err)
{
  *st = (struct supervisor_start){ .ready = -1, .go = -1, .pid = -1 };
  return supervisor_launch (ctx, id, true, st, err);
}

int
supervisor_go (struct islet_ctx *ctx, const char *id, struct supervisor_start *st, int cfg_fd,
               struct islet_err *err)
{
  int sync_errno = 0;

  if (st->ready < 0 && supervisor_launch (ctx, id, false, st, err) < 0)
    return -1;
  if (st->go >= 0)
    {
      /* one that is gone says why on the ready pipe */
      (void) !send (st->go, "g", 1, MSG_NOSIGNAL);
      close (st->go);
      st->go = -1;
    }
  if (cfg_fd >= 0 && fsync (cfg_fd) < 0)
    sync_errno = errno;
  if (supervisor_wait (ctx, id, st, err) < 0)
    return -1;
  if (sync_errno)
    {
      struct islet_err ignored;
      (void) !islet_sandbox_stop (ctx, id, &ignored);
      return islet_fail (err, islet_errkind_from_errno (sync_errno), sync_errno,
                         "write the config of `%s`", id);
    }
  return 0;
}

void
supervisor_abandon (struct islet_ctx *ctx, const char *id, struct supervisor_start *st)
{
  struct islet_err ignored;

  if (st->go >= 0)
    close (st->go); /* its end: the supervisor refuses the start */
  st->go = -1;
  if (st->ready >= 0)
    (void) !supervisor_wait (ctx, id, st, &ignored);
}

int
spawn_supervisor (struct islet_ctx *ctx, const char *id, int cfg_fd, struct islet_err *err)
{
  struct supervisor_start st = { .ready = -1, .go = -1, .pid = -1 };

  return supervisor_go (ctx, id, &st, cfg_fd, err);
}
