/* Image builds from a Dockerfile: its text read into steps
 * (oci_build_file.c), the layers a step makes (oci_build_layer.c) and the
 * build that runs the steps in order (oci_build.c). */
#ifndef ISLET_OCI_BUILD_H
#define ISLET_OCI_BUILD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "islet/err.h"
#include "islet/limits.h"
#include "islet/net.h"
#include "islet/util.h"

static inline void
build_strv_freep (char ***p)
{
  islet_strv_free (*p);
}
#define cleanup_strv __attribute__ ((cleanup (build_strv_freep)))

/* ---- oci_build.c ---- */
struct islet_build_opts
{
  const char *name;           /* a normalised reference for the image, or NULL */
  const char *context;        /* the directory COPY takes from; NULL: none */
  json_t *build_args;         /* --build-arg values: an object of strings */
  struct islet_net net;       /* each RUN's sandbox's network */
  struct islet_limits limits; /* and its limits */
  uint32_t timeout_s;         /* a RUN's wall-clock limit */
  uint64_t max_bytes;         /* the new layers' tars together; 0: no bound */
  FILE *progress;             /* step lines and each RUN's output; may be NULL */
};

/* Build dockerfile (its text) into the store of state_dir; *id: the
 * image's id (a JSON string); *was_cached: an identical build was found. */
int islet_oci_build (const char *state_dir, const struct islet_build_opts *o,
                     const char *dockerfile, json_t **id, bool *was_cached,
                     struct islet_err *err) ISLET_MUST_CHECK;

/* What builds killed before they ended left (their sandboxes, partial
 * records, temporaries), removed now rather than at the next build's start. */
void islet_oci_build_reap (const char *state_dir);

enum build_op
{
  OP_FROM,
  OP_RUN,
  OP_ENV,
  OP_ARG,
  OP_WORKDIR,
  OP_USER,
  OP_CMD,
  OP_ENTRYPOINT,
  OP_COPY,
  OP_LABEL,
  OP_EXPOSE,
  OP_STOPSIGNAL,
  OP_MAINTAINER,
  OP_SHELL,
  OP_HEALTHCHECK,
};

struct build_step
{
  enum build_op op;
  unsigned line; /* of the Dockerfile, from 1: where the instruction starts */
  char *text;    /* its arguments, continuation lines joined, trimmed */
};

/* The steps of a Dockerfile: comments and blank lines dropped, lines ending
 * in a backslash joined, each instruction's arguments checked as far as
 * they can be before variables have values.  An instruction islet does not
 * build, or one written wrongly, is an error naming its line. */
int build_parse (const char *dockerfile, struct build_step **steps, size_t *n,
                 struct islet_err *err) ISLET_MUST_CHECK;
void build_steps_free (struct build_step *steps, size_t n);
const char *build_op_name (enum build_op op);

/* Split text into words as a Dockerfile does: blanks separate words, '...'
 * keeps everything, "..." and a backslash escape, $NAME and ${NAME},
 * ${NAME:-word} and ${NAME:+word} are replaced from vars (an object of
 * strings; unset is empty; NULL: kept as written) outside single quotes.
 * NULL-terminated. */
int build_words (const char *text, json_t *vars, char ***words,
                 struct islet_err *err) ISLET_MUST_CHECK;

/* text with its variables replaced as build_words does, not split. */
int build_expand (const char *text, json_t *vars, char **out,
                  struct islet_err *err) ISLET_MUST_CHECK;

/* COPY's arguments: its `--flag` words (*n_flags of them) first, then the
 * sources and the destination, from the JSON form (each string expanded,
 * never split) or from words. */
int build_copy_words (const char *text, json_t *vars, char ***words, size_t *n_flags,
                      struct islet_err *err) ISLET_MUST_CHECK;

/* FROM's image (st's first word, its variables replaced or not): `host`
 * and `scratch` are no image of the store, so no base for a build. */
int build_from_image (const struct build_step *st, const char *image,
                      struct islet_err *err) ISLET_MUST_CHECK;

/* EXPOSE's PORT[-PORT][/tcp|/udp] as the config's ExposedPorts key
 * (`/tcp` added), malloc'd; NULL for anything else. */
char *build_port (const char *word);

/* HEALTHCHECK's arguments (NONE, or [--interval=D --timeout=D
 * --start-period=D --start-interval=D --retries=N] CMD ...; no variables,
 * as in Docker) as the config's Healthcheck, durations in ns. */
int build_healthcheck (const char *text, json_t **hc, struct islet_err *err) ISLET_MUST_CHECK;

