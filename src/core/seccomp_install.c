/* The filter islet installs, embedded: seccomp_bpf.h is written at build
 * time by islet-seccomp-gen (src/tools/seccomp_gen.c), which compiles the
 * rule table of seccomp.c with libseccomp.  Here there is no libseccomp and
 * no compilation, only the two programs in read-only memory (shared by every
 * supervisor) and the system calls that install them. */
#include <errno.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "islet/seccomp.h"
#include "islet/util.h"
#include "seccomp_bpf.h" /* generated: embedded_syscalls, embedded_args */
#include "seccomp_internal.h"

#define N_INSNS(a) (sizeof (a) / sizeof ((a)[0]))

/* sock_fprog's length is 16 bits and the kernel takes at most BPF_MAXINSNS
   per program; the generator checks this too. */
_Static_assert(N_INSNS (embedded_syscalls) <= BPF_MAXINSNS, "syscall table too long");
_Static_assert(N_INSNS (embedded_args) <= BPF_MAXINSNS, "argument checks too long");

/* The kernel only reads the programs: the casts drop a const it cannot
   express in sock_fprog. */
static const struct islet_seccomp embedded = {
  .progs = {
    [ISLET_SECCOMP_PROG_SYSCALLS] = { (unsigned short) N_INSNS (embedded_syscalls),
                                      (struct sock_filter *) embedded_syscalls },
    [ISLET_SECCOMP_PROG_ARGS] = { (unsigned short) N_INSNS (embedded_args),
                                  (struct sock_filter *) embedded_args },
  },
};

const struct islet_seccomp *
islet_seccomp_filter (void)
{
  return &embedded;
}

bool
islet_seccomp_equal (const struct islet_seccomp *a, const struct islet_seccomp *b)
{
  for (int i = 0; i < ISLET_SECCOMP_NPROGS; i++)
    if (a->progs[i].len != b->progs[i].len
        || memcmp (a->progs[i].filter, b->progs[i].filter,
                   a->progs[i].len * sizeof (struct sock_filter))
               != 0)
      return false;
  return true;
}

/* Bounded string append for fail_in_child. */
static void
append (char *dst, size_t size, size_t *used, const char *s)
{
  while (*s && *used + 1 < size)
    dst[(*used)++] = *s++;
  dst[*used] = '\0';
}

/* islet_fail without vsnprintf or strerror: this runs in a forked child,
   where strerror's locale lookup may take a lock another thread held at
   fork time.  strerrordesc_np reads a static table. */
static int
fail_in_child (struct islet_err *err, int errnum, const char *what)
{
  const char *desc = strerrordesc_np (errnum);
  size_t used = 0;

  if (err == NULL)
    return -1;
  err->kind = ISLET_E_SYSTEM;
  err->errnum = errnum;
  append (err->msg, sizeof err->msg, &used, what);
  if (errnum == EACCES)
    append (err->msg, sizeof err->msg, &used, " (no_new_privs is not set)");
  append (err->msg, sizeof err->msg, &used, ": ");
  append (err->msg, sizeof err->msg, &used, desc ? desc : "unknown error");
  return -1;
}

int
islet_seccomp_install (const struct islet_seccomp *filter, struct islet_err *err)
{
  static const char *const what[ISLET_SECCOMP_NPROGS] = {
    [ISLET_SECCOMP_PROG_SYSCALLS] = "install the seccomp syscall table",
    [ISLET_SECCOMP_PROG_ARGS] = "install the seccomp argument checks",
  };

  /* No TSYNC: the caller is a single-threaded child about to exec, and a
     thread started before this point would keep running unfiltered. */
  for (int i = 0; i < ISLET_SECCOMP_NPROGS; i++)
    if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter->progs[i]) < 0)
      return fail_in_child (err, errno, what[i]);
  return 0;
}
