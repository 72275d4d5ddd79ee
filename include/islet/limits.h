/* A sandbox's limits, and the one table that names them: the range each
 * may take, its name in islet's JSON (answers, config.json, isletd's own
 * fields) and its CLI flag with its help (the CLI's options are made from
 * it: src/cli/opts.c).  A new limit is a member here and a row in
 * src/common/limits.c; the kernel side of it is the runtime's. */
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
  /* Daytona's field for it ("cpu"; NULL: none), a positive number of its
   * units, each this many of the limit's (1000 millis in a CPU, 1024 MB
   * in a GB) */
  const char *daytona;
  uint32_t daytona_per;
};

/* The table, ISLET_NLIMITS rows. */
#define ISLET_NLIMITS 7
extern const struct islet_limit_def islet_limit_defs[ISLET_NLIMITS];

/* The row whose Daytona field is name, or NULL. */
const struct islet_limit_def *islet_limit_daytona (const char *name);

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
