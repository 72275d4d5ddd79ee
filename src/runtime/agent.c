/* File operations, done from inside the sandbox.  Whoever serves one has
 * confined itself (confine.c: the sandbox's cgroup and namespaces, its root
 * with no capabilities, not dumpable, its seccomp filter) before it looks at
 * a single path: from then on "/" is the sandbox's root and there is no path, symlink
 * or ".." that leads out of it.  Host files are never opened by path on the
 * sandbox's behalf.
 *
 * The agent: a process per running sandbox that has done all of that once,
 * at start.  The supervisor passes it each file request's connection (with
 * SCM_RIGHTS, over a socket pair) and serves it in a thread of its own (a
 * forked worker when all threads are busy), which has the confinement as it
 * is: no cgroup move, no filter to install, no namespace to join.  If the agent is gone, the
 * supervisor falls back to a handler that confines itself (serve_file).  A request with "keep"
 * makes its connection a session (file_session), which whoever serves it
 * goes on serving: isletd keeps a few per sandbox (src/client/client.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "islet/proto.h"
#include "islet/util.h"
#include "runtime.h"

#define LIST_MAX 100000
#define READ_DEFAULT_MAX (10u << 20)
#define READ_CHUNK (128u << 10)

typedef int (*file_op) (int conn, json_t *req, struct islet_err *err);

static const char *
req_path (json_t *req, const char *key, struct islet_err *err)
{
  const char *p = json_string_value (json_object_get (req, key));
  if (p == NULL || *p == '\0')
    {
      islet_fail (err, ISLET_E_INVALID, 0, "`%s` must be a non-empty path", key);
      return NULL;
    }
  if (strlen (p) >= 4096)
    {
      islet_fail (err, ISLET_E_INVALID, ENAMETOOLONG, "`%s` is too long", key);
      return NULL;
    }
  return p;
}

static int
send_ok (int conn, json_t *j, struct islet_err *err)
{
  cleanup_json json_t *msg = j ? j : json_object ();
  return islet_frame_send_json (conn, msg, err);
}

static const char *
type_name (mode_t m)
{
  return S_ISDIR (m) ? "dir" : S_ISREG (m) ? "file" : S_ISLNK (m) ? "symlink" : "other";
}

static json_t *
stat_json (const char *name, const char *path, const struct stat *st)
{
  char mode[8];
  snprintf (mode, sizeof mode, "%04o", (unsigned) (st->st_mode & 07777));
  return json_pack ("{s:s,s:s,s:I,s:s,s:i,s:i,s:I,s:b,s:s}", "name", name, "path", path, "size",
                    (json_int_t) st->st_size, "mode", mode, "uid", (int) st->st_uid, "gid",
                    (int) st->st_gid, "mtime", (json_int_t) st->st_mtim.tv_sec, "is_dir",
                    S_ISDIR (st->st_mode), "type", type_name (st->st_mode));
}

static int
op_read (int conn, json_t *req, struct islet_err *err)
{
  const char *path = req_path (req, "path", err);
  json_int_t max = json_integer_value (json_object_get (req, "max"));
  uint64_t limit = max > 0 ? (uint64_t) max : READ_DEFAULT_MAX;
  bool unlimited = json_is_true (json_object_get (req, "unlimited"));
  cleanup_close int fd = -1;
  /* small: up to 64 requests run at once in the agent, whose memory the
   * sandbox's limit counts */
  cleanup_free char *buf = islet_xmalloc (READ_CHUNK);
  uint64_t total = 0;
  struct stat st;

  if (path == NULL)
    return -1;
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "open `%s`", path);
  if (fstat (fd, &st) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "stat `%s`", path);
  if (!S_ISREG (st.st_mode))
    return islet_fail (err, ISLET_E_INVALID, S_ISDIR (st.st_mode) ? EISDIR : EINVAL,
                       "read `%s`: not a regular file", path);
  if (!unlimited && (uint64_t) st.st_size > limit)
    return islet_fail (err, ISLET_E_LIMIT, EFBIG, "read `%s`: %lld bytes is over the limit of %llu",
                       path, (long long) st.st_size, (unsigned long long) limit);
  for (;;)
    {
      ssize_t n = read (fd, buf, READ_CHUNK);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "read `%s`", path);
      if (n == 0)
        break;
      total += (uint64_t) n;
      /* The file may grow while it is read: the limit holds all the same. */
      if (!unlimited && total > limit)
        return islet_fail (err, ISLET_E_LIMIT, EFBIG, "read `%s`: over the limit of %llu", path,
                           (unsigned long long) limit);
      if (islet_frame_send (conn, ISLET_FRAME_DATA, buf, (size_t) n, err) < 0)
        return -1;
    }
  if (islet_frame_send (conn, ISLET_FRAME_DATA, NULL, 0, err) < 0)
    return -1;
  return send_ok (conn, json_pack ("{s:I}", "size", (json_int_t) total), err);
}

