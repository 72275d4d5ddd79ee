/* A sandbox started for the warm pool, and the `run` that takes it
 * (`islet run` from the pool): its command is run by the sandbox's init, as
 * a one-shot sandbox's is (oneshot.c), and the sandbox ends with it.
 *
 * Its init, confined as every init is, keeps its sync socket to the
 * supervisor after the start and waits on it, reaping as any init does
 * (pooled_init_wait).  The supervisor holds the other end only while no
 * request but a `ping` (the take's probe) has reached the sandbox: the
 * first other one closes it (pooled_release), and the init, told by the
 * socket's end, goes on as any init.  So a `run` is served only by a
 * sandbox in which no code of anyone's has run: what its command meets is
 * what a cold one-shot sandbox's command meets, an init that has done
 * nothing but start.  A `run` of any other sandbox is refused.
 *
 *   supervisor  checks the sandbox (pooled_refuse), plans the request as
 *               a one-shot sandbox's (oneshot_adopt) and forks the
 *               answerer (main.c's oneshot_fork)
 *   answerer    touches the root's first directories (as a take does),
 *               makes the command's stdin and pipes, sends the command to
 *               the init (oneshot_send), then answers as a one-shot
 *               sandbox's answerer (oneshot_answer)
 *   init        forks the command (oneshot_take_command) and waits for its
 *               end as a one-shot sandbox's init (oneshot_init_wait)
 *
 * A create that takes a pooled sandbox sends `take` instead (control.c):
 * the supervisor answers it at once, then sets the root's times before it
 * serves another request.  A take leaves the init waiting, as a `ping`
 * does: one whose caller's claim is refused goes back to the pool as it
 * was. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/sandbox.h"
#include "islet/util.h"
#include "runtime.h"

static bool
mark_exists (const struct sandbox *sb, const char *sub)
{
  cleanup_free char *path = islet_xasprintf ("%s/warm/%s/%s", sb->state_dir, sub, sb->id);

  return access (path, F_OK) == 0;
}

/* A sandbox is started for the pool while its filling/ mark exists
 * (src/client/warm.c): made before the sandbox's directory, removed once
 * it is ready to be taken. */
bool
pooled_detect (const struct sandbox *sb)
{
  return mark_exists (sb, "filling");
}

void
pooled_release (struct sandbox *sb)
{
  if (sb->pool_sync < 0)
    return;
  close (sb->pool_sync);
  sb->pool_sync = -1;
}

int
pooled_refuse (const struct sandbox *sb, const char *op, struct islet_err *err)
{
  if (!sb->pooled)
    return islet_fail (err, ISLET_E_CONFLICT, 0,
                       "sandbox `%s` takes no `%s`: it was not started for the warm pool", sb->id,
                       op);
  if (sb->pool_sync < 0)
    return islet_fail (err, ISLET_E_CONFLICT, 0,
                       "sandbox `%s` takes no `%s`: it has served other requests", sb->id, op);
  /* the take renames its ready/ mark away first */
  if (mark_exists (sb, "ready") || mark_exists (sb, "filling"))
    return islet_fail (err, ISLET_E_CONFLICT, 0,
                       "sandbox `%s` takes no `%s`: it was not taken from the warm pool", sb->id,
                       op);
  return 0;
}

void
pooled_init_wait (struct sandbox *sb, int sync)
{
  sigset_t all, chld;
  int sfd;

  sigfillset (&all);
  sigprocmask (SIG_BLOCK, &all, NULL);
  sigemptyset (&chld);
  sigaddset (&chld, SIGCHLD);
  sfd = signalfd (-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0)
    return; /* then an init like any other: no `run` */
  for (;;)
    {
      struct pollfd p[2] = { { sfd, POLLIN, 0 }, { sync, POLLIN, 0 } };
      struct signalfd_siginfo si;
      pid_t command;

      if (poll (p, 2, -1) < 0)
        continue;
      if (p[0].revents)
        {
          while (read (sfd, &si, sizeof si) == (ssize_t) sizeof si)
            ;
          while (waitpid (-1, NULL, WNOHANG) > 0)
            ;
        }
      if (!p[1].revents)
        continue;
      command = oneshot_take_command (sb, sync);
      if (command == 0)
        break; /* released: the sandbox is an ordinary one */
      if (command < 0)
        _exit (1); /* the answerer sees the init gone: the sandbox stopped */
      close (sfd);
      oneshot_init_wait (sync, command);
    }
  close (sfd);
  while (waitpid (-1, NULL, WNOHANG) > 0)
    ;
}

void
pooled_answer (struct sandbox *sb)
{
  struct islet_err e;

  /* a take sets these times to its own (src/client/warm.c); the command
     is the first to see them */
  if (islet_sandbox_touch_root (sb->init_pid, &e) < 0
      || (oneshot_direct (sb) && (oneshot_pipes (sb, &e) < 0 || oneshot_send (sb, &e) < 0)))
    {
      oneshot_refuse (sb, &e);
      _exit (0);
    }
  /* the init and the command have the write ends: EOF once they are gone */
  oneshot_begin (sb);
  oneshot_answer (sb);
}
