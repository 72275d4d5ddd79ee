/* The wire protocol between a client (the client library, in the CLI,
 * isletd or islet mcp) and a sandbox's supervisor, over the supervisor's
 * unix stream socket.
 *
 * A connection carries one request, except a file session: a file request
 * with "keep": true leaves the connection open for more file requests, one
 * after another, until the client closes it.  Every message is a frame: a 5-byte header
 * (u32 payload length, little-endian; u8 type) and the payload.  The request
 * is one JSON frame, optionally followed by DATA frames ended by an empty DATA
 * frame; the answer is zero or more OUT/ERR/DATA frames and one JSON frame last.
 * An exec that takes input as it runs ("stdin_stream", or "pty": {cols,
 * rows}) reads DATA frames (and, on a terminal, {"op":"resize","cols",
 * "rows"} and {"op":"kill"} JSON frames) while its command runs; on a
 * terminal the answer begins with {"pty":"started"}. */
#ifndef ISLET_PROTO_H
#define ISLET_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "islet/err.h"

enum islet_frame
{
  ISLET_FRAME_JSON = 'J',
  ISLET_FRAME_DATA = 'D', /* file bytes or stdin; an empty one ends the stream */
  ISLET_FRAME_OUT = 'O',  /* stdout of an exec */
  ISLET_FRAME_ERR = 'E',  /* stderr of an exec */
};

#define ISLET_FRAME_MAX (1u << 20) /* largest payload of one frame */
#define ISLET_JSON_MAX (16u << 20) /* largest JSON message */

int islet_frame_send (int fd, enum islet_frame type, const void *data, size_t len,
                      struct islet_err *err) ISLET_MUST_CHECK;

/* Receive one frame; *data is malloc'd (NUL-terminated) and may be NULL when
 * len is 0.  A clean end of stream before a header is ISLET_E_NOTFOUND with
 * errnum 0 ("connection closed"). */
int islet_frame_recv (int fd, enum islet_frame *type, char **data, size_t *len,
                      struct islet_err *err) ISLET_MUST_CHECK;

int islet_frame_send_json (int fd, json_t *msg, struct islet_err *err) ISLET_MUST_CHECK;

/* Receive a frame that must be JSON (an object). */
int islet_frame_recv_json (int fd, json_t **msg, struct islet_err *err) ISLET_MUST_CHECK;

/* {"error":{"kind":..., "errno":..., "message":...}} and back. */
json_t *islet_err_to_json (const struct islet_err *e);
/* If msg is an error object, fill err and return -1; else return 0. */
int islet_err_from_json (json_t *msg, struct islet_err *err);

static inline void
islet_json_decrefp (json_t **j)
{
  if (*j)
    json_decref (*j);
}
#define cleanup_json __attribute__ ((cleanup (islet_json_decrefp)))

#endif
