/* Talking to a running sandbox's supervisor: run commands and work with files.
 * Every path is resolved inside the sandbox, by an agent that runs in the
 * sandbox's namespaces with its credentials and seccomp filter; a relative
 * path is relative to /workspace. */
#ifndef ISLET_CLIENT_H
#define ISLET_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "islet/err.h"
#include "islet/sandbox.h"

enum islet_stream
{
  ISLET_STDOUT = 1,
  ISLET_STDERR = 2,
};

/* Called with output as it arrives (may be NULL: output is only collected). */
typedef void (*islet_output_fn) (enum islet_stream stream, const char *data, size_t len,
                                 void *user);

struct islet_exec_req
{
  char *const *argv;      /* argv[0] is looked up in PATH inside the sandbox */
  char *const *env;       /* "K=V" entries added to the default environment; may be NULL */
  const char *cwd;        /* NULL: /workspace */
  const char *stdin_data; /* may be NULL */
  size_t stdin_len;
  uint32_t timeout_ms;   /* 0: the sandbox's default */
  uint64_t output_limit; /* per stream; 0: the sandbox's default */
  islet_output_fn on_output;
  void *user;
  bool uncollected; /* output goes to on_output only: out and errout stay "" */
  /* islet_exec_open only: on a terminal of pty_cols x pty_rows (both > 0),
   * else with stdin fed as it runs; detach: without a terminal, a client
   * that leaves ends the command's stdin, not the command.  No timeout
   * unless timeout_ms says one. */
  unsigned pty_cols, pty_rows;
  bool detach;
};

struct islet_exec_result
{
  int exit_code;      /* 128+signal when killed by a signal; 126/127 when it could not start */
  int signal;         /* 0 if it exited */
  char *out, *errout; /* collected output, NUL-terminated, malloc'd */
  size_t out_len, err_len;
  uint64_t wall_ms, cpu_ms, memory_peak_bytes;
  bool timed_out, oom_killed, truncated;
  char error[256]; /* why it could not start, "" otherwise */
};

void islet_exec_result_fini (struct islet_exec_result *r);

/* Run a command.  Returns 0 whenever the command ran or was found not to be
 * runnable (see exit_code and error); -1 only when islet itself failed. */
int islet_exec (struct islet_ctx *ctx, const char *id, const struct islet_exec_req *req,
                struct islet_exec_result *out, struct islet_err *err) ISLET_MUST_CHECK;

/* A sandbox made for one command and removed after it (`islet run`;
 * src/client/oneshot.c).  islet_run_start makes it: through a remote
 * backend, an ordinary sandbox (oneshot false: run the command with
 * islet_exec and remove it); otherwise a one-shot sandbox whose init runs
 * req's command itself, asked with the start, or a sandbox taken from the
 * warm pool whose init is asked to run it the same way (oneshot true; one
 * that refuses is left to islet_exec, as oneshot false).  Then islet_run_wait takes its output and
 * result as islet_exec would, and islet_run_end returns once no process of the sandbox runs and it
 * is withdrawn (no longer listed, its name free to take); its removal goes on in its supervisor,
 * without the caller (unless removed: an islet_sandbox_destroy did it already, as on Ctrl-C).  A
 * sandbox taken from the warm pool asks for a refill, which islet_run_refill starts: call it once
 * the command's result is in (so that the refill's work is not beside the command's); islet_run_end
 * starts it if it was not. */
struct islet_run
{
  char id[ISLET_ID_LEN + 1];
  bool oneshot;
  bool answered;   /* the one-shot supervisor sent the command's result */
  bool refill_due; /* taken from the warm pool: its refill not started yet */
  int conn;        /* the one-shot supervisor's socket */
  int pid;         /* that supervisor, the caller's child */
  int fill_pid;    /* the child that detached the refill, reaped by islet_run_end */
  bool pooled;     /* oneshot, from the warm pool: conn is its supervisor's ctl.sock */
  struct islet_exec_req pooled_req; /* from the warm pool: the request, with the run's
                                       timeout and output limit in it */
  struct islet_ctx *ctx;
};
int islet_run_start (struct islet_ctx *ctx, const struct islet_create_opts *opts,
                     const struct islet_exec_req *req, struct islet_run *run,
                     struct islet_err *err) ISLET_MUST_CHECK;
int islet_run_wait (struct islet_run *run, const struct islet_exec_req *req,
                    struct islet_exec_result *out, struct islet_err *err) ISLET_MUST_CHECK;
int islet_run_end (struct islet_ctx *ctx, struct islet_run *run, bool removed,
                   struct islet_err *err) ISLET_MUST_CHECK;
