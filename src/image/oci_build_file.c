/* A Dockerfile's text: its instructions, and the words of their arguments
 * (quotes, escapes and variables as Docker reads them).  Only what islet
 * builds is accepted; anything else is an error that names its line.  The
 * build reads its Dockerfile here, and isletd checks one here before it
 * takes the create that asks for it (islet_dockerfile_check), so both
 * refuse the same files with the same words. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "islet/oci.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "oci_build.h"

static int check_from (const struct build_step *st, struct islet_err *err);
static int check_run (const struct build_step *st, struct islet_err *err);
static int check_pairs (const struct build_step *st, struct islet_err *err);
static int check_arg (const struct build_step *st, struct islet_err *err);
static int check_one_word (const struct build_step *st, struct islet_err *err);
static int check_copy (const struct build_step *st, struct islet_err *err);
static int check_expose (const struct build_step *st, struct islet_err *err);
static int check_shell (const struct build_step *st, struct islet_err *err);
static int check_stopsignal (const struct build_step *st, struct islet_err *err);
static int check_healthcheck (const struct build_step *st, struct islet_err *err);

/* What islet builds, and the check of each one's arguments that needs no
 * value of a variable (the build checks the rest once it has them). */
static const struct
{
  const char *name;
  enum build_op op;
  int (*check) (const struct build_step *st, struct islet_err *err);
} ops[] = {
  { "FROM", OP_FROM, check_from },
  { "RUN", OP_RUN, check_run },
  { "ENV", OP_ENV, check_pairs },
  { "ARG", OP_ARG, check_arg },
  { "WORKDIR", OP_WORKDIR, check_one_word },
  { "USER", OP_USER, check_one_word },
  { "CMD", OP_CMD, NULL },
  { "ENTRYPOINT", OP_ENTRYPOINT, NULL },
  { "COPY", OP_COPY, check_copy },
  { "LABEL", OP_LABEL, check_pairs },
  /* meaningless in a sandbox, so recorded in the config only (the
     preview link reaches any port; a stop ends every process at once) */
  { "EXPOSE", OP_EXPOSE, check_expose },
  { "STOPSIGNAL", OP_STOPSIGNAL, check_stopsignal },
  { "MAINTAINER", OP_MAINTAINER, NULL },
  { "SHELL", OP_SHELL, check_shell },
  { "HEALTHCHECK", OP_HEALTHCHECK, check_healthcheck }, /* recorded, never run */
};

/* Docker's instructions that islet does not build, each with why and what
 * to write instead: refused, never skipped, since skipping would change
 * what the image is. */
static const struct
{
  const char *name, *why;
} refused[] = {
  { "ADD", "islet does not unpack archives or fetch URLs into an image: COPY a file, or RUN curl "
           "or tar" },
  { "ONBUILD", "triggers for later builds are not supported" },
  { "VOLUME", "islet makes no anonymous volumes: use a Daytona volume (volumes: [...] at create) "
              "or RUN mkdir" },
};

#define N_OPS (sizeof ops / sizeof ops[0])
#define N_REFUSED (sizeof refused / sizeof refused[0])
#define MAX_STEPS 1000
#define MAX_WORDS 4096
#define MAX_INSTRUCTION (64 * 1024) /* under a RUN's one argument's bound (128 KiB) */

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

/* ---- the checks of one instruction's arguments ---- */

/* Its words with variables kept as written (their syntax checked). */
static int
check_words (const struct build_step *st, char ***w, struct islet_err *err)
{
  if (build_words (st->text, NULL, w, err) < 0)
    return islet_wrap (err, "line %u: %s", st->line, build_op_name (st->op));
  return 0;
}

/* `<<WORD` (or `<<-WORD`, `<<"WORD"`): a heredoc, whose lines would be
 * read as instructions. */
static int
check_heredoc (const struct build_step *st, struct islet_err *err)
{
  for (const char *h = strstr (st->text, "<<"); h; h = strstr (h + 2, "<<"))
    {
      const char *p = h + 2 + (h[2] == '-');
      p += *p == '"' || *p == '\'';
      if (isalpha ((unsigned char) *p) || *p == '_')
        return islet_fail (err, ISLET_E_INVALID, 0,
                           "line %u: %s %.24s: heredocs are not supported: COPY a file, or write "
                           "it with printf in the RUN",
                           st->line, build_op_name (st->op), h);
    }
  return 0;
}

