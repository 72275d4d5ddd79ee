/* The route table, bearer-key auth and the audit record of each change. */
#include <string.h>
#include <time.h>

#include "islet/util.h"
#include "mcp.h"
#include "server.h"
#include "store.h"
#include "toolbox.h"

#define TB "/toolbox/{}"

static const struct route routes[] = {
  /* control plane (Daytona's API base is <url>/api) */
  { "POST", "/api/sandbox", api_sandbox_create, "sandbox.create", BODY_JSON_MAX, NULL },
  { "GET", "/api/sandbox", api_sandbox_list, NULL, 0, NULL },
  { "GET", "/api/sandbox/paginated", api_sandbox_list, NULL, 0, NULL },
  { "GET", "/api/sandbox/{}", api_sandbox_get, NULL, 0, NULL },
  { "POST", "/api/sandbox/{}/start", api_sandbox_start, "sandbox.start", BODY_JSON_MAX, NULL },
  { "POST", "/api/sandbox/{}/stop", api_sandbox_stop, "sandbox.stop", BODY_JSON_MAX, NULL },
  { "POST", "/api/sandbox/{}/pause", api_sandbox_pause, "sandbox.pause", BODY_JSON_MAX, NULL },
  { "POST", "/api/sandbox/{}/resize", api_sandbox_resize, "sandbox.resize", BODY_JSON_MAX, NULL },
  { "POST", "/api/sandbox/{}/fork", api_sandbox_fork, "sandbox.fork", BODY_JSON_MAX, NULL },
  { "POST", "/api/sandbox/{}/network-settings", api_sandbox_network, "sandbox.network",
    BODY_JSON_MAX, NULL },
  { "POST", "/api/sandbox/{}/archive", api_sandbox_archive, "sandbox.archive", BODY_JSON_MAX,
    NULL },
  { "POST", "/api/sandbox/{}/snapshot", api_sandbox_snapshot, "sandbox.snapshot", BODY_JSON_MAX,
    NULL },
  { "POST", "/api/snapshots", api_snapshot_create, "snapshot.create", BODY_JSON_MAX, NULL },
  { "GET", "/api/snapshots", api_snapshot_list, NULL, 0, NULL },
  { "GET", "/api/snapshots/{}", api_snapshot_get, NULL, 0, NULL },
  { "DELETE", "/api/snapshots/{}", api_snapshot_delete, "snapshot.delete", BODY_JSON_MAX, NULL },
  { "POST", "/api/snapshots/{}/activate", api_snapshot_activate, "snapshot.activate", BODY_JSON_MAX,
    NULL },
  { "DELETE", "/api/sandbox/{}", api_sandbox_delete, "sandbox.delete", BODY_JSON_MAX, NULL },
  { "PUT", "/api/sandbox/{}/labels", api_sandbox_labels, "sandbox.labels", BODY_JSON_MAX, NULL },
  { "GET", "/api/sandbox/{}/toolbox-proxy-url", api_sandbox_toolbox_url, NULL, 0, NULL },
  { "GET", "/api/sandbox/{}/build-logs-url", api_sandbox_build_logs_url, NULL, 0, NULL },
  { "GET", "/api/sandbox/{}/build-logs", api_sandbox_build_logs, NULL, 0, NULL },
  { "GET", "/api/snapshots/{}/build-logs-url", api_snapshot_build_logs_url, NULL, 0, NULL },
  { "GET", "/api/snapshots/{}/build-logs", api_snapshot_build_logs, NULL, 0, NULL },
  /* preview links (preview.c; the proxy itself is http/proxy.c) */
  { "GET", "/api/sandbox/{}/ports/{}/preview-url", api_sandbox_preview_url, NULL, 0, NULL },
  { "GET", "/api/sandbox/{}/ports/{}/signed-preview-url", api_sandbox_signed_preview_url, NULL, 0,
    NULL },
  { "POST", "/api/sandbox/{}/ports/{}/signed-preview-url/{}/expire",
    api_sandbox_signed_preview_expire, "sandbox.preview.expire", BODY_JSON_MAX, NULL },
  { "POST", "/api/sandbox/{}/public/{}", api_sandbox_public, "sandbox.public", BODY_JSON_MAX,
    NULL },
  { "POST", "/api/sandbox/{}/autostop/{}", api_sandbox_autostop, "sandbox.autostop", BODY_JSON_MAX,
    NULL },
  { "POST", "/api/sandbox/{}/autopause/{}", api_sandbox_autopause, "sandbox.autopause",
    BODY_JSON_MAX, NULL },
  { "POST", "/api/sandbox/{}/autoarchive/{}", api_sandbox_autoarchive, "sandbox.autoarchive",
    BODY_JSON_MAX, NULL },
  { "POST", "/api/sandbox/{}/autodelete/{}", api_sandbox_autodelete, "sandbox.autodelete",
    BODY_JSON_MAX, NULL },
  { "POST", "/api/sandbox/{}/ttl/{}", api_sandbox_ttl, "sandbox.ttl", BODY_JSON_MAX, NULL },
  { "POST", "/api/sandbox/{}/last-activity", api_sandbox_activity, NULL, BODY_JSON_MAX, NULL },
  { "POST", "/api/volumes", api_volume_create, "volume.create", BODY_JSON_MAX, NULL },
  { "GET", "/api/volumes", api_volume_list, NULL, 0, NULL },
  { "GET", "/api/volumes/by-name/{}", api_volume_get_by_name, NULL, 0, NULL },
  { "GET", "/api/volumes/{}", api_volume_get, NULL, 0, NULL },
  { "DELETE", "/api/volumes/{}", api_volume_delete, "volume.delete", BODY_JSON_MAX, NULL },
  { "GET", "/api/audit", api_audit_list, NULL, 0, NULL },
  /* build contexts (object_storage.c; the S3 requests are object_storage_route) */
  { "GET", "/api/object-storage/push-access", api_object_storage_push_access,
    "object-storage.push-access", 0, NULL },
  /* isletd's own metrics, in Prometheus' text format (admin key only) */
  { "GET", "/metrics", api_metrics, NULL, 0, NULL },

  /* the one-shot API (v1_api.c) */
  { "POST", "/v1/execute", v1_execute, "v1.execute", BODY_JSON_MAX, NULL },
  { "GET", "/v1/status", v1_status, NULL, 0, NULL },
  { "GET", "/v1/config", v1_config_get, NULL, 0, NULL },
  { "PUT", "/v1/config", v1_config_put, "v1.config", BODY_JSON_MAX, NULL },
  { "POST", "/v1/test", v1_test, "v1.test", BODY_JSON_MAX, NULL },
  { "POST", "/v1/tool", v1_tool, "v1.tool", BODY_TOOL_MAX, NULL },
  { "POST", "/v1/sandbox", v1_sandbox_create, "v1.sandbox.create", BODY_JSON_MAX, NULL },
  { "DELETE", "/v1/sandbox/{}", api_sandbox_delete, "v1.sandbox.delete", BODY_JSON_MAX, NULL },
  { "POST", "/v1/sandbox/{}/exec", v1_sandbox_exec, "v1.sandbox.exec", BODY_JSON_MAX, NULL },

  /* MCP over streamable HTTP (mcp_http.c): each tool call is audited as mcp.TOOL */
  { "POST", "/mcp", mcp_http_post, NULL, MCP_MESSAGE_MAX, NULL },
  { "GET", "/mcp", mcp_http_get, NULL, 0, NULL },
  { "DELETE", "/mcp", mcp_http_delete, "mcp.session.delete", BODY_JSON_MAX, NULL },

  /* toolbox: <toolboxProxyUrl>/<id>/... */
  { "GET", TB "/version", tb_version, NULL, 0, NULL },
  { "GET", TB "/user-home-dir", tb_home_dir, NULL, 0, NULL },
  { "GET", TB "/work-dir", tb_work_dir, NULL, 0, NULL },
  { "GET", TB "/system/metrics", tb_system_metrics, NULL, 0, NULL },
  { "POST", TB "/env", tb_env_update, "env.update", BODY_JSON_MAX, NULL },
  { "POST", TB "/process/execute", tb_execute, "process.execute", BODY_JSON_MAX, NULL },
  { "POST", TB "/process/code-run", tb_code_run, "process.code-run", BODY_JSON_MAX, NULL },
  /* codeInterpreter's contexts (interp_api.c); runCode is a WebSocket below */
  { "POST", TB "/process/interpreter/context", tb_interp_context_create,
    "process.interpreter.context.create", BODY_JSON_MAX, NULL },
  { "GET", TB "/process/interpreter/context", tb_interp_context_list, NULL, 0, NULL },
  { "DELETE", TB "/process/interpreter/context/{}", tb_interp_context_delete,
    "process.interpreter.context.delete", BODY_JSON_MAX, NULL },
  { "GET", TB "/files", tb_files_list, NULL, 0, NULL },
  { "GET", TB "/files/info", tb_files_info, NULL, 0, NULL },
  { "GET", TB "/files/download", tb_files_download, NULL, 0, NULL },
  { "POST", TB "/files/bulk-download", tb_files_bulk_download, NULL, BODY_JSON_MAX, NULL },
  { "POST", TB "/files/upload-v2", NULL, "files.upload", 0, &tb_upload_v2 },
  { "POST", TB "/files/bulk-upload", NULL, "files.upload", 0, &tb_bulk_upload },
  { "POST", TB "/files/folder", tb_files_folder, "files.folder", BODY_JSON_MAX, NULL },
  { "DELETE", TB "/files", tb_files_delete, "files.delete", BODY_JSON_MAX, NULL },
  { "POST", TB "/files/move", tb_files_move, "files.move", BODY_JSON_MAX, NULL },
  { "GET", TB "/files/find", tb_files_find, NULL, 0, NULL },
  { "GET", TB "/files/search", tb_files_search, NULL, 0, NULL },
  { "POST", TB "/files/replace", tb_files_replace, "files.replace", BODY_JSON_MAX, NULL },
  { "POST", TB "/files/permissions", tb_files_permissions, "files.permissions", BODY_JSON_MAX,
    NULL },
  /* language servers (toolbox_lsp.c) */
  { "POST", TB "/lsp/start", tb_lsp_start, "lsp.start", BODY_JSON_MAX, NULL },
  { "POST", TB "/lsp/stop", tb_lsp_stop, "lsp.stop", BODY_JSON_MAX, NULL },
  { "POST", TB "/lsp/did-open", tb_lsp_did_open, NULL, BODY_JSON_MAX, NULL },
  { "POST", TB "/lsp/did-close", tb_lsp_did_close, NULL, BODY_JSON_MAX, NULL },
  { "POST", TB "/lsp/completions", tb_lsp_completions, NULL, BODY_JSON_MAX, NULL },
  { "GET", TB "/lsp/document-symbols", tb_lsp_document_symbols, NULL, 0, NULL },
  { "GET", TB "/lsp/workspacesymbols", tb_lsp_workspace_symbols, NULL, 0, NULL },
  /* sessions and git (toolbox_session.c, toolbox_git.c) */
  { "POST", TB "/process/session", tb_session_create, "process.session.create", BODY_JSON_MAX,
    NULL },
  { "GET", TB "/process/session", tb_session_list, NULL, 0, NULL },
  { "GET", TB "/process/session/{}", tb_session_get, NULL, 0, NULL },
  { "DELETE", TB "/process/session/{}", tb_session_delete, "process.session.delete", BODY_JSON_MAX,
    NULL },
  { "POST", TB "/process/session/{}/exec", tb_session_exec, "process.session.exec", BODY_JSON_MAX,
    NULL },
  { "GET", TB "/process/session/{}/command/{}", tb_session_command, NULL, 0, NULL },
  { "GET", TB "/process/session/{}/command/{}/logs", tb_session_logs, NULL, 0, NULL },
  { "POST", TB "/process/session/{}/command/{}/input", tb_session_input, "process.session.input",
    BODY_JSON_MAX, NULL },
  { "GET", TB "/process/pty", tb_pty_list, NULL, 0, NULL },
  { "POST", TB "/process/pty", tb_pty_create, "process.pty.create", BODY_JSON_MAX, NULL },
  { "GET", TB "/process/pty/{}", tb_pty_info, NULL, 0, NULL },
  { "DELETE", TB "/process/pty/{}", tb_pty_kill, "process.pty.kill", BODY_JSON_MAX, NULL },
  { "POST", TB "/process/pty/{}/resize", tb_pty_resize, "process.pty.resize", BODY_JSON_MAX, NULL },
  { "POST", TB "/git/clone", tb_git_clone, "git.clone", BODY_JSON_MAX, NULL },
  { "GET", TB "/git/status", tb_git_status, NULL, 0, NULL },
  { "POST", TB "/git/add", tb_git_add, "git.add", BODY_JSON_MAX, NULL },
  { "POST", TB "/git/commit", tb_git_commit, "git.commit", BODY_JSON_MAX, NULL },
  { "POST", TB "/git/push", tb_git_push, "git.push", BODY_JSON_MAX, NULL },
  { "POST", TB "/git/pull", tb_git_pull, "git.pull", BODY_JSON_MAX, NULL },
  { "GET", TB "/git/branches", tb_git_branches, NULL, 0, NULL },
  { "POST", TB "/git/branches", tb_git_branch_create, "git.branch.create", BODY_JSON_MAX, NULL },
  { "DELETE", TB "/git/branches", tb_git_branch_delete, "git.branch.delete", BODY_JSON_MAX, NULL },
  { "POST", TB "/git/checkout", tb_git_checkout, "git.checkout", BODY_JSON_MAX, NULL },
  { "POST", TB "/git/init", tb_git_init, "git.init", BODY_JSON_MAX, NULL },
  { "POST", TB "/git/reset", tb_git_reset, "git.reset", BODY_JSON_MAX, NULL },
  { "POST", TB "/git/restore", tb_git_restore, "git.restore", BODY_JSON_MAX, NULL },
  { "POST", TB "/git/remotes", tb_git_remote_add, "git.remote.add", BODY_JSON_MAX, NULL },
  { "GET", TB "/git/remotes", tb_git_remotes, NULL, 0, NULL },
  { "POST", TB "/git/config", tb_git_config_set, "git.config", BODY_JSON_MAX, NULL },
  { "GET", TB "/git/config", tb_git_config_get, NULL, 0, NULL },
  { "POST", TB "/git/config/user", tb_git_configure_user, "git.config.user", BODY_JSON_MAX, NULL },
};

