/* isletd: serve Daytona's API for islet's sandboxes, and manage its keys.
 *
 *   isletd [--listen HOST:PORT] [--state-dir DIR] [--allow-origin URL...]
 *          [--max-connections N] [--max-client-connections N] [--max-key-scratch BYTES]
 *          [--audit-days N] [--audit-max-records N]
 *          [--default-max-sandboxes N] [--default-max-memory MIB] [--default-max-cpus N]
 *          [--default-max-disk MIB] [--sandbox-max NAME=VALUE...]
 *   isletd key create [--name NAME] [--json] [--max-sandboxes N] [--max-memory MIB]
 *          [--max-cpus N] [--max-disk MIB] | list [--json] | revoke ID  [--state-dir DIR]
 *
 * isletd is a client of the same core as the CLI: the sandboxes it makes
 * live in their own supervisors and outlive it. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "islet/cgroup.h"
#include "islet/contain.h"
#include "islet/oci.h"
#include "islet/util.h"
#include "server.h"
#include "store.h"
#include "toolbox.h"

static int wake[2] = { -1, -1 };

static void
on_signal (int signo)
{
  int saved = errno;
  (void) !write (wake[1], "s", 1);
  errno = saved;
}

/* A handler, not SIG_IGN: an ignored signal would stay ignored across the
 * core's exec of islet-run, a handled one goes back to its default. */
static void
on_sigpipe (int signo)
{
}

static void
usage (FILE *f)
{
  fprintf (f,
           "usage: isletd [--listen HOST:PORT] [--state-dir DIR] [--allow-origin URL...]\n"
           "              [--max-connections N] [--max-client-connections N]\n"
           "              [--max-key-scratch BYTES] [--audit-days N] [--audit-max-records N]\n"
           "              [--default-max-sandboxes N] [--default-max-memory MIB]\n"
           "              [--default-max-cpus N] [--default-max-disk MIB] [--sandbox-max NAME=N]\n"
           "              [--default-network none|all] [--dns ADDR] [--preview-domain DOMAIN]\n"
           "              [--insecure-registry HOST[:PORT]...] [--v1-pool N] [--create-pool N]\n"
           "       isletd key create [--name NAME] [--json] [--max-sandboxes N]\n"
           "                         [--max-memory MIB] [--max-cpus N] [--max-disk MIB]\n"
           "       isletd key list [--json] | key revoke ID\n"
           "\n"
           "Serve the Daytona API for islet's sandboxes (point the SDK's apiUrl at the URL\n"
           "it prints), and MCP over streamable HTTP at <url>/mcp with the same keys.\n"
           "The first start creates an API key in <state>/api-key.  Each key is its own\n"
           "organization: `key create` prints a new key (only once: the store keeps its\n"
           "hash), `key revoke` makes a key get 401 from then on and removes its uploads.\n"
           "\n"
           "  --listen HOST:PORT  address to listen on (default 127.0.0.1:7420; port 0: any)\n"
           "  --allow-origin URL  /mcp: also take requests whose Origin is URL (repeatable;\n"
           "                      loopback origins and requests without one are taken)\n"
           "  --state-dir DIR     islet's state (default $ISLET_STATE_DIR or /var/lib/islet)\n"
           "  --max-connections N         connections at once (default 1024)\n"
           "  --max-client-connections N  connections at once from one address (default 128;\n"
           "                              behind a proxy, every client has the proxy's)\n"
           "  --max-key-scratch BYTES     disk a key's answers may use at once for output\n"
           "                              and bulk downloads on their way (default 1 GiB)\n"
           "  --audit-days N              keep audit records N days (default 90; 0: forever)\n"
           "  --audit-max-records N       keep at most N audit records, the newest (default\n"
           "                              1000000, about 100 MB; 0: no bound)\n"
           "  --default-max-*     the quota of a key that has none of its own (default: none)\n"
           "  --default-network none|all  the outbound network of a sandbox whose create\n"
           "                      asks for none (default none: loopback only)\n"
           "  --dns ADDR          the upstream resolver of sandboxes' DNS (default: the\n"
           "                      first IPv4 nameserver of /etc/resolv.conf)\n"
           "  --preview-domain DOMAIN  preview links are http://<port>-<id>.DOMAIN/ (a\n"
           "                      wildcard DNS name pointing here): the Host picks the\n"
           "                      sandbox and port, the path goes on unchanged\n"
           "  --insecure-registry HOST[:PORT]  pulls may speak plain HTTP to this registry\n"
           "                      (repeatable; loopback registries may without it)\n"
           "  --v1-pool N         keep N sandboxes (at most 16) ready for /v1/execute, and\n"
           "                      destroy each run's after its answer (default 2; 0: none)\n"
           "  --create-pool N     keep N sandboxes (at most 64) ready for creates of the\n"
           "                      default image, limits and network (default 2; 0: none)\n"
           "  --sandbox-max NAME=N  the most one sandbox may ask for of a limit (repeatable;\n"
           "                      NAME: memory_mb 8192, cpu_millis 4000, pids 1024, disk_mb\n"
           "                      20480, timeout_s 3600, output_bytes 16 MiB, nofile 65536)\n"
           "  --name NAME         key create: a note on what the key is for\n"
           "  --max-sandboxes N   key create: the key's quota, over all its sandboxes\n"
           "  --max-memory MIB      (running or stopped): how many, their memory, CPUs and\n"
           "  --max-cpus N          disk together; over it, a create answers 429\n"
           "  --max-disk MIB\n"
           "  --max-volumes N     key create: the key's quota of volumes: how many, and\n"
           "  --max-volume-disk MIB  their sizes together; over it, a volume create answers 429\n"
           "  --json              key create: {id, name, key, created}; key list: a JSON array\n");
}

