#!/usr/bin/env bash
# Rollback of a failed create, by fault injection.  tests/lib/fault.c, an
# LD_PRELOAD shim, makes the Nth call of one family of libc functions (mkdir,
# open, write, chown, mount, ioctl...) fail with EIO, either in the CLI
# (`islet`) or in the supervisor it execs (`islet-run`, and the sandbox's
# init, which it forks; both programs are static, so their dynamically
# linked twins are used).  For each family and program, N goes 1, 2, 3... until
# create succeeds without the fault firing, so every call of create's path is
# made to fail once.  After each failure:
#   - create exits non-zero with one line on stderr that names what failed;
#   - nothing is left: no sandbox in `islet ls`, no sandbox directory, no uid
#     claim, no volume, no cgroup, no mount beyond the pool's, no islet-run,
#     no temporary file.
# A fault that create survives (it fired, create succeeded) is tolerated, but
# the sandbox must then be removable without a trace.
#
# The first part runs on a warm state directory (pool and image made); the
# second on a fresh one per attempt, to cover the state directory's set-up,
# the disk pool (image, loop device, mount) and the image build.
source "$(dirname "$0")/../lib/integration.sh"
it_init

[[ -n "${ISLET_FAULT_LIB:-}" ]] \
  || ISLET_FAULT_LIB=$(ls "${ISLET_BUILD:-$(dirname "$ISLET_BIN")}"/tests/libislet_fault.so 2>/dev/null || true)
[[ -f "${ISLET_FAULT_LIB:-}" ]] || fail "no fault shim: set ISLET_FAULT_LIB to the built libislet_fault.so"
# `islet` is a static program, which no LD_PRELOAD reaches: the CLI's
# faults go to islet-dynamic, the same CLI linked dynamically, whose
# program name the shim is then given for "islet" (an ASan build has no
# islet-dynamic: its `islet` is dynamic).
FAULT_CLI=$(dirname "$ISLET_BIN")/islet-dynamic
[[ -x "$FAULT_CLI" ]] || FAULT_CLI=$ISLET_BIN
# islet-run is static too: the CLI's faults and the supervisor's go to
# copies in a directory of the test's own, where islet-run is the twin
# linked dynamically (islet-run-dynamic), found beside the CLI as always
BIN_DIR=$(dirname "$ISLET_BIN")
if [[ -x "$BIN_DIR/islet-run-dynamic" ]]; then
  mkdir "$STATE.bin" || fail "mkdir $STATE.bin"
  for prog in "$(basename "$FAULT_CLI")" islet-image islet-net; do
    cp "$BIN_DIR/$prog" "$STATE.bin/" || fail "copy $prog"
  done
  cp "$BIN_DIR/islet-run-dynamic" "$STATE.bin/islet-run" || fail "copy islet-run-dynamic"
  FAULT_CLI=$STATE.bin/$(basename "$FAULT_CLI")
fi
# An ASan build wants its runtime first among the preloaded libraries.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

N_MAX=400         # calls tried per family and program
TIME_MAX_S=600    # for the whole test
EIO_TEXT="Input/output error"

PROBLEMS=()       # every failed check, reported together at the end
problem () {
  PROBLEMS+=("$*")
  printf '[%s] PROBLEM: %s\n' "$IT_NAME" "$*" >&2
}

