/* bench_image: create from a cached image (the default image unless
 * --image names another the state directory has) against create from
 * `host`, taken in turns in one state directory, at library level
 * (islet_sandbox_create until ready to exec, as bench_core times it); each
 * sandbox destroyed untimed.
 *
 *   bench_image --state DIR --runtime ISLET_RUN [--image REF] [--json OUT] [-n RUNS]
 *
 * Each turn is one create of each, the first of the pair alternating.
 * Prints p50/p90/p99 of both, the difference of the p50s and issue 13's
 * target for it (within 0.5 ms), and writes them to OUT with every sample,
 * in the order taken.  Also printed: the p50 of the differences within
 * each turn (the image's create minus the host's), which a change of the
 * machine's load during the run moves less. */
#include <getopt.h>

#include "bench.h"
#include "islet/client.h"
#include "islet/sandbox.h"

#define WARMUP 5
#define USAGE                                                                                      \
  "usage: bench_image --state DIR --runtime ISLET_RUN [--image REF] [--json OUT] [-n RUNS]"

static struct islet_ctx *ctx;

static json_t *
samples_json (const struct samples *s)
{
  json_t *a = json_array ();

  for (size_t i = 0; i < s->n; i++)
    json_array_append_new (a, json_real (s->v[i]));
  return a;
}

static double
create_destroy (const char *image)
{
  struct islet_create_opts o = { .image = image, .limits = ISLET_LIMITS_DEFAULT };
  struct islet_err err = { 0 };
  char id[ISLET_ID_LEN + 1];
  uint64_t t0 = bench_now_ns ();
  double ms;

  if (islet_sandbox_create (ctx, &o, id, &err) < 0)
    die ("create on %s: %s", image, err.msg);
  ms = bench_ms_since (t0);
  if (islet_sandbox_destroy (ctx, id, true, &err) < 0)
    die ("destroy %s: %s", id, err.msg);
  return ms;
}

int
main (int argc, char **argv)
{
  static const struct option longs[] = { { "state", required_argument, NULL, 's' },
                                         { "runtime", required_argument, NULL, 'r' },
                                         { "image", required_argument, NULL, 'i' },
                                         { "json", required_argument, NULL, 'j' },
                                         { NULL, 0, NULL, 0 } };
  const char *state = NULL, *runtime = NULL, *image = "default", *json_out = NULL;
  json_t *out = json_object (), *targets = json_array ();
  char label[128];
  struct islet_err err = { 0 };
  struct samples host = { 0 }, deflt = { 0 };
  struct samples pairs = { 0 };
  struct stats sh, sd, sp;
  size_t n = 200;
  int c;

  while ((c = getopt_long (argc, argv, "n:", longs, NULL)) != -1)
    if (c == 's')
      state = optarg;
    else if (c == 'r')
      runtime = optarg;
    else if (c == 'i')
      image = optarg;
    else if (c == 'j')
      json_out = optarg;
    else if (c == 'n')
      n = (size_t) strtoul (optarg, NULL, 10);
    else
      die (USAGE);
  if (state == NULL || runtime == NULL || n == 0)
    die (USAGE);
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (islet_ctx_open (state, runtime, &ctx, &err) < 0)
    die ("open state dir: %s", err.msg);
  for (int i = 0; i < WARMUP; i++)
    {
      (void) create_destroy ("host");
      (void) create_destroy (image);
    }
  /* in turns, so a change of the machine's load falls on both alike; which
     goes first alternates, so what a destroy leaves the kernel to finish
     after it returns does not always fall on the same side */
  for (size_t i = 0; i < n; i++)
    {
      double h, d;

      if (i % 2 == 0)
        {
          h = create_destroy ("host");
          d = create_destroy (image);
        }
      else
        {
          d = create_destroy (image);
          h = create_destroy ("host");
        }
      samples_add (&host, h);
      samples_add (&deflt, d);
    }
  sh = samples_stats (&host);
  sd = samples_stats (&deflt);
  for (size_t i = 0; i < n; i++)
    samples_add (&pairs, deflt.v[i] - host.v[i]);
  sp = samples_stats (&pairs);
  row_header ("create, in turns (ms)");
  row ("create --image host", &sh);
  snprintf (label, sizeof label, "create --image %s (cached)", image);
  row (label, &sd);
  printf ("p50 difference: %+.2f ms\n", sd.p50 - sh.p50);
  printf ("p50 of the differences within turns: %+.2f ms (p90 %+.2f)\n", sp.p50, sp.p90);
  printf ("\ntargets\n");
  target (targets, "create from a cached image, p50 over host", sd.p50 - sh.p50, "<=", 0.5, "ms");
  json_object_set_new (out, "image", json_string (image));
  json_object_set_new (out, "create_host", stats_json (&sh));
  json_object_set_new (out, "create_image", stats_json (&sd));
  json_object_set_new (out, "difference_in_turns", stats_json (&sp));
  json_object_set_new (out, "samples_host_ms", samples_json (&host));
  json_object_set_new (out, "samples_image_ms", samples_json (&deflt));
  json_object_set_new (out, "targets", targets);
  if (json_out && json_save (out, json_out) < 0)
    return 1;
  json_decref (out);
  samples_fini (&host);
  samples_fini (&deflt);
  samples_fini (&pairs);
  islet_ctx_free (ctx);
  return 0;
}