/* Match one pattern; the {} segments are copied into buf, pointed to by params. */
static bool
match (const char *pattern, const char *path, struct req *r, char *buf)
{
  size_t np = 0;

  while (*pattern && *path)
    {
      if (pattern[0] == '{' && pattern[1] == '}')
        {
          size_t n = strcspn (path, "/");
          if (n == 0 || np == SRV_PARAMS_MAX)
            return false;
          memcpy (buf, path, n);
          buf[n] = '\0';
          r->params[np++] = buf;
          buf += n + 1;
          path += n;
          pattern += 2;
        }
      else if (*pattern++ != *path++)
        return false;
    }
  return *pattern == '\0' && *path == '\0';
}

/* The path as it is matched (a trailing slash names the same resource),
 * and room in r for its params. */
static char *
match_prep (const char *path, struct req *r)
{
  size_t len = strlen (path);
  char *p = islet_xstrdup (path);

  if (len > 1 && p[len - 1] == '/')
    p[len - 1] = '\0';
  free (r->param_buf);
  r->param_buf = islet_xmalloc (len + SRV_PARAMS_MAX + 1);
  return p;
}

/* WebSocket endpoints, matched as the routes are. */
static const struct ws_route ws_routes[] = {
  /* the SDK's getSessionCommandLogs with callbacks (?follow=true) */
  { TB "/process/session/{}/command/{}/logs", tb_session_follow_begin, NULL, NULL },
  /* PTY sessions (toolbox_pty.c) */
  { TB "/process/pty/create-connect", tb_pty_create_begin, PTY_EXIT_CONTROL, tb_pty_refuse },
  { TB "/process/pty/{}/connect", tb_pty_connect_begin, PTY_EXIT_CONTROL, tb_pty_refuse },
  /* the SDK's codeInterpreter.runCode */
  { TB "/process/interpreter/execute", tb_interp_ws_begin, NULL, NULL },
};

