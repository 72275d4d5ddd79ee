/* Option parsing from tables.
 *
 * GNU-ish: long options as --name VALUE or --name=VALUE, short ones as -e VALUE
 * or -eVALUE, boolean short options combine (-rf), "--" ends the options, and
 * options may follow positionals until a command's raw part begins (the CMD of
 * run and exec, so `islet exec ID ls -l` passes -l to ls). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct parse
{
  struct cli *cli;
  const struct cli_spec *spec;
  void *args;
  struct islet_err *err;
  bool failed; /* *err holds the first error; later arguments are only scanned for --json */
  bool help;
};

void
cli_list_fini (struct cli_list *l)
{
  free (l->v);
  l->v = NULL;
  l->n = 0;
}

void
cli_pos_fini (struct cli_pos *p)
{
  free (p->v);
  p->v = NULL;
  p->n = 0;
}

static void
list_append (struct cli_list *l, char *s)
{
  l->v = islet_xrealloc (l->v, (l->n + 2) * sizeof *l->v);
  l->v[l->n++] = s;
  l->v[l->n] = NULL;
}

/* Keep the first error only: it is the one the user should fix first. */
static void __attribute__ ((format (printf, 2, 3)))
parse_fail (struct parse *ps, const char *fmt, ...)
{
  char msg[sizeof ps->err->msg];
  va_list ap;

  if (ps->failed)
    return;
  va_start (ap, fmt);
  (void) vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  (void) !islet_fail (ps->err, ISLET_E_INVALID, 0, "%s", msg);
  ps->failed = true;
}

/* Digits only: strtoull alone would accept " 1", "+1" and "-1". */
static int
parse_uint (const char *s, int base, uint64_t max, uint64_t *out)
{
  unsigned long long v;
  char *end = NULL;

  if (!isdigit ((unsigned char) *s))
    return -1;
  errno = 0;
  v = strtoull (s, &end, base);
  if (*end != '\0')
    return -1;
  if (errno == ERANGE || v > max)
    return -2;
  *out = v;
  return 0;
}

/* "2" -> 2000, "0.5" -> 500: fractional CPUs and seconds without floating point. */
static int
parse_milli (const char *s, uint64_t max, uint64_t *out)
{
  uint64_t whole = 0, frac = 0;
  int places = 0;
  const char *p = s;

  if (!isdigit ((unsigned char) *p))
    return -1;
  for (; isdigit ((unsigned char) *p); p++)
    {
      if (whole > UINT32_MAX)
        return -2;
      whole = whole * 10 + (uint64_t) (*p - '0');
    }
  if (*p == '.')
    {
      if (!isdigit ((unsigned char) *++p))
        return -1;
      for (; isdigit ((unsigned char) *p); p++, places++)
        {
          if (places == 3)
            return -3;
          frac = frac * 10 + (uint64_t) (*p - '0');
        }
    }
  if (*p != '\0')
    return -1;
  for (; places < 3; places++)
    frac *= 10;
  if (whole * 1000 + frac > max)
    return -2;
  *out = whole * 1000 + frac;
  return 0;
}

int
cli_parse_number (const char *opt, const char *s, enum cli_opt_kind kind, uint64_t max,
                  uint64_t *out, struct islet_err *err)
{
  int r;

  switch (kind)
    {
    case CLI_OPT_MODE:
      r = parse_uint (s, 8, max ? max : 07777, out);
      if (r < 0)
        return islet_fail (err, ISLET_E_INVALID, 0, "%s: '%s' is not an octal mode like 0644", opt,
                           s);
      return 0;
    case CLI_OPT_MILLI:
      max = max ? max : UINT32_MAX;
      r = parse_milli (s, max, out);
      break;
    case CLI_OPT_U32:
      max = max ? max : UINT32_MAX;
      r = parse_uint (s, 10, max, out);
      break;
    default:
      max = max ? max : UINT64_MAX;
      r = parse_uint (s, 10, max, out);
      break;
    }
  if (r == -1)
    return islet_fail (err, ISLET_E_INVALID, 0, "%s: '%s' is not a number", opt, s);
  if (r == -3)
    return islet_fail (err, ISLET_E_INVALID, 0, "%s: '%s' has more than 3 decimals", opt, s);
  if (r < 0 && kind == CLI_OPT_MILLI)
    return islet_fail (err, ISLET_E_INVALID, 0, "%s: '%s' is too large (at most %llu.%03llu)", opt,
                       s, (unsigned long long) (max / 1000), (unsigned long long) (max % 1000));
  if (r < 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "%s: '%s' is too large (at most %llu)", opt, s,
                       (unsigned long long) max);
  return 0;
}

/* The option of limit d whose value goes at offset in the command's
 * argument struct. */
static struct cli_opt
limit_flag (const struct islet_limit_def *d, size_t offset)
{
  struct cli_opt o = {
    .name = d->flag + 2,
    .kind = d->decimal ? CLI_OPT_MILLI
            : d->wide  ? CLI_OPT_U64
                       : CLI_OPT_U32,
    .offset = offset,
    .arg = d->arg,
    .help = d->help,
  };
  return o;
}

