# shellcheck shell=bash disable=SC2034
# Shared helpers of the integration tests (tests/integration/*.sh), sourced.
#
# A test calls it_init, which makes a private state directory, sets a trap
# that removes everything the test made (sandboxes, pool, supervisors) and
# defines `islet` to run the CLI against that directory.  Each test then
# checks what islet reports *and* what the host shows: cgroups, mounts,
# processes, files.
#
# Environment (set by ctest, see tests/CMakeLists.txt):
#   ISLET_BIN   path of build/islet (default: build/islet beside the sources)
#   ISLET_SRC, ISLET_BUILD, ISLET_FAULT_LIB
#
# Exit statuses: 0 pass, 1 fail, 77 skip (only when the kernel lacks a feature).

set -euo pipefail
# the tests drive their own state directories: a developer's remote-mode
# settings must not send their commands to some isletd
unset ISLET_URL ISLET_API_KEY

IT_NAME=${IT_NAME:-$(basename "${BASH_SOURCE[1]:-$0}" .sh)}
IT_PY=/usr/bin/python3 # the host's python, whatever PATH says
IT_T0=$(date +%s%N)
STATE=
IT_UID_FIRST=1073741824 # ISLET_UID_FIRST
IT_UID_RANGE=65536

# ---- reporting ----

it_elapsed_ms () { echo $(( ($(date +%s%N) - IT_T0) / 1000000 )); }

log () { printf '[%s %6d ms] %s\n' "$IT_NAME" "$(it_elapsed_ms)" "$*" >&2; }

fail () {
  printf '[%s] FAIL: %s\n' "$IT_NAME" "$*" >&2
  exit 1
}

skip () {
  printf '[%s] SKIP: %s\n' "$IT_NAME" "$*" >&2
  exit 77
}

pass () {
  log "PASS (total $(it_elapsed_ms) ms)"
  exit 0
}

# ---- running islet ----

# islet ARGS...: the CLI on this test's state directory; stdin is /dev/null
# unless the caller redirects it (exec reads stdin when it is not a terminal).
islet () {
  "$ISLET_BIN" --state-dir "$STATE" "$@"
}

# Run a command, capturing stdout in OUT, stderr in ERR, the status in RC;
# never exits the test.
capture () {
  local o e
  o=$(mktemp "$STATE.out.XXXXXX") e=$(mktemp "$STATE.err.XXXXXX")
  RC=0
  "$@" >"$o" 2>"$e" </dev/null || RC=$?
  OUT=$(cat "$o") ERR=$(cat "$e")
  rm -f "$o" "$e"
}

# jget JSON EXPR: evaluate a python expression on the parsed JSON `j`;
# strings print raw, everything else as JSON (true/false/null, numbers).
# The JSON goes through a pipe: an argument is limited to 128 KiB.
jget () {
  printf '%s' "$1" | "$IT_PY" -c '
import json, sys
j = json.loads(sys.stdin.read())
v = eval(sys.argv[1], {"j": j, "len": len})
print(v if isinstance(v, str) else json.dumps(v))
' "$2"
}

# xjson ID [exec options] -- CMD...: run islet exec --json; the result in OUT
# (RC: islet's status).  Fails the test when OUT is not a JSON exec result.
xjson () {
  local id=$1
  shift
  capture islet exec "$id" --json "$@"
  printf '%s' "$OUT" | "$IT_PY" -c 'import json,sys; sys.exit("exit_code" not in json.load(sys.stdin))' \
    2>/dev/null || fail "exec $id $*: not an exec result (status $RC): ${OUT:0:400} ${ERR:0:400}"
}

# expect_eq WHAT GOT WANT
expect_eq () {
  [[ "$2" == "$3" ]] || fail "$1: got '$2', want '$3'"
}

# expect_range WHAT VALUE MIN MAX (integers, inclusive)
expect_range () {
  [[ "$2" =~ ^-?[0-9]+$ ]] || fail "$1: '$2' is not an integer"
  (( $2 >= $3 && $2 <= $4 )) || fail "$1: $2 is not within [$3, $4]"
}

# create_sb [create options]: create a sandbox, print its id.
create_sb () {
  local id
  id=$(islet create "$@" </dev/null) || fail "islet create $*: failed"
  [[ "$id" =~ ^[0-9a-f]{12}$ ]] || fail "islet create $*: printed '$id', not an id"
  echo "$id"
}

# sb_info ID FIELD-EXPR: a field of `islet info ID --json`, e.g. 'j["state"]'.
sb_info () {
  local json
  json=$(islet info "$1" --json </dev/null) || fail "islet info $1: failed: $json"
  jget "$json" "$2"
}

# ---- what the host shows ----

# The cgroup directories of a sandbox, in every hierarchy (v1 and v2 layouts).
cg_dirs () {
  local id=$1 d
  for d in /sys/fs/cgroup/*/islet/"$id" /sys/fs/cgroup/islet/"$id"; do
    [[ -d "$d" ]] && echo "$d"
  done
  return 0
}

# A cgroup directory of the sandbox for one controller: memory, cpu, pids...
cg_dir () {
  local id=$1 ctrl=$2
  if [[ -d /sys/fs/cgroup/$ctrl/islet/$id ]]; then
    echo "/sys/fs/cgroup/$ctrl/islet/$id"
  elif [[ -d /sys/fs/cgroup/islet/$id ]]; then
    echo "/sys/fs/cgroup/islet/$id"
  fi
}

cg_version () {
  if [[ "$(stat -f -c %T /sys/fs/cgroup)" == cgroup2fs ]]; then echo 2; else echo 1; fi
}

# Host pids whose uid is in the sandbox's range [base, base+65536), except
# those that are in another islet sandbox's cgroup: uid slots are per state
# directory, so a sandbox of another test (another state directory) can
# share our range.  ID may be empty: then every process in the range counts.
procs_of_uid () {
  local base=$1 id=${2:-} pid uid cg
  # (ps prints uids of 2^31 and more wrongly: read /proc directly)
  # zombies are gone already: only their parent's wait() is missing
  awk '/^State:/ { st = $2 } /^Uid:/ { split(FILENAME, f, "/"); if (st != "Z") print f[3], $2; nextfile }' \
    /proc/[0-9]*/status 2>/dev/null |
  while read -r pid uid; do
    (( uid >= base && uid < base + IT_UID_RANGE )) || continue
    if [[ -n "$id" ]]; then
      cg=$(cat "/proc/$pid/cgroup" 2>/dev/null) || continue
      [[ "$cg" == */islet/* && "$cg" != */islet/"$id"* ]] && continue
    fi
    echo "$pid"
  done || true
}

