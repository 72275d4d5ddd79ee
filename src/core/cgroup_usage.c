/* What a group uses now, for a caller that must not set a limit below it. */
#include "cgroup_internal.h"
#include "islet/util.h"

int
islet_cg_memory_current (const struct islet_cg *cg, uint64_t *out, struct islet_err *err)
{
  int fd = cg_ctrl_fd (cg, CG_MEMORY);

  *out = 0;
  if (fd < 0)
    return 0; /* no memory hierarchy: nothing is counted */
  if (cg_read_u64 (fd, cg->be->version == ISLET_CG_V2 ? "memory.current" : "memory.usage_in_bytes",
                   out, err)
      < 0)
    return islet_wrap (err, "memory use of cgroup `%s`", cg->rel);
  return 0;
}