/* The option of limit d in a command whose struct cli_limits is at base. */
static struct cli_opt
limit_opt (const struct islet_limit_def *d, size_t base)
{
  struct cli_opt o = limit_flag (d, base + offsetof (struct cli_limits, l) + d->offset);

  /* the command's own timeout is kept to the millisecond; the sandbox's
   * default (whole seconds) is made from it by cli_limits_finish */
  if (d->offset == offsetof (struct islet_limits, timeout_s))
    {
      o.offset = base + offsetof (struct cli_limits, timeout_ms);
      o.max = CLI_UNSET - 1;
    }
  return o;
}

/* The option a CLI_OPT_LIMIT row o stands for (its .name is a limit's key). */
static struct cli_opt
limit_row_opt (const struct cli_opt *o)
{
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    if (strcmp (islet_limit_defs[i].key, o->name) == 0)
      return limit_flag (&islet_limit_defs[i], o->offset);
  abort (); /* a table naming no limit is a bug in the command's table */
}

/* The option named name (len bytes) or short_name; a limit's is made in
 * *limit. */
static const struct cli_opt *
find_opt (const struct cli_spec *spec, const char *name, size_t len, char short_name,
          struct cli_opt *limit)
{
  for (size_t t = 0; t < sizeof spec->opts / sizeof spec->opts[0] && spec->opts[t]; t++)
    for (const struct cli_opt *o = spec->opts[t]; o->name; o++)
      {
        if (o->kind == CLI_OPT_LIMITS)
          {
            for (size_t i = 0; short_name == 0 && i < ISLET_NLIMITS; i++)
              if (strlen (islet_limit_defs[i].flag + 2) == len
                  && memcmp (islet_limit_defs[i].flag + 2, name, len) == 0)
                {
                  *limit = limit_opt (&islet_limit_defs[i], o->offset);
                  return limit;
                }
            continue;
          }
        if (o->kind == CLI_OPT_LIMIT)
          {
            *limit = limit_row_opt (o);
            if (short_name == 0 && strlen (limit->name) == len
                && memcmp (limit->name, name, len) == 0)
              return limit;
            continue;
          }
        if (short_name != 0 && o->short_name == short_name)
          return o;
        if (short_name == 0 && strlen (o->name) == len && memcmp (o->name, name, len) == 0)
          return o;
      }
  return NULL;
}

static void
store (struct parse *ps, const struct cli_opt *o, const char *shown, char *value)
{
  char *field = (char *) ps->args + o->offset;
  struct islet_err e;
  uint64_t v = 0;

  switch (o->kind)
    {
    case CLI_OPT_BOOL: *(bool *) field = true; return;
    case CLI_OPT_JSON: ps->cli->json = true; return;
    case CLI_OPT_STR: *(const char **) field = value; return;
    case CLI_OPT_LIST: list_append ((struct cli_list *) field, value); return;
    default: break;
    }
  if (cli_parse_number (shown, value, o->kind, o->max, &v, &e) < 0)
    {
      parse_fail (ps, "%s", e.msg);
      return;
    }
  switch (o->kind)
    {
    case CLI_OPT_U64: *(uint64_t *) field = v; break;
    case CLI_OPT_MODE: *(unsigned *) field = (unsigned) v; break;
    default: *(uint32_t *) field = (uint32_t) v; break;
    }
}

/* --name, --name=value or --name value; returns how many arguments it used. */
static int
parse_long (struct parse *ps, int argc, char **argv, int i)
{
  char *name = argv[i] + 2;
  char *eq = strchr (name, '=');
  size_t len = eq ? (size_t) (eq - name) : strlen (name);
  struct cli_opt limit;
  const struct cli_opt *o = find_opt (ps->spec, name, len, 0, &limit);
  char shown[80];

  (void) snprintf (shown, sizeof shown, "--%.*s", (int) (len > 64 ? 64 : len), name);
  if (o == NULL && strcmp (shown, "--help") == 0)
    ps->help = true;
  else if (o == NULL)
    parse_fail (ps, "unknown option %s for '%s'", shown, ps->spec->name);
  else if (o->arg == NULL && eq != NULL)
    parse_fail (ps, "option %s for '%s' takes no value", shown, ps->spec->name);
  else if (o->arg == NULL)
    store (ps, o, shown, NULL);
  else if (eq != NULL)
    store (ps, o, shown, eq + 1);
  else if (i + 1 < argc)
    {
      store (ps, o, shown, argv[i + 1]);
      return 2;
    }
  else
    parse_fail (ps, "option %s for '%s' needs a value (%s)", shown, ps->spec->name, o->arg);
  return 1;
}

