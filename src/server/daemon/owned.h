/* isletd's middle: a sandbox as one API key sees it, the core's sandbox
 * joined with the store's row that says which key owns it.  Every face
 * (the Daytona control plane, /v1, MCP over HTTP, the reaper) opens,
 * creates, starts, stops and destroys sandboxes here and nowhere else, so
 * that the tenancy rule, the start of a new sandbox's spec, the rollback of
 * a failed create and the Socket.IO event of each change are written once.
 * It knows no HTTP: it answers with an islet_err, which the faces turn into
 * their own answers (reply_islet_err for HTTP). */
#ifndef ISLET_OWNED_H
#define ISLET_OWNED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "islet/err.h"
#include "islet/sandbox.h"
#include "store.h"

struct srv;

/* Who acts: a key of a server.  host is how the caller reached the server
 * (an HTTP Host), for the toolbox address in the sandbox's Daytona object;
 * NULL: the server's own URL. */
struct owner
{
  struct srv *srv;
  int64_t key_id;
  const char *host;
};

struct owned
{
  struct islet_sandbox_info info; /* the core's, with the key's name */
  struct islet_store_sandbox row;
};

void owned_fini (struct owned *o);
#define cleanup_owned __attribute__ ((cleanup (owned_fini)))

/* The key's sandbox whose id or name is ref.  Anything else (another key's
 * sandbox, one of the CLI, a core name, an id prefix, nothing) is the same
 * ISLET_E_NOTFOUND "no sandbox 'REF'": a key cannot learn what others
 * have. */
int owned_open (const struct owner *k, const char *ref, struct owned *o,
                struct islet_err *err) ISLET_MUST_CHECK;
/* The same for a request into the sandbox: what never changes is taken from
 * a cache when the sandbox is known and runs (no config.json read); state
 * tells whether it runs. */
int owned_open_fast (const struct owner *k, const char *ref, struct owned *o,
                     struct islet_err *err) ISLET_MUST_CHECK;

/* What a key asks for when it makes a sandbox. */
struct owned_spec
{
  const char *name;     /* NULL: the id (Daytona's default) */
  const char *image;    /* NULL: the core's default */
  const char *fork;     /* a core id: the files, image of that sandbox as they are now */
  const char *snapshot; /* a core snapshot: its files and image */
  const char *language; /* code-toolbox-language; NULL: python */
  const char *target;   /* NULL: local */
  json_t *labels, *env; /* objects of strings, or NULL: none */
  struct islet_limits limits;
  struct islet_net net;                                     /* outbound network; zero: none */
  int64_t auto_stop, auto_archive, auto_delete, auto_pause; /* minutes, as in the row */
  bool is_public; /* its preview links need no token (preview.c) */
  /* the key's volumes (by their ids, the core's names), checked as its */
  const struct islet_volume_mount *volumes;
  size_t n_volumes;
};

/* The start of every face's spec of a new sandbox: islet's defaults (its
 * limits, never deleted; NULL language and target are python and local),
 * then the limits the face names in fields, in the face's own names and
 * units (the limits table: islet_limits_take); *given (may be NULL):
 * whether fields named any.  The face fills in the rest of what it was
 * asked and calls owned_create. */
int owned_spec_init (struct owned_spec *spec, enum islet_face face, const json_t *fields,
                     bool *given, struct islet_err *err) ISLET_MUST_CHECK;

/* The ceiling of each limit of a sandbox, unless the operator sets another
 * (--sandbox-max): what one sandbox may take of a shared host. */
#define OWNED_CEILING_DEFAULT                                                                      \
  {                                                                                                \
    .memory_mb = 8192, .cpu_millis = 4000, .pids = 1024, .disk_mb = 20480, .timeout_s = 3600,      \
    .output_bytes = 16 << 20, .nofile = 65536                                                      \
  }
/* Set one ceiling from "NAME=VALUE" (a limit's API name). */
int owned_ceiling_set (struct islet_limits *ceiling, const char *name_value,
                       struct islet_err *err) ISLET_MUST_CHECK;

/* At start, before any request: destroy the sandboxes of rows that are not
 * ready (a create, a one-request run or a delete cut short by a kill of
 * isletd) and remove those rows, and forget ready rows whose sandbox is
 * gone.  Every sandbox isletd makes has a row before it exists (the core's
 * claim callback), so none is left running that no row owns. */
int owned_sweep (struct srv *srv, struct islet_err *err) ISLET_MUST_CHECK;

/* A name isletd takes: 1 to 255 bytes, no '/' and no control characters. */
bool owned_name_ok (const char *s);