/* Split HOST:PORT ([V6]:PORT for IPv6). */
static int
split_listen (char *s, char **host, char **port, struct islet_err *err)
{
  char *colon = strrchr (s, ':');

  if (colon == NULL || colon[1] == '\0')
    return islet_fail (err, ISLET_E_INVALID, 0, "--listen: '%s' is not HOST:PORT", s);
  *colon = '\0';
  *port = colon + 1;
  *host = s;
  if (s[0] == '[' && colon > s + 1 && colon[-1] == ']')
    {
      colon[-1] = '\0';
      *host = s + 1;
    }
  return 0;
}

/* On first start: make the admin key, keep only its hash, hand it over in a
 * 0600 file. */
static int
ensure_key (struct srv *srv, char **key_path, struct islet_err *err)
{
  int64_t n = 0, id;
  char key[64], hex[65];
  cleanup_free char *text = NULL;

  *key_path = islet_xasprintf ("%s/api-key", srv->state_dir);
  if (islet_store_key_count (srv->store, &n, err) < 0)
    return -1;
  if (n > 0)
    return 0;
  if (key_generate (key, err) < 0)
    return -1;
  key_hash (key, hex);
  text = islet_xasprintf ("%s\n", key);
  if (islet_write_file_atomic (*key_path, text, strlen (text), 0600, err) < 0)
    return islet_wrap (err, "write the API key");
  if (islet_store_key_add (srv->store, hex, "admin", NULL, &id, err) < 0)
    {
      (void) unlink (*key_path);
      return -1;
    }
  return 0;
}

/* The state directory (made by the core, which also checks islet-run is
 * at hand) and isletd's store in it. */
static int
open_state (const char *state_dir, struct srv *srv, struct islet_err *err)
{
  cleanup_free char *db = NULL;

  if (islet_ctx_open (state_dir, NULL, &srv->ctx, err) < 0)
    return -1;
  srv->state_dir = islet_xstrdup (islet_ctx_state_dir (srv->ctx));
  db = islet_xasprintf ("%s/isletd.db", srv->state_dir);
  return islet_store_open (db, &srv->store, err);
}

/* The audit log's bounds, applied at once. */
static int
audit_bounds (struct srv *srv, const uint64_t audit[2], struct islet_err *err)
{
  int64_t deleted;

  islet_store_audit_bounds (srv->store, (int64_t) audit[0] * 86400, (int64_t) audit[1]);
  if (islet_store_audit_prune (srv->store, &deleted, err) < 0)
    return -1;
  if (deleted > 0)
    fprintf (stderr, "isletd: %lld audit records past the bounds removed\n", (long long) deleted);
  return 0;
}

/* The operator's bounds on keys and sandboxes, from the command line. */
struct bounds
{
  struct islet_quota own;          /* key create: the new key's quota */
  struct islet_quota dflt;         /* serve: a key's quota where it has none */
  struct islet_limits ceiling;     /* serve: each sandbox's limits */
  enum islet_net_mode net_default; /* serve: a create's network when it asks for none */
};

