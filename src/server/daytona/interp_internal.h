/* What interp.c and interp_run.c share: a context, and the driver's lines. */
#ifndef ISLET_INTERP_INTERNAL_H
#define ISLET_INTERP_INTERNAL_H

#include "interp.h"

/* One line of the driver's (a chart is the longest: its PNG in base64) */
#define INTERP_LINE_MAX ((size_t) 16 << 20)

struct interp_ctx
{
  struct interp_ctx *next;
  struct interp *t;
  unsigned refs; /* under t->lock: the list's, and each holder's */
  char sandbox[ISLET_ID_LEN + 1];
  char id[64];
  char *cwd; /* as the driver found it (NULL until then: the sandbox's own) */
  int64_t created;
  pthread_mutex_t run_lock; /* held by the run under way */
  pthread_mutex_t state;    /* guards the four below */
  int fd;                   /* the exec's connection; shut once dead, closed at the end */
  bool dead, told;
  char why[256];
  /* the run's, under run_lock */
  uint64_t seq;
  char *line; /* a line of the driver's, not yet whole */
  size_t line_len, line_cap;
  bool line_over;
};

typedef void (*interp_line_fn) (void *user, json_t *msg);

void ictx_kill (struct interp_ctx *c, const char *why);
/* What the driver sent until deadline_ns, each line to fn.  1: something
 * came; 0: nothing by then; -1: the process is gone (c is dead). */
int ictx_pump (struct interp_ctx *c, uint64_t deadline_ns, interp_line_fn fn, void *user);
/* Bytes of the driver's stdout: each whole line to fn as a JSON object
 * (no I/O: the parser of the driver's untrusted lines, fuzzed). */
void ictx_take_bytes (struct interp_ctx *c, const char *data, size_t len, interp_line_fn fn,
                      void *user);
/* Bytes as the driver's stdout during a run of c (c->seq), its chunks to
 * run->on_chunk, the cut marks at the end; whether the run completed.
 * For the fuzz target: interp_run's own parsing, without a process. */
bool interp_feed (struct interp_ctx *c, const struct interp_run *run, const char *data, size_t len);
/* msg as one line on the driver's stdin; -1: the process is gone. */
int ictx_send (struct interp_ctx *c, json_t *msg);
/* The chunk that says a line was too long to keep. */
json_t *interp_line_dropped (uint64_t run);

#endif
