/* The Dockerfile reader of image builds: instructions, continuation lines,
 * comments, errors that name the line, and words as Docker reads them
 * (what the SDK's Image helpers write). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* the reader is islet-image's; it needs nothing else of it */
#include "../../src/image/oci_build_file.c"

static void
steps_and_lines (void **state)
{
  struct build_step *s = NULL;
  struct islet_err err = { 0 };
  size_t n = 0;
  const char *df = "# syntax=docker/dockerfile:1\n"
                   "ARG V=1\n"
                   "from base:$V\n"
                   "\n"
                   "RUN apt-get update \\\n"
                   "# a comment inside\n"
                   "  && echo done   \n"
                   "CMD [\"sh\", \"-c\", \"echo hi\"]\n";
  (void) state;
  assert_int_equal (build_parse (df, &s, &n, &err), 0);
  assert_int_equal (n, 4);
  assert_int_equal (s[0].op, OP_ARG);
  assert_int_equal (s[1].op, OP_FROM);
  assert_int_equal (s[1].line, 3);
  assert_int_equal (s[2].op, OP_RUN);
  assert_int_equal (s[2].line, 5);
  assert_string_equal (s[2].text, "apt-get update   && echo done");
  assert_int_equal (s[3].line, 8);
  build_steps_free (s, n);
}

static void
refusals (void **state)
{
  struct build_step *s = NULL;
  struct islet_err err = { 0 };
  size_t n = 0;
  (void) state;
  assert_int_equal (build_parse ("FROM a\nADD x /y\n", &s, &n, &err), -1);
  assert_non_null (strstr (err.msg, "line 2"));
  assert_non_null (strstr (err.msg, "ADD"));
  assert_int_equal (build_parse ("RUN true\nFROM a\n", &s, &n, &err), -1);
  assert_non_null (strstr (err.msg, "first instruction must be FROM"));
  assert_int_equal (build_parse ("# nothing\n", &s, &n, &err), -1);
}

static void
expect_words (const char *text, json_t *vars, const char *const *want)
{
  char **w = NULL;
  struct islet_err err = { 0 };
  size_t i;
  assert_int_equal (build_words (text, vars, &w, &err), 0);
  for (i = 0; want[i]; i++)
    {
      assert_non_null (w[i]);
      assert_string_equal (w[i], want[i]);
    }
  assert_null (w[i]);
  islet_strv_free (w);
}

static void
words (void **state)
{
  json_t *vars = json_pack ("{s:s,s:s}", "HOME", "/srv/app", "E", "");
  char **w = NULL;
  struct islet_err err = { 0 };
  (void) state;
  expect_words ("A=1 B=\"two words\"", vars, (const char *const[]){ "A=1", "B=two words", NULL });
  /* shell-quote's quoting, as Image.env() writes it */
  expect_words ("MSG='it'\\''s' X=a\\ b", vars, (const char *const[]){ "MSG=it's", "X=a b", NULL });
  expect_words (
      "$HOME/x ${HOME}y '$HOME' \"$HOME\" \\$HOME", vars,
      (const char *const[]){ "/srv/app/x", "/srv/appy", "$HOME", "/srv/app", "$HOME", NULL });
  expect_words ("${NOPE:-d} ${E:-e} ${HOME:+set} x${NOPE}y", vars,
                (const char *const[]){ "d", "e", "set", "xy", NULL });
  assert_int_equal (build_words ("'open", vars, &w, &err), -1);
  assert_int_equal (build_words ("${HOME", vars, &w, &err), -1);
  json_decref (vars);
}

static void
exec_form (void **state)
{
  char **argv = NULL;
  (void) state;
  assert_int_equal (build_exec_form ("[\"python\", \"-c\", \"1\"]", &argv), 1);
  assert_string_equal (argv[0], "python");
  assert_string_equal (argv[2], "1");
  assert_null (argv[3]);
  islet_strv_free (argv);
  assert_int_equal (build_exec_form ("[\"a\", 1]", &argv), 0);
  assert_int_equal (build_exec_form ("echo [x]", &argv), 0);
  assert_int_equal (build_exec_form ("[not json", &argv), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (steps_and_lines),
    cmocka_unit_test (refusals),
    cmocka_unit_test (words),
    cmocka_unit_test (exec_form),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