void islet_run_refill (struct islet_ctx *ctx, struct islet_run *run);

/* Start a command that takes input as it runs: *conn is its connection,
 * for islet_exec_input (keystrokes or stdin), islet_pty_resize,
 * islet_exec_kill and islet_exec_next, closed by the caller; closing it
 * kills the command (unless detach).  On a terminal, it returns once the
 * command has its terminal (a command that could not start is an error
 * with its reason). */
int islet_exec_open (struct islet_ctx *ctx, const char *id, const struct islet_exec_req *req,
                     int *conn, struct islet_err *err) ISLET_MUST_CHECK;
/* len 0: the end of stdin (without a terminal; on one, send Ctrl-D). */
int islet_exec_input (int conn, const void *data, size_t len,
                      struct islet_err *err) ISLET_MUST_CHECK;
int islet_pty_resize (int conn, unsigned cols, unsigned rows,
                      struct islet_err *err) ISLET_MUST_CHECK;
/* On a terminal (tty), kill every process of the command (its exec's
 * group).  Without a terminal the handler reads no such request: close the
 * connection instead, which kills the command unless it was detached. */
int islet_exec_kill (int conn, struct islet_err *err) ISLET_MUST_CHECK;
/* What comes next: 1 with output in *data (malloc'd, *len bytes; a
 * terminal's comes as ISLET_STDOUT), 0 with the final result in *res (the
 * command ended), -1 on an error. */
int islet_exec_next (int conn, enum islet_stream *stream, char **data, size_t *len,
                     struct islet_exec_result *res, struct islet_err *err) ISLET_MUST_CHECK;

/* Whole-file read into memory, refused past max bytes (0: 10 MiB). */
int islet_fs_read (struct islet_ctx *ctx, const char *id, const char *path, size_t max, char **data,
                   size_t *len, struct islet_err *err) ISLET_MUST_CHECK;

/* Atomic write (temporary file + rename), creating missing parent directories. */
int islet_fs_write (struct islet_ctx *ctx, const char *id, const char *path, const void *data,
                    size_t len, unsigned mode, struct islet_err *err) ISLET_MUST_CHECK;

/* Stream a host fd into a sandbox file (atomic), or a sandbox file to a host fd;
 * no size limit but the disk's. */
int islet_fs_copy_in (struct islet_ctx *ctx, const char *id, int host_fd, const char *path,
                      unsigned mode, struct islet_err *err) ISLET_MUST_CHECK;
int islet_fs_copy_out (struct islet_ctx *ctx, const char *id, const char *path, int host_fd,
                       struct islet_err *err) ISLET_MUST_CHECK;

int islet_fs_remove (struct islet_ctx *ctx, const char *id, const char *path, bool recursive,
                     struct islet_err *err) ISLET_MUST_CHECK;
int islet_fs_mkdir (struct islet_ctx *ctx, const char *id, const char *path, unsigned mode,
                    struct islet_err *err) ISLET_MUST_CHECK;
int islet_fs_move (struct islet_ctx *ctx, const char *id, const char *from, const char *to,
                   struct islet_err *err) ISLET_MUST_CHECK;

/* {"name","path","size","mode","uid","gid","mtime","is_dir","type"} for one path. */
int islet_fs_stat (struct islet_ctx *ctx, const char *id, const char *path, json_t **out,
                   struct islet_err *err) ISLET_MUST_CHECK;

/* An array of stat objects, descending depth levels (1: the directory only). */
int islet_fs_list (struct islet_ctx *ctx, const char *id, const char *path, unsigned depth,
                   json_t **out, struct islet_err *err) ISLET_MUST_CHECK;

/* Give path (its last component not followed) to uid and gid as the
 * sandbox numbers them (0 to 65535; -1: unchanged), then set its mode
 * (-1: unchanged; after the owner, whose change clears set-id bits; a link
 * is followed for it, as chmod does).  Done inside the sandbox by a handler
 * that keeps CAP_CHOWN and CAP_FOWNER there and nothing else. */
int islet_fs_chown (struct islet_ctx *ctx, const char *id, const char *path, int64_t uid,
                    int64_t gid, int mode, struct islet_err *err) ISLET_MUST_CHECK;

/* A TCP socket in the network namespace of the running sandbox id, not
 * connected (close-on-exec): connected to 127.0.0.1:PORT it reaches that
 * port on the sandbox's own loopback and nothing else of the host.  A local
 * state directory only; ISLET_E_CONFLICT when the sandbox is not running or
 * is paused. */
int islet_sandbox_net_socket (struct islet_ctx *ctx, const char *id, int *fd,
                              struct islet_err *err) ISLET_MUST_CHECK;

#endif
