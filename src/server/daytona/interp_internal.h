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

/* The table of contexts, and the spares (interp_spare.c). */
struct interp
{
  pthread_mutex_t lock; /* the list, each context's refs, the spares */
  struct interp_ctx *head;
  size_t n;
  struct spare *spares;
  size_t n_spares;
  pthread_cond_t spare_done; /* a spare's start ended */
  /* python code-runs by how they ran (atomic): on the spare, sent plain
     by the spare's stale answer, plain for want of a fit spare */
  unsigned long long code_runs[3];
};

typedef void (*interp_line_fn) (void *user, json_t *msg);

/* A context not yet started nor listed (one reference: the caller's). */
struct interp_ctx *ictx_new (struct interp *t, const char *sandbox, const char *cwd);
void ictx_free (struct interp_ctx *c);
/* The driver started in the sandbox (in c->cwd, NULL: the sandbox's
 * own), its "ready" read; -1 with the answer in out. */
int ictx_start (struct islet_ctx *ctx, const char *sandbox, char *const *env, struct interp_ctx *c,
                struct resp *out);
/* What the driver says when it is ready (or refused an adoption). */
struct ictx_ready
{
  bool ready, refused;
  char cwd[4096];
};
void ictx_on_ready (void *user, json_t *msg);

/* ---- spares (interp_spare.c): a driver started ahead, per sandbox ---- */

/* The sandbox's spare made a context in cwd (NULL: where it is), started
 * with env; NULL when there is none fit (the caller starts one). */
struct interp_ctx *spare_take (struct srv *srv, const char *sandbox, char *const *env,
                               const char *cwd);
/* A spare for the sandbox, started in the background unless it has one. */
void spare_want (struct srv *srv, const char *sandbox, char *const *env);
void spare_shutdown (struct interp *t);
/* coderun_spare_take and coderun_spare_want are in interp.h (code-run's) */
void spare_free_all (struct interp *t);

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
