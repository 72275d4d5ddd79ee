#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "islet/util.h"

static void
oom (void)
{
  static const char msg[] = "islet: out of memory\n";
  (void) !write (STDERR_FILENO, msg, sizeof msg - 1);
  abort ();
}

void *
islet_xmalloc (size_t n)
{
  void *p = malloc (n ? n : 1);
  if (p == NULL)
    oom ();
  return p;
}

void *
islet_xcalloc (size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size ? size : 1);
  if (p == NULL)
    oom ();
  return p;
}

void *
islet_xrealloc (void *p, size_t n)
{
  void *r = realloc (p, n ? n : 1);
  if (r == NULL)
    oom ();
  return r;
}

char *
islet_xstrdup (const char *s)
{
  char *r = strdup (s);
  if (r == NULL)
    oom ();
  return r;
}

char *
islet_xasprintf (const char *fmt, ...)
{
  va_list ap;
  char *r = NULL;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&r, fmt, ap);
  va_end (ap);
  if (n < 0)
    oom ();
  return r;
}

int
islet_parse_u64 (const char *s, uint64_t max, uint64_t *out, struct islet_err *err)
{
  unsigned long long v;
  char *end = NULL;

  if (s == NULL || *s < '0' || *s > '9')
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` is not a number", s ? s : "");
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno == ERANGE || *end != '\0' || v > max)
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` is not a number between 0 and %llu", s,
                       (unsigned long long) max);
  *out = v;
  return 0;
}

int
islet_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        {
          errno = EIO;
          return -1;
        }
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

ssize_t
islet_read_all (int fd, void *buf, size_t len)
{
  char *p = buf;
  size_t got = 0;
  while (got < len)
    {
      ssize_t n = read (fd, p + got, len - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      got += (size_t) n;
    }
  return (ssize_t) got;
}

int
islet_send_fd (int sock, const void *buf, size_t len, int fd, int flags)
{
  char cbuf[CMSG_SPACE (sizeof (int))];
  struct iovec iov = { (void *) buf, len };
  struct msghdr msg = {
    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf
  };
  struct cmsghdr *c;

  memset (cbuf, 0, sizeof cbuf);
  c = CMSG_FIRSTHDR (&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (c), &fd, sizeof fd);
  return sendmsg (sock, &msg, flags | MSG_NOSIGNAL) < 0 ? -1 : 0;
}

ssize_t
islet_recv_fd (int sock, void *buf, size_t max, int *fd)
{
  for (;;)
    {
      char cbuf[CMSG_SPACE (sizeof (int))];
      struct iovec iov = { buf, max };
      struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf
      };
      struct cmsghdr *c;
      ssize_t n = recvmsg (sock, &msg, MSG_CMSG_CLOEXEC);

      if (n < 0 && errno == EINTR)
        continue;
      *fd = -1;
      c = n > 0 ? CMSG_FIRSTHDR (&msg) : NULL;
      if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS
          && c->cmsg_len == CMSG_LEN (sizeof (int)))
        memcpy (fd, CMSG_DATA (c), sizeof *fd);
      return n;
    }
}

int
islet_read_file_at (int dirfd, const char *path, size_t max, char **out, size_t *len,
                    struct islet_err *err)
{
  cleanup_close int fd = -1;
  cleanup_free char *buf = NULL;
  size_t cap = 4096, used = 0;

  fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "open `%s`", path);
  buf = islet_xmalloc (cap);
  for (;;)
    {
      ssize_t n;
      if (used + 1 >= cap)
        {
          if (cap > max)
            return islet_fail (err, ISLET_E_LIMIT, EFBIG, "read `%s`", path);
          cap *= 2;
          buf = islet_xrealloc (buf, cap);
        }
      n = read (fd, buf + used, cap - used - 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "read `%s`", path);
      if (n == 0)
        break;
      used += (size_t) n;
      if (used > max)
        return islet_fail (err, ISLET_E_LIMIT, EFBIG, "read `%s`", path);
    }
  buf[used] = '\0';
  if (len)
    *len = used;
  *out = islet_take_ptr (&buf);
  return 0;
}

