/* Tool-text commands: the parser (see include/islet/toolcmd.h).  It reads
 * untrusted text of any length and never reads past it: every scan is
 * bounded by the end of the text, and tests/fuzz/fuzz_toolcmd.c holds it to
 * that. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "islet/toolcmd.h"
#include "islet/util.h"

const char islet_toolcmd_forms[]
    = "read file:PATH\n"
      "write file:PATH content:DATA   (DATA to the next command; or content:\"...\" with \\n \\t "
      "\\\" \\\\)\n"
      "delete file:PATH\n"
      "list files:DIR\n"
      "info file:PATH\n"
      "<daytona-execute action=\"create-file|execute-command|read-file|list-files\" "
      "filePath=\"...\" content=\"...\" command=\"...\"/>\n"
      "  (or >BODY</daytona-execute>: the content or command; a tag without action= reads\n"
      "  its attributes from the body, one name=\"value\" a line; content and command may\n"
      "  span lines and hold quotes, up to the quote before the next attribute the action\n"
      "  takes and has not had, or the body's last quote; &quot; &amp; &lt; are decoded)";

static const struct
{
  const char *prefix; /* the whole head of a line command */
  const char *word;   /* its first word, to recognize a near miss */
  enum islet_toolcmd_kind kind;
} verbs[] = {
  { "read file:", "read file", ISLET_TC_READ },
  { "write file:", "write file", ISLET_TC_WRITE },
  { "delete file:", "delete file", ISLET_TC_DELETE },
  { "list files:", "list file", ISLET_TC_LIST },
  { "info file:", "info file", ISLET_TC_INFO },
};

#define TAG_OPEN "<daytona-execute"
#define TAG_CLOSE "</daytona-execute>"

struct text
{
  const char *s;
  size_t len;
};

struct out
{
  struct islet_toolcmd *v;
  size_t n, cap;
};

static bool
has_at (const struct text *t, size_t pos, const char *lit)
{
  size_t n = strlen (lit);
  return pos <= t->len && t->len - pos >= n && memcmp (t->s + pos, lit, n) == 0;
}

static size_t
line_end (const struct text *t, size_t pos)
{
  const char *nl = pos < t->len ? memchr (t->s + pos, '\n', t->len - pos) : NULL;
  return nl ? (size_t) (nl - t->s) : t->len;
}

static size_t
skip_blanks (const struct text *t, size_t pos, size_t end)
{
  while (pos < end && (t->s[pos] == ' ' || t->s[pos] == '\t'))
    pos++;
  return pos;
}

static unsigned
lines_between (const struct text *t, size_t from, size_t to)
{
  unsigned n = 0;
  for (size_t i = from; i < to && i < t->len; i++)
    n += t->s[i] == '\n';
  return n;
}

static struct islet_toolcmd *
push (struct out *o, enum islet_toolcmd_kind kind, unsigned line)
{
  if (o->n == o->cap)
    {
      o->cap = o->cap ? 2 * o->cap : 8;
      o->v = islet_xrealloc (o->v, o->cap * sizeof *o->v);
    }
  memset (&o->v[o->n], 0, sizeof o->v[o->n]);
  o->v[o->n].kind = kind;
  o->v[o->n].line = line;
  return &o->v[o->n++];
}

static void
fail_cmd (struct islet_toolcmd *c, const char *what)
{
  free (c->error);
  c->error = islet_xasprintf ("line %u: %s; the forms are:\n%s", c->line, what,
                              islet_toolcmd_forms);
}

/* Which command a line (from pos, blanks skipped) starts, or -1; *near is
 * set when it starts like one without being one ("read file /x"). */
static int
line_verb (const struct text *t, size_t pos, bool *near)
{
  *near = false;
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    {
      if (has_at (t, pos, verbs[i].prefix))
        return (int) i;
      if (has_at (t, pos, verbs[i].word))
        *near = true;
    }
  return -1;
}

static bool
starts_command (const struct text *t, size_t pos)
{
  size_t end = line_end (t, pos);
  bool near;
  pos = skip_blanks (t, pos, end);
  return line_verb (t, pos, &near) >= 0 || has_at (t, pos, TAG_OPEN);
}

