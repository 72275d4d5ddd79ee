/* isletd: the toolbox routes that run tools inside a sandbox (sessions,
 * git, file search), and the parsers of what those tools print.  Every
 * tool runs inside the sandbox through the core's exec (bash, git, grep,
 * find, perl from the sandbox's /usr); isletd only builds argv and reads
 * the output.  The parsers take untrusted bytes (a sandbox can print
 * anything) and each has a libFuzzer target in tests/fuzz. */
#ifndef ISLET_TOOLBOX_H
#define ISLET_TOOLBOX_H

#include "server.h"

/* ---- toolbox_process.c: output collection shared by the exec routes ---- */
struct tb_output
{
  char *data; /* stdout and stderr in the order they arrived */
  size_t len, cap;
};
/* an islet_output_fn; user is a struct tb_output */
void tb_output_add (enum islet_stream stream, const char *data, size_t len, void *user);
/* bytes as a JSON string (islet_json_bytes): a byte that is not UTF-8 is U+FFFD */
json_t *tb_json_text (const char *data, size_t len);
/* islet_exec_next on the connection of an islet_exec_open once it has
 * something, waiting until deadline_ns (islet_now_ns): its 1, 0 or -1, or
 * 2 when nothing came by then. */
int tb_exec_next_until (int conn, uint64_t deadline_ns, enum islet_stream *stream, char **data,
                        size_t *len, struct islet_exec_result *res, struct islet_err *err);

/* ---- toolbox_files.c ---- */
/* A required query parameter, or NULL with a 400 in out. */
const char *tb_query (struct req *r, struct resp *out, const char *name);
/* ?mode= as octal permission bits (dflt when absent); -1 with a 400 in out. */
int tb_mode_query (struct req *r, struct resp *out, unsigned dflt, unsigned *mode);

/* ---- toolbox_sh.c: one tool run inside a sandbox ---- */
struct sh_run
{
  char *const *argv;
  json_t *envs;               /* extra variables (an object), may be NULL */
  const char *stdin_data;     /* may be NULL */
  uint32_t timeout_ms;        /* 0: SH_TIMEOUT_MS */
  uint64_t output_limit;      /* per stream; 0: SH_OUTPUT_MAX */
  struct tb_output *combined; /* may be NULL */
};
#define SH_TIMEOUT_MS (360u * 1000u) /* Daytona's default for a command */
#define SH_OUTPUT_MAX ((uint64_t) 8 << 20)

/* Run rr inside the running sandbox sb; 0 when it ran (whatever its exit
 * code), -1 with the answer in out (islet failed, or 408 on a timeout). */
int sh_run (struct sb_ref *sb, const struct sh_run *rr, struct islet_exec_result *res,
            struct resp *out);
/* The last line of a tool's stderr (trimmed), for an error message. */
void sh_last_line (const char *s, size_t len, char *buf, size_t size);

/* ---- toolbox_parse.c: what the tools print, parsed (no I/O) ---- */
/* Session records: "S\0<sid>\0" then "C\0<id>\0<command>\0<exit>\0" per
 * command: [{sessionId, commands:[{id, command, exitCode?}]}].  Records
 * that are cut or malformed end the parse. */
json_t *parse_session_dump (const char *s, size_t len);
/* "<n>\n", n bytes of stdout, then the combined output: {stdout, output}. */
json_t *parse_session_logs (const char *s, size_t len);
/* `git status --porcelain=v1 -b -z`: {currentBranch, fileStatus, ahead,
 * behind, branchPublished, upstream?, detached}. */
json_t *parse_git_status (const char *s, size_t len);
/* `git branch --format=%(HEAD)%(refname:short)`: {branches, current?}. */
json_t *parse_git_branches (const char *s, size_t len);
/* `git config -z --get-regexp '^remote\..*\.url$'`: "remote.<name>.url\n<url>\0"
 * per entry: {remotes:[{name, url}]}. */
json_t *parse_git_remotes (const char *s, size_t len);
/* `grep -rnIZ`: "<file>\0<line>:<content>\n"...: [{file, line, content}],
 * at most max entries. */
json_t *parse_grep (const char *s, size_t len, size_t max);
/* The id (third field) of name in an /etc/passwd or /etc/group text, or -1
 * when no well-formed line names it. */
long parse_id_entry (const char *s, size_t len, const char *name);
/* NUL-terminated strings: an array of them, at most max. */
json_t *parse_nul_list (const char *s, size_t len, size_t max);
/* Is s a session id isletd accepts (it names a directory in the sandbox)? */
bool session_id_ok (const char *s);

