/* `islet image build`: an image from a Dockerfile.  Each RUN runs in an
 * islet sandbox made from the layers so far (never on the host), and what
 * it changed in its writable layer becomes a new layer; COPY and WORKDIR
 * make theirs from the context and the lower layers; ENV, WORKDIR, USER,
 * CMD, ENTRYPOINT and LABEL go into the config.
 *
 * Every layer is stored as a pulled one is, and at once referenced by an
 * image record of the build's state so far (nameless, labelled with the
 * build's token), so a prune beside the build keeps it and a RUN's sandbox
 * can be made from it.  Only the finished image gets the name; the partial
 * records are removed then.  A build holds images/build/TOKEN.lock: a
 * killed one leaves its lock free, and the next build removes its partial
 * records, sandboxes and temporaries.
 *
 * An identical build (Dockerfile, base image id, build arguments, the
 * contents of what COPY takes) is found by the key in its config's label
 * and reused at once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include "islet/client.h"
#include "islet/config.h"
#include "islet/oci.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "oci_build.h"
#include "oci_internal.h"

#define KEY_LABEL "org.islet.build.key"
#define PARTIAL_LABEL "org.islet.build.partial"
#define SB_PREFIX "islet-build-"

struct build
{
  const char *state;
  const struct islet_build_opts *o;
  struct build_step *steps;
  size_t n_steps;
  json_t *vars;     /* ARG and ENV values, for expansion */
  json_t *env_set;  /* names ENV set (an ARG does not override them) */
  json_t *args;     /* ARG values in effect: a RUN's environment */
  json_t *pre_from; /* ARGs declared before FROM */
  json_t *cfg;      /* the whole image config */
  json_t *mlayers;  /* the manifest's layer descriptors */
  json_t *layers;   /* the layer blobs' digests (the record's "layers") */
  json_t *partials; /* ids of the records this build made */
  bool cmd_set;
  uint64_t bytes; /* of the layers this build made */
  char token[17];
  char *dir; /* images/build/TOKEN */
  int ctx;   /* the context directory, or -1 */
  int lock;
  json_t *key; /* what the cache key is made of */
};

static json_t *
config_of (struct build *b)
{
  json_t *c = json_object_get (b->cfg, "config");
  if (!json_is_object (c))
    {
      c = json_object ();
      json_object_set_new (b->cfg, "config", c);
    }
  return c;
}

/* ---- the base image ---- */

static json_t *
load_blob (const char *state, const char *digest, struct islet_err *err)
{
  cleanup_free char *p = digest ? islet_imgstore_blob_path (state, digest) : NULL;
  json_t *j = p ? json_load_file (p, 0, NULL) : NULL;
  if (j == NULL)
    islet_fail (err, ISLET_E_NOTFOUND, 0, "blob `%.19s` is missing or not JSON",
                digest ? digest : "?");
  return j;
}

static int
from (struct build *b, const struct build_step *st, struct islet_err *err)
{
  cleanup_strv char **w = NULL;
  struct islet_oci_image img;
  json_t *man, *e;
  size_t i;

  /* its form is build_parse's check: here only what variables made of it */
  if (build_words (st->text, b->pre_from, &w, err) < 0)
    return islet_wrap (err, "line %u", st->line);
  if (build_from_image (st, w[0], err) < 0)
    return -1;
  if (islet_imgstore_open (b->state, w[0], &img, err) < 0)
    return islet_wrap (err, "line %u: FROM `%s` (islet image pull %s puts it in the store)",
                       st->line, w[0], w[0]);
  b->cfg = load_blob (b->state, json_string_value (json_object_get (img.record, "config")), err);
  man = b->cfg ? load_blob (b->state, json_string_value (json_object_get (img.record, "manifest")),
                            err)
               : NULL;
  if (man)
    {
      b->mlayers = json_deep_copy (json_object_get (man, "layers"));
      b->layers = json_deep_copy (json_object_get (img.record, "layers"));
      json_decref (man);
    }
  json_array_append_new (b->key, json_string (img.id));
  islet_oci_image_fini (&img);
  if (b->mlayers == NULL || b->layers == NULL)
    return -1;
  /* the base's triggers would run here in Docker: refused, not skipped */
  if (json_array_size (json_object_get (config_of (b), "OnBuild")) > 0)
    return islet_fail (
        err, ISLET_E_INVALID, 0,
        "line %u: FROM `%s`: the image has ONBUILD triggers (%s...), which islet "
        "does not run",
        st->line, w[0],
        json_string_value (json_array_get (json_object_get (config_of (b), "OnBuild"), 0)) ?: "?");
  json_object_del (b->cfg, "history");
  /* the base's labels are inherited, as in Docker, but for the marks of
     its own build: a derived image is not the base's cached build */
  if (!json_is_object (json_object_get (config_of (b), "Labels")))
    json_object_set_new (config_of (b), "Labels", json_object ());
  json_object_del (json_object_get (config_of (b), "Labels"), KEY_LABEL);
  json_object_del (json_object_get (config_of (b), "Labels"), PARTIAL_LABEL);
  /* the image's Env is what ${NAME} sees until ENV changes it */
  json_array_foreach (json_object_get (config_of (b), "Env"), i, e)
  {
    const char *kv = json_string_value (e), *eq = kv ? strchr (kv, '=') : NULL;
    if (eq)
      {
        cleanup_free char *k = strndup (kv, (size_t) (eq - kv));
        json_object_set_new (b->vars, k, json_string (eq + 1));
      }
  }
  return 0;
}

