/* islet-run: one supervisor process per running sandbox.
 *
 * main.c   start-up, the accept loop; handlers.c, control.c, stop.c: the rest of
 *          the supervisor (supervisor.h)
 * init.c     the sandbox's first process (pid 1): namespaces, mounts, then a reaper
 * exec.c     one exec: a per-exec cgroup, the process, its output, its measurements
 * exec_spec.c  an exec's request: argv, environment, limits, stdin
 * exec_common.c  what an exec and a one-shot sandbox's command share
 * oneshot.c  a command run by the init; pooled.c: a pooled sandbox's `run`
 * agent.c    file operations, done from inside the sandbox
 * confine.c  the one recipe by which each of those processes enters the sandbox
 *
 * The supervisor is single-threaded; every request is served by a forked
 * handler, so a slow or hostile request never blocks the others. */
#ifndef ISLET_RUNTIME_H
#define ISLET_RUNTIME_H

#include <jansson.h>
#include <stdint.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "islet/cgroup.h"
#include "islet/contain.h"
#include "islet/err.h"
#include "islet/netsetup.h"
#include "islet/proto.h"
#include "islet/sandbox.h"
#include "islet/seccomp.h"

struct sandbox
{
  char *state_dir, *dir, *id, *name, *volume;
  struct islet_limits limits;
  uint32_t uid_base;
  struct islet_image image;
  struct islet_vmount *mounts; /* volumes, from config.json */
  size_t n_mounts;
  const struct islet_seccomp *filter; /* embedded at build time */
  struct islet_cg *cg;                /* the sandbox's group, with its limits */
  struct islet_cg *init_cg;           /* its child group holding pid 1 */
  struct islet_cg *io_cg; /* its child group holding the exec handlers that pump output */
  unsigned exec_seq;      /* names the exec groups: x<exec_seq> */
  pid_t init_pid;         /* host pid of the sandbox's pid 1 */
  int ns[ISLET_NS_COUNT];
  struct islet_net net;      /* its outbound network, from config.json */
  struct islet_netlink link; /* when net_slot_fd >= 0: its veth and filter elements */
  int net_slot_fd;           /* the slot's lock, held for the supervisor's life */
  bool net_filtered;         /* its elements are in the host's table */
  pid_t dns_pid;             /* its DNS responder (islet-net), 0 if none */
  bool build;                /* a build's RUN sandbox: its commands get ISLET_BUILD_CAPS */
  int ready_fd;              /* the creator's pipe, until the init has said "ok" on it */
  int lfd;                   /* ctl.sock, listening, once the start got that far */
  int xfd;            /* exec.sock, listening, non-blocking: accepted by the ready exec handler */
  struct oneshot *os; /* islet-run --oneshot: the one command its init runs (oneshot.c) */
  int dir_fd;         /* its directory, whose lock a removal by this supervisor holds */
  bool pooled;        /* started for the warm pool: its init waits for a `run` (pooled.c) */
  int pool_sync;      /* the init's sync socket while it waits so; -1 once used */
};

/* stop.c: the first half of this supervisor's removal of its sandbox, once
 * no process of it runs (islet_sandbox_withdraw): no longer listed or
 * reached, its name free.  Logged if it fails; the second half (after the
 * namespaces are let go) tries again. */
void sandbox_withdraw (struct sandbox *sb);

/* net.c: a slot for the sandbox's link (before its init starts, so the
 * init can name its gateway in /etc/resolv.conf), then the link, its filter
 * elements and its DNS responder in the network namespace netns_fd, made
 * by islet-net, which stays as the responder; net_down undoes what net_up
 * did (the pair goes with the namespace) and frees the slot.  Mode none:
 * nothing, and islet-net is not run. */
int net_slot_take (struct sandbox *sb, struct islet_err *err) ISLET_MUST_CHECK;
int net_up (struct sandbox *sb, int netns_fd, struct islet_err *err) ISLET_MUST_CHECK;
/* net_up in the network namespace of the just-cloned init, while the init
 * builds its root: the link costs the create nothing when it is ready
 * first (init.c). */
int net_up_early (struct sandbox *sb, pid_t init_pid, struct islet_err *err) ISLET_MUST_CHECK;
void net_down (struct sandbox *sb);
/* net.c: apply the network of the sandbox's config.json again (a change
 * made while it runs): a link made or removed, the elements replaced. */
