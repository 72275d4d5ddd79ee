/* islet-image: the changes to the image store (import, rm, prune), in a
 * program of their own so that `islet`'s every start does not map
 * libarchive, libcrypto and the libraries they need, and so that isletd can
 * have layers unpacked by a single-threaded process.
 *
 *   islet-image STATE_DIR import PATH [NAME]
 *   islet-image STATE_DIR pull REF [--insecure-registry HOST]... [--max-bytes N]
 *   islet-image STATE_DIR rm REF
 *   islet-image STATE_DIR prune
 *   islet-image STATE_DIR build-default
 *
 * It prints one JSON object on stdout: the result, or {"error":{"kind",
 * "message"}} with exit status 1.  The CLI (src/cli/image.c) reads it. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "islet/oci.h"
#include "islet/util.h"

static int
print (json_t *j)
{
  char *text = json_dumps (j, JSON_COMPACT);
  puts (text ? text : "{}");
  free (text);
  json_decref (j);
  return 0;
}

static int
do_import (const char *state, int argc, char **argv, struct islet_err *err)
{
  json_t *ids = NULL;
  if (argc < 1 || argc > 2)
    return islet_fail (err, ISLET_E_INVALID, 0, "import takes PATH [NAME]");
  if (islet_oci_import (state, argv[0], argc > 1 ? argv[1] : NULL, &ids, err) < 0)
    return -1;
  return print (json_pack ("{s:o}", "ids", ids));
}

static int
do_rm (const char *state, int argc, char **argv, struct islet_err *err)
{
  if (argc != 1)
    return islet_fail (err, ISLET_E_INVALID, 0, "rm takes REF");
  if (islet_imgstore_rm (state, argv[0], err) < 0)
    return -1;
  return print (json_pack ("{s:s}", "removed", argv[0]));
}

static int
do_prune (const char *state, int argc, char **argv, struct islet_err *err)
{
  uint64_t freed = 0;
  if (argc != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "prune takes no argument");
  if (islet_imgstore_prune (state, &freed, err) < 0)
    return -1;
  return print (json_pack ("{s:I}", "freed_bytes", (json_int_t) freed));
}

/* pull REF [--insecure-registry HOST]... [--max-bytes N]: N bounds the
 * image's size (isletd passes the key's disk quota) */
static int
do_pull (const char *state, int argc, char **argv, struct islet_err *err)
{
  cleanup_free char **insecure = islet_xcalloc ((size_t) argc + 1, sizeof *insecure);
  const char *ref = NULL;
  uint64_t max_bytes = 0;
  json_t *id = NULL;
  size_t n = 0;

  for (int i = 0; i < argc; i++)
    if (strcmp (argv[i], "--insecure-registry") == 0 && i + 1 < argc)
      insecure[n++] = argv[++i];
    else if (strcmp (argv[i], "--max-bytes") == 0 && i + 1 < argc)
      {
        if (islet_parse_u64 (argv[++i], UINT64_MAX, &max_bytes, err) < 0)
          return islet_wrap (err, "--max-bytes");
      }
    else if (ref == NULL)
      ref = argv[i];
    else
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "pull takes REF [--insecure-registry HOST]... [--max-bytes N]");
  if (ref == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "pull takes REF");
  if (islet_oci_pull (state, ref, insecure, max_bytes, stderr, &id, err) < 0)
    return -1;
  return print (json_pack ("{s:[o]}", "ids", id));
}

static int
do_build_default (const char *state, int argc, char **argv, struct islet_err *err)
{
  json_t *id = NULL;
  (void) argv;
  if (argc != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "build-default takes no argument");
  if (islet_oci_build_default (state, stderr, &id, err) < 0)
    return -1;
  return print (json_pack ("{s:[o]}", "ids", id));
}

static const struct
{
  const char *name;
  int (*fn) (const char *state, int argc, char **argv, struct islet_err *err);
} verbs[] = {
  { "import", do_import },
  { "pull", do_pull },
  { "rm", do_rm },
  { "prune", do_prune },
  { "build-default", do_build_default },
};

int
main (int argc, char **argv)
{
  struct islet_err err = { 0 };
  int rc = -1;

  /* libarchive converts names through the locale: in "C" a layer's UTF-8
     file name (Debian ships some) fails to unpack.  glibc has C.UTF-8 built
     in, so it needs no locale files in the unpacker's chroot. */
  if (setlocale (LC_CTYPE, "C.UTF-8") == NULL)
    (void) setlocale (LC_CTYPE, "");

  if (argc < 3)
    rc = islet_fail (&err, ISLET_E_INVALID, 0, "usage: islet-image STATE_DIR VERB ARGS...");
  else
    {
      size_t i;
      for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp (verbs[i].name, argv[2]) == 0)
          break;
      if (i == sizeof verbs / sizeof verbs[0])
        rc = islet_fail (&err, ISLET_E_INVALID, 0, "no verb `%s`", argv[2]);
      else
        rc = verbs[i].fn (argv[1], argc - 3, argv + 3, &err);
    }
  if (rc == 0)
    return 0;
  print (json_pack ("{s:{s:s,s:s}}", "error", "kind", islet_errkind_name (err.kind), "message",
                    err.msg));
  return 1;
}
