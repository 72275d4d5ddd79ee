/* Toolbox: files.  Every path goes to the core's file API and is resolved
 * inside the sandbox by its agent; isletd never opens a sandbox's file by
 * a host path.  A relative path is relative to /workspace. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "islet/util.h"
#include "toolbox.h"

const char *
tb_query (struct req *r, struct resp *out, const char *name)
{
  const char *p = req_query (r, name);
  if (p == NULL || *p == '\0')
    {
      reply_error (out, 400, "BAD_REQUEST", "the query needs %s", name);
      return NULL;
    }
  return p;
}

static void
fs_error (struct resp *out, const struct islet_err *e)
{
  reply_islet_err (out, e, true);
}

/* Go's FileMode.String(), which is what Daytona's `mode` shows. */
static void
go_mode (const char *type, unsigned perm, char out[11])
{
  static const char rwx[] = "rwxrwxrwx";

  out[0] = strcmp (type, "dir") == 0       ? 'd'
           : strcmp (type, "symlink") == 0 ? 'L'
           : strcmp (type, "file") == 0    ? '-'
                                           : '?';
  for (int i = 0; i < 9; i++)
    out[i + 1] = (perm & (0400u >> i)) ? rwx[i] : '-';
  out[10] = '\0';
}

/* The core's stat object to Daytona's FileInfo. */
static json_t *
file_info (json_t *st)
{
  const char *mode = json_string_value (json_object_get (st, "mode"));
  const char *type = json_string_value (json_object_get (st, "type"));
  unsigned perm = mode ? (unsigned) strtoul (mode, NULL, 8) : 0;
  char gomode[11], when[32], uid[16], gid[16];

  go_mode (type ? type : "other", perm, gomode);
  iso_time (json_integer_value (json_object_get (st, "mtime")), when);
  snprintf (uid, sizeof uid, "%lld", (long long) json_integer_value (json_object_get (st, "uid")));
  snprintf (gid, sizeof gid, "%lld", (long long) json_integer_value (json_object_get (st, "gid")));
  return json_pack ("{s:O,s:O,s:O,s:O,s:s,s:s,s:s,s:s,s:s,s:s}", "name",
                    json_object_get (st, "name"), "path", json_object_get (st, "path"), "isDir",
                    json_object_get (st, "is_dir"), "size", json_object_get (st, "size"), "mode",
                    gomode, "permissions", mode ? mode : "0000", "modTime", when, "modifiedAt",
                    when, "owner", uid, "group", gid);
}

void
tb_files_list (struct req *r, struct resp *out)
{
  const char *path = req_query (r, "path"), *d = req_query (r, "depth");
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_json json_t *entries = NULL;
  struct islet_err err;
  uint64_t depth = 1;
  json_t *items, *e;
  size_t i;

  if (d && *d && (islet_parse_u64 (d, 64, &depth, &err) < 0 || depth == 0))
    {
      reply_error (out, 400, "BAD_REQUEST", "depth must be a number from 1 to 64");
      return;
    }
  if (tb_open (r, &sb, out) < 0)
    return;
  if (islet_fs_list (sb.ctx, sb.info.id, path && *path ? path : "/workspace", (unsigned) depth,
                     &entries, &err)
      < 0)
    {
      fs_error (out, &err);
      return;
    }
  items = json_array ();
  json_array_foreach (entries, i, e) { json_array_append_new (items, file_info (e)); }
  reply_json (out, 200, items);
}

/* The sandbox of the route and the core's stat of ?path=; -1 with the
 * error in out. */
static int
stat_tb_query (struct req *r, struct resp *out, struct sb_ref *sb, const char **path, json_t **st)
{
  struct islet_err err;

  *path = tb_query (r, out, "path");
  if (*path == NULL || tb_open (r, sb, out) < 0)
    return -1;
  if (islet_fs_stat (sb->ctx, sb->info.id, *path, st, &err) < 0)
    {
      fs_error (out, &err);
      return -1;
    }
  return 0;
}

void
tb_files_info (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_json json_t *st = NULL;
  const char *path;

  if (stat_tb_query (r, out, &sb, &path, &st) == 0)
    reply_json (out, 200, file_info (st));
}

/* Files up to this size are read into memory for their answer, larger
 * ones copied to a scratch file. */
#define SCRATCH_IN_MEMORY_MAX (8u << 20)

