/* Parsers of what the tools run inside a sandbox print (session records,
 * git, grep, find).  The bytes come from the sandbox, so they are
 * untrusted: every read is bounded by len, a malformed or cut record ends
 * the parse, and text that is not UTF-8 is replaced, never rejected.  No
 * I/O here: tests/fuzz/fuzz_toolout.c drives each parser directly. */
#include <string.h>

#include "islet/util.h"
#include "toolbox.h"

/* The next NUL-terminated field of s[*pos..len), or NULL if it is cut. */
static const char *
field (const char *s, size_t len, size_t *pos, size_t *flen)
{
  const char *start = s + *pos, *nul;

  if (*pos >= len)
    return NULL;
  nul = memchr (start, '\0', len - *pos);
  if (nul == NULL)
    return NULL;
  *flen = (size_t) (nul - start);
  *pos += *flen + 1;
  return start;
}

bool
session_id_ok (const char *s)
{
  size_t n = strlen (s);

  if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
    return false;
  return strspn (s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

long
parse_id_entry (const char *s, size_t len, const char *name)
{
  size_t n = strlen (name);

  while (len)
    {
      const char *nl = memchr (s, '\n', len);
      size_t line = nl ? (size_t) (nl - s) : len;
      const char *f2 = line > n + 1 && memcmp (s, name, n) == 0 && s[n] == ':'
                           ? memchr (s + n + 1, ':', line - n - 1)
                           : NULL;

      if (f2)
        {
          long id = 0;
          size_t i = (size_t) (f2 - s) + 1, digits = 0;

          for (; i < line && s[i] >= '0' && s[i] <= '9' && digits < 10; i++, digits++)
            id = id * 10 + (s[i] - '0');
          if (digits > 0 && digits < 10 && (i == line || s[i] == ':'))
            return id;
        }
      if (nl == NULL)
        break;
      s += line + 1;
      len -= line + 1;
    }
  return -1;
}

/* An exit code as the session's runner writes it ("0\n"); -1: none. */
static int
exit_code (const char *s, size_t n)
{
  int v = 0;
  size_t i = 0;

  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
    n--;
  if (n == 0 || n > 3)
    return -1;
  for (; i < n; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return -1;
      v = v * 10 + (s[i] - '0');
    }
  return v <= 255 ? v : -1;
}

json_t *
parse_session_dump (const char *s, size_t len)
{
  json_t *sessions = json_array (), *cur = NULL;
  size_t pos = 0, n1, n2, n3, n4;

  for (;;)
    {
      const char *tag = field (s, len, &pos, &n1), *a, *b, *c;
      char name[129];

      if (tag == NULL || n1 != 1)
        break;
      a = field (s, len, &pos, &n2);
      if (a == NULL || n2 == 0 || n2 >= sizeof name)
        break;
      memcpy (name, a, n2);
      name[n2] = '\0';
      if (tag[0] == 'S' && session_id_ok (name))
        {
          cur = json_pack ("{s:s,s:[]}", "sessionId", name, "commands");
          json_array_append_new (sessions, cur);
          continue;
        }
      if (tag[0] != 'C' || cur == NULL)
        break;
      b = field (s, len, &pos, &n3);
      c = b ? field (s, len, &pos, &n4) : NULL;
      if (c == NULL)
        break;
      if (session_id_ok (name))
        {
          json_t *cmd = json_pack ("{s:s,s:o}", "id", name, "command", tb_json_text (b, n3));
          int code = exit_code (c, n4);
          if (code >= 0)
            json_object_set_new (cmd, "exitCode", json_integer (code));
          json_array_append_new (json_object_get (cur, "commands"), cmd);
        }
    }
  return sessions;
}

json_t *
parse_session_logs (const char *s, size_t len)
{
  size_t i = 0, n = 0;

  for (; i < len && i < 20 && s[i] >= '0' && s[i] <= '9'; i++)
    n = n * 10 + (size_t) (s[i] - '0');
  if (i < len && s[i] == '\n')
    i++;
  else
    i = len, n = 0; /* not the runner's header: nothing to show */
  if (n > len - i)
    n = len - i; /* cut by the output limit */
  return json_pack ("{s:o,s:o}", "stdout", tb_json_text (s + i, n), "output",
                    tb_json_text (s + i + n, len - i - n));
}

/* ---- git ---- */

static const char *
git_state (char c)
{
  switch (c)
    {
    case ' ': return "Unmodified";
    case '?': return "Untracked";
    case 'M':
    case 'T': return "Modified";
    case 'A': return "Added";
    case 'D': return "Deleted";
    case 'R': return "Renamed";
    case 'C': return "Copied";
    case 'U': return "Updated but unmerged";
    case '!': return "Ignored";
    default: return NULL;
    }
}

/* A number after `key ` in the header's "[ahead 1, behind 2]". */
static json_int_t
header_count (const char *h, size_t n, const char *key)
{
  size_t k = strlen (key), i = n;
  json_int_t v = 0;

  /* only in the bracket at the end: a branch name may hold these words */
  while (i > 0 && h[i - 1] != '[')
    i--;
  for (; i > 0 && i + k < n; i++)
    if (memcmp (h + i, key, k) == 0)
      {
        for (i += k; i < n && h[i] >= '0' && h[i] <= '9' && v < 1000000000; i++)
          v = v * 10 + (h[i] - '0');
        return v;
      }
  return 0;
}

/* "## main...origin/main [ahead 1]", "## HEAD (no branch)",
 * "## No commits yet on main", "## main" */
static void
git_header (json_t *st, const char *h, size_t n)
{
  static const char nocommit[] = "No commits yet on ";
  const char *dots, *br;
  size_t blen;

  if (n >= sizeof nocommit - 1 && memcmp (h, nocommit, sizeof nocommit - 1) == 0)
    {
      h += sizeof nocommit - 1;
      n -= sizeof nocommit - 1;
    }
  if (n >= 16 && memcmp (h, "HEAD (no branch)", 16) == 0)
    {
      json_object_set_new (st, "currentBranch", json_string ("HEAD"));
      json_object_set_new (st, "detached", json_true ());
      return;
    }
  blen = strcspn (h, " ");
  blen = blen < n ? blen : n;
  dots = memmem (h, blen, "...", 3);
  br = h;
  if (dots)
    {
      json_object_set_new (st, "upstream", tb_json_text (dots + 3, blen - (size_t) (dots + 3 - h)));
      json_object_set_new (st, "branchPublished", json_true ());
      blen = (size_t) (dots - h);
    }
  json_object_set_new (st, "currentBranch", tb_json_text (br, blen));
  json_object_set_new (st, "ahead", json_integer (header_count (h, n, "ahead ")));
  json_object_set_new (st, "behind", json_integer (header_count (h, n, "behind ")));
}

json_t *
parse_git_status (const char *s, size_t len)
{
  json_t *st = json_pack ("{s:s,s:[],s:i,s:i,s:b,s:b}", "currentBranch", "", "fileStatus", "ahead",
                          0, "behind", 0, "branchPublished", 0, "detached", 0);
  json_t *files = json_object_get (st, "fileStatus");
  size_t pos = 0, n;
  const char *e;

  while ((e = field (s, len, &pos, &n)) != NULL)
    {
      const char *x, *y;
      json_t *f;

      if (n >= 3 && e[0] == '#' && e[1] == '#' && e[2] == ' ')
        {
          git_header (st, e + 3, n - 3);
          continue;
        }
      if (n < 4 || e[2] != ' ' || (x = git_state (e[0])) == NULL || (y = git_state (e[1])) == NULL)
        break;
      f = json_pack ("{s:o,s:s,s:s,s:s}", "name", tb_json_text (e + 3, n - 3), "staging", x,
                     "worktree", y, "extra", "");
      if (e[0] == 'R' || e[0] == 'C' || e[1] == 'R' || e[1] == 'C')
        {
          /* -z: the source of a rename or copy is the next field */
          const char *from = field (s, len, &pos, &n);
          if (from == NULL)
            {
              json_decref (f);
              break;
            }
          json_object_set_new (f, "extra", tb_json_text (from, n));
        }
      json_array_append_new (files, f);
    }
  return st;
}

json_t *
parse_git_branches (const char *s, size_t len)
{
  json_t *res = json_pack ("{s:[]}", "branches");
  json_t *list = json_object_get (res, "branches");
  size_t i = 0;

  while (i < len)
    {
      const char *nl = memchr (s + i, '\n', len - i);
      size_t end = nl ? (size_t) (nl - s) : len;

      if (end - i >= 2)
        {
          json_t *name = tb_json_text (s + i + 1, end - i - 1);
          if (s[i] == '*')
            json_object_set (res, "current", name);
          json_array_append_new (list, name);
        }
      i = end + 1;
    }
  return res;
}

/* ---- files ---- */

json_t *
parse_grep (const char *s, size_t len, size_t max)
{
  json_t *matches = json_array ();
  size_t pos = 0, n;
  const char *file;

  while (json_array_size (matches) < max && (file = field (s, len, &pos, &n)) != NULL)
    {
      size_t i = pos, line = 0, fl = n;
      const char *nl;

      for (; i < len && s[i] >= '0' && s[i] <= '9' && line < 1000000000; i++)
        line = line * 10 + (size_t) (s[i] - '0');
      if (i == pos || i >= len || s[i] != ':')
        break;
      i++;
      nl = memchr (s + i, '\n', len - i);
      if (nl == NULL)
        break; /* cut by the output limit */
      json_array_append_new (matches, json_pack ("{s:o,s:I,s:o}", "file", tb_json_text (file, fl),
                                                 "line", (json_int_t) line, "content",
                                                 tb_json_text (s + i, (size_t) (nl - s) - i)));
      pos = (size_t) (nl - s) + 1;
    }
  return matches;
}

json_t *
parse_nul_list (const char *s, size_t len, size_t max)
{
  json_t *a = json_array ();
  size_t pos = 0, n;
  const char *e;

  while (json_array_size (a) < max && (e = field (s, len, &pos, &n)) != NULL)
    json_array_append_new (a, tb_json_text (e, n));
  return a;
}

json_t *
parse_git_remotes (const char *s, size_t len)
{
  json_t *res = json_pack ("{s:[]}", "remotes");
  json_t *list = json_object_get (res, "remotes");
  size_t pos = 0, n;
  const char *e;

  while ((e = field (s, len, &pos, &n)) != NULL)
    {
      const char *nl = memchr (e, '\n', n);
      size_t klen = nl ? (size_t) (nl - e) : n;

      /* remote.<name>.url: the name is what lies between */
      if (nl == NULL || klen < 12 || memcmp (e, "remote.", 7) != 0
          || memcmp (e + klen - 4, ".url", 4) != 0)
        continue;
      json_array_append_new (list, json_pack ("{s:o,s:o}", "name", tb_json_text (e + 7, klen - 11),
                                              "url", tb_json_text (nl + 1, n - klen - 1)));
    }
  return res;
}
