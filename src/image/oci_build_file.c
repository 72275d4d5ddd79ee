/* A Dockerfile's text: its instructions, and the words of their arguments
 * (quotes, escapes and variables as Docker reads them).  Only what islet
 * builds is accepted; anything else is an error that names its line. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "islet/util.h"
#include "oci_build.h"

static const struct
{
  const char *name;
  enum build_op op;
} ops[] = {
  { "FROM", OP_FROM },       { "RUN", OP_RUN },
  { "ENV", OP_ENV },         { "ARG", OP_ARG },
  { "WORKDIR", OP_WORKDIR }, { "USER", OP_USER },
  { "CMD", OP_CMD },         { "ENTRYPOINT", OP_ENTRYPOINT },
  { "COPY", OP_COPY },       { "LABEL", OP_LABEL },
};

#define N_OPS (sizeof ops / sizeof ops[0])
#define MAX_STEPS 1000
#define MAX_WORDS 4096

const char *
build_op_name (enum build_op op)
{
  for (size_t i = 0; i < N_OPS; i++)
    if (ops[i].op == op)
      return ops[i].name;
  return "?";
}

void
build_steps_free (struct build_step *steps, size_t n)
{
  for (size_t i = 0; steps && i < n; i++)
    free (steps[i].text);
  free (steps);
}

/* A line ending in a backslash (blanks after it allowed) continues. */
static bool
continues (const char *line, size_t len, size_t *keep)
{
  while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
    len--;
  if (len == 0 || line[len - 1] != '\\')
    return false;
  *keep = len - 1;
  return true;
}

static bool
is_comment_or_blank (const char *line, size_t len)
{
  size_t i = 0;
  while (i < len && isspace ((unsigned char) line[i]))
    i++;
  return i == len || line[i] == '#';
}

/* One logical instruction (text, malloc'd) into steps. */
static int
add_step (char *text, unsigned line, struct build_step **steps, size_t *n, struct islet_err *err)
{
  char *p = text, *args;
  size_t wl, i;

  while (isspace ((unsigned char) *p))
    p++;
  wl = strcspn (p, " \t");
  args = p + wl;
  while (isspace ((unsigned char) *args))
    args++;
  for (i = 0; i < N_OPS; i++)
    if (strlen (ops[i].name) == wl && strncasecmp (ops[i].name, p, wl) == 0)
      break;
  if (i == N_OPS)
    {
      islet_fail (err, ISLET_E_INVALID, 0,
                  "line %u: `%.*s` is not an instruction islet builds (FROM, RUN, ENV, ARG, "
                  "WORKDIR, USER, CMD, ENTRYPOINT, COPY, LABEL)",
                  line, (int) (wl > 40 ? 40 : wl), p);
      free (text);
      return -1;
    }
  if (*n >= MAX_STEPS)
    {
      free (text);
      return islet_fail (err, ISLET_E_INVALID, 0, "more than %d instructions", MAX_STEPS);
    }
  *steps = islet_xrealloc (*steps, (*n + 1) * sizeof **steps);
  (*steps)[*n] = (struct build_step){ .op = ops[i].op, .line = line };
  (*steps)[*n].text = islet_xstrdup (args);
  for (size_t e = strlen ((*steps)[*n].text);
       e > 0 && isspace ((unsigned char) (*steps)[*n].text[e - 1]); e--)
    (*steps)[*n].text[e - 1] = '\0';
  (*n)++;
  free (text);
  return 0;
}

int
build_parse (const char *dockerfile, struct build_step **steps, size_t *n, struct islet_err *err)
{
  const char *p = dockerfile;
  char *cur = NULL;
  size_t cur_len = 0;
  unsigned line = 0, start = 0;

  *steps = NULL;
  *n = 0;
  while (*p)
    {
      const char *eol = strchr (p, '\n');
      size_t len = eol ? (size_t) (eol - p) : strlen (p), keep;
      bool more;
      line++;
      /* comments go even inside a continued instruction, as in Docker */
      if (is_comment_or_blank (p, len))
        {
          p += len + (eol != NULL);
          continue;
        }
      more = continues (p, len, &keep);
      if (cur == NULL)
        start = line;
      cur = islet_xrealloc (cur, cur_len + len + 2);
      memcpy (cur + cur_len, p, more ? keep : len);
      cur_len += more ? keep : len;
      cur[cur_len] = '\0';
      p += len + (eol != NULL);
      if (more && *p)
        continue;
      if (add_step (cur, start, steps, n, err) < 0)
        {
          build_steps_free (*steps, *n);
          *steps = NULL;
          return -1;
        }
      cur = NULL;
      cur_len = 0;
    }
  free (cur);
  for (size_t i = 0; i < *n; i++)
    if ((*steps)[i].op != OP_ARG)
      {
        if ((*steps)[i].op == OP_FROM)
          return 0;
        islet_fail (err, ISLET_E_INVALID, 0, "line %u: the first instruction must be FROM",
                    (*steps)[i].line);
        build_steps_free (*steps, *n);
        *steps = NULL;
        return -1;
      }
  build_steps_free (*steps, *n);
  *steps = NULL;
  return islet_fail (err, ISLET_E_INVALID, 0, "the Dockerfile has no FROM");
}

/* ---- words ---- */