int net_update (struct sandbox *sb, struct islet_err *err) ISLET_MUST_CHECK;
/* Kill the DNS responder (the caller reaps it). */
void net_dns_stop (struct sandbox *sb);
/* net.c: remove what supervisors killed outright left behind (islet-net
 * --sweep, when a networked sandbox was made since boot): the lock files
 * of free slots (and a device of such a slot), the filter elements of
 * devices that are gone.  Logs what it removed. */
void net_sweep (void);
/* islet-run --net-reset (islet-net --reset): after a sweep, the host's
   table `inet islet` deleted when no sandbox of any state directory has a
   network and it holds no element; kept otherwise. */
int net_reset (struct islet_err *err) ISLET_MUST_CHECK;

/* init.c: start pid 1 in new namespaces; returns when the sandbox is ready.
 * As soon as the init is cloned, the supervisor makes the user namespace
 * of its idmapped mounts, if it has any (*idmap, which the caller ends
 * with islet_idmap_ahead_end once the init is ready), and sets its network up
 * (net_up_early) while the init builds its root; once the init has made
 * its user namespace, the supervisor calls start_outside (main.c: the
 * namespace fds, ctl.sock), and only then lets the init finish; the init
 * itself tells the creator "ok" on sb->ready_fd when it is confined, one
 * hand-over fewer than through the supervisor. */
int sandbox_start_init (struct sandbox *sb, struct islet_idmap_ahead *idmap, struct islet_err *err);
int start_outside (struct sandbox *sb, struct islet_err *err);

/* A handler's exit status when it kept its exec's group x<seq>, empty, for
 * a later exec (reuse: true), which restarts its stats; one still charged
 * with more than EXEC_GROUP_LEFT_MAX bytes by its last exec is made anew. */
#define EXEC_GROUP_KEPT 3
#define EXEC_GROUP_LEFT_MAX (256u << 10)

/* exec.c, in a handler forked for the request: serve one exec on conn, in
 * the group x<seq>.  Its exit status: EXEC_GROUP_KEPT or 0. */
int serve_exec (struct sandbox *sb, int conn, json_t *req, unsigned seq, bool reuse);

/* exec.c, in a handler forked ahead of the request (the ready handler):
 * make the group x<seq> and the command's confined process, then wait for
 * the request: a connection it accepts on sb->xfd itself (it then writes one
 * byte on sock: taken), or one the supervisor passes on sock
 * (request_take); and serve it.  After a clean exec whose group it kept
 * (v1), it makes a new command's process in that group, says "r" on sock
 * and waits again, up to EXEC_HANDLER_EXECS execs.  Its end is the end of
 * the socket: it then lets its command go and removes the group. */
#define EXEC_HANDLER_EXECS 1000
int exec_ready (struct sandbox *sb, int sock, unsigned seq, bool reuse);

/* Why a command could not start, from the process that tried (exec.c). */
struct start_failure
{
  int errnum;
  bool entering; /* islet failed to enter the sandbox: islet's failure */
  char msg[200];
};

/* exec_common.c, shared with a one-shot sandbox's command (oneshot.c).  In the
 * command's process: give it the default action of every signal ignored
 * (an ignored one stays ignored across execve); PATH lookup as execvp does
 * it, but with the command's own environment (an errno if none ran); say
 * why it could not start on fd (msg is complete) and exit the way a shell
 * does: 127 not found, 126 found but not runnable. */
void signals_default (void);
int exec_path (char **argv, char **envp);
void report_failure (int fd, int errnum, bool entering, const char *msg) __attribute__ ((noreturn));

/* One of the command's output pipes, as forwarded to the client. */
struct stream
{
  int fd;
  enum islet_frame frame;
  uint64_t total;
  bool truncated;
};

enum pumped
{
  PUMP_DATA,
  PUMP_AGAIN,
  PUMP_EOF,
};

/* Read what a pipe has and forward it to the client, up to the limit; past
 * it, keep reading (so the command never blocks) but drop the bytes. */
enum pumped pump (int conn, struct stream *s, uint64_t limit);

/* How a command ran, as its result frame tells it (result_json). */
struct run_state
{
  pid_t command;
  int status;
  struct rusage ru;
  bool done, timed_out, client_gone;
};

json_t *result_json (struct run_state *st, struct stream out[2], const struct islet_cg_stats *cs,
                     uint64_t wall_ns, const struct start_failure *fail);