/* Whether the image ref names (NULL: the default) is in the store, before
 * anything is made: not there is ISLET_E_INVALID, with the command that
 * gets it (isletd itself does not pull). */
int owned_image_here (const struct owner *k, const char *ref,
                      struct islet_err *err) ISLET_MUST_CHECK;
/* The key's quota, the server's default (--default-max-*) where the key
 * has none of its own. */
int owned_quota (const struct owner *k, struct islet_quota *q,
                 struct islet_err *err) ISLET_MUST_CHECK;
/* Make a sandbox owned by k: the store's row (written first, in phase
 * creating), the core's sandbox, the row made ready, as one (a failure
 * leaves neither), then the "created" event.  Its limits must be within the
 * server's ceiling (else ISLET_E_INVALID) and the key's sandboxes with it
 * within the key's quota (else ISLET_E_LIMIT, naming the bound). */
int owned_create (const struct owner *k, const struct owned_spec *spec, struct owned *o,
                  struct islet_err *err) ISLET_MUST_CHECK;
/* Start a stopped one, stop a running one (ISLET_E_CONFLICT when it is
 * already so); the row's clocks follow, o is refreshed, the event sent. */
int owned_start (const struct owner *k, struct owned *o, struct islet_err *err) ISLET_MUST_CHECK;
int owned_stop (const struct owner *k, struct owned *o, struct islet_err *err) ISLET_MUST_CHECK;
/* Archive a stopped one (Daytona's archive): its files kept compressed
 * outside the disk pool (islet_sandbox_archive_files), its state archived
 * until a start restores them. */
int owned_archive (const struct owner *k, struct owned *o, struct islet_err *err) ISLET_MUST_CHECK;
/* Daytona's word for a sandbox's state: started, stopped, paused, or
 * archived for a stopped one archived. */
const char *owned_state (struct srv *srv, const struct islet_sandbox_info *info);
/* New memory, CPU or disk (0: unchanged), live and kept; refused below use. */
/* A new outbound network, live and kept. */
int owned_set_network (const struct owner *k, struct owned *o, const struct islet_net *net,
                       struct islet_err *err) ISLET_MUST_CHECK;
int owned_resize (const struct owner *k, struct owned *o, const struct islet_resize *rq,
                  struct islet_err *err) ISLET_MUST_CHECK;
/* Pause: every process frozen in place; a start resumes it. */
int owned_pause (const struct owner *k, struct owned *o, struct islet_err *err) ISLET_MUST_CHECK;
/* Destroy it: the row marked deleting, the core's sandbox, the row, then
 * the event. */
int owned_destroy (const struct owner *k, struct owned *o, struct islet_err *err) ISLET_MUST_CHECK;

/* A sandbox for one request only (/v1/execute, /v1/test): made as
 * owned_create makes one (a row, in phase scratch: counted in the key's
 * quota, swept if isletd is killed, never listed), used by the caller,
 * destroyed with its row by owned_scratch_end; net NULL is none.  k->key_id < 0: isletd's
 * own (a probe), with no row and no quota, marked by its core name
 * (isletd-own-...) for the sweep. */
int owned_scratch_begin (const struct owner *k, const struct islet_limits *limits,
                         const struct islet_net *net, char id[ISLET_ID_LEN + 1],
                         struct islet_err *err) ISLET_MUST_CHECK;
/* Give k one of isletd's own scratch sandboxes (made with no key, not yet
 * used): its row, in phase scratch, within k's quota as owned_scratch_begin
 * would have made it (ISLET_E_LIMIT, and no row, over it). */
int owned_scratch_adopt (const struct owner *k, const struct islet_limits *limits, const char *id,
                         struct islet_err *err) ISLET_MUST_CHECK;
void owned_scratch_end (const struct owner *k, const char *id);

/* The Daytona Sandbox object (new reference); state NULL: from info
 * (started or stopped).  It is also what every event carries. */
/* Daytona's word for a core state: started, stopped, paused. */
const char *owned_state_word (enum islet_sandbox_state s);
json_t *owned_dto (const struct owner *k, const struct owned *o, const char *state);

/* A row's JSON object text (labels, env) as an object; {} when it is none. */
json_t *owned_json_object (const char *text);
/* <the server as the owner reached it>/toolbox (malloc'd). */
char *owned_toolbox_url (const struct owner *k);

/* The key's sandboxes that the core has, with the key's names, in the
 * store's order (*list malloc'd). */
int owned_list (const struct owner *k, struct islet_sandbox_info **list, size_t *n,
                struct islet_err *err) ISLET_MUST_CHECK;