/* Take the client's data frames until the empty one, even after a failure, so
 * the client is never left blocked on a full socket. */
static int
receive_into (int conn, int fd, struct islet_err *err)
{
  bool failed = false;

  for (;;)
    {
      cleanup_free char *data = NULL;
      enum islet_frame type;
      size_t len;

      if (islet_frame_recv (conn, &type, &data, &len, failed ? &(struct islet_err){ 0 } : err) < 0)
        return -1;
      if (type != ISLET_FRAME_DATA)
        return islet_fail (err, ISLET_E_INVALID, EPROTO, "expected file data");
      if (len == 0)
        return failed ? -1 : 0;
      if (!failed && islet_write_all (fd, data, len) < 0)
        {
          islet_fail (err, islet_errkind_from_errno (errno), errno, "write");
          failed = true;
        }
    }
}

static int
sync_dir (const char *dir)
{
  cleanup_close int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || fsync (fd) < 0)
    return -1;
  return 0;
}

static int
op_write (int conn, json_t *req, struct islet_err *err)
{
  const char *path = req_path (req, "path", err);
  json_int_t mode = json_integer_value (json_object_get (req, "mode"));
  cleanup_free char *dircopy = NULL;
  cleanup_free char *tmp = NULL;
  cleanup_close int fd = -1;
  struct stat st;
  uint32_t rnd = 0;
  const char *dir;

  if (path == NULL)
    {
      (void) receive_into (conn, -1, &(struct islet_err){ 0 });
      return -1;
    }
  if (mode <= 0 || mode > 07777)
    mode = 0644;
  dircopy = islet_xstrdup (path);
  dir = dirname (dircopy);
  if (islet_mkdir_p (dir, 0755, err) < 0)
    {
      (void) receive_into (conn, -1, &(struct islet_err){ 0 });
      return -1;
    }
  if (stat (path, &st) == 0 && S_ISDIR (st.st_mode))
    {
      islet_fail (err, ISLET_E_CONFLICT, EISDIR, "write `%s`: is a directory", path);
      (void) receive_into (conn, -1, &(struct islet_err){ 0 });
      return -1;
    }
  (void) !getrandom (&rnd, sizeof rnd, 0);
  /* A temporary file beside the target and a rename: a reader sees the old
     file or the new one, never a half-written one. */
  tmp = islet_xasprintf ("%s/.islet-%08x.tmp", dir, rnd);
  fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, (mode_t) mode);
  if (fd < 0)
    {
      islet_fail (err, islet_errkind_from_errno (errno), errno, "create `%s`", path);
      (void) receive_into (conn, -1, &(struct islet_err){ 0 });
      return -1;
    }
  if (receive_into (conn, fd, err) < 0 || fchmod (fd, (mode_t) mode) < 0 || fsync (fd) < 0
      || rename (tmp, path) < 0)
    {
      int e = errno;
      (void) unlink (tmp);
      if (err->kind == ISLET_E_OK)
        islet_fail (err, islet_errkind_from_errno (e), e, "write `%s`", path);
      return islet_wrap (err, "write `%s`", path);
    }
  if (fstat (fd, &st) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "stat `%s`", path);
  /* the rename is on disk only once its directory is: never answer "ok"
   * for a file that a crash or a failed commit could take back */
  if (sync_dir (dir) < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "write `%s`: sync `%s`", path,
                       dir);
  return send_ok (conn, json_pack ("{s:I}", "size", (json_int_t) st.st_size), err);
}