/* Say which image a create that names none gets: never a silent fallback. */
static void
log_default_image (const char *state_dir)
{
  char id[80];
  int hold = -1;
  struct islet_err e;

  if (islet_image_resolve (state_dir, NULL, id, sizeof id, &hold, &e) < 0)
    {
      fprintf (stderr, "isletd: the default image: %s\n", e.msg);
      return;
    }
  if (hold >= 0)
    close (hold);
  if (strcmp (id, "host") == 0)
    fprintf (stderr,
             "isletd: the default image %s is not built (islet image build-default): "
             "sandboxes that name no image use `host`\n",
             ISLET_DEFAULT_IMAGE);
  else
    fprintf (stderr, "isletd: sandboxes that name no image use %s (%.19s)\n", ISLET_DEFAULT_IMAGE,
             id);
}

/* What the command line asks of isletd. */
struct args
{
  const char *listen, *state, *name;
  bool json;
  unsigned conns[2];    /* --max-connections, --max-client-connections; 0: default */
  uint64_t scratch;     /* --max-key-scratch; 0: default */
  unsigned v1_pool;     /* --v1-pool */
  unsigned create_pool; /* --create-pool */
  uint64_t audit[2];    /* --audit-days, --audit-max-records */
  struct bounds b;
  char *origins;   /* --allow-origin, comma-separated */
  char **insecure; /* --insecure-registry hosts, NULL-terminated */
  size_t n_insecure;
  const char *preview_domain; /* --preview-domain */
};

static void
args_clear (struct args *a)
{
  free (a->origins);
  islet_strv_free (a->insecure);
}

/* For tests only: a shorter "minute" for the auto-stop and auto-delete
 * intervals, so they can be seen to work in seconds. */
static int
test_minute (struct srv *srv, struct islet_err *err)
{
  const char *minute = getenv ("ISLETD_TEST_MINUTE_SECONDS");
  uint64_t v;

  if (minute == NULL || *minute == '\0')
    return 0;
  if (islet_parse_u64 (minute, 60, &v, err) < 0 || v == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "ISLETD_TEST_MINUTE_SECONDS must be from 1 to 60");
  srv->minute_s = (int64_t) v;
  return 0;
}

/* Everything isletd holds before it takes its first request. */
static int
serve_open (struct srv *srv, const struct args *a, char **key_path, struct islet_err *err)
{
  struct sigaction sa = { .sa_handler = on_signal };
  struct sigaction sp = { .sa_handler = on_sigpipe };
  struct islet_err e;

  if (open_state (a->state, srv, err) < 0 || ensure_key (srv, key_path, err) < 0
      || preview_key_load (srv, err) < 0 || audit_bounds (srv, a->audit, err) < 0
      || sio_new (&srv->sio, err) < 0 || mcp_sessions_new (&srv->mcp, srv->minute_s, err) < 0
      || interp_new (&srv->interp, err) < 0 || pulls_new (&srv->pulls, a->insecure, err) < 0)
    return -1;
  if (pipe2 (wake, O_CLOEXEC) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "pipe");
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGPIPE, &sp, NULL);
  /* before the forker, whose supervisors inherit the group: a create's
     hops then get a CPU before CPU-bound tenants (ARCHITECTURE.md) */
  if (islet_cg_join_control (&e) < 0)
    fprintf (stderr, "isletd: control path at the default CPU weight: %s\n", e.msg);
  /* supervisors forked, not exec'd, for every create and start */
  if (islet_ctx_fork_supervisors (srv->ctx, &e) < 0)
    fprintf (stderr, "isletd: no supervisor forker (%s): each start runs islet-run\n", e.msg);
  /* before any request: what a kill of the last isletd left unfinished */
  if (owned_sweep (srv, &e) < 0)
    fprintf (stderr, "isletd: sweep at start: %s\n", e.msg);
  owned_snapshot_sweep (srv);
  log_default_image (a->state);
  /* after the sweep, which would take its sandboxes for leftovers */
  if (create_pool_new (srv, a->create_pool, &srv->create_pool, err) < 0)
    return -1;
  return v1pool_new (srv, a->v1_pool, &srv->v1pool, err);
}

/* Where isletd serves, on stdout and in STATE/isletd.url (where the CLI
 * finds it: `islet audit`, `islet --url`). */