/* A parameter value as it goes between double quotes ("a\"b"), malloc'd. */
static char *
quote_param (const char *s)
{
  char *q = islet_xmalloc (strlen (s) * 2 + 1), *w = q;

  for (; *s; s++)
    {
      if (*s == '"' || *s == '\\')
        *w++ = '\\';
      *w++ = (*s == '\r' || *s == '\n') ? ' ' : *s;
    }
  *w = '\0';
  return q;
}

void
tb_files_download (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_json json_t *st = NULL;
  cleanup_spool struct spool *sp = NULL;
  struct islet_err err;
  cleanup_free char *name = NULL;
  const char *path;

  path = tb_query (r, out, "path");
  if (path == NULL || tb_open (r, &sb, out) < 0)
    return;
  {
    /* a file up to SCRATCH_IN_MEMORY_MAX: one request to the sandbox, the
     * answer in memory; a larger one is refused by that read at once (its
     * size is checked before any byte is sent) and goes to disk below */
    char *data = NULL;
    size_t len = 0;
    const char *base = strrchr (path, '/');

    if (islet_fs_read (sb.ctx, sb.info.id, path, SCRATCH_IN_MEMORY_MAX, &data, &len, &err) == 0)
      {
        name = quote_param (base && base[1] ? base + 1 : path);
        out->extra_header_name = islet_xstrdup ("Content-Disposition");
        out->extra_header_value = islet_xasprintf ("attachment; filename=\"%s\"", name);
        out->status = 200;
        out->body = data;
        out->len = len;
        out->content_type = "application/octet-stream";
        return;
      }
    if (err.kind != ISLET_E_LIMIT)
      {
        if (err.errnum == EISDIR)
          reply_error (out, 400, "BAD_REQUEST", "'%s' is a directory", path);
        else
          fs_error (out, &err);
        return;
      }
  }
  if (islet_fs_stat (sb.ctx, sb.info.id, path, &st, &err) < 0)
    {
      fs_error (out, &err);
      return;
    }
  /* too large to read into memory: copied to a scratch file charged to
   * the key, sent from there */
  if ((sp = spool_new (r, out)) == NULL)
    return;
  if (spool_reserve (sp, (uint64_t) json_integer_value (json_object_get (st, "size"))) < 0)
    {
      (void) spool_check (sp, out);
      return;
    }
  if (islet_fs_copy_out (sb.ctx, sb.info.id, path, spool_fd (sp), &err) < 0)
    {
      fs_error (out, &err);
      return;
    }
  if (spool_settle (sp) < 0 && spool_check (sp, out) < 0)
    return;
  name = quote_param (json_string_value (json_object_get (st, "name")));
  out->extra_header_name = islet_xstrdup ("Content-Disposition");
  out->extra_header_value = islet_xasprintf ("attachment; filename=\"%s\"", name);
  out->content_type = "application/octet-stream";
  spool_reply_raw (islet_take_ptr (&sp), out);
}

static int
write_str (int fd, const char *s)
{
  return islet_write_all (fd, s, strlen (s));
}

/* One part of the bulk-download answer: the file, or an error part.  Its
 * size is reserved on the key's scratch budget first: -1 with errno 0 when
 * that is spent. */
static int
download_part (struct sb_ref *sb, struct spool *sp, const char *boundary, const char *path)
{
  int fd = spool_fd (sp);
  cleanup_json json_t *st = NULL;
  cleanup_free char *q = quote_param (path);
  cleanup_free char *head = NULL;
  off_t mark = lseek (fd, 0, SEEK_CUR);
  struct islet_err err;
  struct resp e = { .fd = -1 };
  int rc;

  /* the part's size, taken before it is written (a failed stat makes an
   * error part, a few hundred bytes) */
  if (spool_reserve (sp, 1024 + strlen (path) * 2) < 0
      || (islet_fs_stat (sb->ctx, sb->info.id, path, &st, &err) == 0
          && spool_reserve (sp, (uint64_t) json_integer_value (json_object_get (st, "size"))) < 0))
    {
      errno = 0;
      return -1;
    }
  head = islet_xasprintf ("--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                          "filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                          boundary, q);
  if (write_str (fd, head) < 0)
    return -1;
  if (islet_fs_copy_out (sb->ctx, sb->info.id, path, fd, &err) == 0)
    return write_str (fd, "\r\n");
  /* take back what was written of the file, answer an error part instead */
  if (ftruncate (fd, mark) < 0 || lseek (fd, mark, SEEK_SET) < 0)
    return -1;
  fs_error (&e, &err);
  free (head);
  head = islet_xasprintf ("--%s\r\nContent-Disposition: form-data; name=\"error\"; "
                          "filename=\"%s\"\r\nContent-Type: application/json\r\n\r\n",
                          boundary, q);
  rc = write_str (fd, head) < 0 || islet_write_all (fd, e.body, e.len) < 0
               || write_str (fd, "\r\n") < 0
           ? -1
           : 0;
  free (e.body);
  return rc;
}

