/* Answers: JSON bodies, and errors in the shape the Daytona SDK reads
 * ({statusCode, message, code}; the SDK takes `message` for the text and the
 * status for the class). */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "islet/util.h"
#include "server.h"

int64_t
now_s (void)
{
  return (int64_t) time (NULL);
}

void
iso_time (int64_t unix_s, char buf[32])
{
  time_t t = (time_t) unix_s;
  struct tm tm;

  gmtime_r (&t, &tm);
  strftime (buf, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

void
reply_json (struct resp *out, int status, json_t *j)
{
  free (out->body);
  out->status = status;
  out->body = j ? json_dumps (j, JSON_COMPACT) : NULL;
  if (out->body == NULL)
    out->body = islet_xstrdup ("{}");
  out->len = strlen (out->body);
  out->content_type = "application/json";
  json_decref (j);
}

static void
reply_error_v (struct resp *out, int status, const char *code, bool daemon, const char *fmt,
               va_list ap)
{
  char msg[sizeof out->note], when[32];
  json_t *j;

  vsnprintf (msg, sizeof msg, fmt, ap);
  iso_time (now_s (), when);
  j = json_pack ("{s:i,s:s,s:s,s:s}", "statusCode", status, "message", msg, "code", code,
                 "timestamp", when);
  if (j == NULL) /* a message that is not UTF-8 (a path from the caller) */
    j = json_pack ("{s:i,s:s,s:s,s:s}", "statusCode", status, "message", "(message not UTF-8)",
                   "code", code, "timestamp", when);
  if (daemon)
    json_object_set_new (j, "source", json_string ("DAYTONA_DAEMON"));
  reply_json (out, status, j);
  snprintf (out->note, sizeof out->note, "%s", msg);
}

void
reply_error (struct resp *out, int status, const char *code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  reply_error_v (out, status, code, false, fmt, ap);
  va_end (ap);
}

void
reply_error_daemon (struct resp *out, int status, const char *code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  reply_error_v (out, status, code, true, fmt, ap);
  va_end (ap);
}

void
reply_islet_err (struct resp *out, const struct islet_err *e, bool daemon)
{
  switch (e->kind)
    {
    case ISLET_E_INVALID: reply_error (out, 400, "BAD_REQUEST", "%s", e->msg); break;
    case ISLET_E_NOTFOUND:
      if (daemon)
        reply_error_daemon (out, 404, "FILE_NOT_FOUND", "%s", e->msg);
      else
        reply_error (out, 404, "NOT_FOUND", "%s", e->msg);
      break;
    case ISLET_E_CONFLICT: reply_error (out, 409, "CONFLICT", "%s", e->msg); break;
    case ISLET_E_LIMIT:
      /* ENOSPC: the disk pool or the host is full, which no retry of the
       * caller's fixes (a sandbox's own limit is EDQUOT) */
      if (e->errnum == ENOSPC)
        reply_error (out, 507, "INSUFFICIENT_STORAGE", "%s", e->msg);
      else
        reply_error (out, 429, "LIMIT_EXCEEDED", "%s", e->msg);
      break;
    default:
      if (e->errnum == EACCES || e->errnum == EPERM)
        reply_error (out, 403, "FORBIDDEN", "%s", e->msg);
      else
        reply_error (out, 500, "INTERNAL_ERROR", "%s", e->msg);
      break;
    }
}

json_t *
req_json_object (const struct req *r, struct resp *out)
{
  json_error_t jerr;
  json_t *j;

  if (r->body_len == 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "the request needs a JSON body");
      return NULL;
    }
  j = json_loadb (r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
  if (j == NULL)
    {
      reply_error (out, 400, "BAD_REQUEST", "malformed JSON at line %d column %d: %s", jerr.line,
                   jerr.column, jerr.text);
      return NULL;
    }
  if (!json_is_object (j))
    {
      json_decref (j);
      reply_error (out, 400, "BAD_REQUEST", "the JSON body must be an object");
      return NULL;
    }
  return j;
}
