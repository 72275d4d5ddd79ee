/* Control groups: one interface, two backends (cgroup v2, and v1 with the
 * memory, cpu, cpuacct and pids hierarchies).  islet keeps all of its groups
 * in a subtree of its own, `<root>/islet/...`, and touches no other group.
 *
 * A sandbox owns one group with its limits; each exec runs in a child group
 * of it, so that its CPU time and peak memory can be read on their own and
 * its whole process tree killed at once. */
#ifndef ISLET_CGROUP_H
#define ISLET_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "islet/err.h"

enum islet_cg_version
{
  ISLET_CG_NONE = 0,
  ISLET_CG_V1,
  ISLET_CG_V2,
};

struct islet_cg_limits
{
  uint64_t memory_bytes; /* 0: no limit; memory + swap is held to the same value */
  uint32_t cpu_millis;   /* 1000 = one CPU; 0: no limit */
  uint32_t pids;         /* 0: no limit */
};

struct islet_cg_stats
{
  uint64_t cpu_ns;      /* CPU time used by the group */
  uint64_t memory_peak; /* highest memory use of the group, bytes */
  uint64_t oom_kills;   /* processes killed by the OOM killer for this group */
};

/* What a group uses now (islet_cg_read_usage). */
struct islet_cg_usage
{
  uint64_t cpu_ns;       /* CPU time used since the group was made */
  uint64_t memory_bytes; /* memory charged now, page cache included */
  uint64_t memory_cache; /* of which page cache that may be dropped (tmpfs is not) */
};

struct islet_cg; /* opaque */

/* The layout found on this host (or forced by islet_cg_set_root). */
enum islet_cg_version islet_cg_detect (void);

/* Tests point the backends at a fake tree: `root` stands for /sys/fs/cgroup. */
void islet_cg_set_root (const char *root, enum islet_cg_version version);

/* Create `islet/<name>` with limits.  An existing group of that name is an error
 * (ISLET_E_CONFLICT).  On failure nothing is left behind. */
int islet_cg_create (const char *name, const struct islet_cg_limits *limits, struct islet_cg **out,
                     struct islet_err *err) ISLET_MUST_CHECK;

/* Open an existing group by name (ISLET_E_NOTFOUND if absent). */
int islet_cg_open (const char *name, struct islet_cg **out, struct islet_err *err) ISLET_MUST_CHECK;

/* Create a child group without limits of its own (accounting only). */
int islet_cg_create_child (struct islet_cg *parent, const char *name, struct islet_cg **out,
                           struct islet_err *err) ISLET_MUST_CHECK;

/* Open an existing child group (every hierarchy of the parent). */
int islet_cg_open_child (struct islet_cg *parent, const char *name, struct islet_cg **out,
                         struct islet_err *err) ISLET_MUST_CHECK;

/* Keep a group for a later use (islet_cg_stats_restart) if no process is
 * in it: true, and cg is freed; false leaves both as they were.  Only for a
 * childless group whose processes never leave it (an exec's), and only on
 * v1, whose peak anyone can reset (v2's memory.peak resets for one open
 * file, since Linux 6.12): false on v2. */
bool islet_cg_keep_if_empty (struct islet_cg *cg);

/* Make a group kept by islet_cg_keep_if_empty ready for its next use:
 * from now on islet_cg_read_stats reports the CPU time and OOM kills since
 * this call and the peak memory over what the group still has charged now
 * (page cache and kernel objects its last processes left), which must be
 * at most max_left bytes (ISLET_E_LIMIT if more).  On failure the group is
 * not to be used again. */
int islet_cg_stats_restart (struct islet_cg *cg, uint64_t max_left,
                            struct islet_err *err) ISLET_MUST_CHECK;

/* The same for processes whose memory needs no counter of its own (a
 * sandbox's init, file agent, exec handlers' draining): on v1 it is made in
 * every hierarchy but memory's, where they stay in the parent's group (v2
 * keeps no process in an inner group: there it is a plain child).  Each
 * memory group costs the kernel a slot per mounted file system on the host
 * (the shrinkers' map, about 1 KiB per 64 superblocks), so this saves the
 * most per idle sandbox of all its kernel objects. */
int islet_cg_create_child_nomem (struct islet_cg *parent, const char *name, struct islet_cg **out,
                                 struct islet_err *err) ISLET_MUST_CHECK;

/* islet's control path's CPU group, beside the sandboxes' (not below them),
 * at ISLET_CG_CONTROL_WEIGHT times the default weight.  The caller's whole
 * process joins it; what it forks after inherits it. */
