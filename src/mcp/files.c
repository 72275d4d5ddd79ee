/* file_operation: files inside a sandbox, every path resolved there by the
 * core's agent.  upload and download move bytes as base64 (capped at
 * MCP_TRANSFER_MAX), or, for a host that allows it (islet mcp --host-dir
 * DIR), between a sandbox file and a host file beneath DIR. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MCP_LIST_DEPTH_RECURSIVE 16

typedef int (*fs_fn) (const struct call *c, const char *id, const json_t *args, json_t **out,
                      struct islet_err *err);

static int
fs_op_read (const struct call *c, const char *id, const json_t *args, json_t **out,
            struct islet_err *err)
{
  cleanup_free char *data = NULL;
  const char *path = str_arg (args, "path");
  size_t len = 0;
  json_t *text;

  if (islet_fs_read (c->h->ctx, id, path, 0, &data, &len, err) < 0)
    return -1;
  /* text stays readable; anything else travels as base64 */
  text = json_stringn (data, len);
  if (text != NULL)
    *out = json_pack ("{s:s,s:o,s:s,s:I}", "path", path, "content", text, "encoding", "utf-8",
                      "size", (json_int_t) len);
  else
    {
      cleanup_free char *b64 = islet_base64 ((const unsigned char *) data, len);
      *out = json_pack ("{s:s,s:s,s:s,s:I}", "path", path, "content", b64, "encoding", "base64",
                        "size", (json_int_t) len);
    }
  return 0;
}

static int
fs_op_write (const struct call *c, const char *id, const json_t *args, json_t **out,
             struct islet_err *err)
{
  const json_t *content = json_object_get (args, "content");
  const char *path = str_arg (args, "path");

  if (!json_is_string (content))
    return islet_fail (err, ISLET_E_INVALID, 0, "write: 'content' is required (a string)");
  if (islet_fs_write (c->h->ctx, id, path, json_string_value (content),
                      json_string_length (content), 0644, err)
      < 0)
    return -1;
  *out = json_pack ("{s:s,s:I}", "path", path, "bytes_written",
                    (json_int_t) json_string_length (content));
  return 0;
}

static int
fs_op_delete (const struct call *c, const char *id, const json_t *args, json_t **out,
              struct islet_err *err)
{
  const char *path = str_arg (args, "path");

  if (islet_fs_remove (c->h->ctx, id, path, json_is_true (json_object_get (args, "recursive")), err)
      < 0)
    return -1;
  *out = json_pack ("{s:s,s:b}", "path", path, "deleted", 1);
  return 0;
}

static int
fs_op_list (const struct call *c, const char *id, const json_t *args, json_t **out,
            struct islet_err *err)
{
  bool rec = json_is_true (json_object_get (args, "recursive"));
  const char *path = str_arg (args, "path");
  json_t *list = NULL;

  if (islet_fs_list (c->h->ctx, id, path, rec ? MCP_LIST_DEPTH_RECURSIVE : 1, &list, err) < 0)
    return -1;
  *out = json_pack ("{s:s,s:o}", "path", path, "entries", list);
  return 0;
}

static int
fs_op_info (const struct call *c, const char *id, const json_t *args, json_t **out,
            struct islet_err *err)
{
  return islet_fs_stat (c->h->ctx, id, str_arg (args, "path"), out, err);
}

static int
fs_op_mkdir (const struct call *c, const char *id, const json_t *args, json_t **out,
             struct islet_err *err)
{
  const char *path = str_arg (args, "path");

  if (islet_fs_mkdir (c->h->ctx, id, path, 0755, err) < 0)
    return -1;
  *out = json_pack ("{s:s,s:b}", "path", path, "created", 1);
  return 0;
}

/* ---- host paths: beneath the host's directory, after every symlink ---- */