/* ---- toolbox_session.c ---- */
/* A new random id: a version 4 UUID, lower-case hex. */
void tb_new_id (char id[37]);
void tb_session_create (struct req *r, struct resp *out);
void tb_session_list (struct req *r, struct resp *out);
void tb_session_get (struct req *r, struct resp *out);
void tb_session_delete (struct req *r, struct resp *out);
void tb_session_exec (struct req *r, struct resp *out);
void tb_session_command (struct req *r, struct resp *out);
void tb_session_logs (struct req *r, struct resp *out);
void tb_session_input (struct req *r, struct resp *out);
/* toolbox_session_input.c: an async command's exec whose stdin isletd
 * holds: 0 started, 1 no room (start it without a stdin), -1 failed. */
int held_start (struct sb_ref *sb, char *const *argv, const char *sid, const char *cid,
                struct islet_err *err);
/* Write to the stdin of a command started by held_start; ISLET_E_NOTFOUND
 * when there is none (it ended, or never had one). */
int held_input (const char *sandbox, const char *sid, const char *cid, const char *data, size_t len,
                struct islet_err *err);
/* A WebSocket request to .../logs?follow=true: 0 with what to run once it
 * is upgraded, or -1 with the answer in out. */
int tb_session_follow_begin (struct req *r, struct resp *out, ws_open_fn *fn, void **arg);

/* ---- toolbox_pty.c: PTY sessions ---- */
/* The subprotocol the SDK offers to say it reads the "exited" message. */
#define PTY_EXIT_CONTROL "X-Daytona-Pty-Exit-Control"
int tb_pty_create_begin (struct req *r, struct resp *out, ws_open_fn *fn, void **arg);
int tb_pty_connect_begin (struct req *r, struct resp *out, ws_open_fn *fn, void **arg);
/* A refused PTY WebSocket: the SDK's control message with the reason. */
void tb_pty_refuse (struct ws *ws, const char *message);
void tb_pty_list (struct req *r, struct resp *out);
void tb_pty_create (struct req *r, struct resp *out);
void tb_pty_info (struct req *r, struct resp *out);
void tb_pty_kill (struct req *r, struct resp *out);
void tb_pty_resize (struct req *r, struct resp *out);
/* isletd stops: every PTY's command is killed, and its threads waited for
 * by srv_streams_wait. */
void tb_pty_shutdown (void);

/* ---- interp_api.c: the code interpreter ---- */
void tb_interp_context_create (struct req *r, struct resp *out);
void tb_interp_context_list (struct req *r, struct resp *out);
void tb_interp_context_delete (struct req *r, struct resp *out);
/* runCode's WebSocket: 0 with what to run once upgraded, or -1 with the
 * answer in out. */
int tb_interp_ws_begin (struct req *r, struct resp *out, ws_open_fn *fn, void **arg);

/* ---- toolbox_lsp.c: language servers (see toolbox_lsp.h) ---- */
void tb_lsp_start (struct req *r, struct resp *out);
void tb_lsp_stop (struct req *r, struct resp *out);
void tb_lsp_did_open (struct req *r, struct resp *out);
void tb_lsp_did_close (struct req *r, struct resp *out);
void tb_lsp_completions (struct req *r, struct resp *out);
void tb_lsp_document_symbols (struct req *r, struct resp *out);
void tb_lsp_workspace_symbols (struct req *r, struct resp *out);
/* isletd stops: every language server is killed. */
void tb_lsp_shutdown (void);

/* ---- toolbox_git.c ---- */
void tb_git_clone (struct req *r, struct resp *out);
void tb_git_status (struct req *r, struct resp *out);
void tb_git_add (struct req *r, struct resp *out);
void tb_git_commit (struct req *r, struct resp *out);
void tb_git_push (struct req *r, struct resp *out);
void tb_git_pull (struct req *r, struct resp *out);
void tb_git_branches (struct req *r, struct resp *out);
void tb_git_branch_create (struct req *r, struct resp *out);
void tb_git_branch_delete (struct req *r, struct resp *out);
void tb_git_checkout (struct req *r, struct resp *out);
void tb_git_init (struct req *r, struct resp *out);
void tb_git_reset (struct req *r, struct resp *out);
void tb_git_restore (struct req *r, struct resp *out);
void tb_git_remote_add (struct req *r, struct resp *out);
void tb_git_remotes (struct req *r, struct resp *out);
void tb_git_config_set (struct req *r, struct resp *out);
void tb_git_config_get (struct req *r, struct resp *out);
void tb_git_configure_user (struct req *r, struct resp *out);

/* ---- toolbox_env.c ---- */
void tb_env_update (struct req *r, struct resp *out);

/* ---- toolbox_search.c ---- */
void tb_files_find (struct req *r, struct resp *out);
void tb_files_search (struct req *r, struct resp *out);
void tb_files_replace (struct req *r, struct resp *out);
void tb_files_permissions (struct req *r, struct resp *out);

#endif
