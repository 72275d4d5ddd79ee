// server: ../cli/opts.c
/* The limits table (src/common/limits.c) walked row by row: each limit has
 * its names, a range its default is in, a JSON round trip, and a CLI flag
 * that the option parser (src/cli/opts.c) takes into the right field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/cli/cli.h"
#include "islet/limits.h"

static void
test_rows (void **state)
{
  const struct islet_limits dflt = ISLET_LIMITS_DEFAULT;

  (void) state;
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    {
      const struct islet_limit_def *d = &islet_limit_defs[i];

      assert_non_null (d->key);
      assert_non_null (d->what);
      assert_non_null (d->arg);
      assert_non_null (d->help);
      assert_int_equal (strncmp (d->flag, "--", 2), 0);
      assert_true (d->min <= d->max);
      assert_true (d->wide || d->max <= UINT32_MAX);
      assert_true (d->offset + (d->wide ? 8 : 4) <= sizeof (struct islet_limits));
      assert_true (islet_limit_get (&dflt, d) >= d->min);
      assert_true (islet_limit_get (&dflt, d) <= d->max);
      /* each API's field (Daytona's, MCP's, /v1's) has its units and is
         found by its name; MCP's describes itself */
      for (int f = 0; f < ISLET_NFACES; f++)
        {
          assert_true (d->face[f].name == NULL || d->face[f].per > 0);
          assert_true (d->face[f].name == NULL || islet_limit_named (f, d->face[f].name) == d);
        }
      assert_true (d->face[ISLET_FACE_MCP].name == NULL || d->face[ISLET_FACE_MCP].desc != NULL);
      for (size_t j = 0; j < i; j++)
        {
          assert_string_not_equal (d->key, islet_limit_defs[j].key);
          assert_string_not_equal (d->flag, islet_limit_defs[j].flag);
          assert_int_not_equal (d->offset, islet_limit_defs[j].offset);
        }
    }
  assert_int_equal (islet_limits_validate (&dflt, &(struct islet_err){ 0 }), 0);
  assert_null (islet_limit_named (ISLET_FACE_DAYTONA, "gpu"));
  assert_null (islet_limit_named (ISLET_FACE_V1, "memory_mb"));
}

/* Every limit at its maximum, to JSON by its key and back. */
static void
test_json_round_trip (void **state)
{
  struct islet_limits l = ISLET_LIMITS_DEFAULT, back;
  json_t *j;

  (void) state;
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    islet_limit_set (&l, &islet_limit_defs[i], islet_limit_defs[i].max);
  j = islet_limits_json (&l);
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    assert_true (json_integer_value (json_object_get (j, islet_limit_defs[i].key))
                 == (json_int_t) islet_limit_defs[i].max);
  islet_limits_read (j, &back);
  assert_true (islet_limits_equal (&l, &back));
  json_decref (j);
}

struct args
{
  int before;
  struct cli_limits limits;
};

static const struct cli_opt limit_opts[] = {
  CLI_LIMIT_OPTS (struct args, limits),
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec spec = {
  .name = "t",
  .args = "",
  .opts = { limit_opts },
  .raw_from = -1,
};

static int
parse (struct args *a, const char *flag, const char *value, struct islet_err *err)
{
  char *argv[] = { (char *) flag, (char *) value, NULL };
  struct cli cli = { 0 };
  cleanup_pos struct cli_pos pos = { 0 };

  *a = (struct args){ .limits = CLI_LIMITS_DEFAULT };
  if (cli_parse (&cli, &spec, 2, argv, a, &pos, err) < 0)
    return -1;
  return cli_limits_finish (&a->limits, err);
}

/* Each row's flag at its limit's maximum lands in that limit alone; one
 * past it is refused naming the flag. */
static void
test_cli_flags (void **state)
{
  const struct islet_limits dflt = ISLET_LIMITS_DEFAULT;

  (void) state;
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    {
      const struct islet_limit_def *d = &islet_limit_defs[i];
      uint64_t unit = d->decimal && d->offset != offsetof (struct islet_limits, timeout_s) ? 1000
                                                                                           : 1;
      char value[32];
      struct islet_err err;
      struct args a;

      snprintf (value, sizeof value, "%llu", (unsigned long long) (d->max / unit));
      assert_int_equal (parse (&a, d->flag, value, &err), 0);
      assert_int_equal (islet_limit_get (&a.limits.l, d), d->max / unit * unit);
      for (size_t j = 0; j < ISLET_NLIMITS; j++)
        if (j != i)
          assert_int_equal (islet_limit_get (&a.limits.l, &islet_limit_defs[j]),
                            islet_limit_get (&dflt, &islet_limit_defs[j]));
      if (d->offset == offsetof (struct islet_limits, timeout_s))
        assert_int_equal (a.limits.timeout_ms, d->max * 1000);

      snprintf (value, sizeof value, "%llu", (unsigned long long) (d->max / unit + 1));
      assert_int_equal (parse (&a, d->flag, value, &err), -1);
      assert_non_null (strstr (err.msg, d->flag));
    }
}

/* Each API's field of each limit, in the API's units: its default read
 * back to the default, its maximum to the maximum, past it, 0, a string
 * and a fraction where the API takes none refused naming the field. */
static void
test_faces (void **state)
{
  const struct islet_limits dflt = ISLET_LIMITS_DEFAULT;

  (void) state;
  for (int f = 0; f < ISLET_NFACES; f++)
    {
      json_t *all = json_object ();
      struct islet_limits l = { 0 };
      struct islet_err err;
      bool given;

      for (size_t i = 0; i < ISLET_NLIMITS; i++)
        {
          const struct islet_limit_def *d = &islet_limit_defs[i];
          const struct islet_limit_name *n = &d->face[f];
          json_t *v;
          uint64_t got;

          if (n->name == NULL)
            {
              islet_limit_set (&l, d, islet_limit_get (&dflt, d));
              continue;
            }
          json_object_set_new (all, n->name, islet_limit_face_json (d, f, &dflt));
          v = json_real ((double) d->max / n->per);
          assert_int_equal (islet_limit_take (d, f, v, &got, &err), 0);
          assert_true (got == d->max);
          json_decref (v);
          const json_t *bad[] = { json_real ((double) d->max / n->per + 1), json_integer (0),
                                  json_string ("1"),
                                  n->fraction ? NULL : json_real ((double) d->min + 0.5) };
          for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++)
            if (bad[b])
              {
                assert_int_equal (islet_limit_take (d, f, bad[b], &got, &err), -1);
                assert_non_null (strstr (err.msg, n->name));
                json_decref ((json_t *) bad[b]);
              }
        }
      assert_int_equal (islet_limits_take (all, f, &l, &given, &err), 0);
      assert_true (given);
      assert_true (islet_limits_equal (&l, &dflt));
      json_decref (all);
    }
  /* rounded up from a fraction, never past a float's error */
  {
    const struct islet_limit_def *cpu = islet_limit_named (ISLET_FACE_MCP, "cpus");
    struct islet_err err;
    uint64_t got;
    json_t *v = json_real (0.1);

    assert_int_equal (islet_limit_take (cpu, ISLET_FACE_MCP, v, &got, &err), 0);
    assert_int_equal (got, 100);
    json_decref (v);
    v = json_real (0.1234);
    assert_int_equal (islet_limit_take (cpu, ISLET_FACE_MCP, v, &got, &err), 0);
    assert_int_equal (got, 124);
    json_decref (v);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_rows),
    cmocka_unit_test (test_json_round_trip),
    cmocka_unit_test (test_cli_flags),
    cmocka_unit_test (test_faces),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