int
build_from_image (const struct build_step *st, const char *image, struct islet_err *err)
{
  if (strcmp (image, "host") == 0 || strcmp (image, "scratch") == 0)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "line %u: FROM %s: a build starts from an image of the store (islet "
                       "image pull, import or build-default), whose layers it adds to",
                       st->line, image);
  return 0;
}

static int
check_from (const struct build_step *st, struct islet_err *err)
{
  cleanup_strv char **w = NULL;

  if (check_words (st, &w, err) < 0)
    return -1;
  if (w[0] && w[0][0] == '-')
    return islet_fail (err, ISLET_E_INVALID, 0, "line %u: FROM `%s`: flags are not supported",
                       st->line, w[0]);
  if (w[0] == NULL || (w[1] && (strcasecmp (w[1], "AS") != 0 || w[2] == NULL || w[3])))
    return islet_fail (err, ISLET_E_INVALID, 0, "line %u: FROM takes IMAGE [AS NAME]", st->line);
  return build_from_image (st, w[0], err);
}

static int
check_run (const struct build_step *st, struct islet_err *err)
{
  if (strncmp (st->text, "--", 2) == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "line %u: RUN flags (%.*s) are not supported",
                       st->line, (int) strcspn (st->text, " \t"), st->text);
  return check_heredoc (st, err);
}

/* ENV and LABEL: KEY=VALUE words; ENV also `ENV KEY VALUE...`. */
static int
check_pairs (const struct build_step *st, struct islet_err *err)
{
  cleanup_strv char **w = NULL;

  if (check_words (st, &w, err) < 0)
    return -1;
  if (st->op == OP_ENV && w[0] && strchr (w[0], '=') == NULL)
    {
      if (w[1] == NULL)
        return islet_fail (err, ISLET_E_INVALID, 0, "line %u: ENV %s has no value (ENV %s=VALUE)",
                           st->line, w[0], w[0]);
      return 0;
    }
  for (size_t i = 0; w[i]; i++)
    if (strchr (w[i], '=') == NULL || w[i][0] == '=')
      return islet_fail (err, ISLET_E_INVALID, 0, "line %u: %s `%s` is not KEY=VALUE", st->line,
                         build_op_name (st->op), w[i]);
  return 0;
}

/* A name a variable reference can reach: $NAME and ${NAME} take letters,
 * digits and `_`. */
static bool
var_name (const char *s, size_t len)
{
  if (len == 0 || isdigit ((unsigned char) s[0]))
    return false;
  for (size_t i = 0; i < len; i++)
    if (!isalnum ((unsigned char) s[i]) && s[i] != '_')
      return false;
  return true;
}

static int
check_arg (const struct build_step *st, struct islet_err *err)
{
  cleanup_strv char **w = NULL;

  if (check_words (st, &w, err) < 0)
    return -1;
  for (size_t i = 0; w[i]; i++)
    if (!var_name (w[i], strcspn (w[i], "=")))
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "line %u: ARG `%.*s`: a name is letters, digits and `_`, not starting "
                         "with a digit (ARG NAME[=DEFAULT])",
                         st->line, (int) strcspn (w[i], "="), w[i]);
  return 0;
}

static int
check_one_word (const struct build_step *st, struct islet_err *err)
{
  cleanup_strv char **w = NULL;

  if (check_words (st, &w, err) < 0)
    return -1;
  if (w[0] == NULL || w[1] != NULL || w[0][0] == '\0')
    return islet_fail (err, ISLET_E_INVALID, 0, "line %u: %s takes one argument", st->line,
                       build_op_name (st->op));
  return 0;
}

char *
build_port (const char *word)
{
  unsigned long lo, hi;
  const char *proto = strchr (word, '/');
  char *end;

  lo = hi = strtoul (word, &end, 10);
  if (*end == '-')
    hi = strtoul (end + 1, &end, 10);
  if (!isdigit ((unsigned char) word[0]) || end != (proto ? proto : word + strlen (word)) || lo == 0
      || hi > 65535 || hi < lo
      || (proto && strcmp (proto, "/tcp") != 0 && strcmp (proto, "/udp") != 0
          && strcmp (proto, "/sctp") != 0))
    return NULL;
  return proto ? islet_xstrdup (word) : islet_xasprintf ("%s/tcp", word);
}

bool
build_signal_ok (const char *word)
{
  char *end;
  unsigned long n = strtoul (word, &end, 10);
  const char *name = strncasecmp (word, "SIG", 3) == 0 ? word + 3 : word;

  if (isdigit ((unsigned char) word[0]))
    return *end == '\0' && n > 0 && n < (unsigned long) NSIG;
  for (int s = 1; s < NSIG; s++)
    if (sigabbrev_np (s) && strcasecmp (sigabbrev_np (s), name) == 0)
      return true;
  return false;
}

