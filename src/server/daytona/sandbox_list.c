/* GET /api/sandbox (and /api/sandbox/paginated): the caller's sandboxes,
 * filtered, sorted and cut into pages, with every query parameter that the
 * Daytona SDK 0.218 can send applied.  A parameter islet does not know, or a
 * value it cannot read, is a 400 that names it: a clean-up script that lists
 * the stopped sandboxes to delete them must never get the running ones. */
#include <ctype.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "islet/util.h"
#include "owned.h"
#include "server.h"

#define LIST_LIMIT_DEFAULT 100
#define LIST_LIMIT_MAX 1000

/* Daytona's SandboxState values: islet's sandboxes are started, stopped or
 * paused (owned_state_word), so the others are valid filters that match
 * nothing. */
static const char *const states[] = { "creating",
                                      "restoring",
                                      "destroyed",
                                      "destroying",
                                      "started",
                                      "stopped",
                                      "starting",
                                      "stopping",
                                      "error",
                                      "build_failed",
                                      "pending_build",
                                      "building_snapshot",
                                      "unknown",
                                      "pulling_snapshot",
                                      "archived",
                                      "archiving",
                                      "resizing",
                                      "snapshotting",
                                      "forking",
                                      "pausing",
                                      "paused",
                                      "resuming",
                                      NULL };
static const char *const classes[] = { "linux-vm", "container", "android", "windows", NULL };

enum sort_field
{
  SORT_CREATED, /* the default: creation order, as before sort existed */
  SORT_NAME,
  SORT_CPU,
  SORT_MEMORY,
  SORT_DISK,
  SORT_ACTIVITY,
};
static const char *const sorts[] = { "createdAt", "name",           "cpu", "memoryGib",
                                     "diskGib",   "lastActivityAt", NULL };
static const char *const orders[] = { "asc", "desc", NULL };

/* Amounts compared as the DTO shows them: cores, GiB, GPUs. */
enum amount
{
  AMT_CPU,
  AMT_MEMORY,
  AMT_DISK,
  AMT_GPU,
  AMT_N
};

/* Times compared in milliseconds since the epoch. */
enum when
{
  WHEN_CREATED,
  WHEN_EVENT,
  WHEN_DESTROY,
  WHEN_N
};

struct list_query
{
  uint64_t limit;
  const char *id, *name;                          /* prefixes, case-insensitive */
  json_t *labels;                                 /* NULL: any */
  json_t *states, *snapshots, *regions, *classes; /* arrays of strings; NULL: any */
  double min[AMT_N], max[AMT_N];                  /* NAN: none */
  int is_public, is_recoverable;                  /* -1: any */
  int64_t after[WHEN_N], before[WHEN_N];          /* INT64_MIN / INT64_MAX: none */
  enum sort_field sort;
  bool desc;
  const char *cursor; /* checked once the sort is known */
};

static void
query_fini (struct list_query *q)
{
  json_decref (q->labels);
  json_decref (q->states);
  json_decref (q->snapshots);
  json_decref (q->regions);
  json_decref (q->classes);
}

/* ---- reading the query ---- */

static int
one_of (const char *const *set, const char *v)
{
  for (int i = 0; set[i]; i++)
    if (strcmp (set[i], v) == 0)
      return i;
  return -1;
}

/* "2026-12-06T17:41:07.123Z", "...+01:00", or without a zone (UTC). */
static int
parse_iso_ms (const char *s, int64_t *ms)
{
  struct tm tm = { 0 };
  const char *p = strptime (s, "%Y-%m-%dT%H:%M:%S", &tm);
  int64_t frac = 0, scale = 1000, off = 0;

  if (p == NULL)
    return -1;
  if (*p == '.')
    for (p++; isdigit ((unsigned char) *p); p++)
      if (scale > 1)
        {
          scale /= 10;
          frac += (*p - '0') * scale;
        }
  if (*p == 'Z')
    p++;
  else if ((*p == '+' || *p == '-') && isdigit ((unsigned char) p[1])
           && isdigit ((unsigned char) p[2]) && p[3] == ':' && isdigit ((unsigned char) p[4])
           && isdigit ((unsigned char) p[5]))
    {
      off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
      if (*p == '-')
        off = -off;
      p += 6;
    }
  if (*p)
    return -1;
  *ms = ((int64_t) timegm (&tm) - off) * 1000 + frac;
  return 0;
}