/* ---- instructions that change the config ---- */

static void
set_env (struct build *b, const char *k, const char *v)
{
  json_t *env = json_object_get (config_of (b), "Env"), *e;
  size_t i, kl = strlen (k);

  if (!json_is_array (env))
    {
      env = json_array ();
      json_object_set_new (config_of (b), "Env", env);
    }
  json_array_foreach (env, i, e)
  {
    const char *kv = json_string_value (e);
    if (kv && strncmp (kv, k, kl) == 0 && kv[kl] == '=')
      {
        json_array_set_new (env, i, json_sprintf ("%s=%s", k, v));
        goto done;
      }
  }
  json_array_append_new (env, json_sprintf ("%s=%s", k, v));
done:
  json_object_set_new (b->vars, k, json_string (v));
  json_object_set_new (b->env_set, k, json_true ());
}

/* K=V words (ENV, LABEL); ENV also takes the old `ENV K V...` form. */
static int
pairs (struct build *b, const struct build_step *st, bool env, struct islet_err *err)
{
  cleanup_strv char **w = NULL;

  if (build_words (st->text, b->vars, &w, err) < 0)
    return islet_wrap (err, "line %u", st->line);
  if (w[0] == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "line %u: %s takes KEY=VALUE", st->line,
                       build_op_name (st->op));
  if (env && strchr (w[0], '=') == NULL)
    {
      cleanup_free char *v = islet_xstrdup ("");
      for (size_t i = 1; w[i]; i++)
        {
          char *n = islet_xasprintf ("%s%s%s", v, i > 1 ? " " : "", w[i]);
          free (v);
          v = n;
        }
      set_env (b, w[0], v);
      return 0;
    }
  for (size_t i = 0; w[i]; i++)
    {
      char *eq = strchr (w[i], '=');
      if (eq == NULL || eq == w[i])
        return islet_fail (err, ISLET_E_INVALID, 0, "line %u: `%s` is not KEY=VALUE", st->line,
                           w[i]);
      *eq = '\0';
      if (env)
        set_env (b, w[i], eq + 1);
      else
        json_object_set_new (json_object_get (config_of (b), "Labels"), w[i], json_string (eq + 1));
    }
  return 0;
}

static int
arg (struct build *b, const struct build_step *st, bool before_from, struct islet_err *err)
{
  cleanup_strv char **w = NULL;

  if (build_words (st->text, before_from ? b->pre_from : b->vars, &w, err) < 0)
    return islet_wrap (err, "line %u", st->line);
  if (w[0] == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "line %u: ARG takes NAME[=DEFAULT]", st->line);
  for (size_t i = 0; w[i]; i++)
    {
      char *eq = strchr (w[i], '=');
      const char *v;
      if (eq)
        *eq = '\0';
      v = json_string_value (json_object_get (b->o->build_args, w[i]));
      if (v == NULL && eq)
        v = eq + 1;
      if (v == NULL && !before_from)
        v = json_string_value (json_object_get (b->pre_from, w[i]));
      if (before_from)
        {
          if (v)
            json_object_set_new (b->pre_from, w[i], json_string (v));
          continue;
        }
      json_object_set_new (b->args, w[i], json_string (v ? v : ""));
      if (!json_object_get (b->env_set, w[i]))
        json_object_set_new (b->vars, w[i], json_string (v ? v : ""));
    }
  return 0;
}

