/* The config of /v1 runs, in the names of the reasoning engine's
 * SandboxConfig: cpu_limit, memory_limit_mb, execution_timeout (islet's
 * first name: timeout), temp_storage_mb, python_version,
 * enable_networking, enable_ast_validation, allowed_imports, and islet's
 * network_allow_list (CIDRs and domain names, as Daytona's lists and the
 * CLI's --allow: islet_net_ask).  Each field is
 * honoured or refused with a 400 that says why; a field the config does
 * not have is refused by name, never dropped.  Each API key has its own
 * defaults (PUT /v1/config), kept in the store. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "islet/util.h"
#include "owned.h"
#include "v1.h"

#define V1_STORAGE_MIN_MB 16 /* below this the program and its files may not fit */

#define bad(out, ...) (reply_error ((out), 400, "BAD_REQUEST", __VA_ARGS__), -1)

/* A limit's field (cpu_limit, memory_limit_mb, execution_timeout,
 * temp_storage_mb: the limits table's names for /v1), with /v1's own
 * bounds on two of them. */
static int
check_limit (json_t *v, const char *name, struct resp *out)
{
  const char *field = strcmp (name, "timeout") == 0 ? "execution_timeout" : name;
  const struct islet_limit_def *d = islet_limit_named (ISLET_FACE_V1, field);
  struct islet_err err;
  uint64_t n;

  /* a run's timeout, shorter than a sandbox's */
  if (d->offset == offsetof (struct islet_limits, timeout_s)
      && (!json_is_number (v) || json_number_value (v) <= 0
          || json_number_value (v) > V1_TIMEOUT_MAX_S))
    return bad (out, "config.%s must be a number of seconds, above 0 and at most %d", name,
                V1_TIMEOUT_MAX_S);
  if (islet_limit_take (d, ISLET_FACE_V1, v, &n, &err) < 0)
    return bad (out, "config.%s", err.msg);
  if (d->offset == offsetof (struct islet_limits, disk_mb) && n < V1_STORAGE_MIN_MB)
    return bad (out, "config.%s must be an integer number of MB from %d to 16777216", name,
                V1_STORAGE_MIN_MB);
  return 0;
}

/* "3", "3.11" or "3.11.2" */
static bool
version_syntax (const char *s)
{
  int parts = 0;

  while (*s)
    {
      if (!isdigit ((unsigned char) *s) || ++parts > 3)
        return false;
      while (isdigit ((unsigned char) *s))
        s++;
      if (*s == '.' && s[1] == '\0')
        return false;
      if (*s == '.')
        s++;
    }
  return parts > 0;
}

static int
check_python_version (json_t *v, const char *name, struct resp *out)
{
  if (!json_is_string (v) || !version_syntax (json_string_value (v)))
    return bad (out, "config.%s must be a version such as \"3.11\" or \"3.11.2\"", name);
  return 0;
}

static int
check_allow_list (json_t *v, const char *name, struct resp *out)
{
  struct islet_net net;
  struct islet_err err;

  if (!json_is_array (v))
    return bad (out, "config.%s must be an array of IPv4 CIDRs and domain names", name);
  if (islet_net_ask_json (NULL, v, ISLET_NET_NONE, &net, &err) < 0)
    return bad (out, "config.%s: %s", name, err.msg);
  return 0;
}

/* The run's network: enable_networking true is all (allow with a list),
 * false none (a list with it is refused), unset the list's allow or else
 * isletd's --default-network, as Daytona's fields are taken. */
static int
network_of (struct srv *srv, json_t *cfg, struct islet_net *net, struct resp *out)
{
  json_t *on = json_object_get (cfg, "enable_networking");
  json_t *list = json_object_get (cfg, "network_allow_list");
  const char *mode = NULL;
  struct islet_err err;

  if (json_is_null (list))
    list = NULL;
  if (json_is_false (on))
    mode = "none";
  else if (json_is_true (on) && json_array_size (list) == 0)
    mode = "all";
  if (json_is_false (on) && json_array_size (list) > 0)
    return bad (out, "config.enable_networking false with a network_allow_list: give one or the "
                     "other");
  if (islet_net_ask_json (mode, list, srv->net_default, net, &err) < 0)
    return bad (out, "config.network_allow_list: %s", err.msg);
  return 0;
}