int
islet_write_file_at (int dirfd, const char *path, const char *data, struct islet_err *err)
{
  cleanup_close int fd = -1;

  fd = openat (dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "open `%s`", path);
  if (islet_write_all (fd, data, strlen (data)) < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "write `%s` to `%s`", data,
                       path);
  return 0;
}

/* Write data to a new file next to path and rename it over path, synced
 * before the rename or not: the file's descriptor, or -1. */
static int
write_renamed (const char *path, const void *data, size_t len, mode_t mode, bool sync,
               struct islet_err *err)
{
  cleanup_free char *tmp = islet_xasprintf ("%s.tmp.%d", path, (int) getpid ());
  cleanup_close int fd = -1;

  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "create `%s`", tmp);
  if (islet_write_all (fd, data, len) < 0 || (sync && fsync (fd) < 0))
    {
      int e = errno;
      (void) unlink (tmp);
      return islet_fail (err, islet_errkind_from_errno (e), e, "write `%s`", tmp);
    }
  if (rename (tmp, path) < 0)
    {
      int e = errno;
      (void) unlink (tmp);
      return islet_fail (err, ISLET_E_SYSTEM, e, "rename `%s` to `%s`", tmp, path);
    }
  return islet_take_fd (&fd);
}

int
islet_write_file_atomic (const char *path, const void *data, size_t len, mode_t mode,
                         struct islet_err *err)
{
  int fd = write_renamed (path, data, len, mode, true, err);
  cleanup_free char *dir = NULL;
  cleanup_close int dfd = -1;
  char *slash;

  if (fd < 0)
    return -1;
  close (fd);
  /* the rename is durable only once the directory that holds it is: a
   * host crash could otherwise bring the old file back */
  dir = islet_xstrdup (path);
  slash = strrchr (dir, '/');
  if (slash == dir)
    slash[1] = '\0';
  else if (slash)
    *slash = '\0';
  dfd = open (slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || fsync (dfd) < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "sync the directory of `%s`",
                       path);
  return 0;
}

int
islet_write_file_unsynced (const char *path, const void *data, size_t len, mode_t mode,
                           struct islet_err *err)
{
  return write_renamed (path, data, len, mode, false, err);
}

int
islet_lock_file (const char *dir, mode_t dir_mode, const char *name, int op, struct islet_err *err)
{
  cleanup_free char *path = islet_xasprintf ("%s/%s", dir, name);
  cleanup_close int fd = -1;

  if (mkdir (dir, dir_mode) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", dir);
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
  while (flock (fd, op) < 0)
    if (errno != EINTR)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "lock `%s`", path);
  return islet_take_fd (&fd);
}

int
islet_mkdir_p (const char *path, mode_t mode, struct islet_err *err)
{
  cleanup_free char *copy = islet_xstrdup (path);
  char *p = copy;

  if (*p == '/')
    p++;
  for (;;)
    {
      char *slash = strchr (p, '/');
      if (slash)
        *slash = '\0';
      if (*copy && mkdir (copy, mode) < 0 && errno != EEXIST)
        return islet_fail (err, islet_errkind_from_errno (errno), errno, "mkdir `%s`", copy);
      if (!slash)
        break;
      *slash = '/';
      p = slash + 1;
    }
  return 0;
}

