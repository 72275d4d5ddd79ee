/* A state directory's sandboxes read back: one by id, name or prefix,
 * and all of them in the order they were made. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "islet/sandbox.h"
#include "islet/util.h"
#include "sandbox_internal.h"

int
local_get (void *self, const char *ref, struct islet_sandbox_info *out, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  char id[ISLET_ID_LEN + 1];

  if (ref == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "empty sandbox id");
  /* ref may point into *out (a caller passing info.id back in): it is not
   * read once resolved */
  if (sandbox_resolve (ctx, ref, id, err) < 0)
    return -1;
  return sandbox_load_any (ctx, id, out, err);
}

static int
by_created (const void *a, const void *b)
{
  const struct islet_sandbox_info *x = a, *y = b;
  if (x->created != y->created)
    return x->created < y->created ? -1 : 1;
  if (x->created_nsec != y->created_nsec)
    return x->created_nsec < y->created_nsec ? -1 : 1;
  return strcmp (x->id, y->id);
}

int
local_list (void *self, struct islet_sandbox_info **out, size_t *n, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  cleanup_free char *dir = islet_xasprintf ("%s/sandboxes", ctx->state_dir);
  cleanup_dir DIR *d = opendir (dir);
  struct islet_sandbox_info *v = NULL;
  size_t count = 0, cap = 0;
  struct dirent *de;

  if (d == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
  while ((de = readdir (d)) != NULL)
    {
      struct islet_err e;
      if (!sandbox_id_valid (de->d_name) || warm_is_pooled (ctx, de->d_name))
        continue;
      if (count == cap)
        {
          cap = cap ? cap * 2 : 16;
          v = islet_xrealloc (v, cap * sizeof *v);
        }
      /* One still being created is left out; one whose create or remove
       * was cut short is listed as broken. */
      if (sandbox_load_any (ctx, de->d_name, &v[count], &e) == 0)
        count++;
    }
  if (count)
    qsort (v, count, sizeof *v, by_created);
  *out = v;
  *n = count;
  return 0;
}