static int
parse_number (const char *s, double *v)
{
  char *end;

  errno = 0;
  *v = strtod (s, &end);
  return *s && !*end && !errno && isfinite (*v) && *v >= 0 ? 0 : -1;
}

static int
parse_bool (const char *s, int *v)
{
  if (strcmp (s, "true") == 0)
    *v = 1;
  else if (strcmp (s, "false") == 0)
    *v = 0;
  else
    return -1;
  return 0;
}

static void
strings_add (json_t **set, const char *v)
{
  if (*set == NULL)
    *set = json_array ();
  json_array_append_new (*set, json_string (v));
}

static int
parse_labels (const char *s, json_t **out)
{
  json_t *j = json_loads (s, 0, NULL), *v;
  const char *k;

  if (!json_is_object (j))
    goto bad;
  json_object_foreach (j, k, v) if (!json_is_string (v)) goto bad;
  json_decref (*out);
  *out = j;
  return 0;
bad:
  json_decref (j);
  return -1;
}

enum kind
{
  K_LIMIT,
  K_CURSOR,
  K_ID,
  K_NAME,
  K_LABELS,
  K_STATE,
  K_SNAPSHOT,
  K_REGION,
  K_CLASS,
  K_MIN,
  K_MAX,
  K_PUBLIC,
  K_RECOVERABLE,
  K_AFTER,
  K_BEFORE,
  K_SORT,
  K_ORDER,
  K_BOOL_NONE, /* a flag that adds sandboxes islet never has (errored, warm) */
};

/* Every query parameter of the SDK's listSandboxes, and what it is. */
static const struct
{
  const char *name;
  enum kind kind;
  int which;        /* an enum amount or enum when */
  const char *form; /* what a good value is, for the 400 */
} params[] = {
  { "limit", K_LIMIT, 0, "a number from 1 to 1000" },
  { "cursor", K_CURSOR, 0, "a nextCursor this server gave" },
  { "id", K_ID, 0, "an id prefix" },
  { "name", K_NAME, 0, "a name prefix" },
  { "labels", K_LABELS, 0, "a JSON object of strings" },
  { "states", K_STATE, 0, "a Daytona sandbox state (started, stopped, ...)" },
  { "snapshots", K_SNAPSHOT, 0, "a snapshot name" },
  { "regionIds", K_REGION, 0, "a region (target)" },
  { "sandboxClasses", K_CLASS, 0, "linux-vm, container, android or windows" },
  { "minCpu", K_MIN, AMT_CPU, "a number of cores" },
  { "maxCpu", K_MAX, AMT_CPU, "a number of cores" },
  { "minMemoryGiB", K_MIN, AMT_MEMORY, "a number of GiB" },
  { "maxMemoryGiB", K_MAX, AMT_MEMORY, "a number of GiB" },
  { "minDiskGiB", K_MIN, AMT_DISK, "a number of GiB" },
  { "maxDiskGiB", K_MAX, AMT_DISK, "a number of GiB" },
  { "minGpu", K_MIN, AMT_GPU, "a number of GPUs" },
  { "maxGpu", K_MAX, AMT_GPU, "a number of GPUs" },
  { "isPublic", K_PUBLIC, 0, "true or false" },
  { "isRecoverable", K_RECOVERABLE, 0, "true or false" },
  { "createdAtAfter", K_AFTER, WHEN_CREATED, "an ISO 8601 time" },
  { "createdAtBefore", K_BEFORE, WHEN_CREATED, "an ISO 8601 time" },
  { "lastEventAfter", K_AFTER, WHEN_EVENT, "an ISO 8601 time" },
  { "lastEventBefore", K_BEFORE, WHEN_EVENT, "an ISO 8601 time" },
  { "autoDestroyAtAfter", K_AFTER, WHEN_DESTROY, "an ISO 8601 time" },
  { "autoDestroyAtBefore", K_BEFORE, WHEN_DESTROY, "an ISO 8601 time" },
  { "sort", K_SORT, 0, "name, cpu, memoryGib, diskGib, lastActivityAt or createdAt" },
  { "order", K_ORDER, 0, "asc or desc" },
  { "includeErroredDeleted", K_BOOL_NONE, 0, "true or false" },
  { "includeWarm", K_BOOL_NONE, 0, "true or false" },
};