static int
check_expose (const struct build_step *st, struct islet_err *err)
{
  cleanup_strv char **w = NULL;

  if (check_words (st, &w, err) < 0)
    return -1;
  for (size_t i = 0; w[i]; i++)
    {
      cleanup_free char *port = strchr (w[i], '$') ? NULL : build_port (w[i]);
      if (port == NULL && !strchr (w[i], '$'))
        return islet_fail (err, ISLET_E_INVALID, 0,
                           "line %u: EXPOSE `%s` is not PORT[-PORT][/tcp|/udp]", st->line, w[i]);
    }
  return 0;
}

static int
check_stopsignal (const struct build_step *st, struct islet_err *err)
{
  cleanup_strv char **w = NULL;

  if (check_one_word (st, err) < 0 || check_words (st, &w, err) < 0)
    return -1;
  if (!strchr (w[0], '$') && !build_signal_ok (w[0]))
    return islet_fail (err, ISLET_E_INVALID, 0, "line %u: STOPSIGNAL `%s` is not a signal",
                       st->line, w[0]);
  return 0;
}

/* A Go duration (`30s`, `1m30s`, `1.5s`, `500ms`) in ns; -1 if not one. */
static int64_t
duration_ns (const char *s)
{
  static const struct
  {
    const char *unit;
    double ns;
  } units[] = { { "ns", 1 },  { "us", 1e3 }, { "ms", 1e6 },
                { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 } };
  double total = 0;

  if (strcmp (s, "0") == 0)
    return 0;
  while (*s)
    {
      char *end;
      double v;
      size_t u, len = 0;
      if (!isdigit ((unsigned char) *s) && *s != '.')
        return -1;
      v = strtod (s, &end);
      for (u = 0; u < sizeof units / sizeof units[0]; u++)
        {
          len = strlen (units[u].unit);
          /* the longest unit that fits: `ms` before `m` */
          if (strncmp (end, units[u].unit, len) == 0 && !(len == 1 && end[1] == 's'))
            break;
        }
      if (end == s || u == sizeof units / sizeof units[0])
        return -1;
      total += v * units[u].ns;
      s = end + len;
    }
  return total > 1e18 ? -1 : (int64_t) total;
}

int
build_healthcheck (const char *text, json_t **hc, struct islet_err *err)
{
  static const char *const keys[][2] = { { "--interval=", "Interval" },
                                         { "--timeout=", "Timeout" },
                                         { "--start-period=", "StartPeriod" },
                                         { "--start-interval=", "StartInterval" },
                                         { "--retries=", "Retries" } };
  cleanup_json json_t *h = json_object ();
  cleanup_strv char **argv = NULL;
  const char *p = text + strspn (text, " \t");

  if (strncasecmp (p, "NONE", 4) == 0 && p[4 + strspn (p + 4, " \t")] == '\0')
    {
      *hc = json_pack ("{s:[s]}", "Test", "NONE");
      return 0;
    }
  while (strncmp (p, "--", 2) == 0)
    {
      size_t len = strcspn (p, " \t"), k;
      cleanup_free char *flag = strndup (p, len);
      for (k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (strncmp (flag, keys[k][0], strlen (keys[k][0])) == 0)
          break;
      if (k == sizeof keys / sizeof keys[0])
        return islet_fail (err, ISLET_E_INVALID, 0, "HEALTHCHECK %s is not an option", flag);
      {
        const char *v = flag + strlen (keys[k][0]);
        char *end;
        long long n = k == 4 ? strtoll (v, &end, 10) : duration_ns (v);
        if (n < 0 || (k == 4 && (end == v || *end)))
          return islet_fail (err, ISLET_E_INVALID, 0, "HEALTHCHECK %s: `%s` is not %s", flag, v,
                             k == 4 ? "a count" : "a duration (30s, 1m30s, 500ms)");
        json_object_set_new (h, keys[k][1], json_integer (n));
      }
      p += len;
      p += strspn (p, " \t");
    }
  if (strncasecmp (p, "CMD", 3) != 0 || (p[3] != ' ' && p[3] != '\t'))
    return islet_fail (err, ISLET_E_INVALID, 0, "HEALTHCHECK takes NONE or [OPTIONS] CMD COMMAND");
  p += 3 + strspn (p + 3, " \t");
  if (*p == '\0')
    return islet_fail (err, ISLET_E_INVALID, 0, "HEALTHCHECK CMD needs a command");
  if (build_exec_form (p, &argv))
    {
      json_t *t = json_pack ("[s]", "CMD");
      for (size_t i = 0; argv[i]; i++)
        json_array_append_new (t, json_string (argv[i]));
      json_object_set_new (h, "Test", t);
    }
  else
    json_object_set_new (h, "Test", json_pack ("[s,s]", "CMD-SHELL", p));
  *hc = islet_take_ptr (&h);
  return 0;
}

static int
check_healthcheck (const struct build_step *st, struct islet_err *err)
{
  json_t *hc = NULL;

  if (build_healthcheck (st->text, &hc, err) < 0)
    return islet_wrap (err, "line %u", st->line);
  json_decref (hc);
  return 0;
}

/* SHELL: the JSON form only, as in Docker. */
static int
check_shell (const struct build_step *st, struct islet_err *err)
{
  cleanup_strv char **argv = NULL;

  if (!build_exec_form (st->text, &argv))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "line %u: SHELL takes the JSON form, [\"executable\", \"parameters\"...]",
                       st->line);
  return 0;
}

