/* isletd: the code interpreter's contexts (interp.c) and runs
 * (interp_run.c).  A context is one Python process in a sandbox, the
 * driver (interp_driver.py) started through the core's exec with its stdin
 * kept open (islet_exec_stream): confined, limited and killed with the
 * sandbox like any exec.  isletd holds the exec's connection; the driver
 * keeps the globals between runs.  Contexts live as long as isletd and
 * their sandbox: isletd's exit, a stop or a delete ends them. */
#ifndef ISLET_INTERP_H
#define ISLET_INTERP_H

#include "server.h"

#define INTERP_CODE_MAX ((size_t) 1 << 20) /* code of one run */
#define INTERP_PER_SANDBOX 16              /* contexts, the default one included */
#define INTERP_DEFAULT_TIMEOUT_S 600       /* the SDK's default for a run */
#define INTERP_INTERRUPT_GRACE_MS 3000     /* from the interrupt to the kill */
#define INTERP_DEFAULT_ID "default"

/* interp_driver.py and interp_lib.py, made by cmake/embed.cmake; a driver
 * runs as python3 -u -c interp_driver_py interp_lib_py MODE ARGS... */
extern const char interp_driver_py[];
extern const char interp_lib_py[];

struct interp_ctx;

/* A new context in the running sandbox, with the sandbox's variables env:
 * its driver started and ready.
 * cwd NULL: the sandbox's working directory.  name NULL: a new id; else
 * that id (the default context, a /v1 session), replacing a dead one.
 * Returns a reference (interp_put), or NULL with the answer in out. */
struct interp_ctx *interp_create (struct srv *srv, const char *sandbox, char *const *env,
                                  const char *cwd, const char *name, struct resp *out);
/* The context id of sandbox id, referenced; NULL: none. */
struct interp_ctx *interp_get (struct srv *srv, const char *sandbox, const char *id);
void interp_put (struct interp_ctx *c);
/* Kill and forget it: 0, or -1 when there is no such context. */
int interp_delete (struct srv *srv, const char *sandbox, const char *id);
/* The sandbox's contexts as the SDK's InterpreterContext objects, the
 * default one left out (as the SDK documents). */
json_t *interp_list (struct srv *srv, const char *sandbox);
json_t *interp_ctx_json (struct interp_ctx *c);

/* ---- code-run's spare (interp_spare.c) ---- */
/* The exec of the sandbox's code-run spare, a driver in spare mode up and
 * waiting (interp_driver.py), when it was started with env, cwd (NULL: the
 * sandbox's own) and output_limit (per stream, the driver's two bytes
 * added); -1: none fit (the caller runs the code plainly). */
int coderun_spare_take (struct srv *srv, const char *sandbox, char *const *env, const char *cwd,
                        uint64_t output_limit);
/* One for the sandbox's next code-run, started with these in the
 * background, unless it has one. */
void coderun_spare_want (struct srv *srv, const char *sandbox, char *const *env, const char *cwd,
                         uint64_t output_limit);
/* How a python code-run ran, counted for GET /metrics. */
enum code_run_path
{
  CODE_RUN_SPARE,
  CODE_RUN_STALE,
  CODE_RUN_PLAIN,
};
void coderun_count (struct srv *srv, enum code_run_path how);

/* ---- one run (interp_run.c) ---- */
enum interp_outcome
{
  INTERP_DONE,        /* the code ran to its end (an exception is an "error" chunk) */
  INTERP_TIMED_OUT,   /* interrupted at its timeout; the context is kept */
  INTERP_KILLED,      /* did not stop after the interrupt: the context was killed */
  INTERP_DIED,        /* the context's process is gone (why: interp_why) */
  INTERP_CLIENT_GONE, /* the caller left; the run was interrupted */
  INTERP_STOPPING,    /* isletd is stopping */
};

struct interp_run
{
  const char *code;
  json_t *envs;        /* an object of strings, may be NULL */
  double timeout_s;    /* 0: none */
  uint64_t output_max; /* per stream; past it the output is dropped and marked */
  /* every chunk for the caller: {"type": "stdout"|"stderr"|"error"|"chart", ...} */
  void (*on_chunk) (void *user, json_t *chunk);
  /* asked when the process is quiet (every 100 ms): whether the caller left */
  bool (*gone) (void *user);
  void *user;
};

/* Run code in c (one run at a time: a second waits for the first). */
enum interp_outcome interp_run (struct srv *srv, struct interp_ctx *c,
                                const struct interp_run *run);
/* Why a dead context died, for a message ("" while it lives). */
const char *interp_why (struct interp_ctx *c, char *buf, size_t size);
bool interp_dead (struct interp_ctx *c);
/* A dead context whose death was told once already is replaced by the
 * next run of a context the caller does not name (the default, a session). */
bool interp_death_told (struct interp_ctx *c);
void interp_tell_death (struct interp_ctx *c);

#endif