/* One query parameter into q; -1 if its value is not of its form. */
static int
take_param (struct list_query *q, enum kind kind, int which, const char *v)
{
  struct islet_err ignored;
  double d;
  int b, i;

  switch (kind)
    {
    case K_LIMIT:
      return islet_parse_u64 (v, LIST_LIMIT_MAX, &q->limit, &ignored) < 0 || q->limit == 0 ? -1 : 0;
    case K_CURSOR: q->cursor = v; return 0;
    case K_ID: q->id = v; return 0;
    case K_NAME: q->name = v; return 0;
    case K_LABELS: return parse_labels (v, &q->labels);
    case K_STATE:
      if (one_of (states, v) < 0)
        return -1;
      strings_add (&q->states, v);
      return 0;
    case K_SNAPSHOT: strings_add (&q->snapshots, v); return 0;
    case K_REGION: strings_add (&q->regions, v); return 0;
    case K_CLASS:
      if (one_of (classes, v) < 0)
        return -1;
      strings_add (&q->classes, v);
      return 0;
    case K_MIN:
    case K_MAX:
      if (parse_number (v, &d) < 0)
        return -1;
      (kind == K_MIN ? q->min : q->max)[which] = d;
      return 0;
    case K_PUBLIC:
    case K_RECOVERABLE:
      if (parse_bool (v, &b) < 0)
        return -1;
      *(kind == K_PUBLIC ? &q->is_public : &q->is_recoverable) = b;
      return 0;
    case K_AFTER: return parse_iso_ms (v, &q->after[which]);
    case K_BEFORE: return parse_iso_ms (v, &q->before[which]);
    case K_SORT:
      if ((i = one_of (sorts, v)) < 0)
        return -1;
      q->sort = (enum sort_field) i;
      return 0;
    case K_ORDER:
      if ((i = one_of (orders, v)) < 0)
        return -1;
      q->desc = i == 1;
      return 0;
    case K_BOOL_NONE: return parse_bool (v, &b);
    }
  return -1;
}

struct walk
{
  struct list_query *q;
  struct resp *out;
};

static int
on_param (const char *name, const char *value, void *user)
{
  struct walk *w = user;
  size_t i;

  for (i = 0; i < sizeof params / sizeof params[0]; i++)
    if (strcmp (params[i].name, name) == 0)
      break;
  if (i == sizeof params / sizeof params[0])
    {
      reply_error (w->out, 400, "BAD_REQUEST",
                   "%s is not a sandbox list parameter islet knows (see the Daytona SDK's "
                   "listSandboxes; pages go by cursor)",
                   name);
      return -1;
    }
  if (take_param (w->q, params[i].kind, params[i].which, value ? value : "") < 0)
    {
      reply_error (w->out, 400, "BAD_REQUEST", "%s '%s' is not %s", name, value ? value : "",
                   params[i].form);
      return -1;
    }
  return 0;
}

static int
list_query (struct req *r, struct list_query *q, struct resp *out)
{
  struct walk w = { q, out };

  *q = (struct list_query){ .limit = LIST_LIMIT_DEFAULT, .is_public = -1, .is_recoverable = -1 };
  for (int i = 0; i < AMT_N; i++)
    q->min[i] = q->max[i] = NAN;
  for (int i = 0; i < WHEN_N; i++)
    {
      q->after[i] = INT64_MIN;
      q->before[i] = INT64_MAX;
    }
  return req_query_each (r, on_param, &w);
}