/* One word: WORKDIR's and USER's argument. */
static char *
one_word (struct build *b, const struct build_step *st, struct islet_err *err)
{
  cleanup_strv char **w = NULL;
  if (build_words (st->text, b->vars, &w, err) < 0)
    return islet_wrap (err, "line %u", st->line), NULL;
  if (w[0] == NULL || w[1] != NULL || w[0][0] == '\0')
    return islet_fail (err, ISLET_E_INVALID, 0, "line %u: %s takes one argument", st->line,
                       build_op_name (st->op)),
           NULL;
  return islet_xstrdup (w[0]);
}

/* path made absolute from the WORKDIR, without `//`, `.` or a final `/`. */
static char *
absolute (struct build *b, const char *path)
{
  const char *wd = json_string_value (json_object_get (config_of (b), "WorkingDir"));
  cleanup_free char *full = path[0] == '/' ? islet_xstrdup (path)
                                           : islet_xasprintf ("%s/%s", wd && *wd ? wd : "", path);
  char *out = islet_xcalloc (strlen (full) + 2, 1), *save = NULL;
  size_t n = 0;

  for (char *c = strtok_r (full, "/", &save); c; c = strtok_r (NULL, "/", &save))
    {
      if (strcmp (c, ".") == 0)
        continue;
      if (strcmp (c, "..") == 0)
        {
          while (n > 0 && out[--n] != '/')
            ;
          out[n] = '\0';
          continue;
        }
      n += (size_t) sprintf (out + n, "/%s", c);
    }
  if (n == 0)
    strcpy (out, "/");
  return out;
}

/* CMD, ENTRYPOINT and RUN: the exec form, or the shell form as the
 * config's Shell (SHELL, or the base's) runs it, /bin/sh -c when none. */
static json_t *
command (struct build *b, const struct build_step *st)
{
  cleanup_strv char **argv = NULL;
  json_t *a, *shell = json_object_get (config_of (b), "Shell");
  if (!build_exec_form (st->text, &argv))
    {
      a = json_array_size (shell) ? json_deep_copy (shell) : json_pack ("[s,s]", "/bin/sh", "-c");
      json_array_append_new (a, json_string (st->text));
      return a;
    }
  a = json_array ();
  for (size_t i = 0; argv[i]; i++)
    json_array_append_new (a, json_string (argv[i]));
  return a;
}

/* EXPOSE, STOPSIGNAL, MAINTAINER, SHELL and HEALTHCHECK: the config only. */
static int
config_only (struct build *b, const struct build_step *st, struct islet_err *err)
{
  cleanup_strv char **w = NULL, **argv = NULL;
  json_t *ports;

  switch (st->op)
    {
    case OP_MAINTAINER: json_object_set_new (b->cfg, "author", json_string (st->text)); return 0;
    case OP_HEALTHCHECK:
      {
        json_t *hc = NULL;
        if (build_healthcheck (st->text, &hc, err) < 0)
          return islet_wrap (err, "line %u", st->line);
        json_object_set_new (config_of (b), "Healthcheck", hc);
        return 0;
      }
    case OP_SHELL:
      if (!build_exec_form (st->text, &argv))
        return islet_fail (err, ISLET_E_INVALID, 0, "line %u: SHELL takes the JSON form", st->line);
      json_object_set_new (config_of (b), "Shell", json_array ());
      for (size_t i = 0; argv[i]; i++)
        json_array_append_new (json_object_get (config_of (b), "Shell"), json_string (argv[i]));
      return 0;
    default: break;
    }
  if (build_words (st->text, b->vars, &w, err) < 0)
    return islet_wrap (err, "line %u", st->line);
  if (st->op == OP_STOPSIGNAL)
    {
      if (w[0] == NULL || w[1] || !build_signal_ok (w[0]))
        return islet_fail (err, ISLET_E_INVALID, 0, "line %u: STOPSIGNAL `%s` is not a signal",
                           st->line, w[0] ? w[0] : "");
      json_object_set_new (config_of (b), "StopSignal", json_string (w[0]));
      return 0;
    }
  ports = json_object_get (config_of (b), "ExposedPorts");
  if (!json_is_object (ports))
    json_object_set_new (config_of (b), "ExposedPorts", ports = json_object ());
  for (size_t i = 0; w[i]; i++)
    {
      cleanup_free char *port = build_port (w[i]);
      if (port == NULL)
        return islet_fail (err, ISLET_E_INVALID, 0,
                           "line %u: EXPOSE `%s` is not PORT[-PORT][/tcp|/udp]", st->line, w[i]);
      json_object_set_new (ports, port, json_object ());
    }
  return 0;
}