static int
remove_tree (int parent, const char *name, int depth, struct islet_err *err)
{
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int fd;

  if (unlinkat (parent, name, 0) == 0)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "remove `%s`", name);
  if (depth > 512)
    return islet_fail (err, ISLET_E_LIMIT, ELOOP, "remove `%s`: too deep", name);
  fd = openat (parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "open `%s`", name);
  while ((de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0
        && remove_tree (dirfd (d), de->d_name, depth + 1, err) < 0)
      return -1;
  if (unlinkat (parent, name, AT_REMOVEDIR) < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "remove `%s`", name);
  return 0;
}

static int
op_rm (int conn, json_t *req, struct islet_err *err)
{
  const char *path = req_path (req, "path", err);
  struct stat st;

  if (path == NULL)
    return -1;
  if (lstat (path, &st) < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "remove `%s`", path);
  if (S_ISDIR (st.st_mode))
    {
      if (json_is_true (json_object_get (req, "recursive")))
        {
          if (remove_tree (AT_FDCWD, path, 0, err) < 0)
            return -1;
        }
      else if (rmdir (path) < 0)
        return islet_fail (err, islet_errkind_from_errno (errno), errno, "remove `%s`", path);
    }
  else if (unlink (path) < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "remove `%s`", path);
  return send_ok (conn, NULL, err);
}

static int
op_mkdir (int conn, json_t *req, struct islet_err *err)
{
  const char *path = req_path (req, "path", err);
  json_int_t mode = json_integer_value (json_object_get (req, "mode"));
  struct stat st;

  if (path == NULL)
    return -1;
  if (mode <= 0 || mode > 07777)
    mode = 0755;
  if (islet_mkdir_p (path, (mode_t) mode, err) < 0)
    return -1;
  if (stat (path, &st) < 0 || !S_ISDIR (st.st_mode))
    return islet_fail (err, ISLET_E_CONFLICT, ENOTDIR, "mkdir `%s`: not a directory", path);
  return send_ok (conn, NULL, err);
}

static int
op_mv (int conn, json_t *req, struct islet_err *err)
{
  const char *from = req_path (req, "from", err);
  const char *to = from ? req_path (req, "to", err) : NULL;

  if (to == NULL)
    return -1;
  if (rename (from, to) < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "move `%s` to `%s`", from, to);
  return send_ok (conn, NULL, err);
}

static int
op_stat (int conn, json_t *req, struct islet_err *err)
{
  const char *path = req_path (req, "path", err);
  cleanup_free char *copy = NULL;
  struct stat st;

  if (path == NULL)
    return -1;
  if (lstat (path, &st) < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "stat `%s`", path);
  copy = islet_xstrdup (path);
  return send_ok (conn, json_pack ("{s:o}", "stat", stat_json (basename (copy), path, &st)), err);
}

static int
list_dir (const char *path, unsigned depth, json_t *out, struct islet_err *err)
{
  cleanup_dir DIR *d = opendir (path);
  struct dirent *de;

  if (d == NULL)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "list `%s`", path);
  while ((de = readdir (d)) != NULL)
    {
      cleanup_free char *child = NULL;
      struct stat st;

      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (json_array_size (out) >= LIST_MAX)
        return islet_fail (err, ISLET_E_LIMIT, E2BIG, "list `%s`: more than %d entries", path,
                           LIST_MAX);
      child = strcmp (path, "/") == 0 ? islet_xasprintf ("/%s", de->d_name)
                                      : islet_xasprintf ("%s/%s", path, de->d_name);
      if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue; /* removed while listing */
      json_array_append_new (out, stat_json (de->d_name, child, &st));
      if (S_ISDIR (st.st_mode) && depth > 1 && list_dir (child, depth - 1, out, err) < 0)
        return -1;
    }
  return 0;
}

static int
op_list (int conn, json_t *req, struct islet_err *err)
{
  const char *path = req_path (req, "path", err);
  json_int_t depth = json_integer_value (json_object_get (req, "depth"));
  json_t *entries;

  if (path == NULL)
    return -1;
  entries = json_array ();
  if (list_dir (path, depth > 0 ? (unsigned) depth : 1, entries, err) < 0)
    {
      json_decref (entries);
      return -1;
    }
  return send_ok (conn, json_pack ("{s:o}", "entries", entries), err);
}