/* ---- one sandbox against the query ---- */

struct entry
{
  json_t *dto;
  char id[ISLET_ID_LEN + 1];
  const char *name; /* in dto */
  int64_t key;      /* the sort key, but for a name */
};

static bool
prefix_of (const char *prefix, const char *s)
{
  return prefix == NULL || strncasecmp (prefix, s, strlen (prefix)) == 0;
}

static bool
in_set (json_t *set, const char *v)
{
  size_t i;
  json_t *e;

  if (set == NULL)
    return true;
  json_array_foreach (set, i, e) if (strcmp (json_string_value (e), v) == 0) return true;
  return false;
}

static bool
labels_match (json_t *want, json_t *dto)
{
  json_t *have = json_object_get (dto, "labels"), *v;
  const char *k;

  json_object_foreach (want, k, v) if (!json_equal (json_object_get (have, k), v)) return false;
  return true;
}

/* When the reaper will delete it: at its time to live (setTtl), or, for
 * a stopped sandbox with an auto-delete interval, that long after its
 * stop, whichever comes first; INT64_MIN: none. */
static int64_t
destroy_at_ms (const struct req *r, const struct sb_ref *sb)
{
  int64_t ttl = 0, at = INT64_MIN;
  struct islet_err ignored;

  if (sb->info.state != ISLET_SB_RUNNING && sb->row.auto_delete >= 0 && sb->row.stopped_at != 0)
    at = (sb->row.stopped_at + sb->row.auto_delete * r->srv->minute_s) * 1000;
  if (islet_store_ttl_get (r->srv->store, sb->info.id, &ttl, &ignored) == 0 && ttl
      && (at == INT64_MIN || ttl * 1000 < at))
    at = ttl * 1000;
  return at;
}

static bool
in_range (const struct list_query *q, enum when w, int64_t ms)
{
  if (ms == INT64_MIN) /* no such time: matches no bound */
    return q->after[w] == INT64_MIN && q->before[w] == INT64_MAX;
  return ms > q->after[w] && ms < q->before[w];
}

static bool
amount_in (const struct list_query *q, enum amount a, double v)
{
  /* a thousandth of slack: the DTO's amounts are rounded to thousandths */
  return !(v < q->min[a] - 0.0005) && !(v > q->max[a] + 0.0005);
}

/* 1 if sb is public, 0 if not (or the store cannot say: what is enforced). */
static int
sb_public (const struct req *r, const struct sb_ref *sb)
{
  struct islet_err ignored;
  bool on = false;

  return islet_store_sandbox_public (r->srv->store, sb->info.id, &on, &ignored) == 0 && on;
}

/* Whether sb passes the filters that need no DTO. */
static bool
matches (const struct req *r, const struct list_query *q, const struct sb_ref *sb)
{
  const struct islet_limits *l = &sb->info.limits;
  const char *name = sb->row.name ? sb->row.name : sb->info.name;
  int64_t created_ms = sb->info.created * 1000 + sb->info.created_nsec / 1000000;
  cleanup_free char *reason = NULL;
  const char *state = sb->row.phase != ISLET_PHASE_READY
                          ? owned_pending_state (r->srv, &sb->row, &reason)
                          : owned_state (r->srv, &sb->info);

  return prefix_of (q->id, sb->info.id) && prefix_of (q->name, name) && in_set (q->states, state)
         && in_set (q->snapshots, sb->info.image) && in_set (q->regions, sb->row.target)
         && in_set (q->classes, "container") && amount_in (q, AMT_CPU, l->cpu_millis / 1000.0)
         && amount_in (q, AMT_MEMORY, l->memory_mb / 1024.0)
         && amount_in (q, AMT_DISK, l->disk_mb / 1024.0) && amount_in (q, AMT_GPU, 0)
         && (q->is_public < 0 || q->is_public == sb_public (r, sb)) && q->is_recoverable != 1
         && in_range (q, WHEN_CREATED, created_ms)
         && in_range (q, WHEN_EVENT, sb->row.last_activity * 1000)
         && in_range (q, WHEN_DESTROY, destroy_at_ms (r, sb));
}

