/* libFuzzer: the Dockerfile reader of image builds (src/image/oci_build_file.c),
 * which reads what a Daytona client sends as buildInfo.  Safety rule: any
 * input parses or fails with a message; every step's text is a run of the
 * input's bytes; and its words, with no variable set, are together no
 * longer than the text (quotes and escapes only remove characters, and an
 * unset variable expands to nothing or to a default written in the text);
 * so are its words with variables kept as written, and COPY's words. */
#include <stdlib.h>
#include <string.h>

#include "../../src/image/oci_build.h"

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t len)
{
  char *text = malloc (len + 1);
  struct build_step *steps = NULL;
  struct islet_err err = { 0 };
  json_t *vars = json_object ();
  size_t n = 0;

  memcpy (text, data, len);
  text[len] = '\0';
  if (build_parse (text, &steps, &n, &err) == 0)
    for (size_t i = 0; i < n; i++)
      {
        char **w = NULL, **argv = NULL;
        size_t total = 0, tl = strlen (steps[i].text), flags = 0;
        if (tl > len || steps[i].line == 0)
          abort ();
        if (build_words (steps[i].text, vars, &w, &err) == 0)
          {
            for (size_t k = 0; w[k]; k++)
              total += strlen (w[k]);
            if (total > tl)
              abort ();
            islet_strv_free (w);
          }
        /* variables kept as written (the check at create), and COPY's
           words (flags, then the JSON form or words): no longer either */
        if (build_words (steps[i].text, NULL, &w, &err) == 0)
          {
            total = 0;
            for (size_t k = 0; w[k]; k++)
              total += strlen (w[k]);
            if (total > tl)
              abort ();
            islet_strv_free (w);
          }
        if (build_copy_words (steps[i].text, NULL, &w, &flags, &err) == 0)
          {
            total = 0;
            for (size_t k = 0; w[k]; k++)
              total += strlen (w[k]);
            if (total > tl || flags > tl)
              abort ();
            islet_strv_free (w);
          }
        if (build_exec_form (steps[i].text, &argv))
          islet_strv_free (argv);
      }
  else if (err.msg[0] == '\0')
    abort ();
  build_steps_free (steps, n);
  json_decref (vars);
  free (text);
  return 0;
}