static const char *
var (json_t *vars, const char *name, size_t len)
{
  cleanup_free char *k = islet_xmalloc (len + 1);
  memcpy (k, name, len);
  k[len] = '\0';
  return json_string_value (json_object_get (vars, k));
}

/* $NAME or ${NAME...} at *pp (just after the `$`) into b. */
static int
expand (const char **pp, json_t *vars, FILE *b, struct islet_err *err)
{
  const char *p = *pp, *name, *v;
  size_t len = 0;

  if (*p != '{')
    {
      name = p;
      while (isalnum ((unsigned char) p[len]) || p[len] == '_')
        len++;
      if (len == 0)
        {
          fputc ('$', b);
          return 0;
        }
      v = var (vars, name, len);
      if (v)
        fputs (v, b);
      *pp = p + len;
      return 0;
    }
  name = ++p;
  while (isalnum ((unsigned char) p[len]) || p[len] == '_')
    len++;
  v = var (vars, name, len);
  p += len;
  if (*p == '}')
    {
      if (v)
        fputs (v, b);
      *pp = p + 1;
      return 0;
    }
  if (p[0] == ':' && (p[1] == '-' || p[1] == '+'))
    {
      const char *word = p + 2, *end = strchr (word, '}');
      bool set = v && *v;
      if (end == NULL)
        return islet_fail (err, ISLET_E_INVALID, 0, "`${` without its `}`");
      if (p[1] == '-')
        {
          if (set)
            fputs (v, b);
          else
            fwrite (word, 1, (size_t) (end - word), b);
        }
      else if (set)
        fwrite (word, 1, (size_t) (end - word), b);
      *pp = end + 1;
      return 0;
    }
  return islet_fail (err, ISLET_E_INVALID, 0, "`${%.*s` is not a variable islet expands",
                     (int) (len + 1), name);
}

/* One character (or escape, or variable) of a word at *pp into b; dq:
 * inside double quotes, where a backslash escapes only `"`, `\\` and `$`. */
static int
word_char (const char **pp, bool dq, json_t *vars, FILE *b, struct islet_err *err)
{
  const char *p = *pp;

  if (*p == '\\' && p[1] && (!dq || p[1] == '"' || p[1] == '\\' || p[1] == '$'))
    {
      fputc (p[1], b);
      *pp = p + 2;
      return 0;
    }
  if (*p == '$')
    {
      *pp = p + 1;
      return expand (pp, vars, b, err);
    }
  fputc (*p, b);
  *pp = p + 1;
  return 0;
}

/* One word at *pp (not blank) into *out. */
static int
one (const char **pp, json_t *vars, char **out, struct islet_err *err)
{
  const char *p = *pp;
  size_t len = 0;
  FILE *b = open_memstream (out, &len);
  int rc = 0;

  if (b == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open_memstream");
  while (rc == 0 && *p && *p != ' ' && *p != '\t')
    if (*p == '\'')
      {
        const char *end = strchr (p + 1, '\'');
        if (end == NULL)
          rc = islet_fail (err, ISLET_E_INVALID, 0, "a quote is not closed");
        else
          {
            fwrite (p + 1, 1, (size_t) (end - p - 1), b);
            p = end + 1;
          }
      }
    else if (*p == '"')
      {
        for (p++; rc == 0 && *p && *p != '"';)
          rc = word_char (&p, true, vars, b, err);
        if (rc == 0 && *p != '"')
          rc = islet_fail (err, ISLET_E_INVALID, 0, "a quote is not closed");
        p += rc == 0;
      }
    else
      rc = word_char (&p, false, vars, b, err);
  fclose (b);
  *pp = p;
  if (rc < 0)
    {
      free (*out);
      *out = NULL;
    }
  return rc;
}

int
build_words (const char *text, json_t *vars, char ***words, struct islet_err *err)
{
  const char *p = text;
  size_t n = 0;

  *words = islet_xcalloc (1, sizeof **words);
  for (;;)
    {
      char *w = NULL;
      while (*p == ' ' || *p == '\t')
        p++;
      if (*p == '\0')
        return 0;
      if (n >= MAX_WORDS)
        islet_fail (err, ISLET_E_INVALID, 0, "more than %d words", MAX_WORDS);
      if (n >= MAX_WORDS || one (&p, vars, &w, err) < 0)
        {
          islet_strv_free (*words);
          *words = NULL;
          return -1;
        }
      *words = islet_xrealloc (*words, (n + 2) * sizeof **words);
      (*words)[n++] = w;
      (*words)[n] = NULL;
    }
}

int
build_exec_form (const char *text, char ***argv)
{
  json_t *a, *item;
  size_t i;

  if (text[0] != '[')
    return 0;
  a = json_loads (text, JSON_DECODE_ANY, NULL);
  if (!json_is_array (a) || json_array_size (a) == 0)
    {
      json_decref (a);
      return 0;
    }
  json_array_foreach (a, i, item) if (!json_is_string (item))
  {
    json_decref (a);
    return 0;
  }
  *argv = islet_xcalloc (json_array_size (a) + 1, sizeof **argv);
  json_array_foreach (a, i, item) (*argv)[i] = islet_xstrdup (json_string_value (item));
  json_decref (a);
  return 1;
}