static int
announce (const struct srv *srv, const char *key_path, char **url_path, struct islet_err *err)
{
  cleanup_free char *url_text = islet_xasprintf ("%s\n", srv->url);

  printf ("isletd: serving the Daytona API at %s/api\n", srv->url);
  printf ("isletd: serving MCP (streamable HTTP) at %s/mcp\n", srv->url);
  printf ("isletd: API key in %s\n", key_path);
  printf ("isletd: state in %s; Ctrl-C stops isletd, the sandboxes keep running\n", srv->state_dir);
  fflush (stdout);
  *url_path = islet_xasprintf ("%s/isletd.url", srv->state_dir);
  if (islet_write_file_atomic (*url_path, url_text, strlen (url_text), 0644, err) < 0)
    return islet_wrap (err, "isletd.url");
  return 0;
}

/* Let go of what serve_open and serve took, in the order that keeps the
 * HTTP library's threads from seeing anything freed; returns rc. */
static int
serve_close (struct srv *srv, struct reaper *rp, struct http *h, int rc)
{
  bool streams_done;

  reaper_stop (rp);
  /* the sessions and log followers hold upgraded connections: end them
   * before the HTTP library, which must not stop with one still open; a
   * command whose output is still streamed to a client that left keeps its
   * thread until it ends (its own timeout bounds it) */
  __atomic_store_n (&srv->stopping, true, __ATOMIC_RELEASE);
  sio_shutdown (srv->sio);
  tb_pty_shutdown ();
  tb_lsp_shutdown ();
  if (srv->interp)
    interp_shutdown (srv->interp); /* runs under way end; the drivers are killed */
  pulls_shutdown (srv->pulls);
  owned_pending_shutdown (srv);
  streams_done = srv_streams_wait (srv, 10000);
  http_stop (h);
  v1pool_free (srv->v1pool); /* no request takes or gives one back now */
  create_pool_free (srv->create_pool);
  sio_free (srv->sio);
  mcp_sessions_free (srv->mcp);
  metrics_free (srv->metrics);
  free (srv->mcp_origins);
  if (!streams_done && !srv_streams_wait (srv, 0))
    {
      fprintf (stderr, "isletd: commands still running; their sandboxes keep them\n");
      return rc;
    }
  interp_free (srv->interp);
  pulls_free (srv->pulls);
  islet_store_close (srv->store);
  islet_ctx_free (srv->ctx);
  free (srv->state_dir);
  free (srv->url);
  return rc;
}

static int
serve (struct args *a, struct islet_err *err)
{
  struct srv srv = { .minute_s = 60,
                     .mcp_origins = islet_take_ptr (&a->origins),
                     .conn_max = a->conns[0],
                     .conn_per_client = a->conns[1],
                     .scratch_key_max = a->scratch,
                     .quota_default = a->b.dflt,
                     .ceiling = a->b.ceiling,
                     .net_default = a->b.net_default,
                     .preview_domain = a->preview_domain,
                     .streams_lock = PTHREAD_MUTEX_INITIALIZER,
                     .streams_done = PTHREAD_COND_INITIALIZER };
  struct http *h = NULL;
  struct reaper *rp = NULL;
  cleanup_free char *listen_copy = islet_xstrdup (a->listen);
  cleanup_free char *key_path = NULL;
  cleanup_free char *url_path = NULL;
  char *host = NULL, *port = NULL, c;
  int rc = -1;

  if (split_listen (listen_copy, &host, &port, err) < 0 || test_minute (&srv, err) < 0)
    {
      free (srv.mcp_origins);
      return -1;
    }
  srv.metrics = metrics_new ();
  if (serve_open (&srv, a, &key_path, err) < 0 || http_start (&srv, host, port, &h, err) < 0)
    goto out;
  /* before the reaper, whose events carry the toolbox URL */
  srv.url = strchr (host, ':') ? islet_xasprintf ("http://[%s]:%d", host, http_port (h))
                               : islet_xasprintf ("http://%s:%d", host, http_port (h));
  if (reaper_start (&srv, &rp, err) < 0 || announce (&srv, key_path, &url_path, err) < 0)
    goto out;
  while (read (wake[0], &c, 1) < 0 && errno == EINTR)
    ;
  fprintf (stderr, "isletd: stopping\n");
  rc = 0;
out:
  if (url_path)
    (void) unlink (url_path);
  return serve_close (&srv, rp, h, rc);
}

