/* config.json, read and written (include/islet/config.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "islet/config.h"
#include "islet/proto.h"
#include "islet/util.h"

static json_t *
config_base (const struct islet_sandbox_info *info, const char *volume)
{
  json_t *j = json_pack ("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:b,s:o}", "id", info->id, "name",
                         info->name, "image", info->image, "volume", volume, "uid_base",
                         (json_int_t) info->uid_base, "created", (json_int_t) info->created,
                         "created_nsec", (json_int_t) info->created_nsec, "disk_enforced",
                         info->disk_enforced, "limits", islet_limits_json (&info->limits));

  /* absent is mode none: a sandbox without a network has the config it always had */
  if (j && (info->net.mode != ISLET_NET_NONE || info->net.proxy[0]))
    json_object_set_new (j, "network", islet_net_json (&info->net));
  return j;
}

/* The fields written only when they are set. */
static void
config_optional (json_t *cfg, const struct islet_sandbox_info *info)
{
  if (cfg && info->snapshot[0])
    json_object_set_new (cfg, "snapshot", json_string (info->snapshot));
  if (cfg && info->build)
    json_object_set_new (cfg, "build", json_true ());
  if (cfg && info->created_stamp)
    json_object_set_new (cfg, "created_stamp", json_true ());
}

/* A pooled sandbox's creation time is its take's: the mtime of the
 * `created` file beside its config.json, which the take sets (a write of
 * config.json would cost a take more than all else it does).  Until its
 * take, and if the file is gone, it is the fill's. */
static void
config_stamp (const char *path, struct islet_sandbox_info *info)
{
  const char *slash = strrchr (path, '/');
  cleanup_free char *stamp = islet_xasprintf ("%.*s/created", slash ? (int) (slash - path) : 1,
                                              slash ? path : ".");
  struct stat st;

  if (stat (stamp, &st) == 0)
    {
      info->created = (int64_t) st.st_mtim.tv_sec;
      info->created_nsec = (uint32_t) st.st_mtim.tv_nsec;
    }
}

json_t *
islet_config_json (const struct islet_sandbox_info *info, const char *volume)
{
  json_t *cfg = config_base (info, volume);

  config_optional (cfg, info);
  return cfg;
}

int
islet_config_load (const char *path, struct islet_sandbox_info *info, char **volume,
                   struct islet_err *err)
{
  cleanup_free char *text = NULL;
  cleanup_json json_t *cfg = NULL;
  const char *id, *name, *image, *vol, *snap = NULL;
  json_int_t base, created, nsec = 0;
  json_t *limits;
  int enforced = 0, build = 0, stamp = 0;
  json_error_t jerr;

  if (islet_read_file_at (AT_FDCWD, path, 1 << 20, &text, NULL, err) < 0)
    {
      if (err->errnum == ENOENT)
        err->kind = ISLET_E_NOTFOUND;
      return -1;
    }
  cfg = json_loads (text, 0, &jerr);
  if (cfg == NULL
      || json_unpack_ex (cfg, &jerr, 0, "{s:s,s:s,s:s,s:s,s:I,s:I,s?I,s?b,s:o,s?s,s?b,s?b}", "id",
                         &id, "name", &name, "image", &image, "volume", &vol, "uid_base", &base,
                         "created", &created, "created_nsec", &nsec, "disk_enforced", &enforced,
                         "limits", &limits, "snapshot", &snap, "build", &build, "created_stamp",
                         &stamp)
             < 0)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s`: %s", path, jerr.text);
  memset (info, 0, sizeof *info);
  snprintf (info->id, sizeof info->id, "%s", id);
  snprintf (info->name, sizeof info->name, "%s", name);
  snprintf (info->image, sizeof info->image, "%s", image);
  snprintf (info->snapshot, sizeof info->snapshot, "%s", snap ? snap : "");
  info->uid_base = (uint32_t) base;
  info->created = created;
  info->created_nsec = (uint32_t) nsec;
  info->disk_enforced = enforced;
  info->build = build;
  info->created_stamp = stamp;
  if (stamp)
    config_stamp (path, info);
  islet_limits_read (limits, &info->limits);
  if (islet_limits_validate (&info->limits, err) < 0)
    return islet_wrap (err, "`%s`", path);
  if (islet_net_read (json_object_get (cfg, "network"), &info->net, err) < 0)
    return islet_wrap (err, "`%s`", path);
  info->state = ISLET_SB_STOPPED;
  if (volume)
    *volume = islet_xstrdup (vol);
  return 0;
}

json_t *
islet_config_mount_json (const struct islet_vmount *m)
{
  return json_pack ("{s:s,s:s,s:s,s:s}", "volume", m->volume, "source", m->source, "path", m->path,
                    "subpath", m->subpath);
}

void
islet_vmounts_free (struct islet_vmount *m, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (m[i].volume);
      free (m[i].source);
      free (m[i].path);
      free (m[i].subpath);
    }
  free (m);
}

int
islet_config_mounts_load (const char *path, struct islet_vmount **out, size_t *n,
                          struct islet_err *err)
{
  cleanup_free char *text = NULL;
  cleanup_json json_t *cfg = NULL;
  struct islet_vmount *m;
  json_t *a, *item;
  size_t i;

  *out = NULL;
  *n = 0;
  if (islet_read_file_at (AT_FDCWD, path, 1 << 20, &text, NULL, err) < 0)
    return -1;
  cfg = json_loads (text, 0, NULL);
  a = json_object_get (cfg, "mounts");
  if (a == NULL)
    return 0;
  if (!json_is_array (a))
    return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s`: mounts is not an array", path);
  m = islet_xcalloc (json_array_size (a) + 1, sizeof *m);
  json_array_foreach (a, i, item)
  {
    const char *vol, *src, *at, *sub;
    if (json_unpack (item, "{s:s,s:s,s:s,s:s}", "volume", &vol, "source", &src, "path", &at,
                     "subpath", &sub)
        < 0)
      {
        islet_vmounts_free (m, i);
        return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s`: mount %zu is not valid", path, i);
      }
    m[i] = (struct islet_vmount){ islet_xstrdup (vol), islet_xstrdup (src), islet_xstrdup (at),
                                  islet_xstrdup (sub) };
  }
  *out = m;
  *n = json_array_size (a);
  return 0;
}
