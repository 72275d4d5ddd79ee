/* What a create body may ask for.  The SDK sends every field its caller
 * set; a field islet took and then ignored would make a sandbox other than
 * the one asked for with no error (an allow-list on a sandbox that has no
 * network at all).  So each field is taken,
 * accepted only at the value that matches what islet does, or refused with
 * the reason; a field this table does not know is refused by name. */
#include <string.h>

#include "server.h"

enum take
{
  TAKEN,    /* parse_create reads it */
  IF_EMPTY, /* accepted when absent, null, false, 0, "", [] or {} */
  IF_TRUE,  /* accepted when absent, null or true */
  IF_ROOT,  /* accepted when absent, null or "root" */
};

#define NO_GPU "GPUs are not supported"

static const struct
{
  const char *name;
  enum take take;
  const char *why; /* when refused */
} fields[] = {
  { "name", TAKEN, NULL },
  { "snapshot", TAKEN, NULL },
  { "target", TAKEN, NULL },
  { "env", TAKEN, NULL },
  { "labels", TAKEN, NULL },
  { "autoStopInterval", TAKEN, NULL },
  { "autoArchiveInterval", TAKEN, NULL },
  { "autoDeleteInterval", TAKEN, NULL },
  { "autoPauseInterval", TAKEN, NULL },
  { "ttlMinutes", TAKEN, NULL },
  { "limits", TAKEN, NULL }, /* islet's own */
  { "user", IF_ROOT, "a sandbox's only user is root (mapped to an unprivileged host uid)" },
  { "networkBlockAll", TAKEN, NULL },  /* sandbox_net.c */
  { "networkAllowList", TAKEN, NULL }, /* sandbox_net.c */
  { "domainAllowList", TAKEN, NULL },  /* sandbox_net.c */
  { "outboundProxyUrl", TAKEN, NULL }, /* sandbox_net.c */
  { "network", TAKEN, NULL },          /* islet's own (sandbox_net.c) */
  { "linkedSandbox", IF_EMPTY, "sandboxes never reach one another" },
  { "public", TAKEN, NULL }, /* preview links without a token (preview.c) */
  { "gpu", IF_EMPTY, NO_GPU },
  { "gpuType", IF_EMPTY, NO_GPU },
  { "spot", IF_EMPTY, NO_GPU },
  { "kvm", IF_EMPTY, "sandboxes have no /dev/kvm" },
  { "volumes", TAKEN, NULL },   /* the key's volumes (volume_api.c) */
  { "buildInfo", TAKEN, NULL }, /* a FROM line alone is an image; others are built */
  { "secrets", IF_EMPTY, "secrets are not supported: give the values in env" },
  { "otelEndpointOverride", IF_EMPTY, "islet exports no OpenTelemetry data from sandboxes" },
};

static bool
empty (json_t *v)
{
  switch (json_typeof (v))
    {
    case JSON_NULL:
    case JSON_FALSE: return true;
    case JSON_INTEGER:
    case JSON_REAL: return json_number_value (v) == 0;
    case JSON_STRING: return json_string_length (v) == 0;
    case JSON_ARRAY: return json_array_size (v) == 0;
    case JSON_OBJECT: return json_object_size (v) == 0;
    default: return false;
    }
}

static bool
accepted (enum take take, json_t *v)
{
  switch (take)
    {
    case TAKEN: return true;
    case IF_EMPTY: return empty (v);
    case IF_TRUE: return json_is_null (v) || json_is_true (v);
    case IF_ROOT:
      return json_is_null (v)
             || (json_is_string (v) && strcmp (json_string_value (v), "root") == 0);
    }
  return false;
}

int
create_fields_check (json_t *body, struct resp *out)
{
  const char *k;
  json_t *v;

  json_object_foreach (body, k, v)
  {
    size_t i;

    if (islet_limit_named (ISLET_FACE_DAYTONA, k)) /* cpu, memory, disk: parse_create reads them */
      continue;
    for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
      if (strcmp (fields[i].name, k) == 0)
        break;
    if (i == sizeof fields / sizeof fields[0])
      {
        reply_error (out, 400, "BAD_REQUEST",
                     "%s is not a field of a sandbox create that islet knows", k);
        return -1;
      }
    if (!accepted (fields[i].take, v))
      {
        reply_error (out, 400, "BAD_REQUEST", "%s cannot be honoured: %s", k, fields[i].why);
        return -1;
      }
  }
  return 0;
}