# islet cgroup entries (ids) on the host, in every hierarchy.
cg_ids () {
  local d
  for d in /sys/fs/cgroup/*/islet /sys/fs/cgroup/islet; do
    [[ -d "$d" ]] && find "$d" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'
  done | sort -u
  return 0
}

# Ids of sandboxes that some supervisor runs (any state directory):
# `islet-run STATE ID FD` and a one-shot's `islet-run --oneshot STATE ID`.
running_ids () {
  pgrep -af '^islet-run ' | awk '$3 == "--oneshot" { print $5; next } { print $4 }' | sort -u || true
}

# check_clean DIR LABEL CG_BEFORE ID: nothing of a failed or removed create
# is left in state directory DIR.  ID (may be empty) is the sandbox's id when
# the error or the output named it.
check_clean () {
  local dir=$1 label=$2 cg_before=$3 id=$4 left new x
  wait_empty 5 supervisors "$dir" || problem "$label: islet-run left running: $(supervisors "$dir" | tr '\n' ' ')"
  left=$(jget "$("$ISLET_BIN" --state-dir "$dir" ls --json </dev/null)" 'len(j["sandboxes"])' 2>/dev/null || echo "?")
  [[ "$left" == 0 ]] || problem "$label: islet ls shows $left sandboxes"
  left=$(ls -A "$dir/sandboxes" 2>/dev/null | tr '\n' ' ' || true)
  [[ -z "$left" ]] || problem "$label: sandbox directories left: $left"
  left=$(ls -A "$dir/uids" 2>/dev/null | tr '\n' ' ' || true)
  [[ -z "$left" ]] || problem "$label: uid claims left: $left"
  if mountpoint -q "$dir/pool"; then
    left=$(ls -A "$dir/pool" 2>/dev/null | tr '\n' ' ' || true)
    [[ -z "$left" ]] || problem "$label: volumes left in the pool: $left"
  fi
  left=$(my_mounts "$dir" | grep -vx "$dir/pool" | tr '\n' ' ' || true)
  [[ -z "$left" ]] || problem "$label: mounts left: $left"
  left=$(losetup -j "$dir/pool.img" 2>/dev/null | wc -l || true)
  (( left <= 1 )) || problem "$label: $left loop devices on the pool image"
  if [[ ! -e "$dir/pool.img" ]]; then
    left=$(losetup -a | grep -c "$dir/pool.img" || true)
    (( left == 0 )) || problem "$label: loop device of a pool image that is gone"
  fi
  left=$(find "$dir" -path "$dir/pool" -prune -o \( -name '*.tmp' -o -name '.*.[0-9]*' -o -name '*.tmp.*' \) -print 2>/dev/null | tr '\n' ' ' || true)
  [[ -z "$left" ]] || problem "$label: temporary files left: $left"
  if [[ -n "$id" ]]; then
    left=$(cg_dirs "$id" | tr '\n' ' ')
    [[ -z "$left" ]] || problem "$label: cgroups of $id left: $left"
    left=$(procs_in_cg "$id" | tr '\n' ' ')
    [[ -z "$left" ]] || problem "$label: processes of $id left: $left"
  fi
  # cgroups that appeared and that no supervisor runs: ours
  new=$(comm -13 <(echo "$cg_before") <(cg_ids))
  for x in $new; do
    running_ids | grep -qx "$x" && continue
    [[ -n "$(cg_dirs "$x")" ]] || continue
    problem "$label: cgroup islet/$x appeared and belongs to no running sandbox"
    echo "$x" >>"$STATE.ids" # so that clean-up removes it
  done
  return 0
}

# check_stdio DIR LABEL ID: the supervisor of a created sandbox keeps none of
# the CLI's standard streams (else `id=$(islet create)` never sees EOF and
# waits for as long as the sandbox lives).
check_stdio () {
  local dir=$1 label=$2 id=$3 p fd target
  for p in $(supervisors "$dir"); do
    for fd in 0 1 2; do
      target=$(readlink "/proc/$p/fd/$fd" 2>/dev/null) || continue
      case "$target" in
        /dev/null | "$dir/sandboxes/$id/supervisor.log") ;;
        *) problem "$label: the supervisor $p keeps the caller's fd $fd ($target): \$(islet create) would wait forever" ;;
      esac
    done
  done
  return 0
}

# check_message LABEL: stderr of a failed create (in ERR) is one line
# "islet: ..." that names the failure.
check_message () {
  local label=$1 lines
  lines=$(printf '%s\n' "$ERR" | grep -c . || true)
  [[ "$lines" == 1 ]] || problem "$label: $lines lines on stderr: $(printf '%s' "$ERR" | tr '\n' '|')"
  [[ "$ERR" == "islet: "* ]] || problem "$label: stderr does not start with 'islet: ': $ERR"
  case "$ERR" in
    *"$EIO_TEXT"*) ;;
    # libseccomp reports any failure of its own write as ECANCELED; the
    # message still names the step
    *"export seccomp filter: "*) ;;
    # the fault struck the init's report channel itself (its socket to the
    # supervisor): nothing is left to tell the supervisor why
    *"init died while starting"*)
      [[ "$label" == write:* && "$FIRED" == *" in init["* ]] \
        || problem "$label: the init died without a reason: $ERR"
      ;;
    *) problem "$label: the error does not name the failure ($EIO_TEXT): $ERR" ;;
  esac
  [[ -z "$OUT" ]] || problem "$label: a failed create printed on stdout: $OUT"
}

# attempt DIR FAMILY N PROG: one create with the Nth call of FAMILY failing
# in PROG; sets RC, OUT, ERR and FIRED (the shim's log).
attempt () {
  local dir=$1 family=$2 n=$3 prog=$4 flog=$STATE.fault
  rm -f "$flog"
  [[ "$prog" != islet ]] || prog=$(basename "$FAULT_CLI")
  capture env LD_PRELOAD="$ISLET_FAULT_LIB" ISLET_FAULT="$family:$n:EIO:$prog" ISLET_FAULT_LOG="$flog" \
    timeout 60 "$FAULT_CLI" --state-dir "$dir" create
  FIRED=$(cat "$flog" 2>/dev/null || true)
  # after pivot_root the sandbox's init cannot reach the log: its error can
  # still say that the fault fired
  [[ -z "$FIRED" && "$RC" != 0 && "$ERR" == *"$EIO_TEXT"* ]] && FIRED="(seen in the error only)"
  [[ "$RC" != 124 ]] || problem "$family:$n in $prog: create hung (killed after 60 s)"
  return 0
}

# sweep FAMILY PROG MODE: N = 1, 2... until create succeeds with no fault.
# MODE warm: the test's state directory; fresh: a new one for every N.
sweep () {
  local family=$1 prog=$2 mode=$3 n dir id cg_before label enforced failed=0 tolerated=()
  for (( n = 1; n <= N_MAX; n++ )); do
    (( SECONDS < TIME_MAX_S )) || fail "out of time ($TIME_MAX_S s) at $family:$n in $prog ($mode)"
    label="$family:$n in $prog ($mode)"
    if [[ $mode == fresh ]]; then
      dir=$STATE/f/$family-$n
      mkdir -p "$STATE/f"
      IT_EXTRA_DIRS+=("$dir")
    else
      dir=$STATE
    fi
    cg_before=$(cg_ids)
    attempt "$dir" "$family" "$n" "$prog"
    if [[ "$RC" == 0 ]]; then
      id=$OUT
      [[ "$id" =~ ^[0-9a-f]{12}$ ]] || problem "$label: create succeeded but printed '$id'"
      check_stdio "$dir" "$label" "$id"
      if [[ -n "$FIRED" ]]; then
        enforced=$(jget "$("$ISLET_BIN" --state-dir "$dir" info "$id" --json </dev/null)" 'j["disk_enforced"]' 2>/dev/null || echo '?')
        log "  $label tolerated: ${FIRED%%$'\n'*}; disk_enforced: $enforced"
        # this host can enforce disk limits (see the warm-up): a limit that a
        # passing error switched off is a limit that fails open
        [[ "$enforced" == true ]] \
          || problem "$label: create succeeded with its disk limit not enforced (disk_enforced $enforced): ${FIRED%%$'\n'*}"
      fi
      "$ISLET_BIN" --state-dir "$dir" rm -f "$id" </dev/null >/dev/null 2>&1 \
        || problem "$label: rm -f after a successful create failed"
      check_clean "$dir" "$label (created, then removed)" "$cg_before" "$id"
      [[ $mode == fresh ]] && clean_state_dir "$dir"
      if [[ -z "$FIRED" ]]; then
        log "$family in $prog ($mode): $((n - 1)) calls on create's path, $failed made it fail${tolerated[*]:+, tolerated: ${tolerated[*]}}"
        SWEPT=$((SWEPT + n - 1))
        return 0
      fi
      tolerated+=("$n")
      continue
    fi
    failed=$((failed + 1))
    [[ -n "$FIRED" ]] || problem "$label: create failed but the fault did not fire: $ERR"
    check_message "$label"
    id=$(grep -o '`[0-9a-f]\{12\}`' <<<"$ERR" | head -1 | tr -d '`' || true)
    check_clean "$dir" "$label" "$cg_before" "$id"
    [[ $mode == fresh ]] && clean_state_dir "$dir"
    # the next attempt starts from a clean slate even if this one leaked
    if (( ${#PROBLEMS[@]} )) && [[ $mode == warm ]]; then
      for id in "$STATE"/sandboxes/*; do
        [[ -d "$id" ]] || continue
        "$ISLET_BIN" --state-dir "$STATE" rm -f "${id##*/}" </dev/null >/dev/null 2>&1 || true
      done
    fi
  done
  problem "$family in $prog ($mode): create still fails at call $N_MAX"
}

