/* An exec request as its handler takes it (exec_spec.c): the command, its
 * environment, its limits and how its input comes. */
#ifndef ISLET_RUNTIME_EXEC_SPEC_H
#define ISLET_RUNTIME_EXEC_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "islet/err.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct sandbox;

struct exec_spec
{
  char **argv;
  char **envp;
  const char *cwd;
  uint64_t timeout_ms;
  uint64_t output_limit;
  char *stdin_data;
  size_t stdin_len;
  bool has_stdin;
  bool stdin_stream; /* stdin comes as DATA frames while the command runs */
  bool detach;       /* the client's leaving ends its stdin, not the command */
  bool untimed;      /* no deadline */
  bool pty;          /* on a terminal (pty.c), of cols x rows */
  unsigned cols, rows;
};

/* The request's fields, checked, with the environment the command gets
 * (the defaults, the image's, the sandbox's proxy, the caller's). */
int exec_spec_parse (const struct sandbox *sb, json_t *req, struct exec_spec *spec,
                     struct islet_err *err) ISLET_MUST_CHECK;
/* stdin sent whole before the command starts: DATA frames up to an empty one. */
int exec_spec_read_stdin (int conn, struct exec_spec *spec, struct islet_err *err) ISLET_MUST_CHECK;

#endif
