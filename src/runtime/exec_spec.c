/* An exec's request, parsed: argv, the environment built from the
 * defaults, the image's Env, the sandbox's proxy and the caller's entries,
 * the working directory, the limits, and stdin when it comes whole first. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "exec_spec.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "runtime.h"

#define STDIN_MAX (64u << 20)

static char **
json_to_strv (json_t *arr)
{
  size_t n = json_array_size (arr), i;
  char **v = islet_xcalloc (n + 1, sizeof *v);
  json_t *item;

  json_array_foreach (arr, i, item)
  {
    if (!json_is_string (item))
      {
        islet_strv_free (v);
        return NULL;
      }
    v[i] = islet_xstrdup (json_string_value (item));
  }
  return v;
}

/* Set K=V in env (n entries), replacing an entry with the same key. */
static void
env_put (char **env, size_t *n, const char *kv)
{
  const char *eq = kv ? strchr (kv, '=') : NULL;
  size_t j, klen;

  if (eq == NULL || eq == kv)
    return;
  klen = (size_t) (eq - kv) + 1;
  for (j = 0; j < *n; j++)
    if (strncmp (env[j], kv, klen) == 0)
      break;
  if (j < *n)
    free (env[j]);
  else
    (*n)++;
  env[j] = islet_xstrdup (kv);
}

/* The names programs read a proxy from (curl, pip, git, npm, Python's
 * urllib, Go, Node's agents): both cases, for the tools that read one. */
static void
proxy_env (const struct sandbox *sb, char **env, size_t *n)
{
  static const char *const names[] = { "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy" };
  char kv[ISLET_NET_PROXY_MAX + 16];

  if (sb->net.proxy[0] == '\0')
    return;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    {
      snprintf (kv, sizeof kv, "%s=%s", names[i], sb->net.proxy);
      env_put (env, n, kv);
    }
  env_put (env, n, "NO_PROXY=localhost,127.0.0.1,::1");
  env_put (env, n, "no_proxy=localhost,127.0.0.1,::1");
}

/* The default environment, then the image's Env, then the sandbox's
 * proxy (islet/net.h), then the caller's K=V entries, each replacing by
 * key. */
static char **
build_env (const struct sandbox *sb, json_t *extra, bool terminal)
{
  const char *defaults[] = { "PATH=" DEFAULT_PATH, "HOME=/root", "USER=root", "LANG=C.UTF-8",
                             "PYTHONUNBUFFERED=1" };
  size_t nd = sizeof defaults / sizeof defaults[0], ni = 0;
  size_t n = 0, cap, i;
  char **env;
  json_t *item;

  while (sb->image.env && sb->image.env[ni])
    ni++;
  cap = nd + ni + json_array_size (extra) + 3 + 6;
  env = islet_xcalloc (cap, sizeof *env);
  for (i = 0; i < nd; i++)
    env[n++] = islet_xstrdup (defaults[i]);
  env[n++] = islet_xasprintf ("HOSTNAME=%s", sb->name);
  if (terminal)
    env[n++] = islet_xstrdup ("TERM=xterm-256color");
  for (i = 0; i < ni; i++)
    env_put (env, &n, sb->image.env[i]);
  proxy_env (sb, env, &n);
  json_array_foreach (extra, i, item) env_put (env, &n, json_string_value (item));
  env[n] = NULL;
  return env;
}

/* "pty": {"cols": C, "rows": R}: run on a terminal of that size. */
static int
parse_terminal (json_t *req, struct exec_spec *spec, struct islet_err *err)
{
  json_t *pty = json_object_get (req, "pty");
  json_int_t cols, rows;

  if (pty == NULL)
    return 0;
  cols = json_integer_value (json_object_get (pty, "cols"));
  rows = json_integer_value (json_object_get (pty, "rows"));
  if (!json_is_object (pty) || cols < 1 || cols > PTY_SIZE_MAX || rows < 1 || rows > PTY_SIZE_MAX)
    return islet_fail (err, ISLET_E_INVALID, 0, "`pty` needs `cols` and `rows` from 1 to %d",
                       PTY_SIZE_MAX);
  spec->pty = true;
  spec->cols = (unsigned) cols;
  spec->rows = (unsigned) rows;
  return 0;
}

int
exec_spec_parse (const struct sandbox *sb, json_t *req, struct exec_spec *spec,
                 struct islet_err *err)
{
  json_t *argv = json_object_get (req, "argv");
  json_t *env = json_object_get (req, "env");
  json_t *cwd = json_object_get (req, "cwd");
  json_int_t timeout = json_integer_value (json_object_get (req, "timeout_ms"));
  json_int_t limit = json_integer_value (json_object_get (req, "output_limit"));

  if (!json_is_array (argv) || json_array_size (argv) == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "exec needs a non-empty `argv` array");
  if (env && !json_is_array (env))
    return islet_fail (err, ISLET_E_INVALID, 0, "`env` must be an array of K=V strings");
  if (cwd && !json_is_string (cwd))
    return islet_fail (err, ISLET_E_INVALID, 0, "`cwd` must be a string");
  spec->argv = json_to_strv (argv);
  if (spec->argv == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "`argv` must hold strings only");
  if (parse_terminal (req, spec, err) < 0)
    return -1;
  spec->envp = build_env (sb, env, spec->pty);
  spec->cwd = cwd ? json_string_value (cwd) : sb->image.workdir ? sb->image.workdir : "/workspace";
  spec->timeout_ms = timeout > 0 ? (uint64_t) timeout : (uint64_t) sb->limits.timeout_s * 1000;
  spec->output_limit = limit > 0 ? (uint64_t) limit : sb->limits.output_bytes;
  spec->has_stdin = json_is_true (json_object_get (req, "stdin"));
  spec->stdin_stream = json_is_true (json_object_get (req, "stdin_stream"));
  spec->detach = json_is_true (json_object_get (req, "detach"));
  if (spec->stdin_stream && spec->has_stdin)
    return islet_fail (err, ISLET_E_INVALID, 0, "`stdin` and `stdin_stream` exclude each other");
  if (spec->pty && (spec->has_stdin || spec->stdin_stream || spec->detach))
    return islet_fail (err, ISLET_E_INVALID, 0, "a terminal takes its input as it comes");
  /* a terminal or a command fed as it runs lives until it ends or is
     killed, unless the caller gave a timeout */
  spec->untimed = timeout <= 0 && (spec->pty || spec->stdin_stream);
  spec->has_stdin = spec->has_stdin || spec->stdin_stream;
  return 0;
}

int
exec_spec_read_stdin (int conn, struct exec_spec *spec, struct islet_err *err)
{
  for (;;)
    {
      cleanup_free char *data = NULL;
      enum islet_frame type;
      size_t len;

      if (islet_frame_recv (conn, &type, &data, &len, err) < 0)
        return -1;
      if (type != ISLET_FRAME_DATA)
        return islet_fail (err, ISLET_E_INVALID, EPROTO, "expected stdin data");
      if (len == 0)
        return 0;
      if (spec->stdin_len + len > STDIN_MAX)
        return islet_fail (err, ISLET_E_LIMIT, E2BIG, "stdin is larger than %u bytes", STDIN_MAX);
      spec->stdin_data = islet_xrealloc (spec->stdin_data, spec->stdin_len + len);
      memcpy (spec->stdin_data + spec->stdin_len, data, len);
      spec->stdin_len += len;
    }
}
