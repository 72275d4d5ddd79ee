/* The error contract (see docs/ARCHITECTURE.md, "Errors"):
 * a fallible function takes `struct islet_err *err` last, returns -1 (or NULL)
 * and fills *err on failure, and leaves *err untouched on success.  The error
 * is a fixed-size value, so a forked child can write it to a pipe as-is. */
#ifndef ISLET_ERR_H
#define ISLET_ERR_H

#include <stddef.h>

enum islet_errkind
{
  ISLET_E_OK = 0,
  ISLET_E_INVALID,  /* bad input from the caller */
  ISLET_E_NOTFOUND, /* no such sandbox, file or command */
  ISLET_E_CONFLICT, /* the object is in the wrong state */
  ISLET_E_LIMIT,    /* a quota or capacity is exhausted */
  ISLET_E_SYSTEM,   /* a syscall or library failed */
};

struct islet_err
{
  enum islet_errkind kind;
  int errnum;    /* errno at the failure site, 0 if none */
  char msg[480]; /* "outer context: inner: strerror" */
};

#define ISLET_MUST_CHECK __attribute__ ((warn_unused_result))

/* Fill *err and return -1.  With errnum != 0, ": strerror(errnum)" is
 * appended. */
int islet_fail (struct islet_err *err, enum islet_errkind kind, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/* Prefix the message already in *err with new context; return -1. */
int islet_wrap (struct islet_err *err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Name of an error kind, for JSON output ("invalid", "not_found", ...). */
const char *islet_errkind_name (enum islet_errkind kind);

/* Map an errno to the kind that best describes it. */
enum islet_errkind islet_errkind_from_errno (int errnum);

#endif
