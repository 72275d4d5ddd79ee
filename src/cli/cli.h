/* The islet command-line interface: what its subcommands share.
 *
 * Every subcommand is a function `int cmd_X (struct cli *, int argc, char **argv)`
 * that returns the process's exit status.  Options are described by a table
 * of struct cli_opt and parsed by cli_parse; errors are reported once, by
 * cli_report, as a line on stderr or as a JSON object on stdout. */
#ifndef ISLET_CLI_H
#define ISLET_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "islet/client.h"
#include "islet/err.h"
#include "islet/proto.h"
#include "islet/report.h"
#include "islet/sandbox.h"
#include "islet/util.h"

/* Exit statuses.  run and exec pass the command's own status through, so
 * islet's failures there use the values docker run uses. */
enum
{
  CLI_EXIT_OK = 0,
  CLI_EXIT_FAILED = 1,   /* the operation failed: no such sandbox, wrong state, system error */
  CLI_EXIT_USAGE = 2,    /* bad usage or invalid input */
  CLI_EXIT_OWN = 125,    /* run/exec: islet itself failed */
  CLI_EXIT_NOEXEC = 126, /* run/exec: the command could not be executed */
  CLI_EXIT_NOTFOUND = 127,
};

struct cli
{
  const char *state_dir;
  const char *url;       /* remote mode: a running isletd's URL; NULL: local */
  bool json;             /* set by a --json option, even one seen after a parse error */
  bool own_status;       /* run/exec: every islet failure exits CLI_EXIT_OWN */
  struct islet_ctx *ctx; /* opened on first use */
};

/* Open the state directory, or connect to isletd in remote mode, on first use. */
struct islet_ctx *cli_ctx (struct cli *cli, struct islet_err *err);
/* Remote mode on url: cli->ctx set, with $ISLET_API_KEY or <state-dir>/api-key. */
int cli_open_remote (struct cli *cli, const char *url, struct islet_err *err) ISLET_MUST_CHECK;
/* The URL an isletd serving this state directory wrote (<state-dir>/isletd.url),
 * malloc'd, or NULL. */
char *cli_local_server (struct cli *cli);

/* ---- opts.c: table-driven option parsing ---- */

enum cli_opt_kind
{
  CLI_OPT_BOOL,   /* bool, set to true */
  CLI_OPT_STR,    /* const char *, borrowed from argv */
  CLI_OPT_LIST,   /* struct cli_list, appended to */
  CLI_OPT_U32,    /* uint32_t, decimal, at most max (0: UINT32_MAX) */
  CLI_OPT_U64,    /* uint64_t, decimal, at most max (0: UINT64_MAX) */
  CLI_OPT_MILLI,  /* uint32_t thousandths of a decimal with up to 3 places ("0.5" -> 500) */
  CLI_OPT_MODE,   /* unsigned, octal permission bits */
  CLI_OPT_JSON,   /* sets cli->json; no field */
  CLI_OPT_LIMITS, /* every limit's flag (islet_limit_defs) into a struct cli_limits */
  CLI_OPT_LIMIT,  /* one limit's flag, help and kind from the row whose key is .name, into a
                     field of the limit's type (CLI_LIMIT_OPT) */
};

struct cli_opt
{
  const char *name; /* long name without the dashes; NULL ends a table */
  char short_name;  /* 0: none */
  enum cli_opt_kind kind;
  size_t offset;   /* of the field in the command's argument struct */
  const char *arg; /* placeholder shown in --help; NULL for options without a value */
  const char *help;
  uint64_t max;
};

/* Options are chained so a command can share a group (the limit flags). */
struct cli_spec
{
  const char *name;              /* as the user typed it after "islet" */
  const char *usage;             /* usage line after "islet "; NULL: "NAME [OPTIONS] ARGS" */
  const char *args;              /* positional part of the usage line: "ID [-- CMD...]" */
  const char *about;             /* one paragraph for --help */
  const struct cli_opt *opts[3]; /* tables, NULL-terminated list */
  size_t min_pos, max_pos;       /* positional counts; CLI_MANY: no limit */
  int raw_from;                  /* positional from which nothing is parsed; -1: never */
  void (*more_help) (void);      /* printed after the options (main: commands; fs: verbs) */
};

#define CLI_MANY SIZE_MAX
#define CLI_UNSET UINT32_MAX /* a uint32_t option that was not given */

struct cli_list
{
  char **v; /* NULL-terminated; the strings are borrowed from argv */
  size_t n;
};
void cli_list_fini (struct cli_list *l);

struct cli_pos
{
  char **v; /* borrowed from argv */
  size_t n;
};
void cli_pos_fini (struct cli_pos *p);
#define cleanup_pos __attribute__ ((cleanup (cli_pos_fini)))

/* Parse argv[0..argc) into *args and *pos.  Returns 0, -1 with *err set,
 * or 1 when --help was asked for and printed. */
int cli_parse (struct cli *cli, const struct cli_spec *spec, int argc, char **argv, void *args,
               struct cli_pos *pos, struct islet_err *err);
void cli_print_help (const struct cli_spec *spec);

/* Parse one number the way the option table does; opt names it in errors. */
int cli_parse_number (const char *opt, const char *s, enum cli_opt_kind kind, uint64_t max,
                      uint64_t *out, struct islet_err *err) ISLET_MUST_CHECK;

/* The limit flags of run and create, one option per row of the limits
 * table, into a struct cli_limits member of type. */
struct cli_limits
{
  struct islet_limits l;
  uint32_t timeout_ms; /* --timeout, finer than l.timeout_s; CLI_UNSET if not given */
};
#define CLI_LIMIT_OPTS(type, member)                                                               \
  {                                                                                                \
    "", 0, CLI_OPT_LIMITS, offsetof (type, member), NULL, NULL, 0                                  \
  }