/* The key just made as one JSON object on stdout: its id, name and
 * creation time as `key list --json` gives them, and the key itself. */
static int
key_created_json (struct srv *srv, int64_t id, const char *key, struct islet_err *err)
{
  cleanup_json json_t *list = NULL;
  size_t i;
  json_t *k;

  if (islet_store_key_list (srv->store, &list, err) < 0)
    return -1;
  json_array_foreach (list, i, k) if (json_integer_value (json_object_get (k, "id")) == id)
  {
    cleanup_json json_t *o = json_pack ("{s:I,s:O,s:s,s:O}", "id", (json_int_t) id, "name",
                                        json_object_get (k, "name"), "key", key, "created",
                                        json_object_get (k, "created"));
    if (o == NULL || json_dumpf (o, stdout, JSON_COMPACT) < 0)
      return islet_fail (err, ISLET_E_SYSTEM, 0, "print the new key as JSON");
    printf ("\n");
    return 0;
  }
  return islet_fail (err, ISLET_E_SYSTEM, 0, "key %lld is not in the store after its creation",
                     (long long) id);
}

/* isletd key create|list|revoke, on the store directly (isletd may be
 * serving meanwhile: SQLite's WAL and busy timeout share the file). */
/* Under a key of the `key list` table, its own quota, if it has one: the
 * fields it does not set are the server's default. */
static void
print_quota (json_t *k)
{
  static const struct
  {
    const char *field, *what, *unit_name;
    double unit;
  } fields[] = {
    { "max_sandboxes", "sandboxes", "", 1 }, { "max_memory_mb", "memory", " MiB", 1 },
    { "max_cpu_millis", "cpus", "", 1000 },  { "max_disk_mb", "disk", " MiB", 1 },
    { "max_volumes", "volumes", "", 1 },     { "max_volume_mb", "volume disk", " MiB", 1 },
  };
  const char *sep = "       quota: ";

  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    {
      json_t *v = json_object_get (k, fields[i].field);
      if (!json_is_integer (v))
        continue;
      printf ("%s%s %g%s", sep, fields[i].what, (double) json_integer_value (v) / fields[i].unit,
              fields[i].unit_name);
      sep = ", ";
    }
  if (sep[0] == ',')
    printf ("\n");
}

/* A key's name is a note that `key list` shows on the key's own line:
 * UTF-8 text without control characters (a byte sequence that is not
 * UTF-8 cannot be put in the JSON of `key list --json` or key create's;
 * a newline would make a row of its own in the table). */
#define KEY_NAME_MAX 256

static int
key_name_check (const char *name, struct islet_err *err)
{
  cleanup_json json_t *text = NULL;

  if (name == NULL)
    return 0;
  if (strlen (name) > KEY_NAME_MAX)
    return islet_fail (err, ISLET_E_INVALID, 0, "key name: longer than %d bytes", KEY_NAME_MAX);
  for (const unsigned char *p = (const unsigned char *) name; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "key name: control character 0x%02x at byte %zu (the name is one line "
                         "of text)",
                         *p, (size_t) (p - (const unsigned char *) name));
  if ((text = json_string (name)) == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "key name: not UTF-8 text");
  return 0;
}

