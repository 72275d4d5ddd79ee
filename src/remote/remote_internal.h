/* What the remote backend's files share (remote.c: the HTTP calls and the
 * sandboxes; remote_files.c: the file calls). */
#ifndef ISLET_REMOTE_INTERNAL_H
#define ISLET_REMOTE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#include "islet/err.h"

struct remote
{
  char *base; /* http://host:port, no trailing slash */
  char *auth; /* the Authorization header line */
  CURL *curl;
  pthread_mutex_t lock;
};

struct call
{
  CURL *handle;
  const char *method;
  const char *path; /* escaped, query included */
  const char *body; /* in memory, or */
  size_t body_len;
  const char *type; /* of an in-memory body: NULL is JSON */
  int in_fd;        /* >= 0: the body, read to its end */
  int out_fd;       /* >= 0: a successful answer goes here */
  size_t max;       /* of an answer kept in memory; 0: JSON_ANSWER_MAX */
  /* a successful answer of lines goes here, a line at a time (without
   * its newline); -1 stops the transfer */
  int (*on_line) (const char *line, size_t len, void *user);
  void *line_user;
  /* results */
  long status;
  char *data;
  size_t len, cap;
  bool over;   /* the answer was larger than max */
  int out_err; /* errno of a failed write to out_fd */
};

/* One HTTP call: 0 with the answer in c (call_fini frees it), or -1 with
 * the error (isletd's message for an error answer). */
int call_run (struct remote *rm, struct call *c, struct islet_err *err) ISLET_MUST_CHECK;
void call_fini (struct call *c);
/* A call whose answer is a JSON value (*out, NULL: not kept). */
int call_json (struct remote *rm, const char *method, const char *path, json_t *body, json_t **out,
               struct islet_err *err) ISLET_MUST_CHECK;
/* path with a query of escaped values, from name, value pairs (malloc'd). */
char *path_q (struct remote *rm, const char *path, const char *const *query);

/* ---- the file calls (remote_files.c) ---- */

int r_fs_read (void *self, const char *id, const char *path, size_t max, char **data, size_t *len,
               struct islet_err *err);
int r_fs_copy_out (void *self, const char *id, const char *path, int host_fd,
                   struct islet_err *err);
int r_fs_write (void *self, const char *id, const char *path, const void *data, size_t len,
                unsigned mode, struct islet_err *err);
int r_fs_copy_in (void *self, const char *id, int host_fd, const char *path, unsigned mode,
                  struct islet_err *err);
int r_fs_remove (void *self, const char *id, const char *path, bool recursive,
                 struct islet_err *err);
int r_fs_mkdir (void *self, const char *id, const char *path, unsigned mode, struct islet_err *err);
int r_fs_move (void *self, const char *id, const char *from, const char *to, struct islet_err *err);
int r_fs_stat (void *self, const char *id, const char *path, json_t **out, struct islet_err *err);
int r_fs_list (void *self, const char *id, const char *path, unsigned depth, json_t **out,
               struct islet_err *err);

#endif
