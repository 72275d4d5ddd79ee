/* A sandbox's limits, and the one table that names them: the range each
 * may take, its name in islet's JSON (answers, config.json, isletd's own
 * fields), its CLI flag with its help (the CLI's options are made from
 * it: src/cli/opts.c) and its name in each API that has one (Daytona's
 * create and resize fields, MCP's create_sandbox limits, /v1's config: each
 * reads them with islet_limits_take).  A new limit is a member here and a
 * row in src/common/limits.c; the kernel side of it is the runtime's. */
#ifndef ISLET_LIMITS_H
#define ISLET_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "islet/err.h"

struct islet_limits
{
  uint64_t memory_mb;    /* memory, swap held to the same value */
  uint32_t cpu_millis;   /* 1000 = one CPU */
  uint32_t pids;         /* processes and threads */
  uint64_t disk_mb;      /* writable layer and /workspace together */
  uint32_t timeout_s;    /* default wall-clock limit of one exec */
  uint64_t output_bytes; /* captured output per stream and exec */
  uint32_t nofile;       /* open files per process */
};

#define ISLET_LIMITS_DEFAULT                                                                       \
  {                                                                                                \
    .memory_mb = 1024, .cpu_millis = 1000, .pids = 512, .disk_mb = 3072, .timeout_s = 30,          \
    .output_bytes = 1 << 20, .nofile = 1024                                                        \
  }

/* The APIs that name limits in their own words and units. */
enum islet_face
{
  ISLET_FACE_DAYTONA, /* the control plane's create and resize: cpu, memory, disk */
  ISLET_FACE_MCP,     /* create_sandbox's limits argument */
  ISLET_FACE_V1,      /* /v1's config (the reasoning engine's SandboxConfig) */
  ISLET_NFACES
};

/* A limit's name in one API (NULL: the API does not have it), in a
 * positive number of the API's units, each per of the limit's (1000 millis
 * in a CPU, 1024 MB in a GB); fraction: the API takes it with decimals.
 * desc: the API's words for it, where the API describes its fields (MCP's
 * tool schema). */
struct islet_limit_name
{
  const char *name;
  uint32_t per;
  bool fraction;
  const char *desc;
};

struct islet_limit_def
{
  const char *key;  /* in islet's JSON: "memory_mb" */
  const char *what; /* in messages: "memory (MB)" */
  const char *flag; /* the CLI's option: "--memory" */
  const char *arg;  /* the CLI's placeholder of its value: "MB" */
  const char *help; /* the CLI's line on it */
  bool decimal;     /* the CLI takes it with up to 3 decimals: cpus (the limit is in
                       thousandths), timeout (kept in milliseconds for the command) */
  size_t offset;    /* in struct islet_limits */
  bool wide;        /* a uint64_t, else a uint32_t */
  uint64_t min, max;
  struct islet_limit_name face[ISLET_NFACES]; /* indexed by enum islet_face */
};

/* The table, ISLET_NLIMITS rows. */
#define ISLET_NLIMITS 7
extern const struct islet_limit_def islet_limit_defs[ISLET_NLIMITS];

/* The row that face names name, or NULL. */
const struct islet_limit_def *islet_limit_named (enum islet_face face, const char *name);

/* One value v of a face's field for limit d into *out, in the limit's
 * units (rounded up: a limit is never below what was asked); a value that
 * is not a number (a whole one where the face takes no fraction) or is out
 * of the limit's range is ISLET_E_INVALID naming the face's field and the
 * range in the face's units. */
int islet_limit_take (const struct islet_limit_def *d, enum islet_face face, const json_t *v,
                      uint64_t *out, struct islet_err *err) ISLET_MUST_CHECK;
/* Every limit the face names in obj (absent or null: l's unchanged) into l;
 * *given (may be NULL): whether any was.  Errors as islet_limit_take. */
int islet_limits_take (const json_t *obj, enum islet_face face, struct islet_limits *l, bool *given,
                       struct islet_err *err) ISLET_MUST_CHECK;
/* The value of d in l in face's units: a real where the face takes
 * decimals of a larger unit (cpu 1.0), else an integer (new reference). */
json_t *islet_limit_face_json (const struct islet_limit_def *d, enum islet_face face,
                               const struct islet_limits *l);

uint64_t islet_limit_get (const struct islet_limits *l, const struct islet_limit_def *d);
void islet_limit_set (struct islet_limits *l, const struct islet_limit_def *d, uint64_t v);

/* Check every limit is in range; err names the first one that is not. */
int islet_limits_validate (const struct islet_limits *l, struct islet_err *err) ISLET_MUST_CHECK;

bool islet_limits_equal (const struct islet_limits *a, const struct islet_limits *b);

/* {"memory_mb": .., "cpu_millis": .., ...}, every limit by its key. */
json_t *islet_limits_json (const struct islet_limits *l);
/* The same object read back; an absent or non-integer member is 0. */
void islet_limits_read (const json_t *j, struct islet_limits *out);

#endif