static int
key_command (const char *state_dir, char **pos, int npos, const char *name, bool json,
             const struct islet_quota *quota, struct islet_err *err)
{
  struct srv srv = { 0 };
  cleanup_json json_t *list = NULL;
  char key[64], hex[65];
  int64_t id;
  uint64_t n;
  int rc = -1;

  if (npos != (npos > 1 && strcmp (pos[1], "revoke") == 0 ? 3 : 2))
    return islet_fail (err, ISLET_E_INVALID, 0, "usage: isletd key create|list|revoke ID");
  if (strcmp (pos[1], "create") != 0 && strcmp (pos[1], "list") != 0
      && strcmp (pos[1], "revoke") != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "unknown key command '%s'", pos[1]);
  if (strcmp (pos[1], "revoke") == 0 && islet_parse_u64 (pos[2], INT64_MAX, &n, err) < 0)
    return islet_wrap (err, "key id");
  if (strcmp (pos[1], "create") == 0 && key_name_check (name, err) < 0)
    return -1;
  if (open_state (state_dir, &srv, err) < 0)
    goto out;
  if (strcmp (pos[1], "create") == 0)
    {
      if (key_generate (key, err) < 0)
        goto out;
      key_hash (key, hex);
      if (islet_store_key_add (srv.store, hex, name ? name : "", quota, &id, err) < 0)
        goto out;
      if (json && key_created_json (&srv, id, key, err) < 0)
        goto out;
      if (!json)
        printf ("%s\n", key);
      fprintf (stderr, "isletd: key %lld created; it is shown only this once\n", (long long) id);
    }
  else if (strcmp (pos[1], "list") == 0)
    {
      size_t i;
      json_t *k;

      if (islet_store_key_list (srv.store, &list, err) < 0)
        goto out;
      if (json)
        json_dumpf (list, stdout, JSON_COMPACT);
      else
        printf ("%-6s %-10s %-20s %s\n", "ID", "STATE", "CREATED", "NAME");
      json_array_foreach (list, i, k) if (!json)
      {
        char when[32];
        iso_time (json_integer_value (json_object_get (k, "created")), when);
        printf ("%-6lld %-10s %-20.19s %s\n",
                (long long) json_integer_value (json_object_get (k, "id")),
                json_is_null (json_object_get (k, "revoked")) ? "valid" : "revoked", when,
                json_string_value (json_object_get (k, "name")));
        print_quota (k);
      }
      if (json)
        printf ("\n");
    }
  else if (islet_store_key_revoke (srv.store, (int64_t) n, err) < 0)
    goto out;
  else
    {
      /* its uploads to object storage (build contexts) go with it */
      cleanup_free char *objs = islet_xasprintf ("%s/objects/%llu", srv.state_dir,
                                                 (unsigned long long) n);
      if (islet_rm_rf (objs, err) < 0)
        goto out;
    }
  rc = 0;
out:
  islet_store_close (srv.store);
  islet_ctx_free (srv.ctx);
  free (srv.state_dir);
  return rc;
}

/* A quota's fields: each is two flags, --max-NAME (key create: the new
 * key's own) and --default-max-NAME (serve: the quota of a key that has
 * none of its own). */
static const struct
{
  const char *name;
  size_t offset;      /* of its int64_t in struct islet_quota */
  uint64_t unit, max; /* in the flag's units */
} quota_defs[] = {
  { "sandboxes", offsetof (struct islet_quota, sandboxes), 1, 1000000 },
  { "memory", offsetof (struct islet_quota, memory_mb), 1, 1ull << 40 },
  { "cpus", offsetof (struct islet_quota, cpu_millis), 1000, 1000000 },
  { "disk", offsetof (struct islet_quota, disk_mb), 1, 1ull << 40 },
  { "volumes", offsetof (struct islet_quota, volumes), 1, 1000000 },
  { "volume-disk", offsetof (struct islet_quota, volume_mb), 1, 1ull << 40 },
};
#define QUOTA_FLAGS (sizeof quota_defs / sizeof quota_defs[0])

enum
{
  OPT_QUOTA = 256, /* + i: --max-<quota_defs[i]>, + QUOTA_FLAGS + i: --default-max-... */
  OPT_CEILING = OPT_QUOTA + 2 * QUOTA_FLAGS,
  OPT_DNS,
  OPT_NETWORK,
  OPT_INSECURE,
  OPT_PREVIEW_DOMAIN,
  OPT_CREATE_POOL,
};

/* One field of a quota from its flag (def: the field's row, dflt: the
 * flag is --default-max-*). */
static int
quota_flag (struct islet_quota *q, size_t def, bool dflt, const char *text)
{
  struct islet_err err;
  uint64_t v;
  int64_t f;

  if (islet_parse_u64 (text, quota_defs[def].max, &v, &err) < 0)
    {
      fprintf (stderr, "isletd: --%smax-%s: '%s' is not a whole number from 0 to %llu\n",
               dflt ? "default-" : "", quota_defs[def].name, text,
               (unsigned long long) quota_defs[def].max);
      return -1;
    }
  f = (int64_t) (v * quota_defs[def].unit);
  memcpy ((char *) q + quota_defs[def].offset, &f, sizeof f);
  return 0;
}