const struct ws_route *
route_find_ws (const char *path, struct req *r)
{
  cleanup_free char *p = match_prep (path, r);

  for (size_t i = 0; i < sizeof ws_routes / sizeof ws_routes[0]; i++)
    {
      memset (r->params, 0, sizeof r->params);
      if (match (ws_routes[i].pattern, p, r, r->param_buf))
        return &ws_routes[i];
    }
  memset (r->params, 0, sizeof r->params);
  return NULL;
}

const struct route *
route_find (const char *method, const char *path, struct req *r)
{
  cleanup_free char *p = match_prep (path, r);

  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    {
      memset (r->params, 0, sizeof r->params);
      if (strcmp (routes[i].method, method) == 0 && match (routes[i].pattern, p, r, r->param_buf))
        return &routes[i];
    }
  memset (r->params, 0, sizeof r->params);
  return NULL;
}

int
route_auth (struct req *r, struct resp *out)
{
  const char *h = req_header (r, "Authorization");
  struct islet_err err;
  char hex[65];

  if (h == NULL || strncasecmp (h, "Bearer ", 7) != 0 || h[7] == '\0')
    {
      reply_error (out, 401, "UNAUTHORIZED", "missing API key: send `Authorization: Bearer <key>`");
      return -1;
    }
  key_hash (h + 7, hex);
  if (islet_store_key_find (r->srv->store, hex, &r->key_id, &err) < 0)
    {
      if (err.kind == ISLET_E_NOTFOUND)
        reply_error (out, 401, "UNAUTHORIZED", "invalid API key");
      else
        reply_islet_err (out, &err, false);
      return -1;
    }
  return 0;
}

