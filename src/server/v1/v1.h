/* The one-shot API's own pieces (v1_api.c uses them): the config of a run,
 * in the names of the reasoning engine's SandboxConfig (v1_config.c), and
 * the Python import policy (v1_policy.c). */
#ifndef ISLET_SERVER_V1_H
#define ISLET_SERVER_V1_H

#include "server.h"

#define V1_TIMEOUT_DEFAULT_S 30
#define V1_TIMEOUT_MAX_S 300
#define V1_DIR "/tmp/.islet-v1"

enum v1_policy_mode
{
  V1_POLICY_OFF = 0,
  V1_POLICY_ALLOW, /* only the modules of allowed_imports */
  V1_POLICY_DENY,  /* anything but the default deny-list (enable_ast_validation alone) */
};

/* What one run gets from its config, every value checked. */
struct v1_settings
{
  struct islet_limits limits;
  double timeout_s;
  enum v1_policy_mode policy;
  char *imports;        /* ALLOW: the allowed top-level modules, comma-separated */
  bool storage_asked;   /* temp_storage_mb is not the default: the disk must be limited */
  struct islet_net net; /* enable_networking and network_allow_list */
};

void v1_settings_fini (struct v1_settings *s);

/* The caller's config: the built-in defaults under what the key stored
 * with PUT /v1/config.  NULL with a 500 in out. */
json_t *v1_config_load (struct srv *srv, int64_t key_id, struct resp *out);
/* Check every field of over (an object: a request's config or a PUT's
 * body) and set them in cfg; null sets a field back to its built-in
 * default.  A field that is not the config's, a wrong type or a value out
 * of range is a 400 that names it; so is a Python-only field when python
 * is false.  -1 with the 400 in out. */
int v1_config_merge (json_t *cfg, json_t *over, bool python, struct resp *out);
/* Store cfg as the key's defaults (after checking the python version it
 * names against the image); -1 with the error in out. */
int v1_config_store (struct srv *srv, int64_t key_id, json_t *cfg, struct resp *out);
/* The settings of a run of language under cfg; -1 with a 400 in out
 * (limits out of range, a python version the image lacks). */
int v1_config_settings (struct srv *srv, json_t *cfg, const char *language, struct v1_settings *s,
                        struct resp *out);
/* cfg as GET /v1/config and /v1/status show it: every field under the
 * engine's names, enable_ast_validation as the policy's state, and
 * `timeout` (islet's first name of execution_timeout).  New reference. */
json_t *v1_config_view (struct srv *srv, json_t *cfg);

/* v1_policy.c: the files of the policy, written into the sandbox before
 * the program: the ast checker (run first, by itself) and the guard that
 * installs the audit hook and then runs the program. */
extern const char v1_policy_checker[];
extern const char v1_policy_guard[];
#define V1_CHECKER V1_DIR "/policy.py"
#define V1_GUARD V1_DIR "/guard.py"
/* The checker's and the guard's mode argument. */
const char *v1_policy_mode_name (enum v1_policy_mode m);
/* The list the mode goes with: imports (ALLOW) or the default deny-list. */
const char *v1_policy_list (enum v1_policy_mode m, const char *imports);

/* ---- v1_zygote.c: a pooled sandbox's python, waiting for one program ---- */
/* A python started ahead by x in the sandbox id, which writes one NUL byte
 * on stdout and on stderr once it is up and waits: *conn once both came
 * (also code-run's spare, interp_spare.c). */
int v1_zygote_open (struct islet_ctx *ctx, const char *id, const struct islet_exec_req *x,
                    int *conn, struct islet_err *err) ISLET_MUST_CHECK;
/* len bytes of data to its stdin, in frames. */
int v1_zygote_send (int conn, const char *data, size_t len, struct islet_err *err) ISLET_MUST_CHECK;
/* What it runs once sent: its output to on_output, killed at timeout_s
 * (res->timed_out), its result in res; conn is closed either way, -1 when
 * islet failed. */
int v1_zygote_wait (int conn, double timeout_s, islet_output_fn on_output, void *user,
                    struct islet_exec_result *res, struct islet_err *err) ISLET_MUST_CHECK;
/* Start it in the sandbox id, the exec's output limit output_limit (per
 * stream, as a plain run's) plus its own marks; *conn once it waits. */
int v1_zygote_start (struct islet_ctx *ctx, const char *id, uint64_t output_limit, int *conn,
                     struct islet_err *err) ISLET_MUST_CHECK;
/* Kill it, wait for its end (at most 10 s), close conn (-1: nothing). */
void v1_zygote_end (int conn);
/* Whether a run can be its: python, no policy, a stdin a pipe holds. */
bool v1_zygote_fits (const char *language, enum v1_policy_mode policy, const char *stdin_data);
/* Run code with stdin_data in the zygote on conn (waiting since
 * waited_from_ns), its output to on_output only, its result in res as a
 * plain run's; -1 when islet failed.  conn is closed either way. */
int v1_zygote_run (int conn, uint64_t waited_from_ns, const char *code, const char *stdin_data,
                   double timeout_s, islet_output_fn on_output, void *user,
                   struct islet_exec_result *res, struct islet_err *err) ISLET_MUST_CHECK;

/* ---- v1_session.c ---- */
/* /v1/execute's code in the interpreter context of session in the kept,
 * running sandbox sb: the answer in out. */
void v1_session_run (struct req *r, struct sb_ref *sb, const char *session, const char *code,
                     double timeout_s, struct resp *out);
/* The same run, its answer returned ({exit_code, stdout, stderr, truncated,
 * execution_time, status, metadata, error?}); NULL with the error in out.
 * *status: completed, error or timeout.  MCP's execute_code with
 * persistent runs here too (session "mcp"). */
json_t *v1_session_answer (struct srv *srv, const struct sb_ref *sb, const char *session,
                           const char *code, double timeout_s, const char **status,
                           struct resp *out);

#endif
