/* The languages islet runs code in, and how: one table for the CLI
 * (`run --lang`), MCP (`execute_code`), the Daytona toolbox (`code-run`)
 * and `/v1/execute`.  A language is run by the interpreter in the
 * sandbox's image; its program is never passed through a shell on the
 * host.  A new language is one row in src/common/lang.c. */
#ifndef ISLET_LANG_H
#define ISLET_LANG_H

#include <stdbool.h>
#include <stddef.h>

/* Where the program is, for the interpreter. */
enum islet_lang_src
{
  ISLET_LANG_ARG,   /* one argv element after the interpreter's options */
  ISLET_LANG_STDIN, /* read from standard input */
  ISLET_LANG_FILE,  /* a file in the sandbox, named after the options */
  ISLET_LANG_NSRC,
};

/* The most argv elements a language adds before the program's own. */
#define ISLET_LANG_ARGV_MAX 6

struct islet_lang
{
  const char *name;
  /* per source: the interpreter and its options, up to where the code
   * (ARG) or the file (FILE) goes; no row: that source is not supported */
  const char *argv[ISLET_LANG_NSRC][ISLET_LANG_ARGV_MAX - 1];
  const char *ext;   /* the suffix of a program kept in a file */
  const char *needs; /* a file the image must have for it, or NULL */
  bool daytona;      /* one of the Daytona SDK's language labels */
};

/* The row named name, or NULL. */
const struct islet_lang *islet_lang_find (const char *name);

/* Whether l can take its program from src (and what it needs is there). */
bool islet_lang_can (const struct islet_lang *l, enum islet_lang_src src);

/* The NULL-terminated names of the languages that can take their program
 * from src ("python", "javascript", ...), for choices and messages. */
const char *const *islet_lang_names (enum islet_lang_src src);

/* The same, as "python, javascript, bash" (static storage). */
const char *islet_lang_list (enum islet_lang_src src);

/* Fills argv (ISLET_LANG_ARGV_MAX + 1 elements at least) with l's argv for
 * src, then what (the code for ARG, the file's path for FILE, nothing for
 * STDIN) and a NULL; returns the count before the NULL, 0 if l cannot
 * take src.  The strings are l's and what: nothing to free. */
size_t islet_lang_argv (const struct islet_lang *l, enum islet_lang_src src, const char *what,
                        const char **argv);

#endif
