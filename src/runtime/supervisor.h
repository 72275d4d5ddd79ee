/* The supervisor's own parts, shared by its files and no other:
 *
 * main.c      start-up, the accept loop, the entry points
 * handlers.c  the exec handlers: forked, made ready ahead, linked; exec groups
 * control.c   the requests on ctl.sock (the `ops` table), the file agent
 * stop.c      stop and teardown, and the removal by the supervisor itself
 *
 * Its state is that of one single-threaded process: a handler forked from
 * it drops what it does not need (handler_detach). */
#ifndef ISLET_SUPERVISOR_H
#define ISLET_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime.h"

#define MAX_HANDLERS 4096
/* Exec handlers linked by a socket (exec.c): a ready one waits for an exec;
   one that has taken an exec says "t" (it may wait on its client) and "s"
   (its command started), and after a clean exec "r" (ready again, with a
   new command's process).  Its socket closed lets it go (after its exec). */
#define READY_MAX 2  /* ready at once */
#define LINKED_MAX 4 /* linked at once, ready or serving */
enum link_state
{
  LINK_READY,
  LINK_TAKEN,
  LINK_STARTED,
};
struct exec_link
{
  pid_t pid;
  int sock;
  enum link_state state;
};

/* main.c */
extern int lock_fd; /* the run lock: held until this process exits */
void logmsg (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
int listen_on (const char *path, struct islet_err *err);
/* The answerer of sb->os's request, reaped as a handler (oneshot.c,
 * pooled.c); false if it could not be forked (told on the request's
 * connection). */
bool oneshot_fork (struct sandbox *sb, int lfd, int sfd);

/* handlers.c */
extern pid_t handlers[MAX_HANDLERS];
extern unsigned handler_seq[MAX_HANDLERS]; /* an exec handler's group x<seq>; 0: none */
extern size_t n_handlers;
extern size_t n_kept; /* exec groups kept */
extern struct exec_link links[LINKED_MAX];
extern size_t n_links;
extern uint64_t ready_since;  /* the last exec taken or handler ready */
extern unsigned execs_forked; /* execs served by a handler forked for them */
size_t n_ready (void);
void link_drop (size_t i);
void ready_stop_all (bool all);
void ready_stop (void);
void handler_detach (int lfd, int sfd);
void exec_unlisten (struct sandbox *sb);
bool exec_group_take (struct sandbox *sb, unsigned *seq);
void exec_group_back (struct sandbox *sb, unsigned seq, bool keep);
void exec_groups_drop (struct sandbox *sb);
void ready_start (struct sandbox *sb, int lfd, int sfd);
void ready_heard (struct sandbox *sb, size_t i, int lfd, int sfd);

/* control.c */
extern pid_t agent_pid;   /* the file agent (agent.c), 0 if none */
extern int agent_sock;    /* requests to it */
extern bool paused;       /* the sandbox's group is frozen: no exec or file request is taken */
extern bool remove_asked; /* the stop's asker wants the sandbox removed by this process */
void agent_stop (void);
/* The first frame of a connection decides who serves it; true: stop. */
bool serve_request (struct sandbox *sb, int conn, int lfd, int sfd, bool exec_only);

/* stop.c */
void stop_processes (struct sandbox *sb);
void groups_remove (struct sandbox *sb);
void remove_self (struct sandbox *sb);
void release_namespaces (struct sandbox *sb);
void teardown (struct sandbox *sb);
void answer_stopped (int *conn);

#endif
