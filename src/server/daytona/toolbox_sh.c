/* One tool run inside a sandbox for a toolbox route: the sandbox's env
 * plus the route's variables, the core's exec (its limits, its namespaces),
 * bounded output.  Never a shell on the host: argv goes to the sandbox. */
#include <string.h>

#include "islet/util.h"
#include "toolbox.h"

int
sh_run (struct sb_ref *sb, const struct sh_run *rr, struct islet_exec_result *res, struct resp *out)
{
  struct islet_exec_req x = {
    .argv = rr->argv,
    .timeout_ms = rr->timeout_ms ? rr->timeout_ms : SH_TIMEOUT_MS,
    .output_limit = rr->output_limit ? rr->output_limit : SH_OUTPUT_MAX,
    .on_output = rr->combined ? tb_output_add : NULL,
    .user = rr->combined,
  };
  struct islet_err err;
  char **env = sb_env (sb, rr->envs, out);
  int rc;

  if (env == NULL)
    return -1;
  x.env = env;
  if (rr->stdin_data)
    {
      x.stdin_data = rr->stdin_data;
      x.stdin_len = strlen (rr->stdin_data);
    }
  rc = islet_exec (sb->ctx, sb->info.id, &x, res, &err);
  islet_strv_free (env);
  if (rc < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  if (res->timed_out)
    {
      reply_error_daemon (out, 408, "PROCESS_EXECUTION_TIMEOUT", "%s timed out after %u s",
                          rr->argv[0], x.timeout_ms / 1000);
      islet_exec_result_fini (res);
      return -1;
    }
  if (res->error[0] && res->out_len == 0 && res->err_len == 0)
    {
      reply_error (out, 500, "INTERNAL_ERROR", "%s cannot run in the sandbox: %s", rr->argv[0],
                   res->error);
      islet_exec_result_fini (res);
      return -1;
    }
  return 0;
}

void
sh_last_line (const char *s, size_t len, char *buf, size_t size)
{
  size_t end = len, start;

  while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == '\r' || s[end - 1] == ' '))
    end--;
  start = end;
  while (start > 0 && s[start - 1] != '\n')
    start--;
  if (end - start >= size)
    end = start + size - 1;
  memcpy (buf, s + start, end - start);
  buf[end - start] = '\0';
  for (size_t i = 0; buf[i]; i++)
    if ((unsigned char) buf[i] < 0x20 || (unsigned char) buf[i] >= 0x80)
      buf[i] = '?'; /* the message goes into JSON */
}