/* Every sandbox of the core, sorted by id, to join with the store's rows
 * (*all malloc'd); owned_core_find: the one of id, or NULL. */
int owned_core_all (struct srv *srv, struct islet_sandbox_info **all, size_t *n,
                    struct islet_err *err) ISLET_MUST_CHECK;
const struct islet_sandbox_info *owned_core_find (const struct islet_sandbox_info *all, size_t n,
                                                  const char *id);

/* ---- pulls of images from registries (pull.c) ---- */

/* islet-image's answer (out: its stdout, one JSON object) and exit status:
 * 0, or -1 with its error in *err. */
int owned_image_answer (const char *out, int status, struct islet_err *err) ISLET_MUST_CHECK;

/* Queue a pull of ref for k: snap_id's row (may be NULL) goes pulling,
 * then active, or error with the reason.  ISLET_E_LIMIT when the key has
 * too many pulls running or waiting. */
int owned_pull_start (const struct owner *k, const char *ref, const char *snap_id,
                      struct islet_err *err) ISLET_MUST_CHECK;
/* Pull ref for k and wait until it is in the store (or failed), sharing a
 * pull of ref other waiters of k started.  called_off (may be NULL),
 * asked about every 100 ms: true ends the wait (ISLET_E_CONFLICT) and,
 * for the pull's last waiter, calls the pull off (pull.c). */
int owned_pull_wait (const struct owner *k, const char *ref, bool (*called_off) (void *), void *arg,
                     struct islet_err *err) ISLET_MUST_CHECK;
/* The image ref in the store: there already, or pulled now (waited for,
 * called off as owned_pull_wait's wait); else ISLET_E_INVALID saying why,
 * ISLET_E_LIMIT past the key's bounds. */
int owned_image_ensure (const struct owner *k, const char *ref, bool (*called_off) (void *),
                        void *arg, struct islet_err *err) ISLET_MUST_CHECK;

/* ---- image builds (build.c) ---- */

/* A sandbox's or a snapshot's build, watched: its output goes to log_fd
 * (its first 1 MiB); pulling is called when its base (FROM) is pulled
 * first, building once it has a slot, child with the islet-image child's
 * pid once it runs and with 0 once it is reaped; cancelled says whether
 * to stop waiting for the base's pull or a slot. */
struct owned_build_watch
{
  int log_fd;
  void (*pulling) (void *arg);
  void (*building) (void *arg);
  void (*child) (void *arg, pid_t pid);
  bool (*cancelled) (void *arg);
  void *arg;
};

/* Build dockerfile (its text) for k in an islet-image child, waited for;
 * its context: the tars of contexts (hashes k uploaded to object storage,
 * NULL-terminated; NULL: none); id receives the image's id.  A build that
 * fails is ISLET_E_INVALID with the step and its last output; ISLET_E_LIMIT
 * when the key has too many builds waiting for a slot (build.c).  w: a
 * sandbox's build, whose output is its log and whose wait a delete ends. */
/* How many builds of one key may run or wait for a slot at once (build.c:
 * BUILDS_PER_KEY running, BUILDS_WAITING waiting). */
#define OWNED_BUILDS_HELD 5
int owned_image_build (const struct owner *k, const char *dockerfile, char *const *contexts,
                       const struct owned_build_watch *w, char id[72],
                       struct islet_err *err) ISLET_MUST_CHECK;

/* ---- sandboxes whose image is pulled or built first (owned_pending.c) ---- */

/* create({image}) of an image that is not here (pull_ref) or of a
 * Dockerfile to build (with its contexts, as owned_image_build): the row at once (phase building:
 * the quota, the name), o a view of it, the pull or build in a thread of its own, then the sandbox
 * with the row's id; or the row failed with the reason. */
int owned_create_pending (const struct owner *k, const struct owned_spec *spec,
                          const char *pull_ref, const char *dockerfile, char *const *contexts,
                          struct owned *o, struct islet_err *err) ISLET_MUST_CHECK;
/* Daytona's state of a row in phase building or failed (pending_build,
 * building_snapshot, pulling_snapshot, starting; build_failed, error);
 * *reason the failure's (malloc'd) or NULL. */
const char *owned_pending_state (struct srv *srv, const struct islet_store_sandbox *row,
                                 char **reason);
/* The view of such a row, as the core would describe its sandbox. */
void owned_pending_info (const struct islet_store_sandbox *row, struct islet_sandbox_info *info);
/* Delete such a row: its pull or build called off, its log gone; a
 * sandbox its build had just made destroyed. */