/* -e VALUE, -eVALUE, or a run of flags like -rf. */
static int
parse_short (struct parse *ps, int argc, char **argv, int i)
{
  for (char *p = argv[i] + 1; *p; p++)
    {
      struct cli_opt limit;
      const struct cli_opt *o = find_opt (ps->spec, NULL, 0, *p, &limit);
      char shown[3] = { '-', *p, '\0' };

      if (o == NULL && *p == 'h')
        {
          ps->help = true;
          return 1;
        }
      if (o == NULL)
        {
          parse_fail (ps, "unknown option %s for '%s'", shown, ps->spec->name);
          return 1;
        }
      if (o->arg == NULL)
        {
          store (ps, o, shown, NULL);
          continue;
        }
      if (p[1] != '\0')
        {
          store (ps, o, shown, p + 1);
          return 1;
        }
      if (i + 1 >= argc)
        {
          parse_fail (ps, "option %s for '%s' needs a value (%s)", shown, ps->spec->name, o->arg);
          return 1;
        }
      store (ps, o, shown, argv[i + 1]);
      return 2;
    }
  return 1;
}

int
cli_parse (struct cli *cli, const struct cli_spec *spec, int argc, char **argv, void *args,
           struct cli_pos *pos, struct islet_err *err)
{
  struct parse ps = { .cli = cli, .spec = spec, .args = args, .err = err };
  int i = 0, rest = argc;

  pos->v = islet_xcalloc ((size_t) argc + 1, sizeof *pos->v);
  pos->n = 0;
  while (i < argc && !ps.help)
    {
      char *a = argv[i];

      if (strcmp (a, "--") == 0)
        {
          rest = i + 1;
          break;
        }
      if (a[0] != '-' || a[1] == '\0')
        {
          if (spec->raw_from >= 0 && pos->n == (size_t) spec->raw_from)
            {
              rest = i;
              break;
            }
          pos->v[pos->n++] = a;
          i++;
          continue;
        }
      i += a[1] == '-' ? parse_long (&ps, argc, argv, i) : parse_short (&ps, argc, argv, i);
    }
  for (; rest < argc && !ps.help; rest++)
    pos->v[pos->n++] = argv[rest];

  if (ps.help)
    {
      cli_print_help (spec);
      return 1;
    }
  if (ps.failed)
    return -1;
  if (pos->n < spec->min_pos)
    return islet_fail (err, ISLET_E_INVALID, 0, "'%s' needs %s", spec->name, spec->args);
  if (pos->n > spec->max_pos)
    return islet_fail (err, ISLET_E_INVALID, 0, "unexpected argument '%s' for '%s'",
                       pos->v[spec->max_pos], spec->name);
  return 0;
}

static void
print_option (const struct cli_opt *o)
{
  char col[96];
  int n = snprintf (col, sizeof col, "%c%c%s--%s%s%s", o->short_name ? '-' : ' ',
                    o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name,
                    o->arg ? " " : "", o->arg ? o->arg : "");

  /* long entries get their help on the next line rather than a ragged column */
  if (n > 22)
    printf ("  %s\n  %24s%s\n", col, "", o->help);
  else
    printf ("  %-24s%s\n", col, o->help);
}

static void
print_options (const struct cli_spec *spec)
{
  printf ("\noptions:\n");
  for (size_t t = 0; t < sizeof spec->opts / sizeof spec->opts[0] && spec->opts[t]; t++)
    for (const struct cli_opt *o = spec->opts[t]; o->name; o++)
      if (o->kind == CLI_OPT_LIMIT)
        {
          struct cli_opt l = limit_row_opt (o);
          print_option (&l);
        }
      else if (o->kind != CLI_OPT_LIMITS)
        print_option (o);
      else
        for (size_t i = 0; i < ISLET_NLIMITS; i++)
          {
            struct cli_opt l = limit_opt (&islet_limit_defs[i], o->offset);
            print_option (&l);
          }
  printf ("  %-24s%s\n", "-h, --help", "show this help");
}

void
cli_print_help (const struct cli_spec *spec)
{
  if (spec->usage)
    printf ("usage: islet %s\n", spec->usage);
  else
    printf ("usage: islet %s [OPTIONS]%s%s\n", spec->name, spec->args[0] ? " " : "", spec->args);
  if (spec->about)
    printf ("\n%s\n", spec->about);
  print_options (spec);
  if (spec->more_help)
    spec->more_help ();
  fflush (stdout);
}

int
cli_limits_finish (struct cli_limits *cl, struct islet_err *err)
{
  struct islet_limits *l = &cl->l;

  /* limits.timeout_s is whole seconds: round up so the sandbox's default never
   * cuts an exec shorter than asked */
  if (cl->timeout_ms != CLI_UNSET)
    l->timeout_s = (uint32_t) (((uint64_t) cl->timeout_ms + 999) / 1000);
  if (islet_limits_validate (l, err) == 0)
    return 0;
  /* find the flag by validating each value alone against the defaults */
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    {
      const struct islet_limit_def *d = &islet_limit_defs[i];
      struct islet_limits one = ISLET_LIMITS_DEFAULT;

      islet_limit_set (&one, d, islet_limit_get (l, d));
      if (islet_limits_validate (&one, err) < 0)
        return islet_wrap (err, "%s", d->flag);
    }
  return -1;
}
