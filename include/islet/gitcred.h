/* git with credentials inside a sandbox, for every caller (isletd's git
 * routes, the MCP tools): run
 *
 *   bash -c islet_git_askpass_sh islet-git GIT-ARGUMENTS...
 *
 * with ISLET_GIT_USERNAME and ISLET_GIT_PASSWORD in the environment of
 * that one command.  The script makes a GIT_ASKPASS helper in the
 * sandbox's /tmp (mode 0700) that prints them when git asks, runs git with
 * any credential.helper switched off, and removes the helper when git
 * ends, whatever happens: the secrets never reach an argv, .git/config or
 * a credential store.  Exit 125: the helper could not be made. */
#ifndef ISLET_GITCRED_H
#define ISLET_GITCRED_H

extern const char islet_git_askpass_sh[];

#endif
