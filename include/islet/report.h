/* JSON forms of the core's results, shared by the CLI's --json output and
 * the MCP tools. */
#ifndef ISLET_REPORT_H
#define ISLET_REPORT_H

#include <stddef.h>

#include <jansson.h>

#include "islet/client.h"
#include "islet/sandbox.h"

/* A JSON string from arbitrary bytes: invalid UTF-8 becomes U+FFFD. */
json_t *islet_json_bytes (const char *data, size_t len);
/* "running" or "stopped" */
const char *islet_state_name (enum islet_sandbox_state s);
/* The state a listing shows: the state's name, or "archived". */
const char *islet_info_state_name (const struct islet_sandbox_info *info);
/* {id, name, image, state, created, supervisor, uid_base, disk_enforced, limits{...}} */
json_t *islet_sandbox_json (const struct islet_sandbox_info *info);
/* An exec result's fields but its output, the one encoding every face and
 * the runtime use: {exit_code, signal, wall_ms, cpu_ms, memory_peak_bytes,
 * timed_out, oom_killed, truncated[, error]} (error only when there is one) */
json_t *islet_exec_stats_json (const struct islet_exec_result *r);
/* The same fields read back into out (absent ones 0, false or ""); the
 * output is left as it is. */
void islet_exec_stats_read (const json_t *j, struct islet_exec_result *out);
/* The stats with stdout and stderr as JSON text (islet_json_bytes). */
json_t *islet_exec_json (const struct islet_exec_result *r);

#endif
