/* The sandbox's system-call filter.  Built once per supervisor as a BPF program
 * (libseccomp), installed in each child just before exec with no allocation. */
#ifndef ISLET_SECCOMP_H
#define ISLET_SECCOMP_H

#include <stddef.h>

#include "islet/err.h"

struct islet_seccomp; /* opaque: the compiled BPF program */

/* Compile the filter. */
int islet_seccomp_build (struct islet_seccomp **out, struct islet_err *err) ISLET_MUST_CHECK;

/* Install it in the calling thread (needs no_new_privs set first).  Safe to call
 * in a forked child: no allocation, no locks. */
int islet_seccomp_install (const struct islet_seccomp *filter, struct islet_err *err)
    ISLET_MUST_CHECK;

void islet_seccomp_free (struct islet_seccomp *filter);

#endif
