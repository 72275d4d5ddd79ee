/* config.json, read and written (include/islet/config.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "islet/config.h"
#include "islet/proto.h"
#include "islet/util.h"

json_t *
islet_config_json (const struct islet_sandbox_info *info, const char *volume)
{
  const struct islet_limits *l = &info->limits;

  return json_pack ("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:b,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I}}", "id",
                    info->id, "name", info->name, "image", info->image, "volume", volume,
                    "uid_base", (json_int_t) info->uid_base, "created",
                    (json_int_t) info->created, "created_nsec", (json_int_t) info->created_nsec,
                    "disk_enforced", info->disk_enforced, "limits", "memory_mb",
                    (json_int_t) l->memory_mb, "cpu_millis", (json_int_t) l->cpu_millis, "pids",
                    (json_int_t) l->pids, "disk_mb", (json_int_t) l->disk_mb, "timeout_s",
                    (json_int_t) l->timeout_s, "output_bytes", (json_int_t) l->output_bytes,
                    "nofile", (json_int_t) l->nofile);
}

int
islet_config_load (const char *path, struct islet_sandbox_info *info, char **volume,
                   struct islet_err *err)
{
  cleanup_free char *text = NULL;
  cleanup_json json_t *cfg = NULL;
  const char *id, *name, *image, *vol;
  json_int_t base, created, nsec = 0, mem, cpu, pids, disk, timeout, outb, nofile;
  int enforced = 0;
  json_error_t jerr;

  if (islet_read_file_at (AT_FDCWD, path, 1 << 20, &text, NULL, err) < 0)
    {
      if (err->errnum == ENOENT)
        err->kind = ISLET_E_NOTFOUND;
      return -1;
    }
  cfg = json_loads (text, 0, &jerr);
  if (cfg == NULL
      || json_unpack_ex (cfg, &jerr, 0,
                         "{s:s,s:s,s:s,s:s,s:I,s:I,s?I,s?b,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I}}",
                         "id", &id, "name", &name, "image", &image, "volume", &vol, "uid_base",
                         &base, "created", &created, "created_nsec", &nsec, "disk_enforced",
                         &enforced, "limits", "memory_mb", &mem, "cpu_millis", &cpu, "pids",
                         &pids, "disk_mb", &disk, "timeout_s", &timeout, "output_bytes", &outb,
                         "nofile", &nofile)
             < 0)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s`: %s", path, jerr.text);
  memset (info, 0, sizeof *info);
  snprintf (info->id, sizeof info->id, "%s", id);
  snprintf (info->name, sizeof info->name, "%s", name);
  snprintf (info->image, sizeof info->image, "%s", image);
  info->uid_base = (uint32_t) base;
  info->created = created;
  info->created_nsec = (uint32_t) nsec;
  info->disk_enforced = enforced;
  info->limits = (struct islet_limits){ .memory_mb = (uint64_t) mem,
                                        .cpu_millis = (uint32_t) cpu,
                                        .pids = (uint32_t) pids,
                                        .disk_mb = (uint64_t) disk,
                                        .timeout_s = (uint32_t) timeout,
                                        .output_bytes = (uint64_t) outb,
                                        .nofile = (uint32_t) nofile };
  info->state = ISLET_SB_STOPPED;
  if (volume)
    *volume = islet_xstrdup (vol);
  return 0;
}