static const struct option fixed_opts[] = {
  { "listen", required_argument, NULL, 'l' },
  { "state-dir", required_argument, NULL, 's' },
  { "name", required_argument, NULL, 'n' },
  { "json", no_argument, NULL, 'j' },
  { "allow-origin", required_argument, NULL, 'o' },
  { "max-connections", required_argument, NULL, 'C' },
  { "max-client-connections", required_argument, NULL, 'c' },
  { "max-key-scratch", required_argument, NULL, 'S' },
  { "audit-days", required_argument, NULL, 'D' },
  { "audit-max-records", required_argument, NULL, 'R' },
  { "v1-pool", required_argument, NULL, 'P' },
  { "sandbox-max", required_argument, NULL, OPT_CEILING },
  { "dns", required_argument, NULL, OPT_DNS },
  { "default-network", required_argument, NULL, OPT_NETWORK },
  { "insecure-registry", required_argument, NULL, OPT_INSECURE },
  { "preview-domain", required_argument, NULL, OPT_PREVIEW_DOMAIN },
  { "create-pool", required_argument, NULL, OPT_CREATE_POOL },
  { "help", no_argument, NULL, 'h' },
};
#define FIXED_OPTS (sizeof fixed_opts / sizeof fixed_opts[0])

/* getopt's table: the fixed options, then the quota's two flags a field
 * (made before main), then the end. */
static struct option opts[FIXED_OPTS + 2 * QUOTA_FLAGS + 1];
static char quota_opt_names[2 * QUOTA_FLAGS][32];

__attribute__ ((constructor)) static void
opts_fill (void)
{
  memcpy (opts, fixed_opts, sizeof fixed_opts);
  for (size_t i = 0; i < 2 * QUOTA_FLAGS; i++)
    {
      snprintf (quota_opt_names[i], sizeof quota_opt_names[i], "%smax-%s",
                i < QUOTA_FLAGS ? "" : "default-", quota_defs[i % QUOTA_FLAGS].name);
      opts[FIXED_OPTS + i] = (struct option){ quota_opt_names[i], required_argument, NULL,
                                              OPT_QUOTA + (int) i };
    }
}

/* The options that take a count: connections, scratch bytes, audit bounds. */
static int
take_count (struct args *a, int o, const char *arg)
{
  struct islet_err err;
  uint64_t v;

  switch (o)
    {
    case 'C':
    case 'c':
      if (islet_parse_u64 (arg, 1000000, &v, &err) < 0 || v == 0)
        {
          fprintf (stderr, "isletd: --%s: '%s' is not from 1 to 1000000\n",
                   o == 'C' ? "max-connections" : "max-client-connections", arg);
          return -1;
        }
      a->conns[o == 'C' ? 0 : 1] = (unsigned) v;
      return 0;
    case 'P':
      if (islet_parse_u64 (arg, V1POOL_MAX, &v, &err) < 0)
        {
          fprintf (stderr, "isletd: --v1-pool: '%s' is not from 0 to %d\n", arg, V1POOL_MAX);
          return -1;
        }
      a->v1_pool = (unsigned) v;
      return 0;
    case OPT_CREATE_POOL:
      if (islet_parse_u64 (arg, CREATE_POOL_MAX, &v, &err) < 0)
        {
          fprintf (stderr, "isletd: --create-pool: '%s' is not from 0 to %d\n", arg,
                   CREATE_POOL_MAX);
          return -1;
        }
      a->create_pool = (unsigned) v;
      return 0;
    case 'S':
      if (islet_parse_u64 (arg, UINT64_MAX / 2, &a->scratch, &err) < 0 || a->scratch == 0)
        {
          fprintf (stderr, "isletd: --max-key-scratch: '%s' is not a number of bytes\n", arg);
          return -1;
        }
      return 0;
    default: /* 'D', 'R' */
      if (islet_parse_u64 (arg, o == 'D' ? 100000 : INT64_MAX, &a->audit[o == 'R'], &err) < 0)
        {
          fprintf (stderr, "isletd: --%s: '%s' is not a number\n",
                   o == 'D' ? "audit-days" : "audit-max-records", arg);
          return -1;
        }
      return 0;
    }
}

