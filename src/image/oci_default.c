/* The batteries-included default image: Debian bookworm with python3's
 * numeric stack, node with npm and TypeScript, git, curl and the usual shell
 * tools, made by mmdebstrap from Debian's packages and stored as a
 * one-layer image named ISLET_DEFAULT_IMAGE.
 *
 * mmdebstrap's tar is cached machine-wide (ISLET_CACHE_DIR, else
 * /var/cache/islet) under a name keyed by mmdebstrap's whole command line,
 * so every state directory imports the same tar and a changed package list
 * builds a new one.  The tar is written under a temporary name and renamed
 * only once complete and synced: an interrupted build leaves a temporary,
 * removed by the next build, never a tar that looks complete. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include "islet/oci.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "oci_internal.h"

#define SUITE "bookworm"
#define KEY_LABEL "org.islet.default.key"
#define CACHE_DIR "/var/cache/islet"
#define TSLS_VERSION "4.4.1" /* typescript-language-server, from the npm registry */

/* What the image holds; Recommends are not installed (mmdebstrap's default). */
static const char *const packages[] = {
  "ca-certificates",
  "python3",
  "python3-numpy",
  "python3-pandas",
  "python3-scipy",
  "python3-matplotlib",
  "python3-sklearn",
  "nodejs",
  "npm",
  "node-typescript",
  "python3-pylsp", /* the language server behind python's LSP routes */
  /* pylsp loads its plugins (jedi's completion and symbols) only with
     setuptools, which its package merely recommends */
  "python3-setuptools",
  "git",
  "curl",
  "procps",
  "less",
  "file",
  "unzip",
  "xz-utils",
  "bzip2",
  "jq",
  "make",
  "patch",
};

/* Options before the suite: docs and man pages left out (copyright files
 * kept); dpkg without an fsync per file (the finished tar is synced once,
 * and a crash before that leaves only a temporary); no device nodes in the
 * tar (the store refuses them; the sandbox has its own /dev); the
 * language server for typescript and javascript, which Debian does not
 * package, from the npm registry at a pinned version (it has no
 * dependencies and no install scripts run; it uses Debian's typescript);
 * and /etc files the sandbox writes for itself. */
static const char *const options[] = {
  "--variant=minbase",
  "--dpkgopt=force-unsafe-io",
  "--dpkgopt=path-exclude=/usr/share/man/*",
  "--dpkgopt=path-exclude=/usr/share/doc/*",
  "--dpkgopt=path-include=/usr/share/doc/*/copyright",
  "--dpkgopt=path-exclude=/usr/share/info/*",
  "--skip=output/dev",
  "--customize-hook=npm install --global --prefix \"$1/usr/local\" --no-audit --no-fund "
  "--ignore-scripts --cache \"$1/tmp/islet-npm\" typescript-language-server@" TSLS_VERSION
  " && rm -rf \"$1/tmp/islet-npm\"",
  "--customize-hook=printf 'islet\\n' >\"$1/etc/hostname\"",
  "--customize-hook=printf '# the sandbox has no network beyond loopback\\n' "
  ">\"$1/etc/resolv.conf\"",
};

static const char *const mirrors[] = {
  "deb http://deb.debian.org/debian " SUITE " main",
  "deb http://deb.debian.org/debian " SUITE "-updates main",
  "deb http://deb.debian.org/debian-security " SUITE "-security main",
};

#define N(a) (sizeof (a) / sizeof (a)[0])

/* mmdebstrap's argv with `target` as its output (NULL-terminated, malloc'd;
 * the strings are static but for the --include one, argv[1]). */
static char **
mmdebstrap_argv (const char *target)
{
  char **argv = islet_xcalloc (N (options) + N (mirrors) + 5, sizeof *argv);
  size_t n = 0, len = strlen ("--include=");
  char *inc;

  for (size_t i = 0; i < N (packages); i++)
    len += strlen (packages[i]) + 1;
  inc = islet_xmalloc (len + 1);
  strcpy (inc, "--include=");
  for (size_t i = 0; i < N (packages); i++)
    {
      strcat (inc, packages[i]);
      if (i + 1 < N (packages))
        strcat (inc, ",");
    }
  argv[n++] = (char *) "mmdebstrap";
  argv[n++] = inc;
  for (size_t i = 0; i < N (options); i++)
    argv[n++] = (char *) options[i];
  argv[n++] = (char *) SUITE;
  argv[n++] = (char *) target;
  for (size_t i = 0; i < N (mirrors); i++)
    argv[n++] = (char *) mirrors[i];
  return argv;
}

static void
argv_free (char **argv)
{
  if (argv)
    free (argv[1]);
  free (argv);
}

/* The cache key: 16 hex digits of the sha256 of the command line (with a
 * fixed target), so any change to what is built names another tar. */