static int
rm_rf_at (int parent, const char *name, dev_t dev, int depth, struct islet_err *err)
{
  struct stat st;

  if (depth > 256)
    return islet_fail (err, ISLET_E_SYSTEM, ELOOP, "remove `%s`: too deep", name);
  if (fstatat (parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return 0;
      return islet_fail (err, ISLET_E_SYSTEM, errno, "stat `%s`", name);
    }
  if (S_ISDIR (st.st_mode))
    {
      cleanup_dir DIR *d = NULL;
      struct dirent *de;
      int fd;

      if (st.st_dev != dev)
        return islet_fail (err, ISLET_E_CONFLICT, EXDEV, "remove `%s`: a mount point", name);
      fd = openat (parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", name);
      d = fdopendir (fd);
      if (d == NULL)
        {
          int e = errno;
          close (fd);
          return islet_fail (err, ISLET_E_SYSTEM, e, "open `%s`", name);
        }
      while ((errno = 0, de = readdir (d)) != NULL)
        {
          if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
            continue;
          if (rm_rf_at (dirfd (d), de->d_name, dev, depth + 1, err) < 0)
            return islet_wrap (err, "%s", name);
        }
      if (unlinkat (parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "rmdir `%s`", name);
      return 0;
    }
  if (unlinkat (parent, name, 0) < 0 && errno != ENOENT)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "unlink `%s`", name);
  return 0;
}

int
islet_rm_rf (const char *path, struct islet_err *err)
{
  struct stat st;

  if (lstat (path, &st) < 0)
    {
      if (errno == ENOENT)
        return 0;
      return islet_fail (err, ISLET_E_SYSTEM, errno, "stat `%s`", path);
    }
  return rm_rf_at (AT_FDCWD, path, st.st_dev, 0, err);
}

uint64_t
islet_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

char *
islet_program_path (const char *name)
{
  char self[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
  char *slash;

  if (n > 0)
    {
      self[n] = '\0';
      slash = strrchr (self, '/');
      if (slash)
        {
          char *cand = islet_xasprintf ("%.*s/%s", (int) (slash - self), self, name);
          if (access (cand, X_OK) == 0)
            return cand;
          free (cand);
        }
    }
  return islet_xstrdup (name);
}

void
islet_strv_free (char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free (v[i]);
  free (v);
}

char **
islet_strv_dup (char *const *v)
{
  size_t n = 0;
  char **d;

  while (v && v[n])
    n++;
  d = islet_xcalloc (n + 1, sizeof *d);
  for (size_t i = 0; i < n; i++)
    d[i] = islet_xstrdup (v[i]);
  return d;
}

char *
islet_base64 (const unsigned char *d, size_t len)
{
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = islet_xmalloc ((len + 2) / 3 * 4 + 1);
  char *o = out;
  size_t i = 0;

  for (; i + 3 <= len; i += 3)
    {
      uint32_t v = (uint32_t) d[i] << 16 | (uint32_t) d[i + 1] << 8 | d[i + 2];
      *o++ = tbl[v >> 18];
      *o++ = tbl[(v >> 12) & 63];
      *o++ = tbl[(v >> 6) & 63];
      *o++ = tbl[v & 63];
    }
  if (i < len)
    {
      uint32_t v = (uint32_t) d[i] << 16 | (i + 1 < len ? (uint32_t) d[i + 1] << 8 : 0);
      *o++ = tbl[v >> 18];
      *o++ = tbl[(v >> 12) & 63];
      *o++ = (char) (i + 1 < len ? tbl[(v >> 6) & 63] : '=');
      *o++ = '=';
    }
  *o = '\0';
  return out;
}

static int
b64_value (unsigned char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int
islet_base64_decode (const char *t, size_t n, size_t max, unsigned char **out, size_t *len,
                     struct islet_err *err)
{
  cleanup_free unsigned char *buf = NULL;
  size_t used = 0, size;
  uint32_t acc = 0;
  unsigned bits = 0;

  while (n > 0 && t[n - 1] == '=' && n % 4 != 1)
    n--;
  if (n % 4 == 1)
    return islet_fail (err, ISLET_E_INVALID, 0, "base64: %zu characters cannot be base64", n);
  size = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
  if (size > max)
    return islet_fail (err, ISLET_E_INVALID, 0, "base64: %zu bytes, more than the limit of %zu",
                       size, max);
  buf = islet_xmalloc (size + 1);
  for (size_t i = 0; i < n; i++)
    {
      int v = b64_value ((unsigned char) t[i]);
      if (v < 0)
        return islet_fail (err, ISLET_E_INVALID, 0, "base64: bad character at offset %zu", i);
      acc = acc << 6 | (uint32_t) v;
      bits += 6;
      if (bits >= 8)
        {
          bits -= 8;
          buf[used++] = (unsigned char) (acc >> bits);
        }
    }
  buf[used] = '\0';
  *len = used;
  *out = islet_take_ptr (&buf);
  return 0;
}

bool
islet_name_ok (const char *s, size_t max)
{
  static const char chars[] = "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789._-";
  size_t n = s ? strlen (s) : 0;

  return n > 0 && n <= max && s[0] != '.' && s[0] != '-' && strspn (s, chars) == n;
}
