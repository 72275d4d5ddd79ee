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
      json_t *msg = cli_json_bytes (err->msg, strnlen (err->msg, sizeof err->msg));
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

/* Length of the well-formed UTF-8 sequence at p, 0 if there is none. */
static size_t
utf8_len (const unsigned char *p, size_t left)
{
  static const struct {
    unsigned char mask, lead;
    size_t len;
    uint32_t min;
  } forms[] = {
    { 0xe0, 0xc0, 2, 0x80 },
    { 0xf0, 0xe0, 3, 0x800 },
    { 0xf8, 0xf0, 4, 0x10000 },
  };

  if (p[0] < 0x80)
    return 1;
  for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++)
    {
      uint32_t cp;

      if ((p[0] & forms[f].mask) != forms[f].lead)
        continue;
      if (left < forms[f].len)
        return 0;
      cp = p[0] & (unsigned char) ~forms[f].mask;
      for (size_t i = 1; i < forms[f].len; i++)
        {
          if ((p[i] & 0xc0) != 0x80)
            return 0;
          cp = (cp << 6) | (p[i] & 0x3f);
        }
      if (cp < forms[f].min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
      return forms[f].len;
    }
  return 0;
}

json_t *
cli_json_bytes (const char *data, size_t len)
{
  cleanup_free char *clean = NULL;
  size_t used = 0;
  json_t *s;

  if (data == NULL || len == 0)
    return json_string ("");
  s = json_stringn (data, len);
  if (s != NULL)
    return s;
  /* program output is bytes, JSON strings are text: keep what is text */
  clean = islet_xmalloc (len * 3 + 1);
  for (size_t i = 0; i < len;)
    {
      size_t n = utf8_len ((const unsigned char *) data + i, len - i);
      if (n == 0)
        {
          memcpy (clean + used, "\xef\xbf\xbd", 3);
          used += 3;
          i++;
          continue;
        }
      memcpy (clean + used, data + i, n);
      used += n;
      i += n;
    }
  return json_stringn (clean, used);
}


unsigned
cli_json_mode (const json_t *mode)
{
  if (json_is_string (mode))
    return (unsigned) strtoul (json_string_value (mode), NULL, 8) & 07777;
  return (unsigned) json_integer_value (mode) & 07777;
}

const char *
cli_state_name (enum islet_sandbox_state s)
{
  return s == ISLET_SB_RUNNING ? "running" : "stopped";
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

json_t *
cli_info_json (const struct islet_sandbox_info *in)
{
  const struct islet_limits *l = &in->limits;

  return json_pack ("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:b,"
                    "s:{s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:I}}",
                    "id", in->id, "name", in->name, "image", in->image, "state",
                    cli_state_name (in->state), "created", (json_int_t) in->created,
                    "supervisor", (json_int_t) in->supervisor, "uid_base",
                    (json_int_t) in->uid_base, "disk_enforced", (int) in->disk_enforced, "limits",
                    "memory_mb", (json_int_t) l->memory_mb, "cpu_millis",
                    (json_int_t) l->cpu_millis, "cpus", l->cpu_millis / 1000.0, "pids",
                    (json_int_t) l->pids, "disk_mb", (json_int_t) l->disk_mb, "timeout_s",
                    (json_int_t) l->timeout_s, "output_bytes", (json_int_t) l->output_bytes,
                    "nofile", (json_int_t) l->nofile);
}

void
cli_info_print (const struct islet_sandbox_info *in)
{
  const struct islet_limits *l = &in->limits;
  char when[64], cpus[32];

  printf ("id:             %s\n", in->id);
  printf ("name:           %s\n", in->name);
  printf ("image:          %s\n", in->image);
  printf ("state:          %s\n", cli_state_name (in->state));
  printf ("created:        %s\n", cli_time (in->created, when, sizeof when));
  if (in->supervisor > 0) /* a sandbox of a remote isletd shows none */
    printf ("supervisor:     %ld\n", (long) in->supervisor);
  printf ("uid_base:       %u\n", in->uid_base);
  printf ("disk_enforced:  %s\n", in->disk_enforced ? "yes" : "no");
  printf ("limits:\n");
  printf ("  memory_mb:    %llu\n", (unsigned long long) l->memory_mb);
  printf ("  cpus:         %s\n", milli_str (l->cpu_millis, cpus, sizeof cpus));
  printf ("  pids:         %u\n", l->pids);
  printf ("  disk_mb:      %llu\n", (unsigned long long) l->disk_mb);
  printf ("  timeout_s:    %u\n", l->timeout_s);
  printf ("  output_bytes: %llu\n", (unsigned long long) l->output_bytes);
  printf ("  nofile:       %u\n", l->nofile);
}

json_t *
cli_exec_json (const struct islet_exec_result *r)
{
  json_t *o = json_pack ("{s:i,s:i,s:o,s:o,s:I,s:I,s:I,s:b,s:b,s:b}", "exit_code", r->exit_code,
                         "signal", r->signal, "stdout", cli_json_bytes (r->out, r->out_len),
                         "stderr", cli_json_bytes (r->errout, r->err_len), "wall_ms",
                         (json_int_t) r->wall_ms, "cpu_ms", (json_int_t) r->cpu_ms,
                         "memory_peak_bytes", (json_int_t) r->memory_peak_bytes, "timed_out",
                         (int) r->timed_out, "oom_killed", (int) r->oom_killed, "truncated",
                         (int) r->truncated);

  if (o != NULL && r->error[0] != '\0')
    json_object_set_new (o, "error",
                         cli_json_bytes (r->error, strnlen (r->error, sizeof r->error)));
  return o;
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
  /* the library names what it looked for; the user wants to hear about what they typed */
  if (err->kind == ISLET_E_NOTFOUND && (err->errnum == 0 || err->errnum == ENOENT))
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox '%s'", ref);
  return -1;
}
