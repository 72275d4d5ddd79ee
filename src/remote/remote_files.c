/* The remote backend's file calls: the toolbox's files API of a running
 * isletd (see remote.c for the whole list), its FileInfo objects turned
 * back into the core's stat objects. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "islet/proto.h"
#include "islet/util.h"
#include "remote_internal.h"

#define READ_DEFAULT_MAX ((size_t) 10 << 20)

int
r_fs_read (void *self, const char *id, const char *path, size_t max, char **data, size_t *len,
           struct islet_err *err)
{
  struct remote *rm = self;
  cleanup_free char *base = islet_xasprintf ("/toolbox/%s/files/download", id);
  cleanup_free char *p = path_q (rm, base, (const char *[]){ "path", path, NULL });
  struct call c = { .method = "GET", .path = p, .in_fd = -1, .out_fd = -1 };

  c.max = max ? max : READ_DEFAULT_MAX;
  if (call_run (rm, &c, err) < 0)
    {
      call_fini (&c);
      if (err->kind == ISLET_E_LIMIT && err->errnum == EFBIG)
        return islet_fail (err, ISLET_E_LIMIT, EFBIG, "`%s` is larger than %zu bytes", path, c.max);
      return -1;
    }
  if (c.data == NULL)
    c.data = islet_xstrdup ("");
  *data = c.data;
  *len = c.len;
  return 0;
}

int
r_fs_copy_out (void *self, const char *id, const char *path, int host_fd, struct islet_err *err)
{
  struct remote *rm = self;
  cleanup_free char *base = islet_xasprintf ("/toolbox/%s/files/download", id);
  cleanup_free char *p = path_q (rm, base, (const char *[]){ "path", path, NULL });
  struct call c = { .method = "GET", .path = p, .in_fd = -1, .out_fd = host_fd };
  int r = call_run (rm, &c, err);

  call_fini (&c);
  return r;
}

static int
upload (struct remote *rm, const char *id, const char *path, unsigned mode, int fd,
        const void *data, size_t len, struct islet_err *err)
{
  cleanup_free char *base = islet_xasprintf ("/toolbox/%s/files/upload-v2", id);
  char m[8];
  cleanup_free char *p = NULL;
  struct call c = { .method = "POST", .in_fd = fd, .out_fd = -1 };
  int r;

  snprintf (m, sizeof m, "%04o", mode & 07777);
  p = path_q (rm, base, (const char *[]){ "path", path, "mode", m, NULL });
  c.path = p;
  if (fd < 0)
    {
      c.body = data ? data : "";
      c.body_len = len;
      c.type = "Content-Type: application/octet-stream";
    }
  r = call_run (rm, &c, err);
  call_fini (&c);
  return r;
}

int
r_fs_write (void *self, const char *id, const char *path, const void *data, size_t len,
            unsigned mode, struct islet_err *err)
{
  return upload (self, id, path, mode, -1, data, len, err);
}

int
r_fs_copy_in (void *self, const char *id, int host_fd, const char *path, unsigned mode,
              struct islet_err *err)
{
  return upload (self, id, path, mode, host_fd, NULL, 0, err);
}

int
r_fs_remove (void *self, const char *id, const char *path, bool recursive, struct islet_err *err)
{
  struct remote *rm = self;
  cleanup_free char *base = islet_xasprintf ("/toolbox/%s/files", id);
  cleanup_free char *p = path_q (
      rm, base, (const char *[]){ "path", path, "recursive", recursive ? "true" : "false", NULL });

  return call_json (rm, "DELETE", p, NULL, NULL, err);
}

int
r_fs_mkdir (void *self, const char *id, const char *path, unsigned mode, struct islet_err *err)
{
  struct remote *rm = self;
  cleanup_free char *base = islet_xasprintf ("/toolbox/%s/files/folder", id);
  cleanup_free char *p = NULL;
  char m[8];

  snprintf (m, sizeof m, "%04o", mode & 07777);
  p = path_q (rm, base, (const char *[]){ "path", path, "mode", m, NULL });
  return call_json (rm, "POST", p, NULL, NULL, err);
}

int
r_fs_move (void *self, const char *id, const char *from, const char *to, struct islet_err *err)
{
  struct remote *rm = self;
  cleanup_free char *base = islet_xasprintf ("/toolbox/%s/files/move", id);
  cleanup_free char *p = path_q (rm, base,
                                 (const char *[]){ "source", from, "destination", to, NULL });

  return call_json (rm, "POST", p, NULL, NULL, err);
}

/* Daytona's FileInfo back to the core's stat object. */
static json_t *
stat_of (const json_t *fi)
{
  const char *mode = json_string_value (json_object_get (fi, "mode"));
  const char *perm = json_string_value (json_object_get (fi, "permissions"));
  const char *when = json_string_value (json_object_get (fi, "modTime"));
  const char *owner = json_string_value (json_object_get (fi, "owner"));
  const char *group = json_string_value (json_object_get (fi, "group"));
  const char *type = "other";
  struct tm tm = { 0 };
  int64_t mtime = 0;

  if (mode && mode[0] == 'd')
    type = "dir";
  else if (mode && mode[0] == 'L')
    type = "symlink";
  else if (mode && mode[0] == '-')
    type = "file";
  if (when
      && sscanf (when, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                 &tm.tm_min, &tm.tm_sec)
             == 6)
    {
      tm.tm_year -= 1900;
      tm.tm_mon -= 1;
      mtime = (int64_t) timegm (&tm);
    }
  return json_pack ("{s:O,s:O,s:O,s:s,s:I,s:I,s:I,s:b,s:s}", "name", json_object_get (fi, "name"),
                    "path", json_object_get (fi, "path"), "size", json_object_get (fi, "size"),
                    "mode", perm ? perm : "0000", "uid",
                    (json_int_t) (owner ? strtoll (owner, NULL, 10) : 0), "gid",
                    (json_int_t) (group ? strtoll (group, NULL, 10) : 0), "mtime",
                    (json_int_t) mtime, "is_dir", strcmp (type, "dir") == 0, "type", type);
}

int
r_fs_stat (void *self, const char *id, const char *path, json_t **out, struct islet_err *err)
{
  struct remote *rm = self;
  cleanup_free char *base = islet_xasprintf ("/toolbox/%s/files/info", id);
  cleanup_free char *p = path_q (rm, base, (const char *[]){ "path", path, NULL });
  cleanup_json json_t *j = NULL;

  if (call_json (rm, "GET", p, NULL, &j, err) < 0)
    return -1;
  if ((*out = stat_of (j)) == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "isletd sent a file without its fields");
  return 0;
}

int
r_fs_list (void *self, const char *id, const char *path, unsigned depth, json_t **out,
           struct islet_err *err)
{
  struct remote *rm = self;
  cleanup_free char *base = islet_xasprintf ("/toolbox/%s/files", id);
  cleanup_free char *p = NULL;
  cleanup_json json_t *j = NULL;
  json_t *list, *e;
  char d[16];
  size_t i;

  snprintf (d, sizeof d, "%u", depth ? depth : 1);
  p = path_q (rm, base, (const char *[]){ "path", path, "depth", d, NULL });
  if (call_json (rm, "GET", p, NULL, &j, err) < 0)
    return -1;
  list = json_array ();
  json_array_foreach (j, i, e)
  {
    json_t *st = stat_of (e);
    if (st == NULL)
      {
        json_decref (list);
        return islet_fail (err, ISLET_E_SYSTEM, 0, "isletd sent a file without its fields");
      }
    json_array_append_new (list, st);
  }
  *out = list;
  return 0;
}