static int
check_bool (json_t *v, const char *name, struct resp *out)
{
  if (!json_is_boolean (v))
    return bad (out, "config.%s must be true or false", name);
  return 0;
}

static int
check_imports (json_t *v, const char *name, struct resp *out)
{
  json_t *m;
  size_t i;

  if (!json_is_array (v))
    return bad (out, "config.%s must be an array of module names", name);
  json_array_foreach (v, i, m)
  {
    const char *s = json_string_value (m);
    if (s == NULL || *s == '\0'
        || strspn (s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789_.")
               != strlen (s))
      return bad (out, "config.%s[%zu] must be a module name", name, i);
  }
  return 0;
}

/* The config's fields: their check, and whether only Python has them.
 * The limits' fields come first, from the limits table. */
struct field
{
  const char *name;
  int (*check) (json_t *v, const char *name, struct resp *out);
  bool python_only;
};

static const struct field fields[] = {
  { "python_version", check_python_version, true },  { "enable_networking", check_bool, false },
  { "enable_ast_validation", check_bool, true },     { "allowed_imports", check_imports, true },
  { "network_allow_list", check_allow_list, false },
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

static const struct field limit_field = { NULL, check_limit, false };

static const struct field *
field_find (const char *name)
{
  if (islet_limit_named (ISLET_FACE_V1, name))
    return &limit_field;
  for (size_t i = 0; i < N_FIELDS; i++)
    if (strcmp (fields[i].name, name) == 0)
      return &fields[i];
  return NULL;
}

/* "cpu_limit, ..., network_allow_list", for the refusal of another. */
static void
field_names (char *buf, size_t size)
{
  size_t n = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    if (islet_limit_defs[i].face[ISLET_FACE_V1].name && n < size)
      n += (size_t) snprintf (buf + n, size - n, "%s, ",
                              islet_limit_defs[i].face[ISLET_FACE_V1].name);
  for (size_t i = 0; i < N_FIELDS && n < size; i++)
    n += (size_t) snprintf (buf + n, size - n, "%s%s", fields[i].name,
                            i + 1 < N_FIELDS ? ", " : "");
  if (n < size)
    snprintf (buf + n, size - n, "; timeout is execution_timeout's other name");
}

/* The built-in defaults, every field present (null: not set). */
static json_t *
config_builtin (void)
{
  const struct islet_limits d = ISLET_LIMITS_DEFAULT;
  json_t *cfg = json_object ();

  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    if (islet_limit_defs[i].face[ISLET_FACE_V1].name)
      json_object_set_new (cfg, islet_limit_defs[i].face[ISLET_FACE_V1].name,
                           islet_limit_face_json (&islet_limit_defs[i], ISLET_FACE_V1, &d));
  /* enable_networking unset: isletd's --default-network (shown as its
     boolean by v1_config_view) */
  for (size_t i = 0; i < N_FIELDS; i++)
    json_object_set_new (cfg, fields[i].name, json_null ());
  return cfg;
}

int
v1_config_merge (json_t *cfg, json_t *over, bool python, struct resp *out)
{
  cleanup_json json_t *builtin = config_builtin ();
  json_t *t = json_object_get (over, "timeout"), *et = json_object_get (over, "execution_timeout");
  const char *key;
  json_t *v;

  /* both names given: the same number, or both null */
  if (t && et && !(json_is_null (t) && json_is_null (et))
      && !(json_is_number (t) && json_is_number (et)
           && json_number_value (t) == json_number_value (et)))
    return bad (out, "config.timeout and config.execution_timeout differ: give one");
  json_object_foreach (over, key, v)
  {
    const char *name = strcmp (key, "timeout") == 0 ? "execution_timeout" : key;
    const struct field *f = field_find (name);

    if (f == NULL)
      {
        char names[512];
        field_names (names, sizeof names);
        return bad (out, "config.%s is not a config field (%s)", key, names);
      }
    if (json_is_null (v))
      continue;
    if (f->check (v, key, out) < 0)
      return -1;
    if (f->python_only && !python && !json_is_false (v))
      return bad (out, "config.%s applies to python only", key);
  }
  /* all checked: now set them */
  json_object_foreach (over, key, v)
  {
    const char *name = strcmp (key, "timeout") == 0 ? "execution_timeout" : key;
    json_object_set (cfg, name, json_is_null (v) ? json_object_get (builtin, name) : v);
  }
  return 0;
}

json_t *
v1_config_load (struct srv *srv, int64_t key_id, struct resp *out)
{
  cleanup_free char *text = NULL;
  cleanup_json json_t *stored = NULL;
  json_t *cfg = config_builtin ();
  struct islet_err err;
  const char *key;
  json_t *v;

  if (islet_store_v1_config_get (srv->store, key_id, &text, &err) < 0)
    {
      json_decref (cfg);
      reply_islet_err (out, &err, false);
      return NULL;
    }
  stored = text ? json_loads (text, 0, NULL) : NULL;
  /* only the fields this isletd knows, each as it was checked when put */
  json_object_foreach (stored, key, v) if (field_find (key)) json_object_set (cfg, key, v);
  return cfg;
}

/* ---- the image's python ---- */

/* The version of python3 in the image /v1 runs on ("3.11.2"), learned once
 * from a sandbox: the image is the host's /usr, which does not change
 * under a running isletd. */
static pthread_mutex_t python_lock = PTHREAD_MUTEX_INITIALIZER;
static char python_version[32];

static int
python_probe (struct srv *srv, char *buf, size_t size, struct islet_err *err)
{
  static char *const argv[] = { (char *) "python3", (char *) "-c",
                                (char *) "import sys; print('%d.%d.%d' % sys.version_info[:3])",
                                NULL };
  struct islet_limits limits = ISLET_LIMITS_DEFAULT;
  struct owner k = { .srv = srv, .key_id = -1 };
  struct islet_exec_req x = { .argv = argv, .timeout_ms = 30000 };
  struct islet_exec_result res = { 0 };
  char id[ISLET_ID_LEN + 1];
  int rc;

  if (owned_scratch_begin (&k, &limits, NULL, id, err) < 0)
    return -1;
  rc = islet_exec (srv->ctx, id, &x, &res, err);
  owned_scratch_end (&k, id);
  if (rc == 0 && (res.exit_code != 0 || res.out_len == 0 || res.out_len >= size))
    rc = islet_fail (err, ISLET_E_INVALID, 0,
                     "config.python_version: the image has no working python3 (exit %d)",
                     res.exit_code);
  if (rc == 0)
    {
      memcpy (buf, res.out, res.out_len);
      buf[strcspn (buf, "\n")] = '\0';
    }
  islet_exec_result_fini (&res);
  return rc;
}

/* A failed probe is remembered this long: a status call must not make a
 * sandbox each time while the image has no python3. */
#define PYTHON_RETRY_NS (60 * 1000000000ull)

static int
python_version_get (struct srv *srv, char out[32], struct islet_err *err)
{
  static struct islet_err failed;
  static uint64_t failed_at;
  int rc = 0;

  pthread_mutex_lock (&python_lock);
  if (python_version[0] == '\0' && failed_at && islet_now_ns () - failed_at < PYTHON_RETRY_NS)
    {
      *err = failed;
      rc = -1;
    }
  else if (python_version[0] == '\0')
    {
      char buf[32] = { 0 };
      rc = python_probe (srv, buf, sizeof buf, err);
      if (rc == 0)
        memcpy (python_version, buf, sizeof buf);
      else
        {
          failed = *err;
          failed_at = islet_now_ns ();
        }
    }
  memcpy (out, python_version, 32);
  pthread_mutex_unlock (&python_lock);
  return rc;
}

/* "3.11" matches 3.11.x: each part given equals the image's. */
static bool
version_matches (const char *want, const char *have)
{
  while (*want)
    {
      size_t n = strspn (want, "0123456789"), m = strspn (have, "0123456789");
      if (n != m || strncmp (want, have, n) != 0)
        return false;
      want += n;
      have += m;
      if (*want == '.')
        {
          if (*have != '.')
            return false;
          want++;
          have++;
        }
    }
  return true;
}

/* -1 with a 400 (or the probe's error) in out if cfg names a python the
 * image does not have. */
static int
python_check (struct srv *srv, json_t *cfg, struct resp *out)
{
  const char *want = json_string_value (json_object_get (cfg, "python_version"));
  struct islet_err err;
  char have[32];

  if (want == NULL)
    return 0;
  if (python_version_get (srv, have, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  if (!version_matches (want, have))
    return bad (out, "config.python_version: python %s is not available (the image has %s)", want,
                have);
  return 0;
}

int
v1_config_store (struct srv *srv, int64_t key_id, json_t *cfg, struct resp *out)
{
  struct v1_settings s;
  cleanup_free char *text = NULL;
  struct islet_err err;

  if (v1_config_settings (srv, cfg, "python", &s, out) < 0)
    return -1;
  v1_settings_fini (&s);
  text = json_dumps (cfg, JSON_COMPACT);
  if (islet_store_v1_config_put (srv->store, key_id, text, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  return 0;
}

void
v1_settings_fini (struct v1_settings *s)
{
  free (s->imports);
  s->imports = NULL;
}

static enum v1_policy_mode
policy_mode (json_t *cfg)
{
  json_t *ast = json_object_get (cfg, "enable_ast_validation");
  bool listed = json_is_array (json_object_get (cfg, "allowed_imports"));

  /* false turns it off even with a list; unset, a list turns it on */
  if (json_is_false (ast))
    return V1_POLICY_OFF;
  if (listed)
    return V1_POLICY_ALLOW;
  return json_is_true (ast) ? V1_POLICY_DENY : V1_POLICY_OFF;
}

int
v1_config_settings (struct srv *srv, json_t *cfg, const char *language, struct v1_settings *s,
                    struct resp *out)
{
  struct islet_err err;
  json_t *m;
  size_t i;

  memset (s, 0, sizeof *s);
  s->limits = (struct islet_limits) ISLET_LIMITS_DEFAULT;
  if (islet_limits_take (cfg, ISLET_FACE_V1, &s->limits, NULL, &err) < 0)
    return bad (out, "config.%s", err.msg);
  if (islet_limits_validate (&s->limits, &err) < 0)
    return bad (out, "%s", err.msg);
  s->storage_asked = s->limits.disk_mb != ((struct islet_limits) ISLET_LIMITS_DEFAULT).disk_mb;
  /* the run's own, to the millisecond (the sandbox's is whole seconds) */
  s->timeout_s = json_number_value (json_object_get (cfg, "execution_timeout"));
  if (network_of (srv, cfg, &s->net, out) < 0)
    return -1;
  if (strcmp (language, "python") != 0)
    return 0; /* the Python fields of a key's defaults do not apply */
  if (python_check (srv, cfg, out) < 0)
    return -1;
  s->policy = policy_mode (cfg);
  if (s->policy == V1_POLICY_ALLOW)
    {
      s->imports = islet_xstrdup ("");
      json_array_foreach (json_object_get (cfg, "allowed_imports"), i, m)
      {
        char *next = islet_xasprintf ("%s%s%s", s->imports, i ? "," : "", json_string_value (m));
        free (s->imports);
        s->imports = next;
      }
    }
  return 0;
}

json_t *
v1_config_view (struct srv *srv, json_t *cfg)
{
  json_t *v = json_deep_copy (cfg);
  struct islet_err ignored;
  char have[32];

  json_object_set_new (v, "enable_ast_validation",
                       json_boolean (policy_mode (cfg) != V1_POLICY_OFF));
  json_object_set (v, "timeout", json_object_get (cfg, "execution_timeout"));
  if (!json_is_boolean (json_object_get (cfg, "enable_networking")))
    json_object_set_new (v, "enable_networking",
                         json_boolean (json_array_size (json_object_get (cfg, "network_allow_list"))
                                       || srv->net_default != ISLET_NET_NONE));
  /* unset: any python, which is the image's (as "3.11") */
  if (json_is_null (json_object_get (cfg, "python_version"))
      && python_version_get (srv, have, &ignored) == 0)
    {
      char *dot = strchr (have, '.');
      if (dot && (dot = strchr (dot + 1, '.')))
        *dot = '\0';
      json_object_set_new (v, "python_version", json_string (have));
    }
  return v;
}