/* ---- the store: records of the build's state ---- */

/* The config and manifest of the state so far as blobs, and a record
 * (named `name`, or nameless and labelled partial) under the store lock;
 * id receives the config's digest. */
static int
commit_locked (struct build *b, const char *name, const char *label, const char *value,
               char id[ISLET_DIGEST_LEN + 1], struct islet_err *err)
{
  cleanup_json json_t *cfg = json_deep_copy (b->cfg), *man = NULL;
  char man_d[ISLET_DIGEST_LEN + 1];
  uint64_t cfg_size = 0;
  json_t *labels;

  labels = json_object_get (json_object_get (cfg, "config"), "Labels");
  json_object_set_new (labels, label, json_string (value));
  if (oci_add_json (b->state, cfg, id, &cfg_size, err) < 0)
    return -1;
  man = json_pack ("{s:i,s:s,s:{s:s,s:s,s:I},s:O}", "schemaVersion", 2, "mediaType",
                   "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
                   "application/vnd.oci.image.config.v1+json", "digest", id, "size",
                   (json_int_t) cfg_size, "layers", b->mlayers);
  if (oci_add_json (b->state, man, man_d, NULL, err) < 0)
    return -1;
  return islet_imgstore_record (b->state, name, man_d, id, b->layers, err);
}

static int
commit_partial (struct build *b, char id[ISLET_DIGEST_LEN + 1], struct islet_err *err)
{
  cleanup_close int lock = oci_store_lock (b->state, err);
  if (lock < 0 || commit_locked (b, NULL, PARTIAL_LABEL, b->token, id, err) < 0)
    return -1;
  json_array_append_new (b->partials, json_string (id));
  return 0;
}

/* Store the layer tar at path and reference it at once (a partial record). */
static int
add_layer (struct build *b, const char *path, struct islet_err *err)
{
  cleanup_close int lock = oci_store_lock (b->state, err);
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  char dg[ISLET_DIGEST_LEN + 1], id[ISLET_DIGEST_LEN + 1];
  uint64_t size = 0;
  json_t *diff;

  if (lock < 0)
    return -1;
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
  if (islet_digest_fd (fd, dg, &size, err) < 0 || lseek (fd, 0, SEEK_SET) < 0)
    return -1;
  b->bytes += size;
  if (b->o->max_bytes && b->bytes > b->o->max_bytes)
    return islet_fail (err, ISLET_E_LIMIT, 0, "the new layers come to more than %llu MB",
                       (unsigned long long) (b->o->max_bytes >> 20));
  if (islet_imgstore_add_blob (b->state, fd, dg, err) < 0
      || islet_imgstore_unpack_layer (b->state, dg, err) < 0)
    return -1;
  json_array_append_new (b->layers, json_string (dg));
  json_array_append_new (b->mlayers, json_pack ("{s:s,s:s,s:I}", "mediaType",
                                                "application/vnd.oci.image.layer.v1.tar", "digest",
                                                dg, "size", (json_int_t) size));
  diff = json_object_get (json_object_get (b->cfg, "rootfs"), "diff_ids");
  if (!json_is_array (diff))
    return islet_fail (err, ISLET_E_INVALID, 0, "the base image's config has no rootfs.diff_ids");
  json_array_append_new (diff, json_string (dg));
  if (commit_locked (b, NULL, PARTIAL_LABEL, b->token, id, err) < 0)
    return -1;
  json_array_append_new (b->partials, json_string (id));
  return 0;
}

/* Take the partial records of token off the store (under the lock), but
 * keep: the finished image's id. */