static const struct
{
  const char *name;
  file_op fn;
} file_ops[] = {
  { "read", op_read }, { "write", op_write }, { "rm", op_rm },     { "mkdir", op_mkdir },
  { "mv", op_mv },     { "stat", op_stat },   { "list", op_list },
};

static void file_session (int conn);

/* Serve one file request on conn, already confined; with "keep" (the first
 * request of a connection), the connection then becomes a session. */
static void
file_request (int conn, json_t *req, bool in_session)
{
  const char *op = json_string_value (json_object_get (req, "op"));
  struct islet_err e = { 0 };
  file_op fn = NULL;

  for (size_t i = 0; op && i < sizeof file_ops / sizeof file_ops[0]; i++)
    if (strcmp (op, file_ops[i].name) == 0)
      fn = file_ops[i].fn;
  if (fn == NULL)
    {
      islet_fail (&e, ISLET_E_INVALID, 0, "unknown operation `%s`", op ? op : "");
      reply_error (conn, &e);
      return;
    }
  if (fn (conn, req, &e) < 0)
    reply_error (conn, &e);
  if (!in_session && json_is_true (json_object_get (req, "keep")))
    file_session (conn);
}

/* A session: more requests, one after another on the same connection,
 * until the client closes it.  A client that makes many requests (isletd
 * keeps a few sessions per sandbox) then pays no connect, no wake of the
 * supervisor and no new thread per request.  Whoever serves it is confined
 * as for one request, and every answer ends with its JSON frame, errors
 * included, so the two ends stay in step; anything else ends the session. */
static void
file_session (int conn)
{
  struct islet_err e;

  for (;;)
    {
      cleanup_json json_t *req = NULL;

      if (islet_frame_recv_json (conn, &req, &e) < 0)
        return;
      file_request (conn, req, true);
    }
}

/* Where file operations start: relative paths are the workspace's. */
static void
file_cwd (void)
{
  umask (022);
  if (chdir ("/workspace") < 0)
    (void) !chdir ("/");
}

/* chown (and the mode after it): the one file operation that needs
 * capabilities, so neither the agent nor its workers serve it (they have
 * none), but a handler forked for it (serve_file), confined as the agent is
 * except that it keeps CAP_CHOWN and CAP_FOWNER (SERVE_CHOWN_CAPS) in the
 * sandbox's user namespace.
 * Those act on files whose owner the namespace maps, for ids it maps, and
 * nothing more: a file whose owner it does not map (the host's, seen
 * through the `host` image) stays refused (EPERM), and the path is
 * resolved in the sandbox's mount namespace, whose root is the sandbox's,
 * its last component not followed by the chown (lchown; the mode follows
 * a link, as chmod does, inside the sandbox still).  The handler runs no
 * code of the sandbox's and exits after this one request. */
static int
op_chown (int conn, json_t *req, struct islet_err *err)
{
  const char *path = req_path (req, "path", err);
  json_t *u = json_object_get (req, "uid"), *g = json_object_get (req, "gid");
  json_int_t uid = json_is_integer (u) ? json_integer_value (u) : -1;
  json_int_t gid = json_is_integer (g) ? json_integer_value (g) : -1;
  json_int_t mode = json_is_integer (json_object_get (req, "mode"))
                        ? json_integer_value (json_object_get (req, "mode"))
                        : -1;

  if (path == NULL)
    return -1;
  if (uid < -1 || uid > 65535 || gid < -1 || gid > 65535 || mode < -1 || mode > 07777)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "chown: ids are from 0 to 65535 in a sandbox, a mode at most 07777");
  if ((uid >= 0 || gid >= 0) && lchown (path, (uid_t) uid, (gid_t) gid) < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "chown `%s`", path);
  if (mode >= 0 && chmod (path, (mode_t) mode) < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "chmod `%s`", path);
  return send_ok (conn, NULL, err);
}

void
serve_file (struct sandbox *sb, int conn, json_t *req, uint64_t keep_caps)
{
  /* the handler's fds 0-2 stay (/dev/null and the supervisor's log) */
  struct confinement c = { .cg = sb->init_cg,
                           .fds = { 0, 1, 2, conn },
                           .nfds = 4,
                           .cloexec_from = 3,
                           .keep_caps = keep_caps };
  const char *op = json_string_value (json_object_get (req, "op"));
  struct islet_err e = { 0 };

  if (confine (sb, &c, &e) < 0)
    {
      islet_wrap (&e, "enter the sandbox");
      reply_error (c.fds[3], &e);
      return;
    }
  file_cwd ();
  if (op == NULL || strcmp (op, "chown") != 0)
    file_request (c.fds[3], req, false);
  else if (op_chown (c.fds[3], req, &e) < 0)
    reply_error (c.fds[3], &e);
}