static int
cache_key (char key[17], struct islet_err *err)
{
  char **argv = mmdebstrap_argv ("-");
  cleanup_close int fd = memfd_create ("islet-key", MFD_CLOEXEC);
  char digest[ISLET_DIGEST_LEN + 1];
  int rc = -1;

  if (fd < 0)
    islet_fail (err, ISLET_E_SYSTEM, errno, "memfd_create");
  else
    {
      rc = 0;
      for (size_t i = 0; argv[i] && rc == 0; i++)
        if (islet_write_all (fd, argv[i], strlen (argv[i]) + 1) < 0)
          rc = islet_fail (err, ISLET_E_SYSTEM, errno, "write the cache key");
      if (rc == 0 && (lseek (fd, 0, SEEK_SET) < 0 || islet_digest_fd (fd, digest, NULL, err) < 0))
        rc = -1;
    }
  argv_free (argv);
  if (rc == 0)
    snprintf (key, 17, "%.16s", digest + 7);
  return rc;
}

static const char *
cache_dir (void)
{
  const char *d = getenv ("ISLET_CACHE_DIR");
  return d && *d ? d : CACHE_DIR;
}

/* Remove temporaries of builds that did not finish (under the cache lock). */
static void
remove_partial (const char *dir)
{
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    if (strncmp (e->d_name, ".default-", 9) == 0)
      {
        cleanup_free char *p = islet_xasprintf ("%s/%s", dir, e->d_name);
        (void) unlink (p);
      }
}

/* Run mmdebstrap, its output (progress) on stderr: stdout is the answer. */
static int
run_mmdebstrap (const char *target, struct islet_err *err)
{
  char **argv = mmdebstrap_argv (target);
  int status;
  pid_t pid = fork ();

  if (pid == 0)
    {
      int null = open ("/dev/null", O_RDONLY);
      /* a killed islet-image takes its build along */
      (void) prctl (PR_SET_PDEATHSIG, SIGTERM);
      if (null < 0 || dup2 (null, STDIN_FILENO) < 0 || dup2 (STDERR_FILENO, STDOUT_FILENO) < 0)
        _exit (127);
      execvp (argv[0], argv);
      fprintf (stderr, "islet: cannot run mmdebstrap: %s (scripts/install-deps installs it)\n",
               strerror (errno));
      _exit (127);
    }
  argv_free (argv);
  if (pid < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "fork");
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "wait for mmdebstrap");
  if (WIFEXITED (status) && WEXITSTATUS (status) == 127)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "mmdebstrap could not be run (is it installed?)");
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return islet_fail (err, ISLET_E_SYSTEM, 0,
                       "mmdebstrap failed (status %d): see its output above",
                       WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
  return 0;
}

/* The cached tar for key, built first if it is not there; *path: its path. */
static int
cached_tar (const char *key, FILE *progress, char **path, struct islet_err *err)
{
  const char *dir = cache_dir ();
  cleanup_free char *lockp = islet_xasprintf ("%s/.lock", dir);
  cleanup_free char *tar = islet_xasprintf ("%s/default-%s.tar", dir, key);
  cleanup_free char *tmp = islet_xasprintf ("%s/.default-%s.%d.tar", dir, key, (int) getpid ());
  cleanup_close int lock = -1, fd = -1;

  if (islet_mkdir_p (dir, 0755, err) < 0)
    return -1;
  lock = open (lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", lockp);
  /* a second build waits for the first and then uses its tar */
  while (flock (lock, LOCK_EX) < 0)
    if (errno != EINTR)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "lock `%s`", lockp);
  if (access (tar, R_OK) == 0)
    {
      if (progress)
        fprintf (progress, "islet: using the cached build %s\n", tar);
      *path = islet_take_ptr (&tar);
      return 0;
    }
  remove_partial (dir);
  if (progress)
    fprintf (progress,
             "islet: building the default image with mmdebstrap (%s, %zu packages) "
             "into %s\n",
             SUITE, N (packages), tar);
  if (run_mmdebstrap (tmp, err) < 0)
    {
      (void) unlink (tmp);
      return islet_wrap (err, "build the default image");
    }
  fd = open (tmp, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fsync (fd) < 0 || chmod (tmp, 0444) < 0 || rename (tmp, tar) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "keep `%s` as `%s`", tmp, tar);
      (void) unlink (tmp);
      return -1;
    }
  *path = islet_take_ptr (&tar);
  return 0;
}

/* Add what fd holds (a tar in the cache) as the blob `digest`: a hard link
 * when the cache shares the store's file system, else a copy.  Either way
 * the store's file is hashed again before it takes its name. */
static int
add_layer_blob (const char *state_dir, const char *tar, int fd, const char *digest,
                struct islet_err *err)
{
  cleanup_free char *tmp = islet_xasprintf ("%s/images/tmp/blob.default", state_dir);
  cleanup_free char *dst = islet_xasprintf ("%s/images/blobs/sha256/%s", state_dir, digest + 7);
  cleanup_close int in = -1;
  char got[ISLET_DIGEST_LEN + 1];