int
build_copy_chown (const char *flag, uint32_t *uid, uint32_t *gid)
{
  unsigned long u, g;
  char *end;

  if (strncmp (flag, "--chown=", 8) != 0)
    return -1;
  u = strtoul (flag + 8, &end, 10);
  g = u;
  if (*end == ':')
    g = strtoul (end + 1, &end, 10);
  if (end == flag + 8 || *end != '\0' || u >= 65536 || g >= 65536
      || !isdigit ((unsigned char) flag[8]))
    return -1;
  *uid = (uint32_t) u;
  *gid = (uint32_t) g;
  return 0;
}

static int
check_copy (const struct build_step *st, struct islet_err *err)
{
  cleanup_strv char **w = NULL;
  size_t n = 0, flags = 0;
  uint32_t uid, gid;

  if (check_heredoc (st, err) < 0 || build_copy_words (st->text, NULL, &w, &flags, err) < 0)
    return islet_wrap (err, "line %u: COPY", st->line);
  for (size_t i = 0; i < flags; i++)
    if (strncmp (w[i], "--from", 6) == 0)
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "line %u: COPY %s: multi-stage builds are not supported", st->line, w[i]);
    else if (strncmp (w[i], "--chown=", 8) != 0)
      return islet_fail (err, ISLET_E_INVALID, 0, "line %u: COPY %s is not supported", st->line,
                         w[i]);
    else if (!strchr (w[i], '$') && build_copy_chown (w[i], &uid, &gid) < 0)
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "line %u: COPY %s: --chown takes numeric ids (UID[:GID]) here", st->line,
                         w[i]);
  while (w[flags + n])
    n++;
  if (n < 2)
    return islet_fail (err, ISLET_E_INVALID, 0, "line %u: COPY takes SOURCE... DEST", st->line);
  return 0;
}

/* ---- the instructions ---- */

/* One logical instruction (text, malloc'd) into steps. */
static int
add_step (char *text, unsigned line, struct build_step **steps, size_t *n, struct islet_err *err)
{
  cleanup_free char *owned = text;
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
      for (size_t r = 0; r < N_REFUSED; r++)
        if (strlen (refused[r].name) == wl && strncasecmp (refused[r].name, p, wl) == 0)
          return islet_fail (err, ISLET_E_INVALID, 0, "line %u: %s is not supported: %s", line,
                             refused[r].name, refused[r].why);
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "line %u: `%.*s` is not an instruction islet builds (FROM, RUN, ENV, "
                         "ARG, WORKDIR, USER, CMD, ENTRYPOINT, COPY, LABEL, EXPOSE, STOPSIGNAL, "
                         "MAINTAINER, SHELL, HEALTHCHECK)",
                         line, (int) (wl > 40 ? 40 : wl), p);
    }
  if (*n >= MAX_STEPS)
    return islet_fail (err, ISLET_E_INVALID, 0, "line %u: more than %d instructions", line,
                       MAX_STEPS);
  *steps = islet_xrealloc (*steps, (*n + 1) * sizeof **steps);
  (*steps)[*n] = (struct build_step){ .op = ops[i].op, .line = line };
  (*steps)[*n].text = islet_xstrdup (args);
  for (size_t e = strlen ((*steps)[*n].text);
       e > 0 && isspace ((unsigned char) (*steps)[*n].text[e - 1]); e--)
    (*steps)[*n].text[e - 1] = '\0';
  (*n)++;
  if ((*steps)[*n - 1].text[0] == '\0')
    return islet_fail (err, ISLET_E_INVALID, 0, "line %u: %s takes arguments", line, ops[i].name);
  return ops[i].check ? ops[i].check (&(*steps)[*n - 1], err) : 0;
}