static bool
beneath (const char *path, const char *root)
{
  size_t n = strlen (root);

  if (strcmp (root, "/") == 0)
    return true;
  return strncmp (path, root, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* The real path of host_path p (relative: to the host's directory), which
 * must lie beneath that directory once every symlink is followed.  For a
 * file to write, only its directory must exist already. */
static int
host_file (const struct call *c, const char *p, bool to_write, char **out, struct islet_err *err)
{
  cleanup_free char *root = NULL;
  cleanup_free char *full = NULL;
  cleanup_free char *dir_copy = NULL;
  cleanup_free char *base_copy = NULL;
  cleanup_free char *dir = NULL;
  char *real;
  const char *base;

  if (c->h->host_dir == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "host_path is refused: %s",
                       c->h->no_host_dir ? c->h->no_host_dir : "no host directory");
  if ((root = realpath (c->h->host_dir, NULL)) == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "host directory `%s`", c->h->host_dir);
  full = p[0] == '/' ? islet_xstrdup (p) : islet_xasprintf ("%s/%s", root, p);
  real = realpath (full, NULL);
  if (real == NULL && (!to_write || errno != ENOENT))
    return islet_fail (err, errno == ENOENT ? ISLET_E_NOTFOUND : ISLET_E_SYSTEM, errno,
                       "host_path `%s`", p);
  if (real == NULL)
    {
      /* a new file: its directory, resolved, and a plain name in it */
      dir_copy = islet_xstrdup (full);
      base_copy = islet_xstrdup (full);
      base = basename (base_copy);
      if (strcmp (base, ".") == 0 || strcmp (base, "..") == 0 || base[0] == '\0')
        return islet_fail (err, ISLET_E_INVALID, 0, "host_path `%s` names no file", p);
      if ((dir = realpath (dirname (dir_copy), NULL)) == NULL)
        return islet_fail (err, errno == ENOENT ? ISLET_E_NOTFOUND : ISLET_E_SYSTEM, errno,
                           "host_path `%s`: its directory", p);
      real = strcmp (dir, "/") == 0 ? islet_xasprintf ("/%s", base)
                                    : islet_xasprintf ("%s/%s", dir, base);
    }
  if (!beneath (real, root))
    {
      free (real);
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "host_path `%s` is outside the host directory `%s` (symlinks "
                         "followed)",
                         p, root);
    }
  *out = real;
  return 0;
}

static int
upload_host (const struct call *c, const char *id, const char *path, const char *host_path,
             json_t **out, struct islet_err *err)
{
  cleanup_free char *real = NULL;
  cleanup_close int fd = -1;
  struct stat st;

  if (host_file (c, host_path, false, &real, err) < 0)
    return -1;
  /* non-blocking: a FIFO must not hang the server (it is refused below) */
  fd = open (real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", real);
  if (!S_ISREG (st.st_mode))
    return islet_fail (err, ISLET_E_INVALID, 0, "host_path `%s` is not a regular file", real);
  if (islet_fs_copy_in (c->h->ctx, id, fd, path, 0644, err) < 0)
    return -1;
  *out = json_pack ("{s:s,s:s,s:I}", "path", path, "host_path", real, "bytes_written",
                    (json_int_t) st.st_size);
  return 0;
}

/* Into a temporary file beside the target, then a rename: a failed
 * download leaves the host's file as it was. */
static int
download_host (const struct call *c, const char *id, const char *path, const char *host_path,
               json_t **out, struct islet_err *err)
{
  cleanup_free char *real = NULL;
  cleanup_free char *tmp = NULL;
  cleanup_close int fd = -1;
  struct stat st;

  if (host_file (c, host_path, true, &real, err) < 0)
    return -1;
  tmp = islet_xasprintf ("%s.islet-XXXXXX", real);
  fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create `%s`", tmp);
  if (islet_fs_copy_out (c->h->ctx, id, path, fd, err) < 0)
    goto fail;
  if (fchmod (fd, 0644) < 0 || fsync (fd) < 0 || fstat (fd, &st) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "write `%s`", tmp);
      goto fail;
    }
  if (rename (tmp, real) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "rename to `%s`", real);
      goto fail;
    }
  *out = json_pack ("{s:s,s:s,s:I}", "path", path, "host_path", real, "size",
                    (json_int_t) st.st_size);
  return 0;
fail:
  (void) unlink (tmp);
  return -1;
}

/* ---- upload and download ---- */

static int
transfer_source (const json_t *args, const char *op, const char *field, bool field_needed,
                 struct islet_err *err)
{
  bool has_field = json_object_get (args, field) != NULL;
  bool has_host = str_arg (args, "host_path") != NULL;

  if (has_field && has_host)
    return islet_fail (err, ISLET_E_INVALID, 0, "%s: give %s or host_path, not both", op, field);
  if (field_needed && !has_field && !has_host)
    return islet_fail (err, ISLET_E_INVALID, 0, "%s: %s (or host_path) is required", op, field);
  return 0;
}

static int
fs_op_upload (const struct call *c, const char *id, const json_t *args, json_t **out,
              struct islet_err *err)
{
  const char *path = str_arg (args, "path"), *b64 = str_arg (args, "content_base64");
  cleanup_free unsigned char *data = NULL;
  size_t len = 0, n;

  if (transfer_source (args, "upload", "content_base64", true, err) < 0)
    return -1;
  if (b64 == NULL)
    return upload_host (c, id, path, str_arg (args, "host_path"), out, err);
  n = strlen (b64);
  if (n / 4 * 3 > MCP_TRANSFER_MAX + 2)
    return islet_fail (err, ISLET_E_LIMIT, 0,
                       "upload: content_base64 is over the limit of %u bytes (%u MiB) a file "
                       "may have in base64; write a larger file in parts",
                       MCP_TRANSFER_MAX, MCP_TRANSFER_MAX >> 20);
  if (islet_base64_decode (b64, n, MCP_TRANSFER_MAX, &data, &len, err) < 0)
    return islet_wrap (err, "upload: content_base64");
  /* a temporary file and a rename, in the sandbox: never half a file */
  if (islet_fs_write (c->h->ctx, id, path, data, len, 0644, err) < 0)
    return -1;
  *out = json_pack ("{s:s,s:I}", "path", path, "bytes_written", (json_int_t) len);
  return 0;
}

static int
fs_op_download (const struct call *c, const char *id, const json_t *args, json_t **out,
                struct islet_err *err)
{
  const char *path = str_arg (args, "path"), *host_path = str_arg (args, "host_path");
  cleanup_json json_t *st = NULL;
  cleanup_free char *data = NULL;
  cleanup_free char *b64 = NULL;
  json_int_t size;
  size_t len = 0;

  if (host_path != NULL)
    return download_host (c, id, path, host_path, out, err);
  if (islet_fs_stat (c->h->ctx, id, path, &st, err) < 0)
    return -1;
  if (json_is_true (json_object_get (st, "is_dir")))
    return islet_fail (err, ISLET_E_INVALID, 0, "download: a directory, not a file");
  size = json_integer_value (json_object_get (st, "size"));
  if (size > (json_int_t) MCP_TRANSFER_MAX)
    return islet_fail (err, ISLET_E_LIMIT, 0,
                       "download: the file is %lld bytes, over the limit of %u bytes (%u MiB) "
                       "for base64; read it in parts (execute_shell with split or dd)",
                       (long long) size, MCP_TRANSFER_MAX, MCP_TRANSFER_MAX >> 20);
  if (islet_fs_read (c->h->ctx, id, path, MCP_TRANSFER_MAX, &data, &len, err) < 0)
    return -1;
  b64 = islet_base64 ((const unsigned char *) data, len);
  *out = json_pack ("{s:s,s:s,s:I}", "path", path, "content_base64", b64, "size", (json_int_t) len);
  return 0;
}

static const struct
{
  const char *name;
  fs_fn fn;
} fs_ops[] = {
  { "read", fs_op_read },         { "write", fs_op_write },   { "upload", fs_op_upload },
  { "download", fs_op_download }, { "delete", fs_op_delete }, { "list", fs_op_list },
  { "info", fs_op_info },         { "mkdir", fs_op_mkdir },
};

int
tool_file (const struct call *c, const json_t *args, json_t **out, struct islet_err *err)
{
  const char *op = str_arg (args, "operation");
  struct islet_sandbox_info info;

  if (sandbox_arg (c, args, &info, err) < 0)
    return -1;
  if (str_arg (args, "host_path") && strcmp (op, "upload") != 0 && strcmp (op, "download") != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "host_path is for upload and download only");
  for (size_t i = 0; i < sizeof fs_ops / sizeof fs_ops[0]; i++)
    if (strcmp (fs_ops[i].name, op) == 0)
      {
        if (fs_ops[i].fn (c, info.id, args, out, err) < 0)
          return islet_wrap (err, "%s %s", op, str_arg (args, "path"));
        json_object_set_new (*out, "sandbox_id", json_string (info.id));
        return 0;
      }
  return islet_fail (err, ISLET_E_INVALID, 0, "no file operation '%s'", op);
}

static const char *const fs_choices[] = { "read", "write", "upload", "download", "delete",
                                          "list", "info",  "mkdir",  NULL };

const struct arg file_args[] = {
  ARG_SANDBOX (true),
  { "operation", ARG_STR, true, "what to do", fs_choices, NULL, NULL, NULL },
  { "path", ARG_STR, true,
    "path inside the sandbox; relative paths are under /workspace (required: as path or "
    "file_path)",
    NULL, NULL, "file_path", NULL },
  { "content", ARG_STR, false, "write: the file's new text", NULL, NULL, NULL, NULL },
  { "content_base64", ARG_STR, false,
    "upload: the file's bytes in base64 (any bytes; at most 8 MiB once decoded). The file is "
    "replaced whole, never left half-written",
    NULL, NULL, NULL, NULL },
  { "host_path", ARG_STR, false,
    "upload: read the bytes from this file of the host instead; download: write them to it. "
    "Only when the server was started with `islet mcp --host-dir DIR`, and only beneath DIR "
    "(relative paths are under DIR); refused over HTTP. No size cap but the disk's",
    NULL, NULL, NULL, NULL },
  { "recursive", ARG_BOOL, false,
    "delete: remove a directory with everything in it; list: descend into subdirectories", NULL,
    NULL, NULL, NULL },
  ARG_END,
};