static void
drop_partials (const char *state, const char *token, const char *keep)
{
  struct islet_err ignored;
  cleanup_close int lock = oci_store_lock (state, &ignored);
  cleanup_free char *dir = islet_xasprintf ("%s/images/meta", state);
  cleanup_dir DIR *d = lock < 0 ? NULL : opendir (dir);
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    {
      struct islet_oci_image img;
      cleanup_free char *id = NULL;
      const char *t;
      if (strlen (e->d_name) != 69)
        continue;
      id = islet_xasprintf ("sha256:%.64s", e->d_name);
      if ((keep && strcmp (id, keep) == 0) || islet_imgstore_open (state, id, &img, &ignored) < 0)
        continue;
      t = json_string_value (
          json_object_get (json_object_get (img.config, "Labels"), PARTIAL_LABEL));
      if (t && strcmp (t, token) == 0
          && json_array_size (json_object_get (img.record, "names")) == 0)
        {
          cleanup_free char *p = islet_xasprintf ("%s/%s", dir, e->d_name);
          (void) unlink (p);
        }
      islet_oci_image_fini (&img);
    }
}

/* ---- the steps ---- */

static int
layer_path (struct build *b, size_t step, char **path, int *fd, struct islet_err *err)
{
  *path = islet_xasprintf ("%s/layer-%zu.tar", b->dir, step);
  *fd = open (*path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (*fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create `%s`", *path);
  return 0;
}

static void
lowers_of (struct build *b, struct build_lowers *l)
{
  size_t i;
  json_t *d;
  char **dirs = islet_xcalloc (json_array_size (b->layers) + 1, sizeof *dirs);
  json_array_foreach (b->layers, i, d) dirs[i] = islet_xasprintf ("%s/images/layers/%s", b->state,
                                                                  json_string_value (d) + 7);
  l->dirs = dirs;
  l->n = json_array_size (b->layers);
}

static int
workdir (struct build *b, const struct build_step *st, size_t idx, bool run, struct islet_err *err)
{
  cleanup_free char *w = one_word (b, st, err);
  cleanup_free char *path = NULL, *tar = NULL;
  cleanup_close int fd = -1;
  struct build_lowers l;
  bool made = false;
  int rc;

  if (w == NULL)
    return -1;
  path = absolute (b, w);
  json_object_set_new (config_of (b), "WorkingDir", json_string (path));
  if (!run)
    return 0;
  /* Docker makes the directory: a layer of its own when no lower has it */
  if (layer_path (b, idx, &tar, &fd, err) < 0)
    return -1;
  lowers_of (b, &l);
  rc = build_layer_mkdir (path, &l, fd, &made, err);
  islet_strv_free ((char **) l.dirs);
  if (rc < 0)
    return islet_wrap (err, "line %u: WORKDIR %s", st->line, path);
  return made ? add_layer (b, tar, err) : 0;
}

/* `--chown=UID[:GID]` (numeric; build_parse refused any other flag), the
 * first words of a COPY, once variables have values. */
static int
copy_flags (const struct build_step *st, char *const *w, size_t n, uint32_t *uid, uint32_t *gid,
            struct islet_err *err)
{
  for (size_t i = 0; i < n; i++)
    if (build_copy_chown (w[i], uid, gid) < 0)
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "line %u: COPY %s: --chown takes numeric ids (UID[:GID]) here", st->line,
                         w[i]);
  return 0;
}

static int
copy (struct build *b, const struct build_step *st, size_t idx, bool run, struct islet_err *err)
{
  cleanup_strv char **all = NULL;
  char **w;
  size_t n = 0, n_flags = 0;
  uint32_t uid = 0, gid = 0;
  cleanup_free char *dest = NULL, *tar = NULL;
  cleanup_close int fd = -1;
  struct build_lowers l;
  struct build_copy c;
  char hash[65] = "";
  int rc;

  if (build_copy_words (st->text, b->vars, &all, &n_flags, err) < 0)
    return islet_wrap (err, "line %u", st->line);
  if (copy_flags (st, all, n_flags, &uid, &gid, err) < 0)
    return -1;
  w = all + n_flags;
  while (w[n])
    n++;
  if (b->ctx < 0)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "line %u: COPY needs a build context, and this build has none", st->line);
  dest = absolute (b, w[n - 1]);
  if (w[n - 1][strlen (w[n - 1]) - 1] == '/' && strcmp (dest, "/") != 0)
    {
      char *d = islet_xasprintf ("%s/", dest);
      free (dest);
      dest = d;
    }
  c = (struct build_copy){
    .ctx = b->ctx, .srcs = w, .n_srcs = n - 1, .dest = dest, .uid = uid, .gid = gid
  };
  if (run && layer_path (b, idx, &tar, &fd, err) < 0)
    return -1;
  lowers_of (b, &l);
  rc = build_layer_copy (&c, &l, run ? fd : -1, hash, err);
  islet_strv_free ((char **) l.dirs);
  if (rc < 0)
    return islet_wrap (err, "line %u", st->line);
  if (!run)
    {
      json_array_append_new (b->key, json_string (hash));
      return 0;
    }
  return add_layer (b, tar, err);
}