/* A "..." string from pos (at the opening quote) with C escapes; *end is
 * past the closing quote.  NULL if it is not closed. */
static char *
quoted (const struct text *t, size_t pos, size_t *end, size_t *outlen)
{
  size_t close = pos + 1, n = 0;
  char *buf;

  /* find the closing quote first: the buffer is the string's size, not the
   * rest of the text's */
  while (close < t->len && t->s[close] != '"')
    close += t->s[close] == '\\' ? 2 : 1;
  if (close >= t->len)
    return NULL;
  buf = islet_xmalloc (close - pos);
  for (size_t i = pos + 1; i < t->len; i++)
    {
      char c = t->s[i];
      if (c == '"')
        {
          buf[n] = '\0';
          *end = i + 1;
          if (outlen)
            *outlen = n;
          return buf;
        }
      if (c == '\\' && i + 1 < t->len)
        {
          char e = t->s[++i];
          c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == '0' ? '\0' : e;
          if (e != 'n' && e != 't' && e != 'r' && e != '0' && e != '"' && e != '\\')
            buf[n++] = '\\'; /* an unknown escape stays as written */
        }
      buf[n++] = c;
    }
  free (buf);
  return NULL;
}

static char *
trimmed (const struct text *t, size_t from, size_t to)
{
  while (to > from && (t->s[to - 1] == ' ' || t->s[to - 1] == '\t' || t->s[to - 1] == '\r'))
    to--;
  return islet_xasprintf ("%.*s", (int) (to - from), t->s + from);
}

/* The path after "file:" at pos; returns where the path ends, or 0 with an
 * error set on c.  stop, for write, is where " content:" begins. */
static size_t
take_path (const struct text *t, size_t pos, size_t stop, struct islet_toolcmd *c)
{
  size_t end;

  pos = skip_blanks (t, pos, stop);
  if (pos < stop && t->s[pos] == '"')
    {
      c->path = quoted (t, pos, &end, NULL);
      if (c->path == NULL)
        {
          fail_cmd (c, "the quoted path is not closed");
          return 0;
        }
    }
  else
    {
      c->path = trimmed (t, pos, stop);
      end = stop;
    }
  if (c->path[0] == '\0' || strlen (c->path) > 4096)
    {
      fail_cmd (c, c->path[0] ? "the path is too long" : "the path is empty");
      return 0;
    }
  return end;
}

/* A line command at pos (blanks skipped), verb v; returns where the next
 * scan starts. */
static size_t
line_command (const struct text *t, size_t pos, int v, unsigned line, struct out *o)
{
  struct islet_toolcmd *c = push (o, verbs[v].kind, line);
  size_t end = line_end (t, pos), at = pos + strlen (verbs[v].prefix), stop = end;
  const char *mark = NULL;

  if (c->kind == ISLET_TC_WRITE)
    {
      /* the path ends where " content:" begins (or a quoted path ends) */
      size_t p = skip_blanks (t, at, end), q = end;
      if (p < end && t->s[p] == '"')
        {
          char *skip = quoted (t, p, &q, NULL);
          free (skip);
          stop = skip && q <= end ? q : end;
        }
      for (size_t i = stop == end ? at : stop; i + 8 <= end; i++)
        if (memcmp (t->s + i, "content:", 8) == 0)
          {
            mark = t->s + i;
            break;
          }
      if (mark == NULL)
        {
          fail_cmd (c, "write needs content:DATA after the path");
          return end < t->len ? end + 1 : end;
        }
      if (stop == end)
        stop = (size_t) (mark - t->s);
    }
  if (take_path (t, at, stop, c) == 0)
    return end < t->len ? end + 1 : end;
  if (c->kind != ISLET_TC_WRITE)
    return end < t->len ? end + 1 : end;

  at = (size_t) (mark - t->s) + 8;
  if (at < t->len && t->s[at] == '"')
    {
      size_t q;
      c->content = quoted (t, at, &q, &c->content_len);
      if (c->content == NULL)
        {
          fail_cmd (c, "the quoted content is not closed");
          return t->len;
        }
      q = line_end (t, q);
      return q < t->len ? q + 1 : q;
    }
  /* raw: to the end of the line, then every line up to the next command */
  {
    size_t e = end;
    /* e is at the newline that ends the data's last line (or the text's
     * end): that newline is the line's, not the data's */
    while (e + 1 < t->len && !starts_command (t, e + 1))
      e = line_end (t, e + 1);
    c->content_len = e - at;
    c->content = islet_xmalloc (c->content_len + 1);
    memcpy (c->content, t->s + at, c->content_len);
    c->content[c->content_len] = '\0';
    return e < t->len ? e + 1 : e;
  }
}

