/* The supervisor's exec handlers: the table of the handlers it forked (of
 * every kind), the ready ones linked by a socket (exec.c), exec.sock, and
 * the exec groups kept for the next execs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "islet/proto.h"
#include "islet/util.h"
#include "runtime.h"
#include "supervisor.h"

pid_t handlers[MAX_HANDLERS];
unsigned handler_seq[MAX_HANDLERS];
size_t n_handlers;
/* Exec groups their handlers kept, empty, for the next execs (exec.c);
   removed once the sandbox is idle */
#define KEPT_MAX 2
static unsigned kept[KEPT_MAX];
size_t n_kept;
struct exec_link links[LINKED_MAX];
size_t n_links;
uint64_t ready_since;
unsigned execs_forked;

size_t
n_ready (void)
{
  size_t n = 0;

  for (size_t i = 0; i < n_links; i++)
    n += links[i].state == LINK_READY;
  return n;
}

/* Let a linked exec handler go (a ready one ends its command, removes its
 * group and exits when its socket closes; a serving one exits after its
 * exec), or forget one that is gone. */
void
link_drop (size_t i)
{
  close (links[i].sock);
  links[i] = links[--n_links];
}

/* Let every ready exec handler go, and with all (true) the serving ones
 * too, which then do not come back ready. */
void
ready_stop_all (bool all)
{
  for (size_t i = n_links; i-- > 0;)
    if (all || links[i].state == LINK_READY)
      link_drop (i);
}

void
ready_stop (void)
{
  ready_stop_all (true);
}

/* A handler's first steps: nothing of the supervisor's but the sandbox. */
void
handler_detach (int lfd, int sfd)
{
  sigset_t none;

  close (lfd);
  close (sfd);
  close (lock_fd);
  if (agent_sock >= 0)
    close (agent_sock);
  for (size_t i = 0; i < n_links; i++)
    close (links[i].sock);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
}

/* exec.sock: where clients send execs, for the ready handler to accept
 * without the supervisor (exec.c); made with the first ready handler, off
 * the create's path (a sandbox made for one command never has one).
 * Without it clients use ctl.sock. */
static void
exec_listen (struct sandbox *sb)
{
  static bool tried;
  cleanup_free char *path = NULL;
  struct islet_err e;

  if (tried)
    return;
  tried = true;
  path = islet_xasprintf ("%s/exec.sock", sb->dir);
  sb->xfd = listen_on (path, &e);
  if (sb->xfd < 0)
    logmsg ("no exec.sock: %s", e.msg);
  else
    fcntl (sb->xfd, F_SETFL, O_NONBLOCK);
}

void
exec_unlisten (struct sandbox *sb)
{
  cleanup_free char *path = islet_xasprintf ("%s/exec.sock", sb->dir);

  if (sb->xfd < 0)
    return;
  unlink (path);
  close (sb->xfd);
  sb->xfd = -1;
}

/* The name of the next exec's group: one kept by an earlier exec (true),
 * or a new one. */
bool
exec_group_take (struct sandbox *sb, unsigned *seq)
{
  if (n_kept > 0)
    {
      *seq = kept[--n_kept];
      return true;
    }
  *seq = ++sb->exec_seq;
  return false;
}

static void
exec_group_remove (struct sandbox *sb, unsigned seq)
{
  struct islet_cg *cg;
  struct islet_err e;
  char name[32];

  snprintf (name, sizeof name, "x%u", seq);
  if (sb->cg && islet_cg_open_child (sb->cg, name, &cg, &e) == 0 && !islet_cg_remove_if_empty (cg))
    islet_cg_free (cg);
}

/* A kept group back on the list (its handler kept it, or never came to
 * use it), or removed when the list is full or no handler is kept ready
 * (the sandbox idle or paused, or still at its first execs). */
void
exec_group_back (struct sandbox *sb, unsigned seq, bool keep)
{
  if (!keep)
    return;
  if (n_kept < KEPT_MAX && n_links > 0)
    kept[n_kept++] = seq;
  else
    exec_group_remove (sb, seq);
}

/* The sandbox is idle: it keeps no exec group. */
void
exec_groups_drop (struct sandbox *sb)
{
  while (n_kept > 0)
    exec_group_remove (sb, kept[--n_kept]);
}

/* Fork the handler of the next exec now, so that its group, its command's
 * process, the namespaces, the capabilities and the filter are all in place
 * before the request comes (exec.c).  Best effort: without it, an exec is
 * served by a handler forked for it. */
void
ready_start (struct sandbox *sb, int lfd, int sfd)
{
  unsigned seq;
  bool reuse;
  int sp[2];
  pid_t pid;

  if (n_ready () > 0 || n_links >= LINKED_MAX || paused || sb->cg == NULL
      || n_handlers >= MAX_HANDLERS)
    return;
  exec_listen (sb);
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
    return;
  reuse = exec_group_take (sb, &seq);
  pid = fork ();
  if (pid == 0)
    {
      close (sp[0]);
      handler_detach (lfd, sfd);
      _exit (exec_ready (sb, sp[1], seq, reuse));
    }
  close (sp[1]);
  if (pid < 0)
    {
      exec_group_back (sb, seq, reuse);
      close (sp[0]);
      return;
    }
  handler_seq[n_handlers] = seq;
  handlers[n_handlers++] = pid;
  links[n_links++] = (struct exec_link){ pid, sp[0], LINK_READY };
  ready_since = islet_now_ns ();
}

/* A linked handler's socket: "t" when it has accepted an exec on exec.sock
 * itself and may wait on its client (exec.sock is then ours again unless
 * another handler is ready), "s" once that exec's command has started
 * (the next ready handler is wanted, unless one is), "r" when it is ready
 * again after a clean exec (kept while at most READY_MAX are, and not
 * paused), or its end (gone). */
void
ready_heard (struct sandbox *sb, size_t i, int lfd, int sfd)
{
  bool taken = links[i].state != LINK_READY;
  char b;

  if (read (links[i].sock, &b, 1) == 1)
    {
      if (b == 'r' && taken && !paused && n_ready () < READY_MAX)
        {
          links[i].state = LINK_READY;
          ready_since = islet_now_ns ();
          return;
        }
      if (b == 't' || b == 's')
        {
          links[i].state = b == 't' ? LINK_TAKEN : LINK_STARTED;
          /* a handler whose request came whole says only "s": one
             wake-up here per exec */
          if (b == 't' || n_ready () > 0)
            return;
          /* the links are full: this one ends after its exec */
          if (n_links >= LINKED_MAX)
            link_drop (i);
          ready_start (sb, lfd, sfd);
          return;
        }
    }
  link_drop (i);
  if (taken)
    ready_start (sb, lfd, sfd);
}