/* The parser directives of the first lines (`# name=value` before
 * anything else): `escape` other than a backslash would change how every
 * line reads, and a `syntax` other than Docker's own frontend would change
 * what the file means: both refused. */
static int
directive (const char *line, size_t len, unsigned no, bool *still, struct islet_err *err)
{
  cleanup_free char *l = strndup (line, len);
  char name[16], value[256];

  if (sscanf (l, " # %15[a-zA-Z] = %255s", name, value) != 2)
    {
      *still = false;
      return 0;
    }
  if (strcasecmp (name, "escape") == 0 && strcmp (value, "\\") != 0)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "line %u: the escape directive `%s` is not supported (only `\\`)", no,
                       value);
  if (strcasecmp (name, "syntax") == 0)
    {
      const char *v = value;
      if (strncmp (v, "docker.io/", 10) == 0)
        v += 10;
      if (strncmp (v, "docker/dockerfile", 17) != 0 || (v[17] && v[17] != ':' && v[17] != '@'))
        return islet_fail (err, ISLET_E_INVALID, 0,
                           "line %u: syntax `%s`: islet reads Dockerfiles itself, in Docker's "
                           "own syntax (docker/dockerfile) only",
                           no, value);
    }
  return 0;
}

/* Each physical line of dockerfile, joined into instructions. */
static int
read_lines (const char *dockerfile, struct build_step **steps, size_t *n, struct islet_err *err)
{
  const char *p = dockerfile;
  cleanup_free char *cur = NULL;
  size_t cur_len = 0;
  unsigned line = 0, start = 0;
  bool directives = true;

  while (*p)
    {
      const char *eol = strchr (p, '\n');
      size_t len = eol ? (size_t) (eol - p) : strlen (p), keep;
      bool more;
      line++;
      if (directives && directive (p, len, line, &directives, err) < 0)
        return -1;
      /* comments go even inside a continued instruction, as in Docker */
      if (is_comment_or_blank (p, len))
        {
          p += len + (eol != NULL);
          continue;
        }
      directives = false;
      more = continues (p, len, &keep);
      if (cur == NULL)
        start = line;
      if (cur_len + len > MAX_INSTRUCTION)
        return islet_fail (err, ISLET_E_INVALID, 0,
                           "line %u: the instruction is more than %d bytes long", start,
                           MAX_INSTRUCTION);
      cur = islet_xrealloc (cur, cur_len + len + 2);
      memcpy (cur + cur_len, p, more ? keep : len);
      cur_len += more ? keep : len;
      cur[cur_len] = '\0';
      p += len + (eol != NULL);
      if (more && *p)
        continue;
      if (add_step (islet_take_ptr (&cur), start, steps, n, err) < 0)
        return -1;
      cur_len = 0;
    }
  return 0;
}

/* What only the whole file shows: FROM first (ARGs before it aside), once. */
static int
check_order (const struct build_step *steps, size_t n, struct islet_err *err)
{
  size_t i = 0, from = 0;

  while (i < n && steps[i].op == OP_ARG)
    i++;
  if (i == n)
    return islet_fail (err, ISLET_E_INVALID, 0, "the Dockerfile has no FROM");
  if (steps[i].op != OP_FROM)
    return islet_fail (err, ISLET_E_INVALID, 0, "line %u: the first instruction must be FROM",
                       steps[i].line);
  for (; i < n; i++)
    if (steps[i].op == OP_FROM && from++ > 0)
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "line %u: a second FROM: multi-stage builds are not supported",
                         steps[i].line);
  return 0;
}

int
build_parse (const char *dockerfile, struct build_step **steps, size_t *n, struct islet_err *err)
{
  *steps = NULL;
  *n = 0;
  if (read_lines (dockerfile, steps, n, err) == 0 && check_order (*steps, *n, err) == 0)
    return 0;
  build_steps_free (*steps, *n);
  *steps = NULL;
  *n = 0;
  return -1;
}

