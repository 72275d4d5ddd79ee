/* What the CLI prints: errors, JSON objects, sandbox details and exec results.
 * Results go to stdout, diagnostics to stderr, so `--json` output can always
 * be piped into a parser. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int
cli_report (struct cli *cli, const struct islet_err *err)
{
  int status = CLI_EXIT_FAILED;

  if (cli->own_status)
    status = CLI_EXIT_OWN;
  else if (err->kind == ISLET_E_INVALID)
    status = CLI_EXIT_USAGE;
  if (cli->json)
    {
      json_t *msg = islet_json_bytes (err->msg, strnlen (err->msg, sizeof err->msg));
      (void) cli_print_json (json_pack ("{s:{s:s,s:o}}", "error", "kind",
                                        islet_errkind_name (err->kind), "message", msg));
    }
  else
    fprintf (stderr, "islet: %s\n", err->msg);
  return status;
}

void
cli_warn (const char *fmt, ...)
{
  va_list ap;

  fputs ("islet: warning: ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

int
cli_print_json (json_t *obj)
{
  int r;

  if (obj == NULL)
    {
      fputs ("islet: cannot encode the result as JSON\n", stderr);
      return CLI_EXIT_FAILED;
    }
  r = json_dumpf (obj, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  json_decref (obj);
  if (r < 0 || putchar ('\n') == EOF || fflush (stdout) == EOF)
    {
      fputs ("islet: cannot write to stdout\n", stderr);
      return CLI_EXIT_FAILED;
    }
  return CLI_EXIT_OK;
}

unsigned
cli_json_mode (const json_t *mode)
{
  if (json_is_string (mode))
    return (unsigned) strtoul (json_string_value (mode), NULL, 8) & 07777;
  return (unsigned) json_integer_value (mode) & 07777;
}

const char *
cli_time (int64_t unix_s, char *buf, size_t size)
{
  time_t t = (time_t) unix_s;
  struct tm tm;

  if (localtime_r (&t, &tm) == NULL || strftime (buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    (void) snprintf (buf, size, "%lld", (long long) unix_s);
  return buf;
}

/* 1000 -> "1", 500 -> "0.5", 1250 -> "1.25" */
static const char *
milli_str (uint32_t v, char *buf, size_t size)
{
  size_t n = (size_t) snprintf (buf, size, "%u.%03u", v / 1000, v % 1000);

  while (n > 0 && n < size && buf[n - 1] == '0')
    buf[--n] = '\0';
  if (n > 0 && n < size && buf[n - 1] == '.')
    buf[--n] = '\0';
  return buf;
}

void
cli_info_print (const struct islet_sandbox_info *in)
{
  const struct islet_limits *l = &in->limits;
  char when[64], cpus[32];

  printf ("id:             %s\n", in->id);
  printf ("name:           %s\n", in->name);
  printf ("image:          %s\n", in->image);
  printf ("state:          %s\n", islet_info_state_name (in));
  printf ("created:        %s\n", cli_time (in->created, when, sizeof when));
  if (in->supervisor > 0) /* a sandbox of a remote isletd shows none */
    printf ("supervisor:     %ld\n", (long) in->supervisor);
  printf ("uid_base:       %u\n", in->uid_base);
  printf ("disk_enforced:  %s\n", in->disk_enforced ? "yes" : "no");
  printf ("network:        %s%s%s\n", islet_net_mode_name (in->net.mode),
          in->net.allow[0] ? " " : "", in->net.allow);
  printf ("limits:\n");
  printf ("  memory_mb:    %llu\n", (unsigned long long) l->memory_mb);
  printf ("  cpus:         %s\n", milli_str (l->cpu_millis, cpus, sizeof cpus));
  printf ("  pids:         %u\n", l->pids);
  printf ("  disk_mb:      %llu\n", (unsigned long long) l->disk_mb);
  printf ("  timeout_s:    %u\n", l->timeout_s);
  printf ("  output_bytes: %llu\n", (unsigned long long) l->output_bytes);
  printf ("  nofile:       %u\n", l->nofile);
}

/* The library names what it looked for; the user wants to hear about what they typed. */
static int
resolve_failed (const char *ref, struct islet_err *err)
{
  if (err->kind == ISLET_E_NOTFOUND && (err->errnum == 0 || err->errnum == ENOENT))
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox '%s'", ref);
  return -1;
}

int
cli_resolve (struct cli *cli, const char *ref, struct islet_sandbox_info *info,
             struct islet_err *err)
{
  struct islet_ctx *ctx = cli_ctx (cli, err);

  if (ctx == NULL)
    return -1;
  if (islet_sandbox_get (ctx, ref, info, err) == 0)
    return 0;
  return resolve_failed (ref, err);
}

int
cli_resolve_id (struct cli *cli, const char *ref, char id[ISLET_ID_LEN + 1], struct islet_err *err)
{
  struct islet_ctx *ctx = cli_ctx (cli, err);

  if (ctx == NULL)
    return -1;
  if (islet_sandbox_resolve (ctx, ref, id, err) == 0)
    return 0;
  return resolve_failed (ref, err);
}