/* Requests served at once by threads; past this, by forked workers. */
#define AGENT_THREADS_MAX 64

static atomic_int agent_threads;

struct agent_job
{
  int conn;
  json_t *req;
};

static void *
agent_thread (void *arg)
{
  struct agent_job *job = arg;

  file_request (job->conn, job->req, false);
  close (job->conn);
  json_decref (job->req);
  free (job);
  atomic_fetch_sub (&agent_threads, 1);
  return NULL;
}

/* Serve one request in a thread of the agent: every request of a sandbox
 * has the same privileges (its root, no capabilities, its filter), so a
 * process between them would protect nothing, and a thread costs no fork,
 * page-table copy and exit. */
static bool
serve_in_thread (int conn, json_t *req)
{
  struct agent_job *job;
  pthread_attr_t attr;
  pthread_t t;
  int r;

  if (atomic_fetch_add (&agent_threads, 1) >= AGENT_THREADS_MAX)
    {
      atomic_fetch_sub (&agent_threads, 1);
      return false;
    }
  job = islet_xmalloc (sizeof *job);
  job->conn = conn;
  job->req = req;
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize (&attr, 256 * 1024);
  r = pthread_create (&t, &attr, agent_thread, job);
  pthread_attr_destroy (&attr);
  if (r != 0)
    {
      free (job);
      atomic_fetch_sub (&agent_threads, 1);
      return false;
    }
  return true;
}

/* The agent's loop: a request is a datagram with the request's JSON and the
 * connection's fd.  The socket's end (EOF) is the supervisor's exit. */
static void __attribute__ ((noreturn)) agent_loop (int sock)
{
  for (;;)
    {
      json_t *req;
      int conn;
      pid_t pid;

      if (request_take (sock, &conn, &req) < 0)
        _exit (0);
      if (req == NULL)
        {
          struct islet_err e;
          islet_fail (&e, ISLET_E_INVALID, 0, "malformed request");
          reply_error (conn, &e);
          close (conn);
          continue;
        }
      if (serve_in_thread (conn, req))
        continue;
      /* every thread busy (slow clients, large files): a worker process */
      pid = fork ();
      if (pid == 0)
        {
          close (sock);
          /* the worker dies with the agent (which dies with the supervisor) */
          prctl (PR_SET_PDEATHSIG, SIGKILL);
          file_request (conn, req, false);
          _exit (0);
        }
      if (pid < 0)
        {
          struct islet_err e;
          islet_fail (&e, ISLET_E_LIMIT, errno, "fork a file worker");
          reply_error (conn, &e);
        }
      json_decref (req);
      close (conn);
    }
}

pid_t
agent_start (struct sandbox *sb, int *sock_out, struct islet_err *err)
{
  pid_t supervisor = getpid ();
  int sp[2];
  pid_t pid;

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "socketpair");
  pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (sp[0]);
      close (sp[1]);
      return islet_fail (err, ISLET_E_SYSTEM, e, "fork the file agent");
    }
  if (pid == 0)
    {
      /* the agent dies with the supervisor; fds 0-2 stay (/dev/null and
         the supervisor's log) */
      struct confinement c = { .cg = sb->init_cg,
                               .fds = { 0, 1, 2, -1 },
                               .nfds = 4,
                               .cloexec_from = 3,
                               .die_with_parent = true };
      struct islet_err e;
      sigset_t none;

      close (sp[0]);
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (getppid () != supervisor)
        _exit (1);
      set_title ("islet-agent");
      /* workers are reaped by the kernel; they start with no signal blocked */
      signal (SIGCHLD, SIG_IGN);
      signal (SIGPIPE, SIG_IGN);
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      c.fds[3] = sp[1];
      if (confine (sb, &c, &e) < 0)
        _exit (1);
      file_cwd ();
      agent_loop (c.fds[3]);
    }
  close (sp[1]);
  *sock_out = sp[0];
  return pid;
}