void
route_run (const struct route *rt, struct req *r, struct resp *out)
{
  uint64_t t0 = islet_now_ns ();

  r->route = rt;
  rt->fn (r, out);
  if (!out->streamed)
    route_audit (rt, r, out, t0);
}

void
route_audit (const struct route *rt, struct req *r, struct resp *out, uint64_t t0_ns)
{
  struct islet_audit a;
  struct islet_err err;

  metrics_request (r->srv->metrics, rt, out->status, islet_now_ns () - t0_ns);
  metrics_action (r->srv->metrics, rt->audit);
  if (rt->audit == NULL)
    return;
  a = (struct islet_audit){
    .key_id = r->key_id,
    .sandbox = r->sandbox_id,
    .action = rt->audit,
    .status = out->status,
    .result = out->note[0] ? out->note : "ok",
    .duration_ms = (int64_t) ((islet_now_ns () - t0_ns) / 1000000),
  };
  if (islet_store_audit_add (r->srv->store, &a, &err) < 0)
    {
      /* said, not dropped: on stderr, in the count of GET /api/audit, and in
       * the answer's X-Islet-Audit-Error when it is not sent yet */
      fprintf (stderr, "isletd: audit %s: %s (%llu records lost)\n", rt->audit, err.msg,
               (unsigned long long) islet_store_audit_lost (r->srv->store));
      snprintf (out->audit_error, sizeof out->audit_error, "%.200s", err.msg);
    }
}

/* ---- answers that outlive their handler ---- */

void
srv_stream_begin (struct srv *srv)
{
  pthread_mutex_lock (&srv->streams_lock);
  srv->streams++;
  pthread_mutex_unlock (&srv->streams_lock);
}

void
srv_stream_end (struct srv *srv)
{
  pthread_mutex_lock (&srv->streams_lock);
  if (--srv->streams == 0)
    pthread_cond_broadcast (&srv->streams_done);
  pthread_mutex_unlock (&srv->streams_lock);
}

bool
srv_streams_wait (struct srv *srv, int timeout_ms)
{
  struct timespec until;
  bool done;

  clock_gettime (CLOCK_REALTIME, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L)
    {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
  pthread_mutex_lock (&srv->streams_lock);
  while (srv->streams > 0
         && pthread_cond_timedwait (&srv->streams_done, &srv->streams_lock, &until) == 0)
    ;
  done = srv->streams == 0;
  pthread_mutex_unlock (&srv->streams_lock);
  return done;
}