  if (access (dst, F_OK) == 0)
    return 0;
  if (link (tar, tmp) < 0)
    return islet_imgstore_add_blob (state_dir, fd, digest, err);
  in = open (tmp, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", tmp);
  else if (islet_digest_fd (in, got, NULL, err) == 0)
    {
      if (strcmp (got, digest) != 0)
        islet_fail (err, ISLET_E_INVALID, 0, "`%s` changed while it was imported: refused", tar);
      else if (rename (tmp, dst) < 0)
        islet_fail (err, ISLET_E_SYSTEM, errno, "store blob `%s`", digest);
      else
        return 0;
    }
  (void) unlink (tmp);
  return -1;
}

/* Import the rootfs tar as a one-layer image named ISLET_DEFAULT_IMAGE. */
static int
import_rootfs (const char *state_dir, const char *tar, const char *key, FILE *progress, json_t **id,
               struct islet_err *err)
{
  cleanup_close int lock = oci_store_begin (state_dir, err);
  cleanup_close int fd = -1;
  cleanup_json json_t *config = NULL, *manifest = NULL, *layers = NULL;
  char layer[ISLET_DIGEST_LEN + 1], cfg[ISLET_DIGEST_LEN + 1], man[ISLET_DIGEST_LEN + 1];
  uint64_t layer_size = 0, cfg_size = 0;

  if (lock < 0)
    return -1;
  fd = open (tar, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", tar);
  if (progress)
    fprintf (progress, "islet: importing %s\n", tar);
  if (islet_digest_fd (fd, layer, &layer_size, err) < 0 || lseek (fd, 0, SEEK_SET) < 0
      || add_layer_blob (state_dir, tar, fd, layer, err) < 0)
    return -1;
  config = json_pack ("{s:s,s:s,s:{s:[s,s],s:[s],s:{s:s}},s:{s:s,s:[s]}}", "architecture",
                      oci_this_arch (), "os", "linux", "config", "Env",
                      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                      "LANG=C.UTF-8", "Cmd", "bash", "Labels", KEY_LABEL, key, "rootfs", "type",
                      "layers", "diff_ids", layer);
  if (oci_add_json (state_dir, config, cfg, &cfg_size, err) < 0)
    return -1;
  manifest = json_pack ("{s:i,s:s,s:{s:s,s:s,s:I},s:[{s:s,s:s,s:I}]}", "schemaVersion", 2,
                        "mediaType", "application/vnd.oci.image.manifest.v1+json", "config",
                        "mediaType", "application/vnd.oci.image.config.v1+json", "digest", cfg,
                        "size", (json_int_t) cfg_size, "layers", "mediaType",
                        "application/vnd.oci.image.layer.v1.tar", "digest", layer, "size",
                        (json_int_t) layer_size);
  if (oci_add_json (state_dir, manifest, man, NULL, err) < 0)
    return -1;
  if (progress)
    fprintf (progress, "islet: unpacking %.19s (%.1f MB)\n", layer, (double) layer_size / 1e6);
  if (islet_imgstore_unpack_layer (state_dir, layer, err) < 0)
    return -1;
  layers = json_pack ("[s]", layer);
  if (islet_imgstore_record (state_dir, ISLET_DEFAULT_IMAGE, man, cfg, layers, err) < 0)
    return -1;
  *id = json_string (cfg);
  return 0;
}

/* The store's default image, if it was built from key: its id. */
static json_t *
current (const char *state_dir, const char *key)
{
  struct islet_oci_image img;
  struct islet_err ignored;
  json_t *id = NULL;
  const char *k;

  if (islet_imgstore_open (state_dir, ISLET_DEFAULT_IMAGE, &img, &ignored) < 0)
    return NULL;
  k = json_string_value (json_object_get (json_object_get (img.config, "Labels"), KEY_LABEL));
  if (k && strcmp (k, key) == 0)
    id = json_string (img.id);
  islet_oci_image_fini (&img);
  return id;
}

int
islet_oci_build_default (const char *state_dir, FILE *progress, json_t **id, struct islet_err *err)
{
  cleanup_free char *tar = NULL;
  char key[17];

  if (cache_key (key, err) < 0)
    return -1;
  *id = current (state_dir, key);
  if (*id)
    {
      if (progress)
        fprintf (progress, "islet: the default image %s is up to date\n", ISLET_DEFAULT_IMAGE);
      return 0;
    }
  if (cached_tar (key, progress, &tar, err) < 0)
    return -1;
  if (import_rootfs (state_dir, tar, key, progress, id, err) < 0)
    return islet_wrap (err, "import the default image");
  if (progress)
    fprintf (progress, "islet: the default image %s is %s\n", ISLET_DEFAULT_IMAGE,
             json_string_value (*id));
  return 0;
}
