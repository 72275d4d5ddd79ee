/* Image references, normalised the way Docker does: a first component that
 * looks like a host (has a dot or a port, or is localhost) is the registry,
 * otherwise docker.io; a one-component name on docker.io is under library/;
 * no tag and no digest means :latest. */
#include <string.h>

#include "islet/oci.h"
#include "islet/util.h"

bool
islet_digest_valid (const char *digest)
{
  if (digest == NULL || strncmp (digest, "sha256:", 7) != 0 || strlen (digest) != ISLET_DIGEST_LEN)
    return false;
  for (const char *p = digest + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

static bool
repo_char (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'
         || c == '/';
}

static bool
tag_valid (const char *t)
{
  size_t n = strlen (t);
  if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
    return false;
  for (; *t; t++)
    if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9')
          || *t == '_' || *t == '.' || *t == '-'))
      return false;
  return true;
}

static bool
repo_valid (const char *r)
{
  if (*r == '\0' || *r == '/' || r[strlen (r) - 1] == '/' || strstr (r, "//") || strlen (r) > 255)
    return false;
  for (; *r; r++)
    if (!repo_char (*r))
      return false;
  return true;
}

static bool
looks_like_host (const char *s, size_t n)
{
  return memchr (s, '.', n) || memchr (s, ':', n) || (n == 9 && memcmp (s, "localhost", 9) == 0);
}

int
islet_ref_parse (const char *text, struct islet_ref *out, struct islet_err *err)
{
  cleanup_free char *s = islet_xstrdup (text ? text : "");
  char *at = strchr (s, '@'), *slash, *colon, *name;

  *out = (struct islet_ref){ 0 };
  if (at)
    {
      *at = '\0';
      if (!islet_digest_valid (at + 1))
        return islet_fail (err, ISLET_E_INVALID, 0, "reference `%s`: `%s` is not a sha256 digest",
                           text, at + 1);
      out->digest = islet_xstrdup (at + 1);
    }
  slash = strchr (s, '/');
  if (slash && looks_like_host (s, (size_t) (slash - s)))
    {
      *slash = '\0';
      out->registry = islet_xstrdup (strcmp (s, "index.docker.io") == 0 ? "docker.io" : s);
      name = slash + 1;
    }
  else
    {
      out->registry = islet_xstrdup ("docker.io");
      name = s;
    }
  colon = strrchr (name, ':');
  if (colon && strchr (colon, '/') == NULL)
    {
      *colon = '\0';
      if (!tag_valid (colon + 1))
        {
          islet_ref_fini (out);
          return islet_fail (err, ISLET_E_INVALID, 0, "reference `%s`: `%s` is not a valid tag",
                             text, colon + 1);
        }
      out->tag = islet_xstrdup (colon + 1);
    }
  if (!repo_valid (name))
    {
      islet_ref_fini (out);
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "reference `%s`: the name must be lower-case letters, digits and . _ - /",
                         text);
    }
  if (strcmp (out->registry, "docker.io") == 0 && strchr (name, '/') == NULL)
    out->repository = islet_xasprintf ("library/%s", name);
  else
    out->repository = islet_xstrdup (name);
  if (out->tag == NULL && out->digest == NULL)
    out->tag = islet_xstrdup ("latest");
  return 0;
}

void
islet_ref_fini (struct islet_ref *ref)
{
  free (ref->registry);
  free (ref->repository);
  free (ref->tag);
  free (ref->digest);
  *ref = (struct islet_ref){ 0 };
}

char *
islet_ref_string (const struct islet_ref *ref)
{
  if (ref->tag)
    return islet_xasprintf ("%s/%s:%s", ref->registry, ref->repository, ref->tag);
  return islet_xasprintf ("%s/%s@%s", ref->registry, ref->repository, ref->digest);
}