#define ISLET_CG_CONTROL "islet-control"
#define ISLET_CG_CONTROL_WEIGHT 10u
int islet_cg_join_control (struct islet_err *err) ISLET_MUST_CHECK;

/* Move a process (0 = the caller) into the group. */
int islet_cg_enter (const struct islet_cg *cg, pid_t pid, struct islet_err *err) ISLET_MUST_CHECK;

/* islet_cg_enter in two parts, for a process whose first steps are islet's
 * own work (the init building the root, at the control path's weight):
 * every hierarchy but the one that weighs its CPU, then that one.  On v2,
 * whose one hierarchy carries everything, the first enters it whole and
 * the second does nothing. */
int islet_cg_enter_but_cpu (const struct islet_cg *cg, pid_t pid,
                            struct islet_err *err) ISLET_MUST_CHECK;
int islet_cg_enter_cpu (const struct islet_cg *cg, pid_t pid,
                        struct islet_err *err) ISLET_MUST_CHECK;

/* islet_cg_enter but for the pids hierarchy, where the process stays
 * where it is, uncounted by the group's pids limit: for one of islet's own
 * processes that forks nothing in the group (an exec's handler).  v1 only:
 * v2's one hierarchy carries pids too (ENOTSUP, nothing moved). */
int islet_cg_enter_but_pids (const struct islet_cg *cg, pid_t pid,
                             struct islet_err *err) ISLET_MUST_CHECK;

int islet_cg_read_stats (const struct islet_cg *cg, struct islet_cg_stats *out,
                         struct islet_err *err) ISLET_MUST_CHECK;

/* Open the files islet_cg_read_stats reads, so that it reads them with no
 * open (an exec's handler, before its request comes).  Best effort: a
 * file not opened here is opened by the read. */
void islet_cg_stats_open (struct islet_cg *cg);

/* Change the limits of a live group. */
int islet_cg_set_limits (const struct islet_cg *cg, const struct islet_cg_limits *limits,
                         struct islet_err *err) ISLET_MUST_CHECK;

/* SIGKILL every process in the group and its children until it is empty
 * (bounded in rounds and time; a fork bomb racing the kill converges). */
int islet_cg_kill (const struct islet_cg *cg, struct islet_err *err) ISLET_MUST_CHECK;

/* Freeze (on) every process of the group and its children in place, memory
 * kept, or thaw them.  A freeze returns once all have stopped (bounded: a
 * freeze that does not complete is undone and reported). */
int islet_cg_freeze (const struct islet_cg *cg, bool on, struct islet_err *err) ISLET_MUST_CHECK;

/* Thaw the group and every group under it, each of which may have been
 * frozen by itself (an exec's group, frozen for its kill by a handler that
 * died before the thaw): a thaw of a parent leaves such a group frozen, and
 * its tasks, SIGKILLed or not, never run or die until it is thawed. */
int islet_cg_thaw_tree (const struct islet_cg *cg, struct islet_err *err) ISLET_MUST_CHECK;

/* Whether the group is frozen or being frozen. */
int islet_cg_frozen (const struct islet_cg *cg, bool *out, struct islet_err *err) ISLET_MUST_CHECK;

/* The same for the group islet/<name>, by one read and no handle (a
 * listing asks it of every sandbox); false if there is no such group. */
bool islet_cg_name_frozen (const char *name);

/* Bytes of memory the group and its children use now. */
int islet_cg_memory_current (const struct islet_cg *cg, uint64_t *out,
                             struct islet_err *err) ISLET_MUST_CHECK;

/* CPU time and memory the group and its children use now (v1: cpuacct
 * and memory; v2: cpu.stat, memory.current and memory.stat); a missing
 * controller reads 0. */
int islet_cg_read_usage (const struct islet_cg *cg, struct islet_cg_usage *out,
                         struct islet_err *err) ISLET_MUST_CHECK;

/* Kill everything, remove the group and its child groups, free cg. */
int islet_cg_destroy (struct islet_cg *cg, struct islet_err *err) ISLET_MUST_CHECK;

/* Free the handle only; the group stays. */
void islet_cg_free (struct islet_cg *cg);

/* Whether the group has no process left in it or its children. */
bool islet_cg_is_empty (const struct islet_cg *cg);

/* Remove the group if it has no process and no child group (the kernel's
 * rmdir says so), and free cg; false leaves it, and cg, as they were, but
 * for the hierarchies where it was already empty. */
bool islet_cg_remove_if_empty (struct islet_cg *cg);

#endif
