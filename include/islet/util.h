/* Small shared helpers: ownership (cleanup attributes and take helpers),
 * allocation that aborts on OOM, checked number parsing and whole-file I/O. */
#ifndef ISLET_UTIL_H
#define ISLET_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "islet/err.h"

static inline void
islet_freep (void *p)
{
  free (*(void **) p);
}

static inline void
islet_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      (void) close (*fd);
      errno = saved;
    }
}

static inline void
islet_fclosep (FILE **f)
{
  if (*f)
    {
      int saved = errno;
      (void) fclose (*f);
      errno = saved;
    }
}

static inline void
islet_closedirp (DIR **d)
{
  if (*d)
    {
      int saved = errno;
      (void) closedir (*d);
      errno = saved;
    }
}

#define cleanup_free __attribute__ ((cleanup (islet_freep)))
#define cleanup_close __attribute__ ((cleanup (islet_closep)))
#define cleanup_fclose __attribute__ ((cleanup (islet_fclosep)))
#define cleanup_dir __attribute__ ((cleanup (islet_closedirp)))

static inline int
islet_take_fd (int *fd)
{
  int r = *fd;
  *fd = -1;
  return r;
}

static inline void *
islet_take_ptr_ (void *pp)
{
  void **p = (void **) pp;
  void *r = *p;
  *p = NULL;
  return r;
}
#define islet_take_ptr(pp) (0 ? *(pp) : islet_take_ptr_ (pp))

void *islet_xmalloc (size_t n);
void *islet_xcalloc (size_t n, size_t size);
void *islet_xrealloc (void *p, size_t n);
char *islet_xstrdup (const char *s);
char *islet_xasprintf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* Free a NULL-terminated vector of malloc'd strings and the vector. */
void islet_strv_free (char **v);
/* A copy of a NULL-terminated vector of strings (v NULL: an empty one),
 * for islet_strv_free. */
char **islet_strv_dup (char *const *v);
/* Base64 (RFC 4648, padded) of len bytes, malloc'd and NUL-terminated. */
char *islet_base64 (const unsigned char *data, size_t len);
/* Decode base64 text (RFC 4648, padding optional, no other characters) into
 * a malloc'd buffer of *len bytes; -1 with an ISLET_E_INVALID error on a bad
 * character or length, or when it would decode to more than max bytes. */
int islet_base64_decode (const char *text, size_t text_len, size_t max, unsigned char **out,
                         size_t *len, struct islet_err *err) ISLET_MUST_CHECK;

/* Parse a whole decimal string into an unsigned value no larger than max. */
/* A name islet keeps as a file name (a volume, a snapshot, a cgroup): 1 to
 * max of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool islet_name_ok (const char *s, size_t max);

int islet_parse_u64 (const char *s, uint64_t max, uint64_t *out,
                     struct islet_err *err) ISLET_MUST_CHECK;

/* Read a whole file (at most max bytes, NUL-terminated) relative to dirfd. */
int islet_read_file_at (int dirfd, const char *path, size_t max, char **out, size_t *len,
                        struct islet_err *err) ISLET_MUST_CHECK;

/* Write a string to an existing file (cgroup and proc control files). */
int islet_write_file_at (int dirfd, const char *path, const char *data,
                         struct islet_err *err) ISLET_MUST_CHECK;

/* Atomically and durably replace path with data: a temporary file, fsync,
   rename, fsync of the directory. */
int islet_write_file_atomic (const char *path, const void *data, size_t len, mode_t mode,
                             struct islet_err *err) ISLET_MUST_CHECK;

/* The same, renamed before it is synced, for a caller with work to do while
 * the disk writes: returns the file's descriptor, which the caller fsyncs
 * before it relies on the file having survived a crash (until then a crash
 * may leave it empty). */
int islet_write_file_unsynced (const char *path, const void *data, size_t len, mode_t mode,
                               struct islet_err *err) ISLET_MUST_CHECK;

/* write()/read() all bytes, retrying on EINTR and short counts. */
int islet_write_all (int fd, const void *buf, size_t len);
ssize_t islet_read_all (int fd, void *buf, size_t len);

/* One message of len bytes carrying fd (SCM_RIGHTS) on a socket; flags as
 * sendmsg's (MSG_NOSIGNAL is added).  0, or -1 with errno. */
int islet_send_fd (int sock, const void *buf, size_t len, int fd, int flags);

/* Receive one message of at most max bytes and the fd it carries (*fd: -1
 * if none; close-on-exec), retrying on EINTR: its length, 0 at the end of
 * the socket, -1 with errno. */
ssize_t islet_recv_fd (int sock, void *buf, size_t max, int *fd);

/* flock(op) on dir/name, made (0600) if missing, in dir, made (dir_mode)
 * if missing: the fd that holds the lock. */
int islet_lock_file (const char *dir, mode_t dir_mode, const char *name, int op,
                     struct islet_err *err) ISLET_MUST_CHECK;

/* mkdir -p with the given mode for the parts it creates. */
int islet_mkdir_p (const char *path, mode_t mode, struct islet_err *err) ISLET_MUST_CHECK;

/* rm -rf that stays on one file system and never follows symlinks. */
int islet_rm_rf (const char *path, struct islet_err *err) ISLET_MUST_CHECK;

/* Monotonic clock in nanoseconds. */
uint64_t islet_now_ns (void);

/* Where one of islet's programs is (malloc'd): beside the calling program
 * when it is there (a build directory, an install prefix), else its bare
 * name, for execvp to find in PATH. */
char *islet_program_path (const char *name);

#endif