int
islet_dockerfile_check (const char *dockerfile, bool has_context, struct islet_err *err)
{
  struct build_step *steps = NULL;
  size_t n = 0;
  int rc = 0;

  if (build_parse (dockerfile, &steps, &n, err) < 0)
    return -1;
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (steps[i].op == OP_COPY && !has_context)
      rc = islet_fail (err, ISLET_E_INVALID, 0,
                       "line %u: COPY needs a build context, and this build has none",
                       steps[i].line);
  build_steps_free (steps, n);
  return rc;
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

/* $NAME or ${NAME...} at *pp (just after the `$`) into b; vars NULL:
 * the reference as written (its syntax checked all the same). */
static int
expand (const char **pp, json_t *vars, FILE *b, struct islet_err *err)
{
  const char *p = *pp, *name, *v, *word = NULL, *end = NULL;
  bool braced = *p == '{';
  char how = 0;
  size_t len = 0;

  name = p + braced;
  while (isalnum ((unsigned char) name[len]) || name[len] == '_')
    len++;
  p = name + len;
  if (!braced && len == 0)
    {
      fputc ('$', b);
      return 0;
    }
  if (braced)
    {
      if (p[0] == ':' && (p[1] == '-' || p[1] == '+'))
        {
          how = p[1];
          word = p + 2;
          end = strchr (word, '}');
          if (end == NULL)
            return islet_fail (err, ISLET_E_INVALID, 0, "`${` without its `}`");
          p = end;
        }
      if (*p != '}')
        return islet_fail (err, ISLET_E_INVALID, 0, "`${%.*s` is not a variable islet expands",
                           (int) (strcspn (name, "}") > 40 ? 40 : strcspn (name, "}") + 1), name);
      if (len == 0)
        return islet_fail (err, ISLET_E_INVALID, 0, "`${` needs a variable's name");
      p++;
    }
  if (vars == NULL)
    {
      fputc ('$', b);
      fwrite (*pp, 1, (size_t) (p - *pp), b);
      *pp = p;
      return 0;
    }
  v = var (vars, name, len);
  if (how == 0 && v)
    fputs (v, b);
  else if (how == '-' && v && *v)
    fputs (v, b);
  else if (how == '-' || (how == '+' && v && *v))
    fwrite (word, 1, (size_t) (end - word), b);
  *pp = p;
  return 0;
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
build_expand (const char *text, json_t *vars, char **out, struct islet_err *err)
{
  const char *p = text;
  size_t len = 0;
  FILE *b = open_memstream (out, &len);
  int rc = 0;

  if (b == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open_memstream");
  while (rc == 0 && *p)
    if (*p == '$')
      {
        p++;
        rc = expand (&p, vars, b, err);
      }
    else
      fputc (*p++, b);
  fclose (b);
  if (rc < 0)
    {
      free (*out);
      *out = NULL;
    }
  return rc;
}

/* Append word to the NULL-terminated *w of *n words. */
static void
strv_add (char ***w, size_t *n, char *word)
{
  *w = islet_xrealloc (*w, (*n + 2) * sizeof **w);
  (*w)[(*n)++] = word;
  (*w)[*n] = NULL;
}

int
build_copy_words (const char *text, json_t *vars, char ***words, size_t *n_flags,
                  struct islet_err *err)
{
  const char *p = text;
  cleanup_strv char **w = islet_xcalloc (1, sizeof *w);
  cleanup_json json_t *a = NULL;
  size_t n = 0, i;
  json_t *item;

  *n_flags = 0;
  for (;;)
    {
      char *f = NULL;
      p += strspn (p, " \t");
      if (strncmp (p, "--", 2) != 0)
        break;
      if (one (&p, vars, &f, err) < 0)
        return -1;
      strv_add (&w, &n, f);
      (*n_flags)++;
    }
  /* the JSON form, for names with blanks: each string expanded, not split */
  a = *p == '[' ? json_loads (p, 0, NULL) : NULL;
  if (json_is_array (a))
    {
      json_array_foreach (a, i, item)
      {
        char *x = NULL;
        if (!json_is_string (item))
          return islet_fail (err, ISLET_E_INVALID, 0, "the JSON form takes strings only");
        if (build_expand (json_string_value (item), vars, &x, err) < 0)
          return -1;
        strv_add (&w, &n, x);
      }
    }
  else
    {
      cleanup_strv char **rest = NULL;
      if (build_words (p, vars, &rest, err) < 0)
        return -1;
      for (i = 0; rest[i]; i++)
        strv_add (&w, &n, islet_take_ptr (&rest[i]));
    }
  *words = islet_take_ptr (&w);
  return 0;
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
