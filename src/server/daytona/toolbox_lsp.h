/* isletd: the SDK's LSP routes (/lsp/...).  A language server runs inside
 * the sandbox as one exec with its stdin kept open (islet_exec_open):
 * confined, limited and counted in the sandbox's memory like any exec.
 * isletd speaks LSP to it over that exec's stdin and stdout, each message
 * framed with a Content-Length header (toolbox_lsp_wire.c, no I/O, fuzzed),
 * and turns the toolbox routes into LSP requests (toolbox_lsp.c). */
#ifndef ISLET_TOOLBOX_LSP_H
#define ISLET_TOOLBOX_LSP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define LSP_HEADER_MAX 1024                 /* a message's header block */
#define LSP_MESSAGE_MAX ((size_t) 32 << 20) /* a message's JSON body */
#define LSP_ITEMS_MAX 5000                  /* completion items or symbols in one answer */

/* The bytes a server printed and not yet a whole message. */
struct lsp_reader
{
  char *buf;
  size_t len, cap;
};

typedef void (*lsp_msg_fn) (void *user, json_t *msg);

/* Bytes of the server's stdout: each whole message to fn (a JSON object;
 * a body that is not one is skipped).  -1 when the stream cannot be read
 * on (a header without Content-Length, or over the bounds): the server is
 * then not to be trusted with more. */
int lsp_reader_feed (struct lsp_reader *rd, const char *data, size_t len, lsp_msg_fn fn,
                     void *user);
void lsp_reader_fini (struct lsp_reader *rd);

/* msg framed for the server's stdin (malloc'd, *len bytes), or NULL. */
char *lsp_frame (json_t *msg, size_t *len);

/* What textDocument/completion answered, as the SDK's CompletionList
 * {isIncomplete, items}: only its fields, at most LSP_ITEMS_MAX items. */
json_t *lsp_completion_list (json_t *result);
/* What textDocument/documentSymbol or workspace/symbol answered, as the
 * SDK's LspSymbol list [{name, kind, location:{uri, range}}]; a
 * DocumentSymbol tree (which has no uri: uri is the document's) is
 * flattened.  query non-NULL: only names that contain it (any case). */
json_t *lsp_symbols (json_t *result, const char *uri, const char *query);

/* The SDK's "file://" + path: the path, absolute (a relative one taken
 * from dir), or NULL when it is not a usable path.  malloc'd.  decode: its
 * %XX sequences decoded, as a file URI's are (the SDK sends the path as it
 * is; other clients escape it).  Either way the path is resolved by the
 * sandbox's file agent, inside the sandbox: "..", decoded or not, stays in
 * its root. */
char *lsp_uri_path (const char *uri, const char *dir, bool decode);
/* A path as a file URI, its bytes outside the unreserved ones escaped. */
char *lsp_path_uri (const char *path);

#endif
