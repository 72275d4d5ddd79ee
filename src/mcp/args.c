/* Tool arguments: one table per tool gives both its JSON schema (for
 * tools/list) and the checks of a call's arguments, so the two cannot
 * disagree.  A call that does not fit is a JSON-RPC error (-32602). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

int
rpc_fail (struct rpc_err *e, int code, const char *fmt, ...)
{
  va_list ap;

  e->code = code;
  va_start (ap, fmt);
  (void) vsnprintf (e->msg, sizeof e->msg, fmt, ap);
  va_end (ap);
  return -1;
}

static const char *const type_names[] = {
  [ARG_STR] = "string", [ARG_INT] = "integer", [ARG_NUM] = "number", [ARG_BOOL] = "boolean",
  [ARG_OBJ] = "object", [ARG_MAP] = "object",  [ARG_LIST] = "array",
};

json_t *
args_schema (const struct arg *fields)
{
  json_t *props = json_object (), *req = json_array ();

  for (const struct arg *a = fields; a->name; a++)
    {
      json_t *p;

      if (a->refused)
        continue;
      p = json_pack ("{s:s,s:s}", "type", type_names[a->type], "description", a->desc);

      if (a->choices != NULL)
        {
          json_t *e = json_array ();
          for (size_t i = 0; a->choices[i]; i++)
            json_array_append_new (e, json_string (a->choices[i]));
          json_object_set_new (p, "enum", e);
        }
      if (a->type == ARG_INT || a->type == ARG_NUM)
        json_object_set_new (p, "minimum", json_integer (0));
      if (a->type == ARG_MAP)
        json_object_set_new (p, "additionalProperties", json_pack ("{s:s}", "type", "string"));
      if (a->type == ARG_LIST)
        json_object_set_new (p, "items", json_pack ("{s:s}", "type", "string"));
      if (a->type == ARG_OBJ)
        {
          json_t *sub = args_schema (a->fields);
          json_object_update (p, sub);
          json_object_set_new (p, "description", json_string (a->desc));
          json_decref (sub);
        }
      if (a->alias)
        json_object_set_new (props, a->alias,
                             json_pack ("{s:s,s:s+}", "type", type_names[a->type], "description",
                                        "another name of ", a->name));
      json_object_set_new (props, a->name, p);
      /* one of two names is required: a schema's required list cannot say it */
      if (a->required && a->alias == NULL)
        json_array_append_new (req, json_string (a->name));
    }
  return json_pack ("{s:s,s:o,s:o,s:b}", "type", "object", "properties", props, "required", req,
                    "additionalProperties", 0);
}

json_t *
args_canonical (const struct arg *fields, const json_t *obj, struct rpc_err *e)
{
  json_t *out = json_copy ((json_t *) obj);

  for (const struct arg *a = fields; a->name; a++)
    {
      json_t *v = a->alias ? json_object_get (out, a->alias) : NULL;
      if (v == NULL)
        continue;
      if (json_object_get (out, a->name) != NULL)
        {
          json_decref (out);
          (void) rpc_fail (e, RPC_INVALID_PARAMS,
                           "invalid params: '%s' and '%s' are one argument: give one of them",
                           a->name, a->alias);
          return NULL;
        }
      json_object_set (out, a->name, v);
      json_object_del (out, a->alias);
    }
  return out;
}

/* -1 with a -32602 error naming the first member of obj that fields do not
 * have, or have as refused. */
static int
no_unknown (const struct arg *fields, const json_t *obj, const char *where, struct rpc_err *e)
{
  const char *k;
  json_t *x;

  json_object_foreach ((json_t *) obj, k, x)
  {
    const struct arg *a = fields;
    while (a->name && strcmp (a->name, k) != 0)
      a++;
    if (a->name == NULL)
      return rpc_fail (e, RPC_INVALID_PARAMS,
                       "invalid params: %sunknown argument '%.100s' (the tool's inputSchema "
                       "lists those it takes)",
                       where, k);
    if (a->refused && !json_is_null (x))
      return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: %s'%s' is refused: %s", where, k,
                       a->refused);
  }
  return 0;
}

static bool
type_fits (enum arg_type t, const json_t *v)
{
  switch (t)
    {
    case ARG_STR: return json_is_string (v);
    case ARG_INT:
      return json_is_integer (v)
             || (json_is_real (v) && json_real_value (v) > -1e18 && json_real_value (v) < 1e18
                 && json_real_value (v) == (double) (int64_t) json_real_value (v));
    case ARG_NUM: return json_is_number (v);
    case ARG_BOOL: return json_is_boolean (v);
    case ARG_OBJ:
    case ARG_MAP: return json_is_object (v);
    case ARG_LIST:
      {
        size_t i;
        json_t *e;
        if (!json_is_array (v))
          return false;
        json_array_foreach (v, i, e) if (!json_is_string (e)) return false;
        return true;
      }
    }
  return false;
}

int
args_check (const struct arg *fields, const json_t *obj, const char *where, struct rpc_err *e)
{
  if (no_unknown (fields, obj, where, e) < 0)
    return -1;
  for (const struct arg *a = fields; a->name; a++)
    {
      const json_t *v = json_object_get (obj, a->name);
      bool ok = false;

      if (v == NULL || json_is_null (v) || a->refused)
        {
          if (a->required)
            return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: %s'%s'%s%s%s is required",
                             where, a->name, a->alias ? " (or '" : "", a->alias ? a->alias : "",
                             a->alias ? "')" : "");
          continue;
        }
      if (!type_fits (a->type, v))
        return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: %s'%s' must be a%s %s", where,
                         a->name, a->type == ARG_INT || a->type == ARG_OBJ ? "n" : "",
                         type_names[a->type]);
      if (json_is_number (v) && json_number_value (v) < 0)
        return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: %s'%s' must not be negative",
                         where, a->name);
      for (size_t i = 0; a->choices && a->choices[i]; i++)
        ok = ok || strcmp (a->choices[i], json_string_value (v)) == 0;
      if (a->choices != NULL && !ok)
        return rpc_fail (e, RPC_INVALID_PARAMS,
                         "invalid params: %s'%s' must be one of the schema's enum values", where,
                         a->name);
      if (a->type == ARG_MAP)
        {
          const char *k;
          json_t *x;
          json_object_foreach ((json_t *) v, k, x) if (!json_is_string (x)) return rpc_fail (
              e, RPC_INVALID_PARAMS, "invalid params: %s'%s.%s' must be a string", where, a->name,
              k);
        }
      if (a->type == ARG_OBJ)
        {
          char sub[64];
          snprintf (sub, sizeof sub, "%s: ", a->name);
          if (args_check (a->fields, v, sub, e) < 0)
            return -1;
        }
    }
  return 0;
}

const char *
str_arg (const json_t *args, const char *name)
{
  return json_string_value (json_object_get (args, name));
}
