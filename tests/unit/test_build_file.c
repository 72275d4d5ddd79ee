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

/* Each Dockerfile islet cannot build: refused by the parse that isletd
 * runs at create (islet_dockerfile_check), with its line and reason. */
static void
refused_at_check (void **state)
{
  static const struct
  {
    const char *df;
    bool ctx;
    const char *want;
  } cases[] = {
    { "FROM a\nFOO bar\n", false, "line 2: `FOO` is not an instruction islet builds" },
    { "FROM a\nRUN true\nADD x.tar /y\n", true,
      "line 3: ADD is not supported: islet does not "
      "unpack archives" },
    { "FROM a\nSHELL bash -c\n", false, "line 2: SHELL takes the JSON form" },
    { "FROM a\nEXPOSE 80 http\n", false, "line 2: EXPOSE `http` is not PORT[-PORT][/tcp|/udp]" },
    { "FROM a\nEXPOSE 70000\n", false, "line 2: EXPOSE `70000`" },
    { "FROM a\nEXPOSE 80/quic\n", false, "line 2: EXPOSE `80/quic`" },
    { "FROM a\nSTOPSIGNAL SIGNOPE\n", false, "line 2: STOPSIGNAL `SIGNOPE` is not a signal" },
    { "FROM a\nSTOPSIGNAL 15 9\n", false, "line 2: STOPSIGNAL takes one argument" },
    { "FROM a\nHEALTHCHECK --interval=abc CMD true\n", false,
      "line 2: HEALTHCHECK --interval=abc: `abc` is not a duration" },
    { "FROM a\nHEALTHCHECK --retries=x CMD true\n", false, "`x` is not a count" },
    { "FROM a\nHEALTHCHECK --bogus=1 CMD true\n", false, "HEALTHCHECK --bogus=1 is not an option" },
    { "FROM a\nHEALTHCHECK true\n", false, "line 2: HEALTHCHECK takes NONE or [OPTIONS] CMD" },
    { "FROM a\nONBUILD RUN true\n", false, "line 2: ONBUILD is not supported" },
    { "FROM a\nVOLUME /data\n", false, "line 2: VOLUME is not supported" },
    { "FROM a\n\nRUN --mount=type=cache,target=/c true\n", false,
      "line 3: RUN flags (--mount=type=cache,target=/c) are not supported" },
    { "FROM a\nRUN <<EOF\necho hi\nEOF\n", false, "line 2: RUN <<EOF" },
    { "FROM a\nCOPY <<-\"EOF\" /x\nhi\nEOF\n", true, "heredocs are not supported" },
    { "FROM a\nCOPY --from=build /x /y\n", true, "line 2: COPY --from=build: multi-stage" },
    { "FROM a\nCOPY --chmod=644 x /y\n", true, "line 2: COPY --chmod=644 is not supported" },
    { "FROM a\nCOPY --chown=app x /y\n", true, "--chown takes numeric ids" },
    { "FROM a\nCOPY x\n", true, "line 2: COPY takes SOURCE... DEST" },
    { "FROM a\nCOPY x /y\n", false, "line 2: COPY needs a build context" },
    { "FROM a\nCOPY [\"x\", 1]\n", true, "line 2: COPY: the JSON form takes strings only" },
    { "ARG V=1\nRUN true\nFROM a\n", false, "line 2: the first instruction must be FROM" },
    { "# only\n\n", false, "the Dockerfile has no FROM" },
    { "ARG V\n", false, "the Dockerfile has no FROM" },
    { "FROM a AS one\nRUN true\nFROM b\n", false, "line 3: a second FROM: multi-stage" },
    { "FROM --platform=linux/arm64 a\n", false, "line 1: FROM `--platform=linux/arm64`: flags" },
    { "FROM a b\n", false, "line 1: FROM takes IMAGE [AS NAME]" },
    { "FROM\n", false, "line 1: FROM takes arguments" },
    { "FROM a\nRUN\n", false, "line 2: RUN takes arguments" },
    { "FROM a\nARG 1X=2\n", false, "line 2: ARG `1X`: a name is letters" },
    { "FROM a\nARG my-var\n", false, "line 2: ARG `my-var`" },
    { "FROM a\nARG =x\n", false, "line 2: ARG ``" },
    { "FROM a\nENV A\n", false, "line 2: ENV A has no value" },
    { "FROM a\nENV =1\n", false, "line 2: ENV `=1` is not KEY=VALUE" },
    { "FROM a\nLABEL x\n", false, "line 2: LABEL `x` is not KEY=VALUE" },
    { "FROM a\nENV A=\"open\n", false, "line 2: ENV: a quote is not closed" },
    { "FROM a\nENV A=${B:?unset}\n", false,
      "line 2: ENV: `${B:?unset}` is not a variable islet expands" },
    { "FROM a\nENV A=${B\n", false, "line 2: ENV: `${B` is not a variable" },
    { "FROM a\nENV A=${}\n", false, "line 2: ENV: `${` needs a variable's name" },
    { "FROM a\nWORKDIR /a /b\n", false, "line 2: WORKDIR takes one argument" },
    { "FROM a\nUSER \"\"\n", false, "line 2: USER takes one argument" },
    { "# escape=`\nFROM a\n", false, "line 1: the escape directive ``` is not supported" },
    { "# syntax=example.com/other:1\nFROM a\n", false, "line 1: syntax `example.com/other:1`" },
  };
  (void) state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      struct islet_err err = { 0 };
      if (islet_dockerfile_check (cases[i].df, cases[i].ctx, &err) != -1
          || strstr (err.msg, cases[i].want) == NULL)
        fail_msg ("case %zu (%s): got `%s`, want `%s`", i, cases[i].df, err.msg, cases[i].want);
    }
}

