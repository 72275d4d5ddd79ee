/* An exec on a terminal (a PTY session).  The pty pair comes from the
 * sandbox's own devpts instance (mounted with newinstance and max=64 by
 * the rootfs): the command's process opens its ptmx after it has confined
 * itself, so the host's devpts is never touched and the sandbox's limit
 * on ptys counts this one.  It makes the slave its controlling terminal
 * (a new session, TIOCSCTTY) and its stdin, stdout and stderr, and hands
 * the master to its handler over the status socket (SCM_RIGHTS).  The
 * handler, outside the sandbox, then holds the only descriptor of the
 * master outside it: it writes the client's keystrokes into it, forwards
 * what the terminal prints, and applies resizes (TIOCSWINSZ, after which
 * the kernel sends SIGWINCH to the terminal's foreground group).
 *
 * The handler checks that what it got is a pty master (TIOCGPTN answers
 * only on one) before it uses it: it gets the descriptor from a process in
 * the sandbox, though one that runs islet's code until its execve. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "islet/proto.h"
#include "islet/util.h"
#include "runtime.h"

/* Keystrokes taken from the client and not yet taken by the terminal: past
 * this the handler reads no more from the client, which then waits. */
#define INPUT_MAX 65536
#define OUTPUT_CHUNK 65536

int
pty_take_terminal (int status_fd, unsigned cols, unsigned rows, struct islet_err *err)
{
  struct winsize ws = { .ws_row = (unsigned short) rows, .ws_col = (unsigned short) cols };
  int unlock = 0, master, slave;

  if (setsid () < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "start the terminal's session");
  /* the devpts of the sandbox's own /dev/pts, never /dev/ptmx, which the
     sandbox's root may have replaced */
  master = open ("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    return islet_fail (err, ISLET_E_LIMIT, errno, "open a terminal in the sandbox");
  slave = -1;
  if (ioctl (master, TIOCSPTLCK, &unlock) == 0)
    slave = ioctl (master, TIOCGPTPEER, O_RDWR);
  if (slave < 0 || ioctl (slave, TIOCSCTTY, 0) < 0 || ioctl (slave, TIOCSWINSZ, &ws) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "set up the terminal");
      close (master);
      return -1;
    }
  for (int fd = 0; fd < 3; fd++)
    if (dup2 (slave, fd) < 0)
      {
        islet_fail (err, ISLET_E_SYSTEM, errno, "set up the terminal's stdio");
        close (master);
        return -1;
      }
  if (slave > 2)
    close (slave);
  /* an empty start_failure with the master: "started" */
  {
    struct start_failure ok = { 0 };
    if (islet_send_fd (status_fd, &ok, sizeof ok, master, 0) < 0)
      {
        islet_fail (err, ISLET_E_SYSTEM, errno, "hand over the terminal");
        close (master);
        return -1;
      }
  }
  close (master);
  return 0;
}

int
pty_receive_master (int status_fd, struct start_failure *fail, int *master)
{
  struct pollfd p = { .fd = status_fd, .events = POLLIN };
  unsigned n;
  ssize_t got;

  *master = -1;
  memset (fail, 0, sizeof *fail);
  /* a process in the sandbox can stop the command's before it answers */
  if (poll (&p, 1, 5000) != 1)
    return -1;
  got = islet_recv_fd (status_fd, fail, sizeof *fail, master);
  if (got != (ssize_t) sizeof *fail)
    {
      if (*master >= 0)
        close (*master);
      *master = -1;
      if (got <= 0)
        memset (fail, 0, sizeof *fail);
      return -1;
    }
  if (*master >= 0 && ioctl (*master, TIOCGPTN, &n) < 0)
    {
      close (*master);
      *master = -1;
      return -1;
    }
  return *master >= 0 ? 0 : -1;
}

/* ---- the handler's loop ---- */

struct pty_loop
{
  struct pty_run *run;
  int conn;
  char in[INPUT_MAX];
  size_t in_len;
  bool master_open;
};

static void
pty_reap (struct pty_run *r)
{
  int status;
  struct rusage ru;
  pid_t pid;

  while ((pid = wait4 (-1, &status, WNOHANG, &ru)) > 0)
    if (pid == r->command)
      {
        r->status = status;
        r->ru = ru;
        r->done = true;
      }
}

/* What the terminal printed, to the client; false once it has nothing more
 * (EIO: no process holds the slave any longer). */
