/* JSON forms of the core's results, shared by the CLI's --json output and
 * the MCP tools (islet mcp, isletd's /mcp). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "islet/report.h"
#include "islet/util.h"

/* Length of the well-formed UTF-8 sequence at p, 0 if there is none. */
static size_t
utf8_len (const unsigned char *p, size_t left)
{
  static const struct
  {
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
islet_json_bytes (const char *data, size_t len)
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

const char *
islet_state_name (enum islet_sandbox_state s)
{
  static const char *const names[] = {
    [ISLET_SB_STOPPED] = "stopped",
    [ISLET_SB_RUNNING] = "running",
    [ISLET_SB_BROKEN] = "broken",
    [ISLET_SB_PAUSED] = "paused",
  };
  return (unsigned) s < sizeof names / sizeof names[0] ? names[s] : "stopped";
}

const char *
islet_info_state_name (const struct islet_sandbox_info *info)
{
  return info->archived ? "archived" : islet_state_name (info->state);
}

json_t *
islet_sandbox_json (const struct islet_sandbox_info *in)
{
  const struct islet_limits *l = &in->limits;

  json_t *limits = islet_limits_json (l);
  json_t *o;

  /* cpus as well as cpu_millis: what --cpus was given */
  json_object_set_new (limits, "cpus", json_real (l->cpu_millis / 1000.0));
  o = json_pack ("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:b,s:o,s:o}", "id", in->id, "name", in->name,
                 "image", in->image, "state", islet_info_state_name (in), "created",
                 (json_int_t) in->created, "supervisor", (json_int_t) in->supervisor, "uid_base",
                 (json_int_t) in->uid_base, "disk_enforced", (int) in->disk_enforced, "limits",
                 limits, "network", islet_net_json (&in->net));
  if (o && in->snapshot[0])
    json_object_set_new (o, "snapshot", json_string (in->snapshot));
  return o;
}

json_t *
islet_exec_stats_json (const struct islet_exec_result *r)
{
  json_t *o = json_pack ("{s:i,s:i,s:I,s:I,s:I,s:b,s:b,s:b}", "exit_code", r->exit_code, "signal",
                         r->signal, "wall_ms", (json_int_t) r->wall_ms, "cpu_ms",
                         (json_int_t) r->cpu_ms, "memory_peak_bytes",
                         (json_int_t) r->memory_peak_bytes, "timed_out", (int) r->timed_out,
                         "oom_killed", (int) r->oom_killed, "truncated", (int) r->truncated);

  if (o != NULL && r->error[0] != '\0')
    json_object_set_new (o, "error",
                         islet_json_bytes (r->error, strnlen (r->error, sizeof r->error)));
  return o;
}

void
islet_exec_stats_read (const json_t *j, struct islet_exec_result *out)
{
  const char *msg = json_string_value (json_object_get (j, "error"));

  out->exit_code = (int) json_integer_value (json_object_get (j, "exit_code"));
  out->signal = (int) json_integer_value (json_object_get (j, "signal"));
  out->wall_ms = (uint64_t) json_integer_value (json_object_get (j, "wall_ms"));
  out->cpu_ms = (uint64_t) json_integer_value (json_object_get (j, "cpu_ms"));
  out->memory_peak_bytes = (uint64_t) json_integer_value (json_object_get (j, "memory_peak_bytes"));
  out->timed_out = json_is_true (json_object_get (j, "timed_out"));
  out->oom_killed = json_is_true (json_object_get (j, "oom_killed"));
  out->truncated = json_is_true (json_object_get (j, "truncated"));
  snprintf (out->error, sizeof out->error, "%s", msg ? msg : "");
}

json_t *
islet_exec_json (const struct islet_exec_result *r)
{
  json_t *o = islet_exec_stats_json (r);

  if (o != NULL)
    {
      json_object_set_new (o, "stdout", islet_json_bytes (r->out, r->out_len));
      json_object_set_new (o, "stderr", islet_json_bytes (r->errout, r->err_len));
    }
  return o;
}