static int64_t
sort_key (enum sort_field f, const struct sb_ref *sb)
{
  switch (f)
    {
    case SORT_CPU: return sb->info.limits.cpu_millis;
    case SORT_MEMORY: return (int64_t) sb->info.limits.memory_mb;
    case SORT_DISK: return (int64_t) sb->info.limits.disk_mb;
    case SORT_ACTIVITY: return sb->row.last_activity;
    case SORT_NAME: return 0;
    case SORT_CREATED: break;
    }
  return sb->info.created * 1000000000 + sb->info.created_nsec;
}

/* ---- order and pages ---- */

static int
entry_cmp (enum sort_field f, const struct entry *a, const struct entry *b)
{
  int c = f == SORT_NAME ? strcmp (a->name, b->name) : (a->key > b->key) - (a->key < b->key);
  return c ? c : strcmp (a->id, b->id);
}

static int
qsort_cmp (const void *a, const void *b, void *query)
{
  const struct list_query *q = query;
  int c = entry_cmp (q->sort, a, b);
  return q->desc ? -c : c;
}

static int
hex_value (char h)
{
  return h <= '9' ? h - '0' : h - 'a' + 10;
}

/* A page ends after an entry; the next starts after it:
 * "<sort>.<order>.<key>.<id>", the key of a name in hex. */
static char *
cursor_of (const struct list_query *q, const struct entry *e)
{
  const char *head = sorts[q->sort], *order = q->desc ? "desc" : "asc";

  if (q->sort == SORT_NAME)
    {
      size_t n = strlen (e->name);
      cleanup_free char *hex = islet_xmalloc (2 * n + 1);
      for (size_t i = 0; i < n; i++)
        snprintf (hex + 2 * i, 3, "%02x", (unsigned char) e->name[i]);
      return islet_xasprintf ("%s.%s.%s.%s", head, order, hex, e->id);
    }
  return islet_xasprintf ("%s.%s.%lld.%s", head, order, (long long) e->key, e->id);
}

/* The cursor as an entry to start after (its name in *name_buf); -1: not a
 * cursor of this sort. */
static int
cursor_parse (const struct list_query *q, struct entry *at, char **name_buf)
{
  cleanup_free char *c = islet_xstrdup (q->cursor);
  char *order = strchr (c, '.'), *key = order ? strchr (order + 1, '.') : NULL;
  char *id = key ? strrchr (key + 1, '.') : NULL, *end;

  if (id == NULL)
    return -1;
  *order++ = *key++ = *id++ = '\0';
  if (strcmp (c, sorts[q->sort]) != 0 || strcmp (order, q->desc ? "desc" : "asc") != 0
      || strlen (id) != ISLET_ID_LEN || strspn (id, "0123456789abcdef") != ISLET_ID_LEN)
    return -1;
  memcpy (at->id, id, ISLET_ID_LEN + 1);
  if (q->sort == SORT_NAME)
    {
      size_t n = strlen (key);
      if (n % 2 || strspn (key, "0123456789abcdef") != n)
        return -1;
      *name_buf = islet_xcalloc (n / 2 + 1, 1);
      for (size_t i = 0; i < n / 2; i++)
        (*name_buf)[i] = (char) (hex_value (key[2 * i]) << 4 | hex_value (key[2 * i + 1]));
      at->name = *name_buf;
      return n > 0 && strlen (*name_buf) == n / 2 ? 0 : -1;
    }
  errno = 0;
  at->key = strtoll (key, &end, 10);
  return *key && !*end && !errno ? 0 : -1;
}

/* The entries of the caller's sandboxes that pass q (dto owned), in q's order. */
static int
collect (struct req *r, const struct list_query *q, struct entry **out, size_t *nout,
         struct islet_err *err)
{
  cleanup_free struct islet_sandbox_info *all = NULL;
  struct islet_store_sandbox *rows = NULL, *more = NULL;
  size_t n = 0, nall = 0, k = 0, nmore = 0;
  struct entry *e;

