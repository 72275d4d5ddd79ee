/* Inside the cgroup module: the group handle, the backend table that
 * cgroup_v1.c and cgroup_v2.c fill in, and the helpers they share
 * (cgroup.c).  Nothing here is part of the public interface; the parsers are
 * declared here so that tests can call them on bad input. */
#ifndef ISLET_CGROUP_INTERNAL_H
#define ISLET_CGROUP_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "islet/cgroup.h"
#include "islet/err.h"

/* The controllers islet uses.  In v2 only memory, cpu and pids are
   controllers one enables; CPU accounting and freezing are built in. */
enum cg_ctrl
{
  CG_MEMORY,
  CG_CPU,
  CG_CPUACCT,
  CG_PIDS,
  CG_FREEZER,
  CG_NCTRL,
};

#define CG_BIT(c) (1u << (c))
#define CG_MAX_HIER CG_NCTRL /* at most one hierarchy per controller */
#define CG_PARENT "islet"    /* islet's own subtree in every hierarchy */

/* Bounds for waiting on the kernel: a group being emptied or removed. */
#define CG_KILL_TIMEOUT_NS (5ull * 1000000000ull)
#define CG_KILL_MAX_ROUNDS 1000
#define CG_RMDIR_TIMEOUT_NS (1000000000ull)

/* A hierarchy as found on the host: where it is mounted, what it controls. */
struct cg_hier
{
  char mount[PATH_MAX];
  unsigned ctrls; /* CG_BIT (enum cg_ctrl) set */
  dev_t dev;      /* with ino, tells hierarchies apart */
  ino_t ino;
};

struct cg_layout
{
  enum islet_cg_version version;
  size_t n;
  struct cg_hier hier[CG_MAX_HIER]; /* v1: memory's comes first; v2: one */
};

/* The files an exec's stats are read from (islet_cg_read_stats), which
   islet_cg_stats_open opens ahead. */
enum cg_stat
{
  CG_STAT_CPU,
  CG_STAT_PEAK,
  CG_STAT_OOM,
  CG_NSTAT,
};

struct cg_stat_file
{
  enum cg_ctrl ctrl; /* in the hierarchy carrying it; CG_NCTRL: the group's one directory (v2) */
  const char *name;
};

/* One group in one hierarchy. */
struct cg_dir
{
  char *path;     /* absolute path of the group */
  int fd;         /* O_PATH fd of it; -1 if the group is missing there */
  unsigned ctrls; /* controllers this hierarchy carries */
  bool made;      /* created by this handle: undone if creation fails */
  bool parents;   /* the parent's own group (islet_cg_create_child_nomem): never removed */
};

struct cg_backend;

struct islet_cg
{
  const struct cg_backend *be;
  char *rel; /* "islet/<name>[/<child>]", for messages */
  size_t n;
  struct cg_dir dir[CG_MAX_HIER];
  int stat_fd[CG_NSTAT];      /* opened ahead by islet_cg_stats_open, -1 if not */
  struct islet_cg_stats base; /* subtracted from the stats read (islet_cg_stats_restart) */
};

/* What differs between v1 and v2.  Everything else (paths, mkdir and
   rollback, enter, removal, file helpers, parsers) is shared in cgroup.c. */
struct cg_backend
{
  enum islet_cg_version version;
  /* Before a sandbox group is made: create islet's parent group and make
     the controllers usable below it; *avail gets what a group can use. */
  int (*prepare) (const struct cg_layout *layout, unsigned *avail, struct islet_err *err);
  /* Right after a sandbox group is made (v2: delegate to its children). */
  int (*init_group) (struct islet_cg *cg, unsigned avail, struct islet_err *err);
  /* Right after a child group is made (v1: socket accounting). */
  int (*init_child) (struct islet_cg *cg, struct islet_err *err);
  /* fresh: the group was just made, every limit is still "max". */
  int (*set_limits) (const struct islet_cg *cg, const struct islet_cg_limits *l, bool fresh,
                     struct islet_err *err);
  int (*read_stats) (const struct islet_cg *cg, struct islet_cg_stats *out, struct islet_err *err);
  struct cg_stat_file stat_files[CG_NSTAT];
  int (*kill) (const struct islet_cg *cg, struct islet_err *err);
  /* 1: empty, 0: not empty, -1: error. */
  int (*is_empty) (const struct islet_cg *cg, struct islet_err *err);
  /* islet_cg_stats_restart; NULL: a group is not reused */
  int (*stats_restart) (struct islet_cg *cg, uint64_t max_left, struct islet_err *err);
};

