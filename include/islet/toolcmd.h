/* Tool-text commands: what a model writes as text to act on a sandbox.
 *
 *   read file:PATH
 *   write file:PATH content:DATA      DATA runs to the next command or the
 *                                     end; content:"..." is exact (escapes
 *                                     \n \t \" \\), as is file:"..."
 *   delete file:PATH
 *   list files:DIR
 *   info file:PATH
 *   <daytona-execute action="create-file|execute-command|read-file|list-files"
 *                    filePath="..." content="..." command="..."/>
 *     (or with a body, </daytona-execute>, used as the content or command)
 *   <daytona-execute>
 *   action="create-file"                the attributes in the body, one a
 *   filePath="..."                      line, when the tag has no action=;
 *   content="...                        content and command may span lines
 *   ..."                                and hold quotes (toolcmd.c's
 *   </daytona-execute>                  value_end says where they end)
 *
 * The parser is pure (no I/O); islet_toolcmd_run (core) runs one command. */
#ifndef ISLET_TOOLCMD_H
#define ISLET_TOOLCMD_H

#include <stddef.h>

#include <jansson.h>

#include "islet/err.h"

struct islet_ctx;

enum islet_toolcmd_kind
{
  ISLET_TC_READ,
  ISLET_TC_WRITE,
  ISLET_TC_DELETE,
  ISLET_TC_LIST,
  ISLET_TC_INFO,
  ISLET_TC_EXEC,
};

struct islet_toolcmd
{
  enum islet_toolcmd_kind kind;
  unsigned line; /* 1-based line of the text where it starts */
  char *path;    /* every kind but EXEC */
  char *content; /* WRITE; may hold NUL bytes */
  size_t content_len;
  char *command; /* EXEC */
  char *error;   /* not NULL: the command could not be parsed, and why */
};

/* The forms above, one per line, for error messages. */
extern const char islet_toolcmd_forms[];

/* Every command of text, in order; lines that are not commands (a model's
 * prose) are skipped.  A line that starts like a command but is not one is
 * an entry with error set. */
void islet_toolcmd_parse (const char *text, size_t len, struct islet_toolcmd **out, size_t *n);
void islet_toolcmd_free (struct islet_toolcmd *v, size_t n);

/* "read", "write", ... for results. */
const char *islet_toolcmd_name (enum islet_toolcmd_kind kind);

/* Flags of islet_toolcmd_run. */
enum
{
  /* For an application that promises its users a model reaches only their
   * files: a file command's path, relative ones taken in /workspace and
   * . and .. resolved as written, must lie in /workspace with no symbolic
   * link on the way, checked just before the command runs; any other is
   * refused with a message that says so.  It bounds the file commands, not
   * what an execute command does (the sandbox bounds that). */
  ISLET_TC_WORKSPACE_ONLY = 1u << 0,
};

#define ISLET_TC_WORKSPACE "/workspace"

/* Run one command in a running sandbox: a JSON result object with
 * "command", "ok" and what the command gives (or "error"). */
json_t *islet_toolcmd_run (struct islet_ctx *ctx, const char *id, const struct islet_toolcmd *c,
                           unsigned flags);

#endif