int owned_pending_destroy (const struct owner *k, struct owned *o,
                           struct islet_err *err) ISLET_MUST_CHECK;
/* At start, for a row left building by a kill of isletd: the sandbox it
 * may have begun destroyed, the row failed with the reason. */
void owned_pending_swept (struct srv *srv, const struct islet_store_sandbox *row);
/* At stop: the build children killed (their rows are swept at the next start). */
void owned_pending_shutdown (struct srv *srv);
/* The build log of row id: its path (malloc'd); whether it still grows. */
char *owned_pending_log (struct srv *srv, const char *id);
bool owned_pending_running (struct srv *srv, const char *id);
/* Its log and failure removed (a delete). */
void owned_pending_forget (struct srv *srv, const char *id);
/* Room for one more image build of k (its sandboxes' and its snapshots'
 * count alike), else ISLET_E_LIMIT; *first (may be NULL): whether k has no
 * other build running or waiting. */
int owned_build_room (const struct owner *k, bool *first, struct islet_err *err) ISLET_MUST_CHECK;
/* Each context hash (NULL-terminated; NULL: none) uploaded by k, else
 * the error that names it. */
int owned_contexts_here (const struct owner *k, char *const *contexts,
                         struct islet_err *err) ISLET_MUST_CHECK;
/* snapshot.create from an Image: snapshot snap_id's build, in a thread
 * of its own as a sandbox's (its log followed by the same reader); its
 * row building once the build has a slot, then active with the image or
 * build_failed with the reason. */
int owned_pending_snapshot_build (const struct owner *k, const char *snap_id,
                                  const char *dockerfile, char *const *contexts,
                                  struct islet_err *err) ISLET_MUST_CHECK;
/* Snapshot snap_id's build called off and its end waited for, a bounded
 * time (no-op when none runs); a build that outlasts it (one waiting for
 * its base's pull) makes nothing of its row when it ends. */
void owned_pending_snapshot_cancel (struct srv *srv, const char *snap_id);

/* for owned_pending.c: the parts of a create that owned.c writes */
void owned_row_of (const struct owner *k, const struct owned_spec *spec,
                   enum islet_store_phase phase, struct islet_store_sandbox *row);
int owned_within_ceiling (const struct srv *srv, const struct islet_limits *l,
                          struct islet_err *err) ISLET_MUST_CHECK;
void owned_event (const struct owner *k, const struct owned *o, const char *state,
                  const char *old_state);

/* ---- Daytona's snapshots (owned_snapshot.c) ---- */

/* A key's name for an image: active at once if it is in the store, else
 * pending while its pull (pull.c) is queued, pulling, then active or error. */
int owned_snapshot_of_image (const struct owner *k, const char *name, const char *image,
                             struct islet_store_snapshot *out,
                             struct islet_err *err) ISLET_MUST_CHECK;
/* snapshot.create from an Image: the row at once, pending (building when
 * the key has no other build), its build in the background
 * (owned_pending_snapshot_build). */
int owned_snapshot_of_build (const struct owner *k, const char *name, const char *dockerfile,
                             char *const *contexts, struct islet_store_snapshot *out,
                             struct islet_err *err) ISLET_MUST_CHECK;
/* A key's snapshot of its sandbox's files, running or stopped. */
int owned_snapshot_take (const struct owner *k, const struct owned *o, const char *name,
                         struct islet_store_snapshot *out, struct islet_err *err) ISLET_MUST_CHECK;
/* The key's snapshot whose id or name is ref. */
int owned_snapshot_get (const struct owner *k, const char *ref, struct islet_store_snapshot *out,
                        struct islet_err *err) ISLET_MUST_CHECK;
/* Remove it: ISLET_E_CONFLICT while a sandbox of the key runs on its image
 * or was made from its files. */
int owned_snapshot_delete (const struct owner *k, const char *ref,
                           struct islet_err *err) ISLET_MUST_CHECK;
/* create({snapshot: ref}): the key's snapshot ref into spec (image or core
 * snapshot, strings kept in *keep, to be freed by the caller), else ref as
 * an image's name. */
int owned_snapshot_spec (const struct owner *k, const char *ref, struct owned_spec *spec,
                         struct islet_store_snapshot *keep, struct islet_err *err) ISLET_MUST_CHECK;
/* At start: rows of a snapshot that a kill of isletd cut short, and their layers. */
void owned_snapshot_sweep (struct srv *srv);
/* The Daytona SnapshotDto. */
json_t *owned_snapshot_dto (const struct islet_store_snapshot *s);

#endif