SWEPT=0
SECONDS=0

log "the shim works: mkdir:1 in the CLI fails create at once"
attempt "$STATE" mkdir 1 islet
[[ "$RC" != 0 && -n "$FIRED" ]] || fail "the fault shim did not fire (status $RC): $ERR"
log "the shim works: mkdir:1 in the supervisor fails create at once"
attempt "$STATE" mkdir 1 islet-run
[[ "$RC" != 0 && -n "$FIRED" ]] || fail "the fault shim did not fire in islet-run (status $RC): $ERR"

log "warm state directory: pool and image made once"
warm=$(create_sb)
[[ "$(sb_info "$warm" 'j["disk_enforced"]')" == true ]] \
  || skip "disk limits cannot be enforced here (no btrfs pool): the rollback of the pool is not testable"
islet rm -f "$warm" </dev/null >/dev/null || fail "rm -f of the warm-up sandbox failed"

# IT_FAULT_ONLY="family:prog:mode ..." runs a subset (when debugging).
want () { [[ -z "${IT_FAULT_ONLY:-}" || " $IT_FAULT_ONLY " == *" $1:$2:$3 "* ]]; }

for family in mkdir open write chown ioctl rename unlink; do
  want "$family" islet warm && sweep "$family" islet warm
done
for family in mkdir open write chown mount umount ioctl rename unlink; do
  want "$family" islet-run warm && sweep "$family" islet-run warm
done

log "fresh state directory per attempt: set-up, disk pool and image"
for family in mkdir open write ioctl mount rename; do
  want "$family" islet fresh && sweep "$family" islet fresh
done

log "$SWEPT injected calls in $SECONDS s"
if (( ${#PROBLEMS[@]} )); then
  printf '  %s\n' "${PROBLEMS[@]}" >&2
  fail "${#PROBLEMS[@]} problems (listed above)"
fi
pass
