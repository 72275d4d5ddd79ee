/* The sandbox's system-call filter.  Its rules live in one table
 * (src/core/seccomp.c); a generator run by the build compiles them with
 * libseccomp and embeds the BPF in the library, so islet-run neither links
 * libseccomp nor compiles anything: it installs the embedded programs in
 * each child just before exec, with no allocation. */
#ifndef ISLET_SECCOMP_H
#define ISLET_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

#include "islet/err.h"

struct islet_seccomp; /* opaque: the BPF programs */

/* The filter islet installs: the one compiled at build time.  Static, never
 * freed. */
const struct islet_seccomp *islet_seccomp_filter (void);

/* Compile the rule table with libseccomp now.  For the build-time generator
 * and the tests that check the embedded filter against it; free with
 * islet_seccomp_free. */
int islet_seccomp_compile (struct islet_seccomp **out, struct islet_err *err) ISLET_MUST_CHECK;

void islet_seccomp_free (struct islet_seccomp *filter);

/* Whether two filters are the same programs, instruction for instruction. */
bool islet_seccomp_equal (const struct islet_seccomp *a, const struct islet_seccomp *b);

/* Install it in the calling thread (needs no_new_privs set first).  Safe to call
 * in a forked child: no allocation, no locks. */
int islet_seccomp_install (const struct islet_seccomp *filter,
                           struct islet_err *err) ISLET_MUST_CHECK;

#endif
