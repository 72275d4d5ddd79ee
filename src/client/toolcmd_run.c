/* Tool-text commands: running one (see include/islet/toolcmd.h).  Every
 * path is resolved inside the sandbox by the core's file operations, and a
 * command runs through the sandbox's own bash, like any exec. */
#include <stdio.h>
#include <string.h>

#include "islet/client.h"
#include "islet/proto.h"
#include "islet/toolcmd.h"
#include "islet/util.h"

#define TOOL_READ_MAX (10u << 20)

static json_t *
failed (json_t *r, const char *msg)
{
  json_object_set_new (r, "ok", json_false ());
  json_object_set_new (r, "error", json_string (msg));
  return r;
}

/* Text as a JSON string, or base64 when it is not UTF-8 (and then
 * "<key>_encoding": "base64"). */
static void
set_text (json_t *r, const char *key, const char *data, size_t len)
{
  json_t *s = json_stringn (data, len);

  if (s)
    {
      json_object_set_new (r, key, s);
      return;
    }
  {
    cleanup_free char *enc = islet_base64 ((const unsigned char *) data, len);
    json_object_set_new (r, key, json_string (enc));
    {
      char name[64];
      snprintf (name, sizeof name, "%s_encoding", key);
      json_object_set_new (r, name, json_string ("base64"));
    }
  }
}

/* path as an absolute path with . and .. resolved as written (a relative
 * one in /workspace, where the sandbox's file operations take it), or NULL
 * when it is not in /workspace. */
static char *
in_workspace (const char *path)
{
  static const char ws[] = ISLET_TC_WORKSPACE;
  cleanup_free char *full = path[0] == '/' ? islet_xstrdup (path)
                                           : islet_xasprintf ("%s/%s", ws, path);
  char *out = islet_xmalloc (strlen (full) + 2), *save = NULL;
  size_t n = 0;

  for (char *part = strtok_r (full, "/", &save); part; part = strtok_r (NULL, "/", &save))
    {
      if (strcmp (part, ".") == 0)
        continue;
      if (strcmp (part, "..") == 0)
        {
          while (n > 0 && out[n - 1] != '/')
            n--;
          if (n > 0)
            n--; /* the slash; .. of / is / */
          continue;
        }
      out[n++] = '/';
      memcpy (out + n, part, strlen (part));
      n += strlen (part);
    }
  out[n] = '\0';
  if (strncmp (out, ws, sizeof ws - 1) != 0 || (out[sizeof ws - 1] != '/' && out[sizeof ws - 1]))
    {
      free (out);
      return NULL;
    }
  return out;
}

/* The workspace-only check of c's path: the path to use (malloc'd), or
 * NULL with why in err.  Each directory from /workspace down is looked at
 * (without following it): a symbolic link on the way could lead out. */
static char *
confine (struct islet_ctx *ctx, const char *id, const char *path, struct islet_err *err)
{
  cleanup_free char *p = in_workspace (path);
  size_t from = sizeof ISLET_TC_WORKSPACE - 1;

  if (p == NULL)
    {
      islet_fail (err, ISLET_E_INVALID, 0,
                  "`%s` is outside " ISLET_TC_WORKSPACE ": in workspace-only mode the file "
                  "commands reach only paths in " ISLET_TC_WORKSPACE,
                  path);
      return NULL;
    }
  while (p[from] == '/')
    {
      cleanup_json json_t *st = NULL;
      struct islet_err missing;
      char *slash = strchr (p + from + 1, '/');
      char keep = 0;

      if (slash)
        {
          keep = *slash;
          *slash = '\0';
        }
      if (islet_fs_stat (ctx, id, p, &st, &missing) < 0)
        {
          if (slash)
            *slash = keep;
          if (missing.kind == ISLET_E_NOTFOUND)
            break; /* nothing there yet, so no link either */
          *err = missing;
          return NULL;
        }
      if (strcmp (json_string_value (json_object_get (st, "type")) ?: "", "symlink") == 0)
        {
          islet_fail (err, ISLET_E_INVALID, 0,
                      "`%s` is a symbolic link: in workspace-only mode a path may have none, "
                      "since it could lead out of " ISLET_TC_WORKSPACE,
                      p);
          return NULL;
        }
      if (slash == NULL)
        break;
      *slash = keep;
      from = (size_t) (slash - p);
    }
  return islet_take_ptr (&p);
}

json_t *
islet_toolcmd_run (struct islet_ctx *ctx, const char *id, const struct islet_toolcmd *given,
                   unsigned flags)
{
  json_t *r = json_pack ("{s:s,s:i}", "command", islet_toolcmd_name (given->kind), "line",
                         (int) given->line);
  struct islet_toolcmd one = *given;
  const struct islet_toolcmd *c = &one;
  cleanup_free char *confined = NULL;
  struct islet_err err;

  if (c->path)
    {
      json_t *p = json_string (c->path); /* NULL when not UTF-8 */
      if (p)
        json_object_set_new (r, "path", p);
    }
  if (c->error)
    return failed (r, c->error);
  if ((flags & ISLET_TC_WORKSPACE_ONLY) && c->path)
    {
      if ((confined = confine (ctx, id, c->path, &err)) == NULL)
        return failed (r, err.msg);
      one.path = confined;
    }
  switch (c->kind)
    {
    case ISLET_TC_READ:
      {
        cleanup_free char *data = NULL;
        size_t len = 0;
        if (islet_fs_read (ctx, id, c->path, TOOL_READ_MAX, &data, &len, &err) < 0)
          return failed (r, err.msg);
        set_text (r, "content", data, len);
        json_object_set_new (r, "size", json_integer ((json_int_t) len));
        break;
      }
    case ISLET_TC_WRITE:
      if (islet_fs_write (ctx, id, c->path, c->content, c->content_len, 0644, &err) < 0)
        return failed (r, err.msg);
      json_object_set_new (r, "size", json_integer ((json_int_t) c->content_len));
      break;
    case ISLET_TC_DELETE:
      if (islet_fs_remove (ctx, id, c->path, false, &err) < 0)
        return failed (r, err.msg);
      break;
    case ISLET_TC_LIST:
      {
        json_t *entries = NULL;
        if (islet_fs_list (ctx, id, c->path, 1, &entries, &err) < 0)
          return failed (r, err.msg);
        json_object_set_new (r, "entries", entries);
        break;
      }
    case ISLET_TC_INFO:
      {
        json_t *st = NULL;
        if (islet_fs_stat (ctx, id, c->path, &st, &err) < 0)
          return failed (r, err.msg);
        json_object_set_new (r, "info", st);
        break;
      }
    case ISLET_TC_EXEC:
      {
        char *argv[] = { (char *) "bash", (char *) "-c", c->command, NULL };
        struct islet_exec_req x = { .argv = argv };
        struct islet_exec_result res;
        if (islet_exec (ctx, id, &x, &res, &err) < 0)
          return failed (r, err.msg);
        json_object_set_new (r, "exit_code", json_integer (res.exit_code));
        set_text (r, "stdout", res.out ? res.out : "", res.out_len);
        set_text (r, "stderr", res.errout ? res.errout : "", res.err_len);
        json_object_set_new (r, "timed_out", json_boolean (res.timed_out));
        json_object_set_new (r, "truncated", json_boolean (res.truncated));
        if (res.error[0])
          json_object_set_new (r, "error", json_string (res.error));
        islet_exec_result_fini (&res);
        break;
      }
    }
  json_object_set_new (r, "ok", json_true ());
  return r;
}