/* The layout of this host, scanned once (cgroup.c). */
const struct cg_layout *cg_layout_get (void);

extern const struct cg_backend cg_backend_v1;
extern const struct cg_backend cg_backend_v2;

/* The fd of the group in the hierarchy carrying ctrl, -1 if none. */
int cg_ctrl_fd (const struct islet_cg *cg, enum cg_ctrl ctrl);

/* Write a decimal value (or "max"/"-1" style text) to a control file. */
int cg_write_u64 (int dirfd, const char *file, uint64_t value,
                  struct islet_err *err) ISLET_MUST_CHECK;

/* Read a control file holding one unsigned number. */
int cg_read_u64 (int dirfd, const char *file, uint64_t *out,
                 struct islet_err *err) ISLET_MUST_CHECK;

/* Read the value of `key` from a flat keyed file ("key value" lines). */
int cg_read_keyed (int dirfd, const char *file, const char *key, uint64_t *out,
                   struct islet_err *err) ISLET_MUST_CHECK;

/* The same for a stats file of cg (its backend's stat_files), from the fd
   opened ahead when there is one. */
int cg_stat_u64 (const struct islet_cg *cg, enum cg_stat s, uint64_t *out,
                 struct islet_err *err) ISLET_MUST_CHECK;
int cg_stat_keyed (const struct islet_cg *cg, enum cg_stat s, const char *key, uint64_t *out,
                   struct islet_err *err) ISLET_MUST_CHECK;

/* The directory fd a stats file of cg is in, -1 if none. */
int cg_stat_dir (const struct islet_cg *cg, enum cg_stat s);

/* Call fn on the group at dirfd (any kind of fd) and on each descendant,
   parents before children, bounded in depth.  fn gets a readable dirfd. */
typedef int (*cg_visit_fn) (int dirfd, void *data, struct islet_err *err);
int cg_walk (int dirfd, cg_visit_fn fn, void *data, struct islet_err *err) ISLET_MUST_CHECK;

/* cgroup_v1.c, and v2 before Linux 5.14: SIGKILL what is listed in cgroup.procs of the group and
   its descendants in every hierarchy, in rounds, until none is left or the bounds run out.
   freeze/thaw (may be NULL) stop the group from forking during a round. */
int cg_kill_rounds (const struct islet_cg *cg, int (*freeze) (const struct islet_cg *, bool),
                    struct islet_err *err) ISLET_MUST_CHECK;

/* Count the processes of the group and its descendants (all hierarchies),
   killing them as well if sig != 0. */
int cg_count_procs (const struct islet_cg *cg, int sig, size_t *count,
                    struct islet_err *err) ISLET_MUST_CHECK;

/* Sleep for a growing interval; returns false once deadline has passed. */
bool cg_backoff (uint64_t deadline, unsigned *step);

/* Pure parsers, tested on their own. */

/* A file holding one unsigned decimal number, a trailing newline allowed. */
int cg_parse_u64 (const char *text, uint64_t *out, struct islet_err *err) ISLET_MUST_CHECK;

/* The value of `key` in a flat keyed file: lines of "key value".  A key
   matches whole ("oom_kill" is not "oom_kill_disable"); ISLET_E_NOTFOUND if
   absent, ISLET_E_INVALID if its value is not an unsigned number. */
int cg_parse_keyed (const char *text, const char *key, uint64_t *out,
                    struct islet_err *err) ISLET_MUST_CHECK;

/* cgroup_usage.c: the page cache in a memory.stat text, file pages less
   shared memory (keys differ per version: v1 total_cache/total_shmem, v2
   file/shmem); ISLET_E_NOTFOUND if file_key is absent. */
int cg_parse_cache (const char *stat, const char *file_key, const char *shmem_key, uint64_t *out,
                    struct islet_err *err) ISLET_MUST_CHECK;

/* cgroup_v2.c: a space separated list of v2 controller names, as a CG_BIT set of the
   ones islet knows (memory, cpu, pids); others are ignored. */
unsigned cg_parse_ctrls (const char *text);

/* "+memory +cpu +pids" for the controllers in set (buf of 64 bytes). */
void cg_format_ctrls (unsigned set, char *buf, size_t size);

#endif
