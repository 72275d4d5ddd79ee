/* libFuzzer: the parsers of what tools print inside a sandbox
 * (toolbox_parse.c: session records and logs, git status, branches and
 * remotes, grep, NUL lists, an /etc/passwd's ids).  Input: one byte to pick the parser, then the
 * bytes a sandbox could print.  Safety rule: whatever the bytes, the answer is JSON that serializes
 * (every string valid UTF-8), of the right shape, with no more entries than the input could hold,
 * and session ids that session_id_ok accepts. */
#include <stdlib.h>
#include <string.h>

#include "toolbox.h"

static void
check_strings (json_t *j)
{
  char *s = json_dumps (j, JSON_ENCODE_ANY);
  if (s == NULL)
    abort ();
  free (s);
}

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t size)
{
  const char *s = (const char *) data + 1;
  size_t len = size ? size - 1 : 0, i;
  json_t *j = NULL, *e;

  if (size < 1)
    return 0;
  switch (data[0] % 8)
    {
    case 0:
      j = parse_session_dump (s, len);
      if (!json_is_array (j) || json_array_size (j) > len / 4 + 1)
        abort ();
      json_array_foreach (j, i, e)
      {
        if (!session_id_ok (json_string_value (json_object_get (e, "sessionId"))))
          abort ();
        if (!json_is_array (json_object_get (e, "commands")))
          abort ();
      }
      break;
    case 1:
      /* a byte that is not UTF-8 becomes U+FFFD, 3 bytes */
      j = parse_session_logs (s, len);
      if (json_string_length (json_object_get (j, "stdout"))
              + json_string_length (json_object_get (j, "output"))
          > 3 * len)
        abort ();
      break;
    case 2:
      j = parse_git_status (s, len);
      if (!json_is_string (json_object_get (j, "currentBranch"))
          || json_array_size (json_object_get (j, "fileStatus")) > len / 5 + 1)
        abort ();
      break;
    case 3:
      j = parse_git_branches (s, len);
      if (json_array_size (json_object_get (j, "branches")) > len / 2 + 1)
        abort ();
      break;
    case 4:
      j = parse_grep (s, len, 100);
      if (!json_is_array (j) || json_array_size (j) > 100)
        abort ();
      json_array_foreach (j, i, e) if (json_integer_value (json_object_get (e, "line")) < 0)
          abort ();
      break;
    case 5:
      /* each remote needs "remote.X.url\n" and a NUL: 14 bytes */
      j = parse_git_remotes (s, len);
      if (json_array_size (json_object_get (j, "remotes")) > len / 14 + 1)
        abort ();
      json_array_foreach (json_object_get (j, "remotes"), i, e)
      {
        if (!json_is_string (json_object_get (e, "name"))
            || !json_is_string (json_object_get (e, "url")))
          abort ();
      }
      break;
    case 6:
      {
        /* /etc/passwd or /etc/group: an id is 0 to 999999999 or -1 */
        long id = parse_id_entry (s, len, "user");
        if (id < -1 || id > 999999999)
          abort ();
        j = json_integer (id);
      }
      break;
    default:
      j = parse_nul_list (s, len, 50);
      if (!json_is_array (j) || json_array_size (j) > 50)
        abort ();
      break;
    }
  check_strings (j);
  json_decref (j);
  return 0;
}
