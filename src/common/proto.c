#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "islet/proto.h"
#include "islet/util.h"

/* Header and payload in one system call, so that the reader wakes once per
 * frame, not twice; what a short write leaves is written after. */
static int
send_two (int fd, const void *a, size_t alen, const void *b, size_t blen)
{
  struct iovec iov[2] = { { (void *) a, alen }, { (void *) b, blen } };
  ssize_t n;

  do
    n = writev (fd, iov, blen ? 2 : 1);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -1;
  if ((size_t) n < alen)
    return islet_write_all (fd, (const char *) a + n, alen - (size_t) n) < 0
                   || (blen && islet_write_all (fd, b, blen) < 0)
               ? -1
               : 0;
  n -= (ssize_t) alen;
  if ((size_t) n < blen)
    return islet_write_all (fd, (const char *) b + n, blen - (size_t) n);
  return 0;
}

int
islet_frame_send (int fd, enum islet_frame type, const void *data, size_t len,
                  struct islet_err *err)
{
  unsigned char hdr[5];

  if (len > ISLET_JSON_MAX)
    return islet_fail (err, ISLET_E_LIMIT, E2BIG, "frame of %zu bytes", len);
  hdr[0] = (unsigned char) (len & 0xff);
  hdr[1] = (unsigned char) ((len >> 8) & 0xff);
  hdr[2] = (unsigned char) ((len >> 16) & 0xff);
  hdr[3] = (unsigned char) ((len >> 24) & 0xff);
  hdr[4] = (unsigned char) type;
  if (send_two (fd, hdr, sizeof hdr, data, len) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "send frame");
  return 0;
}

int
islet_frame_recv (int fd, enum islet_frame *type, char **data, size_t *len, struct islet_err *err)
{
  unsigned char hdr[5];
  cleanup_free char *buf = NULL;
  ssize_t n;
  size_t want;

  n = islet_read_all (fd, hdr, sizeof hdr);
  if (n < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "receive frame");
  if (n == 0)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "connection closed");
  if (n != (ssize_t) sizeof hdr)
    return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "receive frame: short header");
  want = (size_t) hdr[0] | (size_t) hdr[1] << 8 | (size_t) hdr[2] << 16 | (size_t) hdr[3] << 24;
  switch (hdr[4])
    {
    case ISLET_FRAME_JSON:
    case ISLET_FRAME_DATA:
    case ISLET_FRAME_OUT:
    case ISLET_FRAME_ERR: break;
    default:
      return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "receive frame: unknown type %u", hdr[4]);
    }
  if (want > (hdr[4] == ISLET_FRAME_JSON ? ISLET_JSON_MAX : ISLET_FRAME_MAX))
    return islet_fail (err, ISLET_E_LIMIT, E2BIG, "receive frame: %zu bytes", want);
  buf = islet_xmalloc (want + 1);
  n = islet_read_all (fd, buf, want);
  if (n < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "receive frame");
  if ((size_t) n != want)
    return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "receive frame: truncated");
  buf[want] = '\0';
  *type = (enum islet_frame) hdr[4];
  *len = want;
  *data = islet_take_ptr (&buf);
  return 0;
}

int
islet_frame_send_json (int fd, json_t *msg, struct islet_err *err)
{
  cleanup_free char *text = json_dumps (msg, JSON_COMPACT);

  if (text == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, ENOMEM, "encode message");
  return islet_frame_send (fd, ISLET_FRAME_JSON, text, strlen (text), err);
}

int
islet_frame_recv_json (int fd, json_t **msg, struct islet_err *err)
{
  cleanup_free char *data = NULL;
  enum islet_frame type;
  size_t len;
  json_error_t jerr;
  json_t *j;

  if (islet_frame_recv (fd, &type, &data, &len, err) < 0)
    return -1;
  if (type != ISLET_FRAME_JSON)
    return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "expected a JSON frame, got '%c'", type);
  j = json_loadb (data, len, 0, &jerr);
  if (j == NULL || !json_is_object (j))
    {
      json_decref (j);
      return islet_fail (err, ISLET_E_INVALID, EPROTO, "bad JSON message: %s", jerr.text);
    }
  *msg = j;
  return 0;
}

json_t *
islet_err_to_json (const struct islet_err *e)
{
  return json_pack ("{s:{s:s,s:i,s:s}}", "error", "kind", islet_errkind_name (e->kind), "errno",
                    e->errnum, "message", e->msg);
}

int
islet_err_from_json (json_t *msg, struct islet_err *err)
{
  static const struct
  {
    const char *name;
    enum islet_errkind kind;
  } kinds[] = {
    { "invalid", ISLET_E_INVALID },   { "not_found", ISLET_E_NOTFOUND },
    { "conflict", ISLET_E_CONFLICT }, { "limit", ISLET_E_LIMIT },
    { "system", ISLET_E_SYSTEM },
  };
  json_t *e = json_object_get (msg, "error");
  const char *kind = json_string_value (json_object_get (e, "kind"));
  const char *text = json_string_value (json_object_get (e, "message"));
  enum islet_errkind k = ISLET_E_SYSTEM;

  /* An exec result carries a plain "error" string: only an object is one. */
  if (!json_is_object (e))
    return 0;
  for (size_t i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp (kind, kinds[i].name) == 0)
      k = kinds[i].kind;
  /* The message already carries strerror: do not append it twice. */
  islet_fail (err, k, 0, "%s", text ? text : "unknown error");
  err->errnum = (int) json_integer_value (json_object_get (e, "errno"));
  return -1;
}