/* oneshot.c: islet-run --oneshot STATE_DIR ID, a sandbox made for one
 * command by the CLI's `islet run`.  The exec request comes on conn (fd 3)
 * with the start, and is answered there as an exec on ctl.sock would be:
 * the sandbox's init runs the command itself, with no exec handler, exec
 * group or second confinement (a command it cannot run so, as under an
 * image's User, is served as an exec by a handler).  The supervisor is the
 * CLI's child; once the command has ended it removes the sandbox, while or
 * after the CLI exits.  In the order the supervisor and
 * the init (init.c) call them: */
struct oneshot *oneshot_new (int conn);
int oneshot_conn (const struct oneshot *os);
/* the init runs the command (else an exec handler does); false for a sandbox not one-shot */
bool oneshot_direct (const struct sandbox *sb);
/* before the config is loaded: the request read (the CLI's word that the
   config is whole) */
int oneshot_receive (struct oneshot *os, struct islet_err *err) ISLET_MUST_CHECK;
/* after the config is loaded: the request checked */
int oneshot_prepare (struct sandbox *sb, struct islet_err *err) ISLET_MUST_CHECK;
/* in the init, confined: the command's process (its pid) */
pid_t oneshot_command (struct sandbox *sb, struct islet_err *err);
/* in the init, once the supervisor knows it is ready: the command's end
 * told on sync (the supervisor's socket) once every other process of the
 * sandbox is killed and reaped; the init's own end once the status is
 * answered */
void oneshot_init_wait (int sync, pid_t command) __attribute__ ((noreturn));
/* in the supervisor: the init's sync socket, kept to hear the command's end */
void oneshot_keep_sync (struct sandbox *sb, int sync);
/* in the supervisor, the sandbox started: its copies of the command's
 * fds closed; then the answerer forked, which forwards the command's output
 * and result to the CLI (oneshot_answer, in the fork), reaped as a
 * handler: its end ends the sandbox (oneshot_answerer) */
void oneshot_begin (struct sandbox *sb);
void oneshot_answer (struct sandbox *sb) __attribute__ ((noreturn));
void oneshot_forked (struct sandbox *sb, pid_t answerer);
bool oneshot_answerer (const struct sandbox *sb, pid_t pid);
/* a start that failed, told to the CLI */
void oneshot_refuse (struct sandbox *sb, const struct islet_err *e);
/* stopped: the CLI's socket closed (it learns that no process of the
 * sandbox is left), which this supervisor then removes */
void oneshot_stopped (struct sandbox *sb);

/* oneshot.c, for a `run` of a pooled sandbox (pooled.c): the request
 * checked as oneshot_prepare checks it (the image's config read at the
 * start already); then, in the answerer, the command's stdin and pipes
 * (oneshot_pipes), the command forked by a process that has os's fds and
 * spec (oneshot_command, in the init) and its end awaited the same way. */
int oneshot_plan (struct sandbox *sb, struct islet_err *err) ISLET_MUST_CHECK;
int oneshot_pipes (struct sandbox *sb, struct islet_err *err) ISLET_MUST_CHECK;
/* in the supervisor: sb->os made for a `run` on conn (a copy of it kept),
 * its request planned, and the init's sync socket moved to it */
int oneshot_adopt (struct sandbox *sb, int conn, json_t *req,
                   struct islet_err *err) ISLET_MUST_CHECK;
/* in the answerer: the command, its fds and the clock's start to the init */
int oneshot_send (struct sandbox *sb, struct islet_err *err) ISLET_MUST_CHECK;
/* in the init: the command taken from sync and forked (its pid); 0 when
 * sync has ended, -1 when the message was bad or the fork failed */
pid_t oneshot_take_command (struct sandbox *sb, int sync);

/* pooled.c: a sandbox started for the warm pool keeps its init's sync
 * socket (sb->pool_sync); the init waits on it for the one command of the
 * `run` that takes the sandbox (pooled_init_wait, which returns, to reap
 * as any init, once the socket closes); the supervisor closes it at the
 * first other request (pooled_release), so only a sandbox never used may
 * run so (pooled_refuse says why another may not, for op).  pooled_answer,
 * in the answerer the supervisor forks for the `run` (main.c), sends the
 * command to the init and answers as a one-shot sandbox's answerer does. */