void
tb_files_bulk_download (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_spool struct spool *sp = NULL;
  unsigned char rnd[12];
  char boundary[40];
  json_t *paths, *p;
  size_t i;

  if (j == NULL)
    return;
  paths = json_object_get (j, "paths");
  if (!json_is_array (paths))
    {
      reply_error (out, 400, "BAD_REQUEST", "paths must be an array of strings");
      return;
    }
  json_array_foreach (paths, i, p) if (!json_is_string (p) || json_string_length (p) == 0)
  {
    reply_error (out, 400, "BAD_REQUEST", "paths must be an array of strings");
    return;
  }
  if (tb_open (r, &sb, out) < 0 || (sp = spool_new (r, out)) == NULL)
    return;
  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    memset (rnd, 0x5a, sizeof rnd);
  snprintf (boundary, sizeof boundary, "islet-");
  for (size_t k = 0; k < sizeof rnd; k++)
    snprintf (boundary + 6 + 2 * k, 3, "%02x", rnd[k]);
  json_array_foreach (paths, i, p) if (download_part (&sb, sp, boundary, json_string_value (p)) < 0)
  {
    struct islet_err err;
    if (errno == 0)
      (void) spool_check (sp, out); /* over the scratch budget: 507 */
    else
      {
        islet_fail (&err, ISLET_E_SYSTEM, errno, "build the download");
        reply_islet_err (out, &err, false);
      }
    return;
  }
  if (dprintf (spool_fd (sp), "--%s--\r\n", boundary) < 0)
    {
      reply_error (out, 500, "INTERNAL_ERROR", "build the download");
      return;
    }
  if (spool_settle (sp) < 0 && spool_check (sp, out) < 0)
    return;
  out->content_type_owned = islet_xasprintf ("multipart/form-data; boundary=%s", boundary);
  spool_reply_raw (islet_take_ptr (&sp), out);
}

/* ---- directories, removal, moves ---- */

int
tb_mode_query (struct req *r, struct resp *out, unsigned dflt, unsigned *mode)
{
  const char *m = req_query (r, "mode");
  unsigned long v = dflt;
  char *end;

  if (m && *m)
    {
      errno = 0;
      v = strtoul (m, &end, 8);
      if (*end || errno || v > 07777 || *m == '-')
        {
          reply_error (out, 400, "BAD_REQUEST", "mode '%s' is not an octal mode", m);
          return -1;
        }
    }
  *mode = (unsigned) v;
  return 0;
}

void
tb_files_folder (struct req *r, struct resp *out)
{
  const char *path = tb_query (r, out, "path");
  cleanup_sb struct sb_ref sb = { 0 };
  struct islet_err err;
  unsigned mode;

  if (path == NULL || tb_mode_query (r, out, 0755, &mode) < 0)
    return;
  if (tb_open (r, &sb, out) < 0)
    return;
  if (islet_fs_mkdir (sb.ctx, sb.info.id, path, mode, &err) < 0)
    {
      fs_error (out, &err);
      return;
    }
  reply_json (out, 200, json_object ());
}

void
tb_files_delete (struct req *r, struct resp *out)
{
  const char *path = tb_query (r, out, "path"), *rec = req_query (r, "recursive");
  cleanup_sb struct sb_ref sb = { 0 };
  struct islet_err err;

  if (path == NULL || tb_open (r, &sb, out) < 0)
    return;
  if (islet_fs_remove (sb.ctx, sb.info.id, path, rec && strcmp (rec, "true") == 0, &err) < 0)
    {
      fs_error (out, &err);
      return;
    }
  reply_json (out, 200, json_object ());
}

void
tb_files_move (struct req *r, struct resp *out)
{
  const char *from = tb_query (r, out, "source");
  const char *to = from ? tb_query (r, out, "destination") : NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  struct islet_err err;

  if (to == NULL || tb_open (r, &sb, out) < 0)
    return;
  if (islet_fs_move (sb.ctx, sb.info.id, from, to, &err) < 0)
    {
      fs_error (out, &err);
      return;
    }
  reply_json (out, 200, json_object ());
}