  /* ready rows, and those whose image is still pulled or built (or failed) */
  if (owned_core_all (r->srv, &all, &nall, err) < 0
      || islet_store_sandbox_list (r->srv->store, r->key_id, INT64_MIN, "", &rows, &n, err) < 0)
    return -1;
  if (islet_store_sandbox_unready (r->srv->store, &more, &nmore, err) < 0)
    {
      islet_store_sandbox_list_free (rows, n);
      return -1;
    }
  rows = islet_xrealloc (rows, (n + nmore + 1) * sizeof *rows);
  for (size_t i = 0; i < nmore; i++)
    if (more[i].key_id == r->key_id
        && (more[i].phase == ISLET_PHASE_BUILDING || more[i].phase == ISLET_PHASE_FAILED))
      {
        rows[n++] = more[i];
        more[i] = (struct islet_store_sandbox){ 0 };
      }
  islet_store_sandbox_list_free (more, nmore);
  e = islet_xcalloc (n ? n : 1, sizeof *e);
  for (size_t i = 0; i < n; i++)
    {
      const struct islet_sandbox_info *info = owned_core_find (all, nall, rows[i].id);
      struct sb_ref sb = { .ctx = r->srv->ctx, .row = rows[i] };

      if (rows[i].phase != ISLET_PHASE_READY)
        owned_pending_info (&rows[i], &sb.info);
      else if (info == NULL) /* destroyed behind isletd's back */
        continue;
      else
        sb.info = *info;
      if (!matches (r, q, &sb))
        continue;
      e[k].dto = sb_dto (r, &sb, NULL);
      if (q->labels && !labels_match (q->labels, e[k].dto))
        {
          json_decref (e[k].dto);
          continue;
        }
      json_object_del (e[k].dto, "env"); /* list items carry no env */
      json_object_del (e[k].dto, "volumes");
      memcpy (e[k].id, sb.info.id, sizeof e[k].id);
      e[k].name = json_string_value (json_object_get (e[k].dto, "name"));
      e[k].key = sort_key (q->sort, &sb);
      k++;
    }
  islet_store_sandbox_list_free (rows, n);
  qsort_r (e, k, sizeof *e, qsort_cmp, (void *) q);
  *out = e;
  *nout = k;
  return 0;
}

/* GET /api/sandbox: `limit` (default 100, at most 1000) at a time;
 * nextCursor (null on the last page) gets the next. */
void
api_sandbox_list (struct req *r, struct resp *out)
{
  struct list_query q;
  struct entry *e = NULL, at = { 0 };
  cleanup_free char *at_name = NULL;
  struct islet_err err;
  size_t n = 0, first = 0, i;
  json_t *items, *next = json_null ();

  if (list_query (r, &q, out) < 0)
    goto out;
  if (q.cursor && *q.cursor && cursor_parse (&q, &at, &at_name) < 0)
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "cursor '%s' is not one this server gave for sort %s, order %s", q.cursor,
                   sorts[q.sort], q.desc ? "desc" : "asc");
      goto out;
    }
  if (collect (r, &q, &e, &n, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      goto out;
    }
  if (q.cursor && *q.cursor)
    while (first < n && (q.desc ? -1 : 1) * entry_cmp (q.sort, &e[first], &at) <= 0)
      first++;
  items = json_array ();
  for (i = first; i < n && i - first < q.limit; i++)
    json_array_append (items, e[i].dto);
  if (i < n)
    {
      cleanup_free char *c = cursor_of (&q, &e[i - 1]);
      json_decref (next);
      next = json_string (c);
    }
  reply_json (out, 200, json_pack ("{s:o,s:o}", "items", items, "nextCursor", next));
  next = NULL;
out:
  for (i = 0; i < n; i++)
    json_decref (e[i].dto);
  free (e);
  json_decref (next);
  query_fini (&q);
}
