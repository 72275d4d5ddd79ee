/* A build's RUN, in an islet sandbox of its own: made from the build's
 * image so far with the build's limits and network, the command run as the
 * image's USER in its WORKDIR, its output shown as it comes, and what it
 * changed in the writable layer taken as the step's layer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "islet/client.h"
#include "islet/config.h"
#include "islet/proto.h"
#include "islet/sandbox.h"
#include "islet/util.h"
#include "oci_build.h"

#define TAIL 2048

/* The output as it comes, and its last TAIL bytes for the error. */
struct tee
{
  FILE *progress;
  char tail[TAIL];
  size_t len;
};

static void
on_output (enum islet_stream stream, const char *data, size_t len, void *user)
{
  struct tee *t = user;
  (void) stream;
  if (t->progress)
    {
      fwrite (data, 1, len, t->progress);
      fflush (t->progress);
    }
  if (len >= TAIL)
    {
      memcpy (t->tail, data + len - TAIL, TAIL);
      t->len = TAIL;
      return;
    }
  if (t->len + len > TAIL)
    {
      size_t drop = t->len + len - TAIL;
      memmove (t->tail, t->tail + drop, t->len - drop);
      t->len -= drop;
    }
  memcpy (t->tail + t->len, data, len);
  t->len += len;
}

/* The last few lines of the output, for an error message. */
static const char *
tail_lines (struct tee *t)
{
  size_t start = 0, lines = 0;
  while (t->len > 0 && t->tail[t->len - 1] == '\n')
    t->len--;
  t->tail[t->len < TAIL ? t->len : TAIL - 1] = '\0';
  for (size_t i = t->len; i-- > 0;)
    if (t->tail[i] == '\n' && ++lines == 5)
      {
        start = i + 1;
        break;
      }
  return t->tail + start;
}

static int
check_result (const struct islet_exec_result *res, struct tee *t, uint32_t timeout_s,
              struct islet_err *err)
{
  const char *tail = tail_lines (t);
  const char *sep = *tail ? ": " : "";

  if (res->error[0])
    return islet_fail (err, ISLET_E_INVALID, 0, "could not start: %s", res->error);
  if (res->timed_out)
    return islet_fail (err, ISLET_E_INVALID, 0, "timed out after %u s%s%s", timeout_s, sep, tail);
  if (res->oom_killed)
    return islet_fail (err, ISLET_E_INVALID, 0, "killed: out of memory%s%s", sep, tail);
  if (res->exit_code != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "exited with status %d%s%s", res->exit_code, sep,
                       tail);
  return 0;
}

/* The sandbox's writable layer and its uid base. */
static int
upper_of (const char *state, const char *id, char **upper, uint32_t *base, struct islet_err *err)
{
  cleanup_free char *cfg = islet_xasprintf ("%s/sandboxes/%s/config.json", state, id);
  cleanup_free char *volume = NULL;
  struct islet_sandbox_info info;

  if (islet_config_load (cfg, &info, &volume, err) < 0)
    return -1;
  *upper = islet_xasprintf ("%s/upper", volume);
  *base = info.uid_base;
  return 0;
}

static int
run_in (struct islet_ctx *ctx, const struct build_run *r, const char *id, struct islet_err *err)
{
  cleanup_free char *upper = NULL;
  cleanup_json json_t *baseline = NULL;
  char **env = islet_xcalloc (json_object_size (r->env) + 1, sizeof *env);
  struct tee t = { .progress = r->opts->progress };
  struct islet_exec_result res = { 0 };
  struct islet_exec_req req = { 0 };
  const char *k;
  json_t *v;
  uint32_t base = 0;
  size_t n = 0;
  int rc = -1;

  json_object_foreach (r->env, k, v) env[n++] = islet_xasprintf ("%s=%s", k, json_string_value (v));
  if (upper_of (r->state, id, &upper, &base, err) < 0)
    goto out;
  baseline = build_upper_baseline (upper);
  req = (struct islet_exec_req){ .argv = r->argv,
                                 .env = env,
                                 .cwd = r->cwd,
                                 .timeout_ms = r->opts->timeout_s * 1000u,
                                 .on_output = on_output,
                                 .user = &t,
                                 .uncollected = true };
  if (islet_exec (ctx, id, &req, &res, err) < 0
      || check_result (&res, &t, r->opts->timeout_s, err) < 0)
    goto out;
  /* stopped first: nothing left running changes the layer as it is read */
  if (islet_sandbox_stop (ctx, id, err) < 0)
    goto out;
  rc = build_layer_from_upper (upper, base, baseline, r->opts->limits.disk_mb << 20, r->out, err);
out:
  islet_exec_result_fini (&res);
  islet_strv_free (env);
  return rc;
}

int
build_run_step (const struct build_run *r, struct islet_err *err)
{
  struct islet_ctx *ctx = NULL;
  cleanup_free char *name = islet_xasprintf ("islet-build-%s-%zu", r->token, r->step + 1);
  struct islet_create_opts co = { .name = name, .image = r->image, .build = true };
  char id[ISLET_ID_LEN + 1];
  struct islet_err ignored;
  int rc;

  co.limits = r->opts->limits;
  co.net = r->opts->net;
  if (islet_ctx_open (r->state, NULL, &ctx, err) < 0)
    return -1;
  if (islet_sandbox_create (ctx, &co, id, err) < 0)
    {
      islet_ctx_free (ctx);
      return islet_wrap (err, "make its sandbox");
    }
  rc = run_in (ctx, r, id, err);
  if (islet_sandbox_destroy (ctx, id, true, &ignored) < 0 && r->opts->progress)
    fprintf (r->opts->progress, "islet: could not remove the build sandbox %s: %s\n", id,
             ignored.msg);
  islet_ctx_free (ctx);
  return rc;
}

void
build_run_reap (const char *state, const char *token)
{
  cleanup_free char *prefix = islet_xasprintf ("islet-build-%s-", token);
  struct islet_sandbox_info *list = NULL;
  struct islet_ctx *ctx = NULL;
  struct islet_err ignored;
  size_t n = 0;

  if (islet_ctx_open (state, NULL, &ctx, &ignored) < 0)
    return;
  if (islet_sandbox_list (ctx, &list, &n, &ignored) == 0)
    for (size_t i = 0; i < n; i++)
      if (strncmp (list[i].name, prefix, strlen (prefix)) == 0)
        (void) !islet_sandbox_destroy (ctx, list[i].id, true, &ignored);
  free (list);
  islet_ctx_free (ctx);
}
