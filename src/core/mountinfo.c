/* /proc/self/mountinfo, read once for everyone who needs to know what is
 * mounted where (the cgroup hierarchies, the disk pool).  A line is
 *
 *   id parent major:minor root mount-point options [optional...] - fstype source super-options
 *
 * with space, tab, newline and backslash in the paths escaped as \ooo. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "islet/contain.h"
#include "islet/util.h"

#define FIELDS_MAX 64

/* Undo the octal escapes in place. */
static void
unescape_octal (char *s)
{
  char *w = s;

  for (char *r = s; *r; r++)
    {
      if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0'
          && r[3] <= '7')
        {
          *w++ = (char) ((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
          r += 3;
        }
      else
        *w++ = *r;
    }
  *w = '\0';
}

int
islet_mountinfo_parse (char *line, struct islet_mount *out)
{
  char *fields[FIELDS_MAX], *rest = line, *tok;
  int n = 0, dash = -1;

  line[strcspn (line, "\n")] = '\0';
  while ((tok = strsep (&rest, " ")) != NULL && n < FIELDS_MAX)
    {
      if (dash < 0 && n >= 6 && strcmp (tok, "-") == 0)
        dash = n;
      fields[n++] = tok;
    }
  if (dash < 0 || dash + 2 >= n || sscanf (fields[2], "%u:%u", &out->major, &out->minor) != 2)
    return -1;
  for (int i = 3; i <= 4; i++)
    unescape_octal (fields[i]);
  unescape_octal (fields[dash + 2]);
  out->root = fields[3];
  out->point = fields[4];
  out->fstype = fields[dash + 1];
  out->source = fields[dash + 2];
  out->options = dash + 3 < n ? fields[dash + 3] : "";
  return 0;
}

int
islet_mountinfo_each (islet_mount_fn fn, void *data, struct islet_err *err)
{
  return islet_mountinfo_each_in ("/proc/self/mountinfo", fn, data, err);
}

int
islet_mountinfo_each_in (const char *path, islet_mount_fn fn, void *data, struct islet_err *err)
{
  cleanup_fclose FILE *f = fopen (path, "re");
  cleanup_free char *line = NULL;
  size_t cap = 0;

  if (f == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
  while (getline (&line, &cap, f) > 0)
    {
      struct islet_mount m;
      int r;

      if (islet_mountinfo_parse (line, &m) < 0)
        continue;
      r = fn (&m, data, err);
      if (r != 0)
        return r < 0 ? -1 : 0;
    }
  return 0;
}