/* What the SDK's Image helpers and ordinary Dockerfiles write passes the
 * check; so do variables whose values only the build knows. */
static void
accepted_at_check (void **state)
{
  static const char *const ok[] = {
    "# syntax=docker/dockerfile:1.7\n# escape=\\\nFROM a\n",
    "#syntax=docker.io/docker/dockerfile@sha256:00\nFROM a\n",
    "ARG BASE=a\nFROM ${BASE} AS build\nARG V\nRUN echo $V\n",
    "FROM a\nRUN python -m pip install 'numpy==1.26' pandas\nENV A=1 B=\"two words\"\n"
    "ENV OLD form value\nLABEL x=1 \"y z\"=2\nWORKDIR $HOME\nUSER ${U:-1000}\n"
    "COPY --chown=$UID:$GID /abs/path /remote/\nCOPY [\"a b\", \"c\", \"/d/\"]\n"
    "COPY *.py src/*.txt /app/\nENTRYPOINT [\"sh\"]\nCMD [\"-c\", \"echo\"]\n",
    "FROM a\nRUN echo '<< not a heredoc' && echo x<<1\n",
    "FROM a\nEXPOSE 80 8000-8010/udp $PORT\nSTOPSIGNAL SIGINT\nSTOPSIGNAL term\nSTOPSIGNAL 2\n"
    "MAINTAINER someone <a@b>\nSHELL [\"/bin/bash\", \"-c\"]\n",
    "FROM a\nHEALTHCHECK NONE\nHEALTHCHECK --interval=1m30s CMD curl -f http://localhost/ || exit "
    "1\n"
    "HEALTHCHECK CMD [\"true\"]\n",
    "from a\nrun true\n",
  };
  (void) state;
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    {
      struct islet_err err = { 0 };
      if (islet_dockerfile_check (ok[i], true, &err) != 0)
        fail_msg ("case %zu (%s): refused: %s", i, ok[i], err.msg);
    }
}

/* A line longer than islet takes is refused with its line, however it is
 * made (one line, or many continued). */