/* One limit's flag, the row of islet_limit_defs whose key is key, into
 * member of type (a field of the limit's type: resize's). */
#define CLI_LIMIT_OPT(type, member, key)                                                           \
  {                                                                                                \
    key, 0, CLI_OPT_LIMIT, offsetof (type, member), NULL, NULL, 0                                  \
  }
#define CLI_LIMITS_DEFAULT                                                                         \
  {                                                                                                \
    .l = ISLET_LIMITS_DEFAULT, .timeout_ms = CLI_UNSET                                             \
  }

/* Fold --timeout (milliseconds, CLI_UNSET if not given) into limits and
 * validate them; an error names the flag. */
int cli_limits_finish (struct cli_limits *cl, struct islet_err *err) ISLET_MUST_CHECK;

/* ---- report.c: errors and output ---- */

/* Report *err (one line on stderr, or {"error":{...}} on stdout with --json)
 * and return the exit status it maps to. */
int cli_report (struct cli *cli, const struct islet_err *err);

/* A warning on stderr that does not change the exit status. */
void cli_warn (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* Print one JSON object on stdout and drop the reference; returns an exit status. */
int cli_print_json (json_t *obj);

/* Permission bits of a stat object's "mode": an octal string ("0644") or a number. */
unsigned cli_json_mode (const json_t *mode);

void cli_info_print (const struct islet_sandbox_info *info);
/* "2026-11-22 07:49:03" in local time; buf holds at least 32 bytes. */
const char *cli_time (int64_t unix_s, char *buf, size_t size);

/* Resolve an id, unique id prefix or name; a missing sandbox is reported as
 * "no sandbox 'ref'". */
int cli_resolve (struct cli *cli, const char *ref, struct islet_sandbox_info *info,
                 struct islet_err *err) ISLET_MUST_CHECK;
/* The same for the id alone: nothing of the sandbox is read but its name. */
int cli_resolve_id (struct cli *cli, const char *ref, char id[ISLET_ID_LEN + 1],
                    struct islet_err *err) ISLET_MUST_CHECK;

/* A new sandbox: its id, or with --json its details; the exit status. */
int cli_print_created (struct cli *cli, struct islet_ctx *ctx, const char *id);

/* ---- io.c ---- */

/* Read fd to its end into a malloc'd, NUL-terminated buffer. */
int cli_read_fd (int fd, const char *what, char **out, size_t *len,
                 struct islet_err *err) ISLET_MUST_CHECK;

/* ---- exec.c: running one command and reporting it (run and exec) ---- */

struct cli_exec
{
  const char *id;
  char *const *argv;
  char *const *env;
  const char *cwd;
  const char *stdin_data;
  size_t stdin_len;
  uint32_t timeout_ms;
  uint64_t output_limit;
};

/* Run the command, streaming its output unless --json, and fill *res.
 * Returns 0 when it ran or was found not runnable, -1 when islet failed. */
/* The library's request for ex: its output forwarded to stdout and stderr
 * as it comes (unless --json), a reader gone noted in broken[fd]. */
void cli_exec_req (struct cli *cli, const struct cli_exec *ex, struct islet_exec_req *req,
                   bool broken[3]);
int cli_exec_run (struct cli *cli, const struct cli_exec *ex, struct islet_exec_result *res,
                  struct islet_err *err) ISLET_MUST_CHECK;
/* Print the result (JSON object, or notes on stderr) and return the exit status. */
int cli_exec_report (struct cli *cli, const struct islet_exec_result *res);
/* Every -e entry must be K=V with a non-empty K. */
int cli_check_env (char *const *env, struct islet_err *err) ISLET_MUST_CHECK;
/* Read all of stdin when it is not a terminal, or when force; else *data = NULL. */
int cli_read_stdin_if (bool force, char **data, size_t *len,
                       struct islet_err *err) ISLET_MUST_CHECK;

/* ---- the subcommands ---- */
int cmd_run (struct cli *cli, int argc, char **argv);
int cmd_exec (struct cli *cli, int argc, char **argv);
int cmd_create (struct cli *cli, int argc, char **argv);
int cmd_start (struct cli *cli, int argc, char **argv);
int cmd_stop (struct cli *cli, int argc, char **argv);
int cmd_pause (struct cli *cli, int argc, char **argv);
int cmd_resize (struct cli *cli, int argc, char **argv);
int cmd_network (struct cli *cli, int argc, char **argv);
int cmd_rm (struct cli *cli, int argc, char **argv);
int cmd_ls (struct cli *cli, int argc, char **argv);
int cmd_info (struct cli *cli, int argc, char **argv);
int cmd_cp (struct cli *cli, int argc, char **argv);
int cmd_fs (struct cli *cli, int argc, char **argv);
int cmd_tool (struct cli *cli, int argc, char **argv);
int cmd_system (struct cli *cli, int argc, char **argv);
int cmd_image (struct cli *cli, int argc, char **argv);
int cmd_volume (struct cli *cli, int argc, char **argv);
/* image.c: for `run --image REF`, an image of the store: the command is its
 * Entrypoint followed by the arguments given, or by its Cmd when none are.
 * Sets *cmd (strings owned by image.c until exit) unless the image is
 * `host` or gives no command. */
int cli_image_argv (const char *state_dir, const char *image, const struct cli_pos *pos,
                    char ***cmd, struct islet_err *err) ISLET_MUST_CHECK;
int cmd_snapshot (struct cli *cli, int argc, char **argv);
int cmd_fork (struct cli *cli, int argc, char **argv);
int cmd_mcp (struct cli *cli, int argc, char **argv);
int cmd_audit (struct cli *cli, int argc, char **argv);
int cmd_key (struct cli *cli, int argc, char **argv);

#endif