/* The options on a sandbox's network and limits. */
static int
take_sandbox_opt (struct args *a, int o, const char *arg)
{
  struct islet_err err;
  struct in_addr addr;

  switch (o)
    {
    case OPT_DNS:
      if (inet_pton (AF_INET, arg, &addr) != 1)
        {
          fprintf (stderr, "isletd: --dns: '%s' is not an IPv4 address\n", arg);
          return -1;
        }
      /* the supervisors' DNS responders read it (src/runtime/net.c) */
      setenv ("ISLET_DNS", arg, 1);
      return 0;
    case OPT_NETWORK:
      if (islet_net_mode_parse (arg, &a->b.net_default, &err) < 0
          || a->b.net_default == ISLET_NET_ALLOW)
        {
          fprintf (stderr, "isletd: --default-network: '%s' is not none or all\n", arg);
          return -1;
        }
      return 0;
    case OPT_CEILING:
      if (owned_ceiling_set (&a->b.ceiling, arg, &err) < 0)
        {
          fprintf (stderr, "isletd: %s\n", err.msg);
          return -1;
        }
      return 0;
    default: /* a quota's flag: the key's own, then the default */
      {
        size_t i = (size_t) (o - OPT_QUOTA);
        return quota_flag (i < QUOTA_FLAGS ? &a->b.own : &a->b.dflt, i % QUOTA_FLAGS,
                           i >= QUOTA_FLAGS, arg);
      }
    }
}

/* One option into a; -1 to go on, else the exit status (--help, or an
 * option isletd does not take). */
static int
take_opt (struct args *a, int o, const char *arg)
{
  char *more;

  switch (o)
    {
    case 'l': a->listen = arg; return -1;
    case 's': a->state = arg; return -1;
    case 'n': a->name = arg; return -1;
    case 'j': a->json = true; return -1;
    case 'o':
      more = a->origins ? islet_xasprintf ("%s,%s", a->origins, arg) : islet_xstrdup (arg);
      free (a->origins);
      a->origins = more;
      return -1;
    case OPT_INSECURE:
      a->insecure = islet_xrealloc (a->insecure, (a->n_insecure + 2) * sizeof *a->insecure);
      a->insecure[a->n_insecure++] = islet_xstrdup (arg);
      a->insecure[a->n_insecure] = NULL;
      return -1;
    case 'C':
    case 'c':
    case 'S':
    case 'P':
    case OPT_CREATE_POOL:
    case 'D':
    case 'R': return take_count (a, o, arg) < 0 ? 2 : -1;
    case OPT_PREVIEW_DOMAIN:
      a->preview_domain = arg;
      if (preview_domain_ok (arg))
        return -1;
      fprintf (stderr, "isletd: --preview-domain: '%s' is not a domain name\n", arg);
      return 2;
    case 'h': usage (stdout); return 0;
    default:
      if (o == OPT_DNS || o == OPT_NETWORK || o == OPT_CEILING
          || (o >= OPT_QUOTA && o < OPT_QUOTA + (int) (2 * QUOTA_FLAGS)))
        return take_sandbox_opt (a, o, arg) < 0 ? 2 : -1;
      usage (stderr);
      return 2;
    }
}

int
main (int argc, char **argv)
{
  __attribute__ ((cleanup (args_clear))) struct args a = {
    .listen = "127.0.0.1:7420",
    .state = getenv ("ISLET_STATE_DIR"),
    .audit = { 90, 1000000 },
    .v1_pool = V1POOL_DEFAULT,
    .create_pool = CREATE_POOL_DEFAULT,
    .b = { .own = ISLET_QUOTA_NONE, .dflt = ISLET_QUOTA_NONE, .ceiling = OWNED_CEILING_DEFAULT },
  };
  struct islet_err err;
  int o, status;

  if (a.state == NULL || *a.state == '\0')
    a.state = "/var/lib/islet";
  while ((o = getopt_long (argc, argv, "h", opts, NULL)) != -1)
    if ((status = take_opt (&a, o, optarg)) >= 0)
      return status;
  if (optind < argc && strcmp (argv[optind], "key") == 0)
    {
      if (key_command (a.state, argv + optind, argc - optind, a.name, a.json, &a.b.own, &err) < 0)
        {
          fprintf (stderr, "isletd: %s\n", err.msg);
          return err.kind == ISLET_E_INVALID ? 2 : 1;
        }
      return 0;
    }
  if (optind < argc)
    {
      fprintf (stderr, "isletd: unexpected argument '%s'\n", argv[optind]);
      return 2;
    }
  if (serve (&a, &err) < 0)
    {
      fprintf (stderr, "isletd: %s\n", err.msg);
      return 1;
    }
  return 0;
}
