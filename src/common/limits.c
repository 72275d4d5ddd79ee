/* The limits table (include/islet/limits.h). */
#include <string.h>

#include "islet/limits.h"

#define AT(m) offsetof (struct islet_limits, m), sizeof (((struct islet_limits *) 0)->m) == 8

const struct islet_limit_def islet_limit_defs[ISLET_NLIMITS] = {
  { "memory_mb", "memory (MB)", "--memory", "MB", "memory limit", false, AT (memory_mb), 16,
    1u << 20, "memory", 1024 },
  { "cpu_millis", "cpus (millis)", "--cpus", "N", "CPUs, may be fractional (0.5)", true,
    AT (cpu_millis), 10, 1024000, "cpu", 1000 },
  { "pids", "pids", "--pids", "N", "processes and threads", false, AT (pids), 8, 1u << 22, NULL,
    0 },
  { "disk_mb", "disk (MB)", "--disk", "MB", "writable layer and /workspace together", false,
    AT (disk_mb), 1, 1u << 24, "disk", 1024 },
  { "timeout_s", "timeout (s)", "--timeout", "SEC", "wall-clock limit of each exec (0.5 allowed)",
    true, AT (timeout_s), 1, 86400, NULL, 0 },
  { "output_bytes", "output (bytes)", "--output", "BYTES", "captured output per stream and exec",
    false, AT (output_bytes), 1, 1ull << 32, NULL, 0 },
  { "nofile", "open files", "--nofile", "N", "open files per process", false, AT (nofile), 16,
    1u << 20, NULL, 0 },
};

const struct islet_limit_def *
islet_limit_daytona (const char *name)
{
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    if (islet_limit_defs[i].daytona && strcmp (islet_limit_defs[i].daytona, name) == 0)
      return &islet_limit_defs[i];
  return NULL;
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