static bool
pty_output (struct pty_loop *l)
{
  char buf[OUTPUT_CHUNK];
  struct islet_err e;
  ssize_t n = read (l->run->master, buf, sizeof buf);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return true;
  if (n <= 0)
    return false;
  if (l->conn >= 0 && islet_frame_send (l->conn, ISLET_FRAME_OUT, buf, (size_t) n, &e) < 0)
    l->conn = -1;
  return true;
}

static void
pty_resize (struct pty_loop *l, json_t *msg)
{
  json_int_t cols = json_integer_value (json_object_get (msg, "cols"));
  json_int_t rows = json_integer_value (json_object_get (msg, "rows"));
  struct winsize ws;

  if (cols < 1 || cols > PTY_SIZE_MAX || rows < 1 || rows > PTY_SIZE_MAX)
    return;
  ws = (struct winsize){ .ws_row = (unsigned short) rows, .ws_col = (unsigned short) cols };
  (void) ioctl (l->run->master, TIOCSWINSZ, &ws);
}

/* One frame from the client: keystrokes (DATA), or {"op": "resize"} or
 * {"op": "kill"}.  -1: the client is gone or broke the protocol. */
static int
pty_input (struct pty_loop *l)
{
  cleanup_free char *data = NULL;
  enum islet_frame type;
  struct islet_err e;
  size_t len;

  if (islet_frame_recv (l->conn, &type, &data, &len, &e) < 0)
    return -1;
  if (type == ISLET_FRAME_DATA)
    {
      if (len > sizeof l->in - l->in_len)
        return -1; /* a client that does not wait for the terminal */
      memcpy (l->in + l->in_len, data, len);
      l->in_len += len;
      return 0;
    }
  if (type == ISLET_FRAME_JSON)
    {
      cleanup_json json_t *msg = json_loadb (data, len, 0, NULL);
      const char *op = json_string_value (json_object_get (msg, "op"));
      if (op && strcmp (op, "resize") == 0)
        pty_resize (l, msg);
      else if (op && strcmp (op, "kill") == 0)
        (void) !islet_cg_kill (l->run->cg, &e);
      return 0;
    }
  return -1;
}

static void
pty_write_input (struct pty_loop *l)
{
  ssize_t n = write (l->run->master, l->in, l->in_len);

  if (n > 0)
    {
      memmove (l->in, l->in + n, l->in_len - (size_t) n);
      l->in_len -= (size_t) n;
    }
  else if (n < 0 && errno != EAGAIN && errno != EINTR)
    l->in_len = 0; /* the terminal is gone: nobody reads this */
}

void
pty_supervise (struct pty_run *r)
{
  struct pty_loop *l = islet_xcalloc (1, sizeof *l);
  struct islet_err e;

  l->run = r;
  l->conn = r->conn;
  l->master_open = true;
  fcntl (r->master, F_SETFL, fcntl (r->master, F_GETFL) | O_NONBLOCK);
  while (!r->done)
    {
      /* keystrokes the terminal has not taken yet hold further ones back */
      short want_in = l->in_len && l->master_open ? POLLRDHUP : POLLIN | POLLRDHUP;
      short want_master = l->in_len ? POLLIN | POLLOUT : POLLIN;
      struct pollfd p[3] = {
        { r->sfd, POLLIN, 0 },
        { l->master_open ? r->master : -1, want_master, 0 },
        { l->conn, want_in, 0 },
      };

      if (poll (p, 3, -1) < 0)
        continue;
      if (p[0].revents)
        {
          struct signalfd_siginfo si;
          (void) !read (r->sfd, &si, sizeof si);
          pty_reap (r);
        }
      if (p[1].revents & POLLOUT)
        pty_write_input (l);
      /* EIO once no process holds the slave: the command may live on
         without it, and its client may still kill it */
      if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !pty_output (l))
        l->master_open = false;
      if (!l->master_open)
        l->in_len = 0;
      if (p[2].revents)
        {
          bool gone = (p[2].revents & (POLLHUP | POLLERR))
                      || ((p[2].revents & POLLIN) && pty_input (l) < 0)
                      || ((p[2].revents & POLLRDHUP) && !(p[2].revents & POLLIN));
          if (gone)
            {
              /* nobody holds this terminal any more: end what runs on it */
              r->client_gone = true;
              l->conn = -1;
              (void) !islet_cg_kill (r->cg, &e);
            }
        }
    }
  /* what the command printed before it ended */
  while (l->master_open && pty_output (l))
    {
      struct pollfd q = { r->master, POLLIN, 0 };
      if (poll (&q, 1, 0) != 1)
        break;
    }
  free (l);
}