# Host pids in any cgroup of the sandbox (any hierarchy).
procs_in_cg () {
  local p
  for p in $(grep -l "/islet/$1\(/\|\$\)" /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3); do
    alive "$p" && echo "$p"
  done
  return 0
}

# Whether a process exists and is not a zombie.  (A zombie has released
# everything; on this host pid 1 can take seconds to reap the supervisors
# that reparent to it.)
alive () {
  local st
  st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n "$st" && "$st" != Z ]]
}

dead () { ! alive "$1"; }

# The supervisors (islet-run) of a state directory (default: the test's),
# and the request handlers they fork (same command line).
supervisors () {
  pgrep -f "^islet-run ${1:-$STATE} " || true
}

# Mount points under a state directory (default: the test's), as the host
# sees them.
my_mounts () {
  awk -v s="${1:-$STATE}" '$5 == s || index($5, s "/") == 1 { print $5 }' /proc/self/mountinfo | sort
}

# wait_until SECONDS CMD...: poll CMD (every 0.1 s) until it succeeds.
wait_until () {
  local limit=$1 i
  shift
  for (( i = 0; i < limit * 10; i++ )); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

# wait_empty SECONDS CMD...: poll CMD until it prints nothing.
wait_empty () {
  local limit=$1 i
  shift
  for (( i = 0; i < limit * 10; i++ )); do
    [[ -z "$("$@")" ]] && return 0
    sleep 0.1
  done
  return 1
}

# ---- set-up and clean-up ----

# clean_state_dir DIR: remove everything of a state directory: sandboxes
# (islet system reset), then by hand whatever that missed: supervisors,
# cgroups, mounts, loop devices, files.
clean_state_dir () {
  local dir=$1 id p d
  [[ -n "$dir" && -d "$dir" ]] || return 0
  "$ISLET_BIN" --state-dir "$dir" system reset -f >/dev/null 2>&1 </dev/null \
    || log "cleanup: islet system reset of $dir failed; removing by hand"
  for p in $(supervisors "$dir"); do kill -9 "$p" 2>/dev/null; done
  for id in $(ls "$dir/sandboxes" 2>/dev/null) $(cat "$STATE.ids" "$IT_STATE_FIRST.ids" 2>/dev/null); do
    for p in $(procs_in_cg "$id"); do kill -9 "$p" 2>/dev/null; done
    for d in $(cg_dirs "$id"); do
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
  done
  for p in $(my_mounts "$dir" | sort -r); do umount -l "$p" 2>/dev/null; done
  for p in $(losetup -j "$dir/pool.img" 2>/dev/null | cut -d: -f1); do
    losetup -d "$p" 2>/dev/null
  done
  if [[ -z "$(my_mounts "$dir")" ]]; then
    rm -rf --one-file-system "$dir"
  else
    log "cleanup: $dir still has mounts, left in place"
  fi
  return 0
}

# State directories a test makes besides $STATE, removed at exit too.  A
# test may point STATE at one of them for a while (to start an isletd
# there, say): the one it_init made is removed all the same.
IT_EXTRA_DIRS=()
IT_STATE_FIRST=

# it_cleanup [STATUS]: the exit trap; exits with STATUS, else with $?.
it_cleanup () {
  local rc=$? dir
  (( $# )) && rc=$1
  trap - EXIT INT TERM
  set +e
  for dir in "${IT_EXTRA_DIRS[@]}" "$STATE" "$IT_STATE_FIRST"; do
    clean_state_dir "$dir"
  done
  # each directory's companions ($DIR.out.*, $DIR.srv.err, $DIR.work/...):
  # files and folders, never what a leftover mount below them holds
  for dir in "${IT_EXTRA_DIRS[@]}" "$STATE" "$IT_STATE_FIRST"; do
    [[ -z "$dir" ]] || rm -rf --one-file-system "$dir".* 2>/dev/null
  done
  exit "$rc"
}

# remember_id ID: ids this test made, so that clean-up can find their cgroups
# even after their state is gone.
remember_id () { echo "$1" >>"$STATE.ids"; }

it_init () {
  [[ $(id -u) == 0 ]] || fail "the integration tests need root (islet runs as root)"
  if [[ -z "${ISLET_BIN:-}" ]]; then
    ISLET_BIN="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/islet"
  fi
  [[ -x "$ISLET_BIN" ]] || fail "no islet binary at '$ISLET_BIN' (set ISLET_BIN)"
  [[ -x "$IT_PY" ]] || fail "no $IT_PY on the host"
  # Short: the control socket path must stay under 108 bytes.
  STATE=$(mktemp -d /tmp/islet-it.XXXXXX)
  IT_STATE_FIRST=$STATE
  trap it_cleanup EXIT
  trap 'exit 130' INT TERM
  log "state directory $STATE, islet $ISLET_BIN"
}
