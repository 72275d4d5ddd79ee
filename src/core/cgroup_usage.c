/* What a group uses now: for a caller that must not set a limit below it
 * (resize), and for the numbers a sandbox's metrics report.  Each is read
 * from the kernel's own counters, which cover the group's children too. */
#include "cgroup_internal.h"
#include "islet/util.h"

/* Where each number lives, per version.  The page cache is what may be
 * dropped: file pages less shared memory (tmpfs, which nothing reclaims). */
static const struct usage_files
{
  enum islet_cg_version version;
  const char *cpu_file, *cpu_key; /* cpu_key NULL: the file is one number */
  uint64_t cpu_ns_per_unit;
  const char *mem_file;
  const char *file_key, *shmem_key; /* in memory.stat */
} usage_files[] = {
  { ISLET_CG_V1, "cpuacct.usage", NULL, 1, "memory.usage_in_bytes", "total_cache", "total_shmem" },
  { ISLET_CG_V2, "cpu.stat", "usage_usec", 1000, "memory.current", "file", "shmem" },
};

static const struct usage_files *
files_of (const struct islet_cg *cg)
{
  for (size_t i = 0; i < sizeof usage_files / sizeof usage_files[0]; i++)
    if (usage_files[i].version == cg->be->version)
      return &usage_files[i];
  return NULL;
}

int
islet_cg_memory_current (const struct islet_cg *cg, uint64_t *out, struct islet_err *err)
{
  const struct usage_files *f = files_of (cg);
  int fd = cg_ctrl_fd (cg, CG_MEMORY);

  *out = 0;
  if (fd < 0 || f == NULL)
    return 0; /* no memory hierarchy: nothing is counted */
  if (cg_read_u64 (fd, f->mem_file, out, err) < 0)
    return islet_wrap (err, "memory use of cgroup `%s`", cg->rel);
  return 0;
}

int
cg_parse_cache (const char *stat, const char *file_key, const char *shmem_key, uint64_t *out,
                struct islet_err *err)
{
  uint64_t file = 0, shmem = 0;

  if (cg_parse_keyed (stat, file_key, &file, err) < 0)
    return -1;
  /* shmem is missing from kernels before 4.x's memory.stat: count none */
  if (cg_parse_keyed (stat, shmem_key, &shmem, err) < 0 && err->kind != ISLET_E_NOTFOUND)
    return -1;
  *out = file > shmem ? file - shmem : 0;
  return 0;
}

static int
read_cpu (const struct islet_cg *cg, const struct usage_files *f, uint64_t *ns,
          struct islet_err *err)
{
  /* v2 counts CPU time in every group; v1 only where cpuacct is */
  int fd = f->version == ISLET_CG_V2 ? cg->dir[0].fd : cg_ctrl_fd (cg, CG_CPUACCT);
  uint64_t v = 0;
  int r;

  *ns = 0;
  if (fd < 0)
    return 0;
  r = f->cpu_key ? cg_read_keyed (fd, f->cpu_file, f->cpu_key, &v, err)
                 : cg_read_u64 (fd, f->cpu_file, &v, err);
  if (r < 0)
    return -1;
  *ns = v * f->cpu_ns_per_unit;
  return 0;
}

int
islet_cg_read_usage (const struct islet_cg *cg, struct islet_cg_usage *out, struct islet_err *err)
{
  const struct usage_files *f = files_of (cg);
  int mem = cg_ctrl_fd (cg, CG_MEMORY);
  cleanup_free char *stat = NULL;

  *out = (struct islet_cg_usage){ 0 };
  if (f == NULL)
    return 0;
  if (read_cpu (cg, f, &out->cpu_ns, err) < 0)
    return islet_wrap (err, "cpu use of cgroup `%s`", cg->rel);
  if (mem < 0)
    return 0;
  if (cg_read_u64 (mem, f->mem_file, &out->memory_bytes, err) < 0
      || islet_read_file_at (mem, "memory.stat", 64 << 10, &stat, NULL, err) < 0
      || cg_parse_cache (stat, f->file_key, f->shmem_key, &out->memory_cache, err) < 0)
    return islet_wrap (err, "memory use of cgroup `%s`", cg->rel);
  /* the counters are read one after the other: never more cache than use */
  if (out->memory_cache > out->memory_bytes)
    out->memory_cache = out->memory_bytes;
  return 0;
}
