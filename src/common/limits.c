/* The limits table (include/islet/limits.h). */
#include <string.h>

#include "islet/limits.h"

#define AT(m) offsetof (struct islet_limits, m), sizeof (((struct islet_limits *) 0)->m) == 8

/* Each API's name for a limit (include/islet/limits.h: struct
 * islet_limit_name); a limit an API does not name is NONE in it. */
#define NAMES(...)                                                                                 \
  {                                                                                                \
    __VA_ARGS__                                                                                    \
  }
#define NONE NAMES ()
#define DAYTONA(n, per) [ISLET_FACE_DAYTONA] = { n, per, true, NULL }
#define MCP(n, per, desc) [ISLET_FACE_MCP] = { n, per, per > 1, desc }
#define V1(n, per, fraction) [ISLET_FACE_V1] = { n, per, fraction, NULL }

const struct islet_limit_def islet_limit_defs[ISLET_NLIMITS] = {
  { "memory_mb", "memory (MB)", "--memory", "MB", "memory limit", false, AT (memory_mb), 16,
    1u << 20,
    NAMES (DAYTONA ("memory", 1024), MCP ("memory_mb", 1, "memory limit in MiB"),
           V1 ("memory_limit_mb", 1, false)) },
  { "cpu_millis", "cpus (millis)", "--cpus", "N", "CPUs, may be fractional (0.5)", true,
    AT (cpu_millis), 10, 1024000,
    NAMES (DAYTONA ("cpu", 1000), MCP ("cpus", 1000, "CPUs, may be fractional such as 0.5"),
           V1 ("cpu_limit", 1000, true)) },
  { "pids", "pids", "--pids", "N", "processes and threads", false, AT (pids), 8, 1u << 22, NONE },
  { "disk_mb", "disk (MB)", "--disk", "MB", "writable layer and /workspace together", false,
    AT (disk_mb), 1, 1u << 24,
    NAMES (DAYTONA ("disk", 1024), MCP ("disk_mb", 1, "disk space in MiB for files"),
           V1 ("temp_storage_mb", 1, false)) },
  /* /v1's is the run's own timeout, to the millisecond; the sandbox's
     limit is it rounded up */
  { "timeout_s", "timeout (s)", "--timeout", "SEC", "wall-clock limit of each exec (0.5 allowed)",
    true, AT (timeout_s), 1, 86400,
    NAMES (MCP ("timeout_s", 1, "default time limit of each command in seconds"),
           V1 ("execution_timeout", 1, true)) },
  { "output_bytes", "output (bytes)", "--output", "BYTES", "captured output per stream and exec",
    false, AT (output_bytes), 1, 1ull << 32, NONE },
  { "nofile", "open files", "--nofile", "N", "open files per process", false, AT (nofile), 16,
    1u << 20, NONE },
};

const struct islet_limit_def *
islet_limit_named (enum islet_face face, const char *name)
{
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    if (islet_limit_defs[i].face[face].name
        && strcmp (islet_limit_defs[i].face[face].name, name) == 0)
      return &islet_limit_defs[i];
  return NULL;
}

int
islet_limit_take (const struct islet_limit_def *d, enum islet_face face, const json_t *v,
                  uint64_t *out, struct islet_err *err)
{
  const struct islet_limit_name *n = &d->face[face];
  double x = json_number_value (v), y = x * n->per;

  /* rounded up, but not past a float's error: 0.1 CPU is 100 millis (a
     whole number may come as 256.0: JSON does not tell them apart) */
  if (json_is_number (v) && (n->fraction || x == (double) (int64_t) x) && y > 0
      && y <= (double) d->max)
    {
      *out = (uint64_t) (y + (1 - 1e-6));
      if (*out >= d->min && *out <= d->max)
        return 0;
    }
  return islet_fail (err, ISLET_E_INVALID, 0, "%s must be a %snumber from %g to %g", n->name,
                     n->fraction ? "" : "whole ", (double) d->min / n->per,
                     (double) d->max / n->per);
}

int
islet_limits_take (const json_t *obj, enum islet_face face, struct islet_limits *l, bool *given,
                   struct islet_err *err)
{
  if (given)
    *given = false;
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    {
      const struct islet_limit_def *d = &islet_limit_defs[i];
      const json_t *v = d->face[face].name ? json_object_get (obj, d->face[face].name) : NULL;
      uint64_t n;

      if (v == NULL || json_is_null (v))
        continue;
      if (islet_limit_take (d, face, v, &n, err) < 0)
        return -1;
      islet_limit_set (l, d, n);
      if (given)
        *given = true;
    }
  return 0;
}

json_t *
islet_limit_face_json (const struct islet_limit_def *d, enum islet_face face,
                       const struct islet_limits *l)
{
  uint64_t v = islet_limit_get (l, d);
  uint32_t per = d->face[face].per;

  if (per > 1)
    return json_real ((double) v / per);
  return json_integer ((json_int_t) v);
}

uint64_t
islet_limit_get (const struct islet_limits *l, const struct islet_limit_def *d)
{
  const char *p = (const char *) l + d->offset;
  uint64_t v64;
  uint32_t v32;

  if (d->wide)
    {
      memcpy (&v64, p, sizeof v64);
      return v64;
    }
  memcpy (&v32, p, sizeof v32);
  return v32;
}

void
islet_limit_set (struct islet_limits *l, const struct islet_limit_def *d, uint64_t v)
{
  char *p = (char *) l + d->offset;
  uint32_t v32 = (uint32_t) v;

  if (d->wide)
    memcpy (p, &v, sizeof v);
  else
    memcpy (p, &v32, sizeof v32);
}

int
islet_limits_validate (const struct islet_limits *l, struct islet_err *err)
{
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    {
      const struct islet_limit_def *d = &islet_limit_defs[i];
      uint64_t v = islet_limit_get (l, d);

      if (v < d->min || v > d->max)
        return islet_fail (err, ISLET_E_INVALID, 0, "%s limit %llu is out of range (%llu to %llu)",
                           d->what, (unsigned long long) v, (unsigned long long) d->min,
                           (unsigned long long) d->max);
    }
  return 0;
}

bool
islet_limits_equal (const struct islet_limits *a, const struct islet_limits *b)
{
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    if (islet_limit_get (a, &islet_limit_defs[i]) != islet_limit_get (b, &islet_limit_defs[i]))
      return false;
  return true;
}

json_t *
islet_limits_json (const struct islet_limits *l)
{
  json_t *o = json_object ();

  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    json_object_set_new (o, islet_limit_defs[i].key,
                         json_integer ((json_int_t) islet_limit_get (l, &islet_limit_defs[i])));
  return o;
}

void
islet_limits_read (const json_t *j, struct islet_limits *out)
{
  memset (out, 0, sizeof *out);
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    {
      json_int_t v = json_integer_value (json_object_get (j, islet_limit_defs[i].key));
      islet_limit_set (out, &islet_limit_defs[i], v > 0 ? (uint64_t) v : 0);
    }
}