bool pooled_detect (const struct sandbox *sb);
void pooled_init_wait (struct sandbox *sb, int sync);
void pooled_release (struct sandbox *sb);
int pooled_refuse (const struct sandbox *sb, const char *op, struct islet_err *err);
void pooled_answer (struct sandbox *sb) __attribute__ ((noreturn));

/* pty.c: an exec on a terminal from the sandbox's own devpts. */
#define PTY_SIZE_MAX 1000 /* columns or rows */
/* In the command's process, confined, before its execve: a new session
 * whose controlling terminal, stdin, stdout and stderr are a new pty's
 * slave; the master goes to the handler on status_fd. */
int pty_take_terminal (int status_fd, unsigned cols, unsigned rows,
                       struct islet_err *err) ISLET_MUST_CHECK;
/* In the handler: the master (0), or -1 with *fail filled when the command
 * reported why it could not start (fail->msg "" when it said nothing). */
int pty_receive_master (int status_fd, struct start_failure *fail, int *master);
struct pty_run
{
  const struct islet_cg *cg; /* the exec's group */
  int conn, master, sfd;
  pid_t command;
  int status;
  struct rusage ru;
  bool done, client_gone;
};
/* Pump keystrokes, output and resizes until the command exits. */
void pty_supervise (struct pty_run *r);

/* agent.c: enter the sandbox, keeping keep_caps (a set of 1 << CAP_*; 0:
 * none, as the agent), and serve one file request on conn, in a handler
 * forked for it: any request when there is no agent, and chown ({path, uid,
 * gid, mode}, -1 or absent: unchanged), which needs SERVE_CHOWN_CAPS (see
 * agent.c). */
void serve_file (struct sandbox *sb, int conn, json_t *req, uint64_t keep_caps);
#define SERVE_CHOWN_CAPS ((uint64_t) 1 << CAP_CHOWN | (uint64_t) 1 << CAP_FOWNER)

/* agent.c, in the supervisor: start the file agent, confined in the
 * sandbox; *sock receives the socket that passes it requests. */
pid_t agent_start (struct sandbox *sb, int *sock, struct islet_err *err);

/* main.c: hand a request and its connection over a socket pair (to the
 * file agent or the ready exec handler); -1 with errno (EAGAIN: busy;
 * EMSGSIZE: too large to pass; other: the other end is gone). */
int request_pass (int sock, int conn, json_t *req);

/* main.c: take a request passed by request_pass: 0 with *conn and *req
 * (NULL if it is not JSON), -1 at the end of the socket. */
int request_take (int sock, int *conn, json_t **req);

/* confine.c: how a process becomes part of the sandbox (the steps are listed
 * there).  The init makes the sandbox's namespaces (rootfs set); every other
 * process joins them, all but the pid namespace (a handler joins that one
 * for its children).  Either way it ends as the sandbox's root with no
 * capabilities, no_new_privs, not dumpable, under the seccomp filter. */
#define CONFINE_FDS_MAX 8

struct confinement
{
  const struct islet_cg *cg; /* the group to enter */
  /* The init only: the root file system to build, and how the supervisor
     is asked to write the new user namespace's id maps. */
  const struct islet_rootfs *rootfs;
  int (*map_ids) (void *arg, struct islet_err *err);
  void *map_arg;
  /* nfds > 0: fds[i] becomes fd i, close-on-exec from cloexec_from on, and
     every other fd is closed.  confine() keeps fds[] naming where each one
     is, also when it fails half-way (to report the failure on one). */
  int fds[CONFINE_FDS_MAX];
  unsigned nfds, cloexec_from;
  bool die_with_parent; /* SIGKILL when the parent dies */
  /* The init only: its CPU group is entered by the supervisor once its
     root is built and its ids are mapped (until then it runs islet's
     work, at the control path's weight), before any code of the sandbox's */
  bool cpu_later;
  uid_t uid; /* who it becomes in the sandbox: 0, or an image's User */
  gid_t gid;
  uint64_t keep_caps; /* capabilities it keeps (1 << CAP_x): chown's handler's only */
  uint64_t root_caps; /* root's in the user namespace: a build's RUN only (islet_creds) */
};

int confine (struct sandbox *sb, struct confinement *c, struct islet_err *err) ISLET_MUST_CHECK;

/* Rename this process (its argv as ps shows it): the sandbox sees its init,
 * and must not learn the host's paths from it. */
void set_title (const char *title);

/* Answer a request with an error frame (best effort). */
void reply_error (int conn, const struct islet_err *e);

#endif