/* &amp; &lt; &gt; &quot; &apos; &#N; &#xH; decoded; anything else kept. */
static char *
entities (const char *s, size_t len, size_t *outlen)
{
  static const struct
  {
    const char *name;
    char c;
  } named[] = {
    { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
  };
  char *buf = islet_xmalloc (len + 1);
  size_t n = 0;

  for (size_t i = 0; i < len;)
    {
      bool done = false;
      if (s[i] == '&')
        {
          for (size_t k = 0; k < sizeof named / sizeof named[0] && !done; k++)
            {
              size_t m = strlen (named[k].name);
              if (len - i >= m && memcmp (s + i, named[k].name, m) == 0)
                {
                  buf[n++] = named[k].c;
                  i += m;
                  done = true;
                }
            }
          if (!done && len - i >= 4 && s[i + 1] == '#')
            {
              bool hex = s[i + 2] == 'x' || s[i + 2] == 'X';
              size_t j = i + (hex ? 3 : 2);
              unsigned long v = 0;
              size_t digits = 0;
              while (j < len && digits < 6
                     && (hex ? strchr ("0123456789abcdefABCDEF", s[j]) != NULL && s[j] != '\0'
                             : (s[j] >= '0' && s[j] <= '9')))
                {
                  char d = s[j];
                  v = v * (hex ? 16 : 10)
                      + (unsigned long) (d <= '9' ? d - '0' : (d | 0x20) - 'a' + 10);
                  j++;
                  digits++;
                }
              if (digits > 0 && j < len && s[j] == ';' && v > 0 && v < 0x80)
                {
                  buf[n++] = (char) v;
                  i = j + 1;
                  done = true;
                }
            }
        }
      if (!done)
        buf[n++] = s[i++];
    }
  buf[n] = '\0';
  *outlen = n;
  return buf;
}

struct attrs
{
  char *action, *path, *content, *command;
  size_t content_len;
};

/* The attributes a block reads, and which actions take each: a name in the
 * body starts a new attribute only if the block's action takes it. */
enum
{
  A_ACTION = 1,
  A_PATH = 2,
  A_CONTENT = 4,
  A_COMMAND = 8
};

static const struct
{
  const char *name;
  unsigned slot;
} attr_names[] = {
  { "action", A_ACTION },   { "filePath", A_PATH },   { "path", A_PATH },
  { "content", A_CONTENT }, { "command", A_COMMAND },
};

static const struct
{
  const char *action;
  unsigned takes;
} action_attrs[] = {
  { "create-file", A_ACTION | A_PATH | A_CONTENT },
  { "execute-command", A_ACTION | A_COMMAND },
  { "read-file", A_ACTION | A_PATH },
  { "list-files", A_ACTION | A_PATH },
};

static void
attrs_fini (struct attrs *a)
{
  free (a->action);
  free (a->path);
  free (a->content);
  free (a->command);
}

static char **
attr_slot (struct attrs *a, unsigned slot)
{
  return slot == A_ACTION    ? &a->action
         : slot == A_PATH    ? &a->path
         : slot == A_CONTENT ? &a->content
                             : &a->command;
}

static unsigned
slots_given (const struct attrs *a)
{
  return (a->action ? A_ACTION : 0) | (a->path ? A_PATH : 0) | (a->content ? A_CONTENT : 0)
         | (a->command ? A_COMMAND : 0);
}

/* Which attributes a's action takes (all of them while it is not known). */
static unsigned
slots_taken (const struct attrs *a)
{
  for (size_t i = 0; a->action && i < sizeof action_attrs / sizeof action_attrs[0]; i++)
    if (strcmp (a->action, action_attrs[i].action) == 0)
      return action_attrs[i].takes;
  return A_ACTION | A_PATH | A_CONTENT | A_COMMAND;
}

/* The known attribute whose name="value" (or ='value') starts at pos and
 * ends before end: 1 + its index in attr_names, *quote at its opening
 * quote; 0 if none. */
static size_t
attr_at (const struct text *t, size_t pos, size_t end, size_t *quote)
{
  for (size_t k = 0; k < sizeof attr_names / sizeof attr_names[0]; k++)
    {
      size_t i = pos + strlen (attr_names[k].name);
      if (i > end || !has_at (t, pos, attr_names[k].name))
        continue;
      while (i < end && (t->s[i] == ' ' || t->s[i] == '\t'))
        i++;
      if (i >= end || t->s[i] != '=')
        continue;
      i++;
      while (i < end && (t->s[i] == ' ' || t->s[i] == '\t'))
        i++;
      if (i < end && (t->s[i] == '"' || t->s[i] == '\''))
        {
          *quote = i;
          return k + 1;
        }
    }
  return 0;
}

static bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Where the value of an attribute (slot, its opening quote at q) ends in
 * the body [.., end): its closing quote, and *next at the attribute after
 * it (1 + its index in attr_names, *nq at its quote) or 0 at the body's
 * end.  end when the value is not closed.  action and filePath are one
 * line each: the value ends at the line's last quote.  content and command
 * may span lines and hold their quote: the value runs to the quote that
 * white space and then an attribute the action takes and the block has not
 * given yet follow, or to the last quote of the body. */
static size_t
value_end (const struct text *t, const struct attrs *a, unsigned slot, size_t q, size_t end,
           size_t *next, size_t *nq)
{
  bool one_line = slot == A_ACTION || slot == A_PATH;
  size_t stop = one_line ? line_end (t, q) : end, last = end;

  if (stop > end)
    stop = end;
  *next = 0;
  for (size_t i = q + 1; i < stop; i++)
    {
      size_t j = i + 1, k;
      if (t->s[i] != t->s[q])
        continue;
      while (j < end && is_space (t->s[j]))
        j++;
      if (j == end)
        return i;
      if (one_line && j >= stop)
        {
          last = i; /* the line's last quote, so far */
          continue;
        }
      if (j == i + 1 || (k = attr_at (t, j, end, nq)) == 0)
        continue;
      if (one_line
          || ((attr_names[k - 1].slot & slots_taken (a) & ~slots_given (a))
              && attr_names[k - 1].slot != slot))
        {
          *next = k;
          return i;
        }
    }
  if (last == end)
    return end;
  /* a one-line value: what follows its line is the next attribute or
   * nothing, never more of the value */
  {
    size_t j = last + 1;
    while (j < end && is_space (t->s[j]))
      j++;
    if (j < end && (*next = attr_at (t, j, end, nq)) == 0)
      return end;
  }
  return last;
}

/* A tag without action= reads its attributes from its body [pos, end):
 * name="value" (or 'value'), one a line as models write them, in any
 * order (see value_end for where a value ends).  Entities are decoded, as
 * in the tag.  false, with c's error set, if the body is not attributes,
 * one is given twice or one is not closed. */
static bool
body_attrs (const struct text *t, size_t pos, size_t end, struct attrs *a, struct islet_toolcmd *c)
{
  size_t q, k;

  while (pos < end && is_space (t->s[pos]))
    pos++;
  k = attr_at (t, pos, end, &q);
  if (k == 0)
    {
      fail_cmd (c, "<daytona-execute> needs action=\"...\", in the tag or as the first "
                   "line of its body");
      return false;
    }
  while (k)
    {
      const char *name = attr_names[k - 1].name;
      unsigned slot = attr_names[k - 1].slot;
      size_t close, next, nq, vlen;
      char *why;

      if (slots_given (a) & slot)
        why = islet_xasprintf ("<daytona-execute> gives %s twice", name);
      else if ((close = value_end (t, a, slot, q, end, &next, &nq)) == end)
        why = islet_xasprintf ("the value of %s in <daytona-execute> is not closed (it ends "
                               "with its quote, then the next name=\"value\" or the end)",
                               name);
      else
        {
          *attr_slot (a, slot) = entities (t->s + q + 1, close - q - 1, &vlen);
          if (slot == A_CONTENT)
            a->content_len = vlen;
          k = next;
          q = nq;
          continue;
        }
      fail_cmd (c, why);
      free (why);
      return false;
    }
  return true;
}

/* The command a block's attributes make, into c (or c's error). */
static void
take_action (struct islet_toolcmd *c, struct attrs *a)
{
  if (a->action == NULL)
    fail_cmd (c, "<daytona-execute> needs action=\"...\"");
  else if (strcmp (a->action, "execute-command") == 0)
    {
      if (a->command == NULL || a->command[0] == '\0')
        fail_cmd (c, "execute-command needs command=\"...\"");
      c->command = a->command;
      a->command = NULL;
    }
  else if (strcmp (a->action, "create-file") == 0 || strcmp (a->action, "read-file") == 0
           || strcmp (a->action, "list-files") == 0)
    {
      c->kind = a->action[0] == 'c'   ? ISLET_TC_WRITE
                : a->action[0] == 'r' ? ISLET_TC_READ
                                      : ISLET_TC_LIST;
      if (a->path == NULL && c->kind == ISLET_TC_LIST)
        a->path = islet_xstrdup ("/workspace");
      if (a->path == NULL || a->path[0] == '\0')
        fail_cmd (c, "this action needs filePath=\"...\"");
      else if (c->kind == ISLET_TC_WRITE && a->content == NULL)
        fail_cmd (c, "create-file needs content=\"...\" or a body");
      c->path = a->path;
      a->path = NULL;
      if (c->kind == ISLET_TC_WRITE)
        {
          c->content = a->content ? a->content : islet_xstrdup ("");
          c->content_len = a->content ? a->content_len : 0;
          a->content = NULL;
        }
    }
  else
    {
      char *why = islet_xasprintf ("unknown action \"%.60s\"", a->action);
      fail_cmd (c, why);
      free (why);
    }
}

static bool
attr_name_char (char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '-';
}

/* The name="value" (or name='value') attribute at *pi into a, *pi moved
 * past it; false, *pi unchanged, if what is there is not one.  An
 * attribute islet does not read is skipped. */
static bool
tag_attr (const struct text *t, size_t *pi, struct attrs *a)
{
  size_t i = *pi, name = i, name_len, vstart, vlen;
  unsigned slot = 0;
  char q, *v;

  while (i < t->len && attr_name_char (t->s[i]))
    i++;
  name_len = i - name;
  while (i < t->len && (t->s[i] == ' ' || t->s[i] == '\t'))
    i++;
  if (name_len == 0 || i >= t->len || t->s[i] != '=')
    return false;
  i++;
  while (i < t->len && (t->s[i] == ' ' || t->s[i] == '\t'))
    i++;
  if (i >= t->len || (t->s[i] != '"' && t->s[i] != '\''))
    return false;
  q = t->s[i++];
  vstart = i;
  while (i < t->len && t->s[i] != q)
    i++;
  if (i >= t->len)
    return false;
  *pi = i + 1;
  for (size_t k = 0; k < sizeof attr_names / sizeof attr_names[0] && !slot; k++)
    if (strlen (attr_names[k].name) == name_len
        && memcmp (t->s + name, attr_names[k].name, name_len) == 0)
      slot = attr_names[k].slot;
  if (!slot)
    return true;
  v = entities (t->s + vstart, i - vstart, &vlen);
  free (*attr_slot (a, slot));
  *attr_slot (a, slot) = v;
  if (slot == A_CONTENT)
    a->content_len = vlen;
  return true;
}

/* The body of a tag, [body, body_end): its attributes, one per line, when
 * the opening tag named no action; else the command or the file's content,
 * unless an attribute gave it.  false (c failed) if the body's attributes
 * are bad. */
static bool
tag_body (const struct text *t, size_t body, size_t body_end, struct attrs *a,
          struct islet_toolcmd *c)
{
  size_t blen;
  char *b;

  if (body_end <= body)
    return true;
  if (a->action == NULL)
    return body_attrs (t, body, body_end, a, c);
  if (a->content != NULL || a->command != NULL)
    return true;
  b = entities (t->s + body, body_end - body, &blen);
  if (strcmp (a->action, "execute-command") == 0)
    a->command = b;
  else
    {
      a->content = b;
      a->content_len = blen;
    }
  return true;
}

/* A <daytona-execute ...> tag at pos; returns where the next scan starts. */
static size_t
tag_command (const struct text *t, size_t pos, unsigned line, struct out *o)
{
  struct islet_toolcmd *c = push (o, ISLET_TC_EXEC, line);
  struct attrs a = { 0 };
  size_t i = pos + strlen (TAG_OPEN), body = 0, body_end = 0, next;
  bool closed = false;
  const char *end;

  while (i < t->len && !closed)
    {
      while (i < t->len && strchr (" \t\r\n", t->s[i]) && t->s[i] != '\0')
        i++;
      if (has_at (t, i, "/>"))
        {
          i += 2;
          closed = true;
        }
      else if (i < t->len && t->s[i] == '>')
        {
          body = ++i;
          end = memmem (t->s + i, t->len - i, TAG_CLOSE, strlen (TAG_CLOSE));
          if (end == NULL)
            {
              fail_cmd (c, "<daytona-execute> has no </daytona-execute>");
              attrs_fini (&a);
              return t->len;
            }
          body_end = (size_t) (end - t->s);
          i = body_end + strlen (TAG_CLOSE);
          closed = true;
        }
      else if (!tag_attr (t, &i, &a))
        break;
    }
  if (!closed)
    {
      fail_cmd (c, "a <daytona-execute> tag is not well formed (name=\"value\" attributes, "
                   "then /> or >...</daytona-execute>)");
      attrs_fini (&a);
      next = line_end (t, pos);
      return next < t->len ? next + 1 : next;
    }
  next = i;
  if (tag_body (t, body, body_end, &a, c))
    take_action (c, &a);
  attrs_fini (&a);
  return next;
}

void
islet_toolcmd_parse (const char *text, size_t len, struct islet_toolcmd **outv, size_t *n)
{
  struct text t = { text ? text : "", text ? len : 0 };
  struct out o = { 0 };
  size_t pos = 0;
  unsigned line = 1;

  while (pos < t.len)
    {
      size_t end = line_end (&t, pos), p = skip_blanks (&t, pos, end), next;
      const char *tag;
      bool near;
      int v;

      if (has_at (&t, p, TAG_OPEN))
        next = tag_command (&t, p, line, &o);
      else if ((v = line_verb (&t, p, &near)) >= 0)
        next = line_command (&t, p, v, line, &o);
      else if (near)
        {
          struct islet_toolcmd *c = push (&o, ISLET_TC_READ, line);
          fail_cmd (c, "this looks like a command but is not one");
          next = end < t.len ? end + 1 : end;
        }
      else if ((tag = p < end ? memmem (t.s + p, end - p, TAG_OPEN, strlen (TAG_OPEN)) : NULL))
        next = tag_command (&t, (size_t) (tag - t.s), line, &o);
      else
        next = end < t.len ? end + 1 : end;
      line += lines_between (&t, pos, next);
      pos = next;
    }
  *outv = o.v;
  *n = o.n;
}

void
islet_toolcmd_free (struct islet_toolcmd *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (v[i].path);
      free (v[i].content);
      free (v[i].command);
      free (v[i].error);
    }
  free (v);
}

const char *
islet_toolcmd_name (enum islet_toolcmd_kind kind)
{
  static const char *const names[] = { "read", "write", "delete", "list", "info", "execute" };
  return (unsigned) kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}