static int
run (struct build *b, const struct build_step *st, size_t idx, struct islet_err *err)
{
  cleanup_strv char **argv = NULL;
  cleanup_free char *tar = NULL;
  cleanup_close int fd = -1;
  char id[ISLET_DIGEST_LEN + 1];
  const char *wd = json_string_value (json_object_get (config_of (b), "WorkingDir"));
  struct build_run r = { 0 };

  if (!build_exec_form (st->text, &argv))
    {
      cleanup_json json_t *a = command (b, st);
      json_t *item;
      size_t i;
      argv = islet_xcalloc (json_array_size (a) + 1, sizeof *argv);
      json_array_foreach (a, i, item) argv[i] = islet_xstrdup (json_string_value (item));
    }
  if (commit_partial (b, id, err) < 0 || layer_path (b, idx, &tar, &fd, err) < 0)
    return -1;
  r = (struct build_run){ .state = b->state,
                          .image = id,
                          .argv = argv,
                          .env = b->args,
                          .cwd = wd && *wd ? wd : "/",
                          .token = b->token,
                          .step = idx,
                          .opts = b->o,
                          .out = fd };
  if (build_run_step (&r, err) < 0)
    return islet_wrap (err, "step %zu/%zu (line %u) `RUN %.60s`", idx + 1, b->n_steps, st->line,
                       st->text);
  return add_layer (b, tar, err);
}

/* One instruction; run false: only what the cache key needs. */
static int
step (struct build *b, size_t idx, bool go, struct islet_err *err)
{
  const struct build_step *st = &b->steps[idx];
  bool before_from = b->cfg == NULL;

  if (go && b->o->progress)
    fprintf (b->o->progress, "islet: step %zu/%zu: %s %s\n", idx + 1, b->n_steps,
             build_op_name (st->op), st->text);
  /* build_parse saw to the order: one FROM, only ARGs before it */
  switch (st->op)
    {
    case OP_FROM: return from (b, st, err);
    case OP_ARG: return arg (b, st, before_from, err);
    case OP_ENV: return pairs (b, st, true, err);
    case OP_LABEL: return pairs (b, st, false, err);
    case OP_WORKDIR: return workdir (b, st, idx, go, err);
    case OP_USER:
      {
        char *u = one_word (b, st, err);
        if (u == NULL)
          return -1;
        json_object_set_new (config_of (b), "User", json_string (u));
        free (u);
        return 0;
      }
    case OP_CMD:
      json_object_set_new (config_of (b), "Cmd", command (b, st));
      b->cmd_set = true;
      return 0;
    case OP_ENTRYPOINT:
      json_object_set_new (config_of (b), "Entrypoint", command (b, st));
      /* as in Docker: a new ENTRYPOINT drops the base image's CMD */
      if (!b->cmd_set)
        json_object_del (config_of (b), "Cmd");
      return 0;
    case OP_COPY: return copy (b, st, idx, go, err);
    case OP_EXPOSE:
    case OP_STOPSIGNAL:
    case OP_MAINTAINER:
    case OP_SHELL:
    case OP_HEALTHCHECK: return config_only (b, st, err);
    case OP_RUN: return go ? run (b, st, idx, err) : 0;
    }
  return islet_fail (err, ISLET_E_INVALID, 0, "line %u: unknown instruction", st->line);
}

/* Reset what a pass changes, for the next one. */
static void
pass_reset (struct build *b)
{
  json_decref (b->vars);
  json_decref (b->env_set);
  json_decref (b->args);
  json_decref (b->pre_from);
  json_decref (b->cfg);
  json_decref (b->mlayers);
  json_decref (b->layers);
  b->vars = json_object ();
  b->env_set = json_object ();
  b->args = json_object ();
  b->pre_from = json_object ();
  b->cfg = b->mlayers = b->layers = NULL;
  b->cmd_set = false;
}

