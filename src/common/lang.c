/* The language table (include/islet/lang.h). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "islet/lang.h"

#define TS_MODULE "/usr/share/nodejs/typescript"

/* TypeScript: Debian's compiler transpiles the program read on stdin inside
 * the sandbox (type errors are not checked, syntax errors are, with their
 * line:column), then node runs it as /workspace/main.ts would run. */
static const char ts_runner[]
    = "const ts = require('" TS_MODULE "');\n"
      "const src = require('fs').readFileSync(0, 'utf8');\n"
      "const out = ts.transpileModule(src, { fileName: 'main.ts', reportDiagnostics: true,\n"
      "  compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 } });\n"
      "const errors = (out.diagnostics || []).filter((d) => d.category === "
      "ts.DiagnosticCategory.Error);\n"
      "for (const d of errors) {\n"
      "  const at = d.file && d.start !== undefined ? "
      "d.file.getLineAndCharacterOfPosition(d.start) : null;\n"
      "  console.error('main.ts' + (at ? `:${at.line + 1}:${at.character + 1}` : '') + ': error: ' "
      "+\n"
      "    ts.flattenDiagnosticMessageText(d.messageText, '\\n'));\n"
      "}\n"
      "if (errors.length) process.exit(1);\n"
      "const Module = require('module');\n"
      "const m = new Module('/workspace/main.ts', null);\n"
      "m.filename = '/workspace/main.ts';\n"
      "m.paths = Module._nodeModulePaths('/workspace');\n"
      "process.argv.splice(1, 0, '/workspace/main.ts');\n"
      "m._compile(out.outputText, '/workspace/main.ts');\n";

/* Python unbuffered (-u), so output streams as it is printed. */
static const struct islet_lang langs[] = {
  { "python",
    { [ISLET_LANG_ARG] = { "python3", "-u", "-c" },
      [ISLET_LANG_STDIN] = { "python3", "-u", "-" },
      [ISLET_LANG_FILE] = { "python3", "-u" } },
    ".py",
    NULL,
    true },
  { "javascript",
    { [ISLET_LANG_ARG] = { "node", "-e" },
      [ISLET_LANG_STDIN] = { "node", "-" },
      [ISLET_LANG_FILE] = { "node" } },
    ".js",
    NULL,
    true },
  { "typescript",
    { [ISLET_LANG_STDIN] = { "node", "-e", ts_runner, "--" } },
    ".ts",
    TS_MODULE "/package.json",
    true },
  { "bash",
    { [ISLET_LANG_ARG] = { "bash", "-c" },
      [ISLET_LANG_STDIN] = { "bash", "-s" },
      [ISLET_LANG_FILE] = { "bash" } },
    ".sh",
    NULL,
    false },
};

#define NLANGS (sizeof langs / sizeof langs[0])

const struct islet_lang *
islet_lang_find (const char *name)
{
  for (size_t i = 0; name && i < NLANGS; i++)
    if (strcmp (langs[i].name, name) == 0)
      return &langs[i];
  return NULL;
}

bool
islet_lang_can (const struct islet_lang *l, enum islet_lang_src src)
{
  /* the sandboxes' /usr is the host's: what the host has, they have */
  return l && src < ISLET_LANG_NSRC && l->argv[src][0]
         && (l->needs == NULL || access (l->needs, R_OK) == 0);
}

static const char *names[ISLET_LANG_NSRC][NLANGS + 1];
static char lists[ISLET_LANG_NSRC][16 * NLANGS];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

/* The names and lists by source, made once from the table. */
static void
names_make (void)
{
  for (size_t src = 0; src < ISLET_LANG_NSRC; src++)
    {
      size_t n = 0, len = 0;

      for (size_t i = 0; i < NLANGS; i++)
        if (langs[i].argv[src][0])
          {
            len += (size_t) snprintf (lists[src] + len, sizeof lists[src] - len, "%s%s",
                                      n ? ", " : "", langs[i].name);
            names[src][n++] = langs[i].name;
          }
      names[src][n] = NULL;
    }
}

const char *const *
islet_lang_names (enum islet_lang_src src)
{
  pthread_once (&names_once, names_make);
  return names[src < ISLET_LANG_NSRC ? src : 0] + (src < ISLET_LANG_NSRC ? 0 : NLANGS);
}

const char *
islet_lang_list (enum islet_lang_src src)
{
  pthread_once (&names_once, names_make);
  return src < ISLET_LANG_NSRC ? lists[src] : "";
}

size_t
islet_lang_argv (const struct islet_lang *l, enum islet_lang_src src, const char *what,
                 const char **argv)
{
  size_t n = 0;

  if (l == NULL || src >= ISLET_LANG_NSRC || l->argv[src][0] == NULL)
    return 0;
  while (n < ISLET_LANG_ARGV_MAX - 1 && l->argv[src][n])
    {
      argv[n] = l->argv[src][n];
      n++;
    }
  if (src != ISLET_LANG_STDIN)
    argv[n++] = what;
  argv[n] = NULL;
  return n;
}
