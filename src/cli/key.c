/* islet key: isletd's API keys.  They live in isletd's store in the state
 * directory, which `isletd key` manages (beside a running isletd or not):
 * this runs it, found beside this program or in PATH, on the same state
 * directory. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void
key_more_help (void)
{
  printf ("\ncommands:\n"
          "  create [--name NOTE] [--json]\n"
          "                        make a key and print it (shown only once: isletd keeps\n"
          "                        its hash); each key is its own organization. --json:\n"
          "                        {\"id\", \"name\", \"key\", \"created\"} on one line\n"
          "  list [--json]         every key: id, note, created, revoked\n"
          "  revoke ID             from now on the key gets 401\n");
}

static const struct cli_spec key_spec = {
  .name = "key",
  .args = "COMMAND [ARGS...]",
  .about = "Manage isletd's API keys in the state directory (run as the user isletd runs\n"
           "as).  Keys are not managed over --url.",
  .opts = { NULL },
  .min_pos = 1,
  .max_pos = CLI_MANY,
  .raw_from = 0,
  .more_help = key_more_help,
};

int
cmd_key (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  struct islet_err err = { 0 };
  char self[PATH_MAX], isletd[PATH_MAX + 8];
  ssize_t n;
  char **args;
  int r;

  r = cli_parse (cli, &key_spec, argc, argv, NULL, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r == 0 && cli->url != NULL)
    r = islet_fail (&err, ISLET_E_INVALID, 0,
                    "keys are managed where isletd keeps its state: run `islet key` there, "
                    "without --url");
  if (r < 0)
    return cli_report (cli, &err);
  n = readlink ("/proc/self/exe", self, sizeof self - 1);
  snprintf (isletd, sizeof isletd, "isletd");
  if (n > 0)
    {
      self[n] = '\0';
      snprintf (isletd, sizeof isletd, "%s/isletd", dirname (self));
      if (access (isletd, X_OK) < 0)
        snprintf (isletd, sizeof isletd, "isletd");
    }
  args = islet_xcalloc (pos.n + 5, sizeof *args);
  args[0] = isletd;
  args[1] = (char *) "--state-dir";
  args[2] = (char *) cli->state_dir;
  args[3] = (char *) "key";
  for (size_t i = 0; i < pos.n; i++)
    args[4 + i] = pos.v[i];
  fflush (NULL);
  execvp (isletd, args);
  (void) islet_fail (&err, ISLET_E_NOTFOUND, errno,
                     "cannot run isletd (beside islet or in PATH) for `islet key`");
  free (args);
  return cli_report (cli, &err);
}