/* STOPSIGNAL's signal: a name (with or without SIG) or a number of one. */
bool build_signal_ok (const char *word);

/* `--chown=UID[:GID]`, numeric; -1 for anything else. */
int build_copy_chown (const char *flag, uint32_t *uid, uint32_t *gid);

/* A JSON array of strings (the exec form of RUN, CMD and ENTRYPOINT) into
 * *argv (NULL-terminated); 0 when text is not one (the shell form). */
int build_exec_form (const char *text, char ***argv);

/* ---- oci_build_layer.c ---- */

/* What a sandbox's writable layer held before its RUN: each path's inode
 * and change time, so the layer made after it holds only what the RUN
 * changed (not the files islet writes into every sandbox). */
json_t *build_upper_baseline (const char *upper);

/* A layer tar (into out) of what changed in upper since baseline: files,
 * directories and their ancestors, with owners back in the image's range
 * (host uid base+N is N); overlayfs whiteouts become `.wh.NAME` entries and
 * opaque directories `.wh..wh..opq` ones.  Regular files whose sizes add
 * up to more than max_bytes (sparse ones counted whole) fail it. */
int build_layer_from_upper (const char *upper, uint32_t base, json_t *baseline, uint64_t max_bytes,
                            int out, struct islet_err *err) ISLET_MUST_CHECK;

/* The lower layers a new layer goes on (bottom first), to give the
 * ancestors of what it adds their owners and modes. */
struct build_lowers
{
  char *const *dirs;
  size_t n;
};

/* A COPY: each source (relative to the context directory ctx, which it
 * must not leave: `..`, absolute paths and symlinks that point out are
 * refused) to dest, owned by uid:gid.  With out < 0 nothing is written and
 * *hash (64 hex digits and a NUL) receives the sources' digest: names,
 * types, modes and contents, for the build cache. */
struct build_copy
{
  int ctx;
  char *const *srcs;
  size_t n_srcs;
  const char *dest; /* absolute */
  uint32_t uid, gid;
};
int build_layer_copy (const struct build_copy *c, const struct build_lowers *lowers, int out,
                      char hash[65], struct islet_err *err) ISLET_MUST_CHECK;

/* A layer with the directory path (and its missing ancestors), for a
 * WORKDIR that does not exist in lowers yet; 0 with *made false when it
 * does (nothing written). */
int build_layer_mkdir (const char *path, const struct build_lowers *lowers, int out, bool *made,
                       struct islet_err *err) ISLET_MUST_CHECK;

/* ---- oci_build_context.c ---- */

/* The tars (each a part of a build context, as the Daytona SDK uploads
 * them) unpacked together into a new directory *dir (malloc'd), held by
 * *lock until the build is over: then remove *dir and close *lock.  Only
 * files, directories and links; their sizes together within max_bytes (0:
 * no bound). */
int build_context_from_tars (const char *state, char *const *tars, size_t n, uint64_t max_bytes,
                             char **dir, int *lock, struct islet_err *err) ISLET_MUST_CHECK;

/* Whether a COPY source is a pattern (`*`, `?`, `[...]`). */
bool build_is_pattern (const char *src);

/* The paths of the context ctx that pattern matches, as Docker matches
 * them (per component, fnmatch without FNM_PERIOD: `*` takes a leading dot,
 * never a `/`), each directory's matches in byte order: *matches (n of
 * them, NULL-terminated, relative to ctx).  No match is an error naming
 * the pattern; a directory on the way that leads outside the context is
 * refused. */
int build_context_glob (int ctx, const char *pattern, char ***matches, size_t *n,
                        struct islet_err *err) ISLET_MUST_CHECK;

/* ---- oci_build_run.c ---- */

/* A RUN: a sandbox (named islet-build-TOKEN-STEP) made from the image id,
 * argv run in it with env (an object of ARG values) and cwd, its output to
 * the progress stream, then stopped; what it changed is written as a layer
 * tar to out, and the sandbox destroyed.  A command that fails is an error
 * with its status and the last lines of its output. */
struct build_run
{
  const char *state;
  const char *image;
  char *const *argv;
  json_t *env;
  const char *cwd;
  const char *token;
  size_t step;
  const struct islet_build_opts *opts;
  int out;
};
int build_run_step (const struct build_run *r, struct islet_err *err) ISLET_MUST_CHECK;

/* Destroy the sandboxes a build of token left (it was killed). */
void build_run_reap (const char *state, const char *token);

#endif