static void
build_fini (struct build *b)
{
  pass_reset (b);
  json_decref (b->vars);
  json_decref (b->env_set);
  json_decref (b->args);
  json_decref (b->pre_from);
  json_decref (b->partials);
  json_decref (b->key);
  build_steps_free (b->steps, b->n_steps);
  if (b->ctx >= 0)
    close (b->ctx);
  if (b->dir)
    {
      struct islet_err ignored;
      (void) !islet_rm_rf (b->dir, &ignored);
      free (b->dir);
    }
  if (b->lock >= 0)
    {
      /* unlinked first: a build that finds it then finds its lock free and
         removes nothing, everything of this build being gone already */
      cleanup_free char *p = islet_xasprintf ("%s/images/build/%s.lock", b->state, b->token);
      (void) unlink (p);
      close (b->lock);
    }
}

/* The key: sha256 of what makes the build (JSON of it).  Beside what the
 * first pass put in (the base image's id, each COPY's sources), whatever
 * a RUN can see that may change what it writes: the text, the build
 * arguments, its network (mode, list, proxy: a `none` build must not be
 * an `all` one's) and the limits it can read (memory, CPUs, processes,
 * disk, open files).  The wall-clock and output bounds change whether a
 * RUN ends, not what a finished one wrote: not in it. */
static void
cache_key (struct build *b, const char *dockerfile, char out[65])
{
  const struct islet_limits *l = &b->o->limits;
  const struct islet_net *n = &b->o->net;
  cleanup_free char *text = NULL;
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned len = 0;

  json_array_insert_new (b->key, 0, json_string ("islet-build-2"));
  json_array_append_new (b->key, json_string (dockerfile));
  json_array_append (b->key, b->o->build_args);
  json_array_append_new (b->key,
                         json_pack ("{s:s,s:s,s:s}", "network", islet_net_mode_name (n->mode),
                                    "allow", n->allow, "proxy", n->proxy));
  json_array_append_new (
      b->key, json_pack ("{s:I,s:I,s:I,s:I,s:I}", "memory_mb", (json_int_t) l->memory_mb,
                         "cpu_millis", (json_int_t) l->cpu_millis, "pids", (json_int_t) l->pids,
                         "disk_mb", (json_int_t) l->disk_mb, "nofile", (json_int_t) l->nofile));
  text = json_dumps (b->key, JSON_COMPACT | JSON_SORT_KEYS);
  EVP_Digest (text, strlen (text), d, &len, EVP_sha256 (), NULL);
  for (unsigned i = 0; i < 32; i++)
    snprintf (out + 2 * i, 3, "%02x", d[i]);
}

/* An image of the store built with key: its id into id. */
static bool
cached (const char *state, const char *key, char id[ISLET_DIGEST_LEN + 1])
{
  struct islet_err ignored;
  json_t *list = islet_imgstore_list (state, &ignored), *img;
  bool found = false;
  size_t i;

  json_array_foreach (json_object_get (list, "images"), i, img)
  {
    struct islet_oci_image o;
    const char *k;
    if (found
        || islet_imgstore_open (state, json_string_value (json_object_get (img, "id")), &o,
                                &ignored)
               < 0)
      continue;
    k = json_string_value (json_object_get (json_object_get (o.config, "Labels"), KEY_LABEL));
    if (k && strcmp (k, key) == 0)
      {
        snprintf (id, ISLET_DIGEST_LEN + 1, "%s", o.id);
        found = true;
      }
    islet_oci_image_fini (&o);
  }
  json_decref (list);
  return found;
}

/* What builds killed before they ended left: their sandboxes, partial
 * records and temporaries (a build's lock is free once it is gone). */
static void
reap_dead (const char *state, const char *self)
{
  cleanup_free char *dir = islet_xasprintf ("%s/images/build", state);
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    {
      size_t len = strlen (e->d_name);
      cleanup_free char *lockp = NULL, *tok = NULL, *tmp = NULL;
      cleanup_close int fd = -1;
      struct islet_err ignored;
      if (len != 21 || strcmp (e->d_name + 16, ".lock") != 0 || strncmp (e->d_name, self, 16) == 0)
        continue;
      lockp = islet_xasprintf ("%s/%s", dir, e->d_name);
      fd = open (lockp, O_RDWR | O_CLOEXEC);
      if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) < 0)
        continue;
      tok = strndup (e->d_name, 16);
      build_run_reap (state, tok);
      drop_partials (state, tok, NULL);
      tmp = islet_xasprintf ("%s/%s", dir, tok);
      (void) !islet_rm_rf (tmp, &ignored);
      (void) unlink (lockp);
    }
}