static void
too_long (void **state)
{
  size_t big = 70 * 1024;
  char *df = malloc (big + 8192), *p; /* 1000 continued lines of 73 bytes fit too */
  struct islet_err err = { 0 };
  (void) state;
  p = df + sprintf (df, "FROM a\nRUN true\nRUN ");
  memset (p, 'x', big);
  strcpy (p + big, "\n");
  assert_int_equal (islet_dockerfile_check (df, false, &err), -1);
  assert_non_null (strstr (err.msg, "line 3:"));
  assert_non_null (strstr (err.msg, "the instruction is more than 65536 bytes long"));
  p = df + sprintf (df, "FROM a\nRUN \\\n");
  for (size_t i = 0; i < 1000; i++)
    p += sprintf (p, "%070d \\\n", 0);
  strcpy (p, "true\n");
  assert_int_equal (islet_dockerfile_check (df, false, &err), -1);
  assert_non_null (strstr (err.msg, "line 2:"));
  free (df);
}

/* COPY's arguments: flags first, the JSON form's strings expanded but not
 * split, words otherwise. */
static void
copy_words (void **state)
{
  json_t *vars = json_pack ("{s:s}", "D", "/dst dir");
  struct islet_err err = { 0 };
  char **w = NULL;
  size_t flags = 9;
  (void) state;
  assert_int_equal (build_copy_words ("--chown=1:2 [\"a b\", \"$D/\"]", vars, &w, &flags, &err), 0);
  assert_int_equal (flags, 1);
  assert_string_equal (w[0], "--chown=1:2");
  assert_string_equal (w[1], "a b");
  assert_string_equal (w[2], "/dst dir/");
  assert_null (w[3]);
  islet_strv_free (w);
  assert_int_equal (build_copy_words ("a \"b c\" ${D}", vars, &w, &flags, &err), 0);
  assert_int_equal (flags, 0);
  assert_string_equal (w[1], "b c");
  assert_string_equal (w[2], "/dst dir");
  islet_strv_free (w);
  json_decref (vars);
}

/* HEALTHCHECK as Docker records it: the test's form, durations in ns. */
static void
healthcheck (void **state)
{
  struct islet_err err = { 0 };
  json_t *hc = NULL;
  char *text;
  (void) state;
  assert_int_equal (build_healthcheck ("--interval=1m30s --timeout=1.5s --start-period=500ms "
                                       "--retries=3 CMD curl -f http://x/ || exit 1",
                                       &hc, &err),
                    0);
  text = json_dumps (hc, JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal (text, "{\"Interval\":90000000000,\"Retries\":3,\"StartPeriod\":500000000,"
                             "\"Test\":[\"CMD-SHELL\",\"curl -f http://x/ || exit 1\"],"
                             "\"Timeout\":1500000000}");
  free (text);
  json_decref (hc);
  assert_int_equal (build_healthcheck ("CMD [\"pg_isready\", \"-q\"]", &hc, &err), 0);
  text = json_dumps (hc, JSON_COMPACT);
  assert_string_equal (text, "{\"Test\":[\"CMD\",\"pg_isready\",\"-q\"]}");
  free (text);
  json_decref (hc);
  assert_int_equal (build_healthcheck ("none", &hc, &err), 0);
  assert_string_equal (json_string_value (json_array_get (json_object_get (hc, "Test"), 0)),
                       "NONE");
  json_decref (hc);
  assert_int_equal (build_healthcheck ("--interval=5 CMD true", &hc, &err), -1);
  assert_int_equal (build_healthcheck ("CMD", &hc, &err), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (steps_and_lines),
    cmocka_unit_test (refusals),
    cmocka_unit_test (words),
    cmocka_unit_test (exec_form),
    cmocka_unit_test (refused_at_check),
    cmocka_unit_test (accepted_at_check),
    cmocka_unit_test (too_long),
    cmocka_unit_test (copy_words),
    cmocka_unit_test (healthcheck),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
