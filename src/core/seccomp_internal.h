/* Inside the seccomp module: the shape of a filter, shared by the compiler
 * (seccomp.c, with libseccomp), the build-time generator that embeds its
 * output (src/tools/seccomp_gen.c) and the loader (seccomp_install.c). */
#ifndef ISLET_SECCOMP_INTERNAL_H
#define ISLET_SECCOMP_INTERNAL_H

#include <linux/filter.h>

#include "islet/seccomp.h"

/* Installed in this order; the kernel runs both and keeps the most
   restrictive answer. */
enum
{
  ISLET_SECCOMP_PROG_SYSCALLS, /* which calls exist */
  ISLET_SECCOMP_PROG_ARGS,     /* how some of them may be used */
  ISLET_SECCOMP_NPROGS
};

struct islet_seccomp
{
  struct sock_fprog progs[ISLET_SECCOMP_NPROGS];
};

#endif
