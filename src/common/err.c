#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "islet/err.h"

/* Append "..." when a message did not fit, so truncation is never silent. */
static void
mark_truncated (char *msg, size_t size)
{
  if (size >= 4)
    memcpy (msg + size - 4, "...", 4);
}

int
islet_fail (struct islet_err *err, enum islet_errkind kind, int errnum, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (err == NULL)
    return -1;
  err->kind = kind;
  err->errnum = errnum;
  va_start (ap, fmt);
  n = vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  if (n < 0)
    err->msg[0] = '\0';
  else if ((size_t) n >= sizeof err->msg)
    mark_truncated (err->msg, sizeof err->msg);
  else if (errnum != 0)
    {
      size_t used = (size_t) n;
      int m = snprintf (err->msg + used, sizeof err->msg - used, ": %s", strerror (errnum));
      if (m < 0 || (size_t) m >= sizeof err->msg - used)
        mark_truncated (err->msg, sizeof err->msg);
    }
  return -1;
}

int
islet_wrap (struct islet_err *err, const char *fmt, ...)
{
  char prefix[sizeof err->msg];
  char old[sizeof err->msg];
  va_list ap;
  int n;

  if (err == NULL)
    return -1;
  va_start (ap, fmt);
  n = vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  if (n < 0)
    return -1;
  memcpy (old, err->msg, sizeof old);
  n = snprintf (err->msg, sizeof err->msg, "%s: %s", prefix, old);
  if (n < 0 || (size_t) n >= sizeof err->msg)
    mark_truncated (err->msg, sizeof err->msg);
  return -1;
}

const char *
islet_errkind_name (enum islet_errkind kind)
{
  static const char *const names[] = {
    [ISLET_E_OK] = "ok",
    [ISLET_E_INVALID] = "invalid",
    [ISLET_E_NOTFOUND] = "not_found",
    [ISLET_E_CONFLICT] = "conflict",
    [ISLET_E_LIMIT] = "limit",
    [ISLET_E_SYSTEM] = "system",
  };
  if ((unsigned) kind >= sizeof names / sizeof names[0])
    return "system";
  return names[kind];
}

enum islet_errkind
islet_errkind_from_errno (int errnum)
{
  switch (errnum)
    {
    case ENOENT:
    case ENOTDIR:
    case ESRCH: return ISLET_E_NOTFOUND;
    case EEXIST:
    case ENOTEMPTY:
    case EBUSY:
    case EISDIR: return ISLET_E_CONFLICT;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case EMFILE:
    case ENFILE:
    case E2BIG: return ISLET_E_LIMIT;
    case EINVAL:
    case ENAMETOOLONG:
    case ELOOP:
    case EACCES:
    case EPERM:
    case EROFS: return ISLET_E_INVALID;
    default: return ISLET_E_SYSTEM;
    }
}