void
islet_oci_build_reap (const char *state_dir)
{
  reap_dead (state_dir, ""); /* every build whose lock is free: none is this one */
}

static int
begin (struct build *b, struct islet_err *err)
{
  unsigned char r[8];
  cleanup_free char *lockp = NULL, *top = islet_xasprintf ("%s/images/build", b->state);

  if (getrandom (r, sizeof r, 0) != sizeof r)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "getrandom");
  for (int i = 0; i < 8; i++)
    snprintf (b->token + 2 * i, 3, "%02x", r[i]);
  if (islet_mkdir_p (top, 0700, err) < 0)
    return -1;
  lockp = islet_xasprintf ("%s/%s.lock", top, b->token);
  b->lock = open (lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (b->lock < 0 || flock (b->lock, LOCK_EX) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "lock `%s`", lockp);
  b->dir = islet_xasprintf ("%s/%s", top, b->token);
  if (mkdir (b->dir, 0700) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", b->dir);
  reap_dead (b->state, b->token);
  return 0;
}

static int
finish (struct build *b, const char *key, char id[ISLET_DIGEST_LEN + 1], struct islet_err *err)
{
  cleanup_close int lock = oci_store_lock (b->state, err);
  if (lock < 0 || commit_locked (b, b->o->name, KEY_LABEL, key, id, err) < 0)
    return -1;
  return 0;
}

int
islet_oci_build (const char *state_dir, const struct islet_build_opts *o, const char *dockerfile,
                 json_t **id_out, bool *was_cached, struct islet_err *err)
{
  struct build b = { .state = state_dir, .o = o, .ctx = -1, .lock = -1 };
  char key[65], id[ISLET_DIGEST_LEN + 1];
  int rc = -1;

  *was_cached = false;
  b.partials = json_array ();
  b.key = json_array ();
  pass_reset (&b);
  if (build_parse (dockerfile, &b.steps, &b.n_steps, err) < 0)
    goto out;
  if (o->context)
    {
      b.ctx = open (o->context, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (b.ctx < 0)
        {
          islet_fail (err, ISLET_E_NOTFOUND, errno, "build context `%s`", o->context);
          goto out;
        }
      /* what it would leave out would be copied: refused, not ignored */
      if (faccessat (b.ctx, ".dockerignore", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        {
          islet_fail (err, ISLET_E_INVALID, 0,
                      "the build context has a .dockerignore, which islet does not read: "
                      "remove it, or build from a directory of only what COPY should take");
          goto out;
        }
    }
  /* first pass: the config and the key, nothing made */
  for (size_t i = 0; i < b.n_steps; i++)
    if (step (&b, i, false, err) < 0)
      goto out;
  cache_key (&b, dockerfile, key);
  if (cached (state_dir, key, id))
    {
      cleanup_close int lock = oci_store_lock (state_dir, err);
      struct islet_oci_image img;
      if (lock < 0 || islet_imgstore_open (state_dir, id, &img, err) < 0)
        goto out;
      rc = islet_imgstore_record (state_dir, o->name,
                                  json_string_value (json_object_get (img.record, "manifest")), id,
                                  json_object_get (img.record, "layers"), err);
      islet_oci_image_fini (&img);
      if (rc == 0 && o->progress)
        fprintf (o->progress, "islet: the same build is already in the store: %s\n", id);
      *was_cached = rc == 0;
      goto out;
    }
  pass_reset (&b);
  if (begin (&b, err) < 0)
    goto out;
  for (size_t i = 0; i < b.n_steps; i++)
    if (step (&b, i, true, err) < 0)
      goto out;
  if (finish (&b, key, id, err) < 0)
    goto out;
  if (o->progress)
    fprintf (o->progress, "islet: built %s%s%s\n", id, o->name ? " as " : "",
             o->name ? o->name : "");
  rc = 0;
out:
  if (b.dir)
    drop_partials (state_dir, b.token, rc == 0 ? id : NULL);
  build_fini (&b);
  if (rc == 0)
    *id_out = json_string (id);
  return rc;
}
