#!/usr/bin/env bash
# `islet rm -f` of a running one-shot sandbox (islet run): its supervisor
# withdraws and removes it, and answers the stop after.  When that removal
# fails (here: a file in the sandbox's directory that cannot be deleted),
# the supervisor exits and leaves a broken sandbox; the remove then does
# not say it removed it: it tries the removal itself and reports why it
# failed, and once the cause is gone an `islet rm` removes what is left.
source "$(dirname "$0")/../lib/integration.sh"
it_init
command -v chattr >/dev/null || skip "needs chattr (e2fsprogs)"

pin=
pin_cleanup () {
  local rc=$?
  set +e
  [[ -n "$pin" ]] && chattr -i "$pin" 2>/dev/null
  it_cleanup "$rc"
}
trap pin_cleanup EXIT

running_id () { ls "$STATE/sandboxes" 2>/dev/null | head -1; }
has_ctl_sock () { local id; id=$(running_id); [[ -n "$id" && -S "$STATE/sandboxes/$id/ctl.sock" ]]; }

"$ISLET_BIN" --state-dir "$STATE" run -- sleep 60 </dev/null >/dev/null 2>"$STATE.run.err" &
cli=$!
wait_until 20 has_ctl_sock || fail "no sandbox for the run: $(cat "$STATE.run.err")"
sb=$(running_id)
remember_id "$sb"
dir="$STATE/sandboxes/$sb"
pin="$dir/pin"
: >"$pin"
chattr +i "$pin" 2>/dev/null || { pin=; skip "no immutable files on the file system of $STATE"; }

log "== rm -f while the supervisor's removal cannot finish"
capture islet rm -f "$sb"
[[ $RC != 0 ]] || fail "rm -f said it removed $sb, but its directory is left: $(ls -a "$dir" 2>&1)"
[[ "$ERR" == *"Operation not permitted"* ]] || fail "rm -f did not say why: '$ERR'"
log "it says: $ERR"
[[ -d "$dir" && ! -e "$dir/config.json" ]] || fail "the directory is not the withdrawn one's: $(ls -a "$dir" 2>&1)"
rc=0; wait "$cli" || rc=$?
expect_eq "the run's status" "$rc" 125
wait_empty 10 supervisors || fail "supervisors left: $(supervisors)"
expect_eq "listed as" "$(sb_info "$sb" 'j["state"]')" broken

log "== once the file can go, rm removes the rest"
chattr -i "$pin"
pin=
capture islet rm "$sb"
[[ $RC == 0 ]] || fail "rm of the broken sandbox: status $RC: $ERR"
[[ ! -e "$dir" ]] || fail "rm left $dir: $(ls -a "$dir")"
expect_eq "sandboxes listed" "$(islet ls --json | "$IT_PY" -c 'import json, sys; print(len(json.load(sys.stdin)["sandboxes"]))')" 0
pass "rm -f of a one-shot sandbox whose own removal failed reports it, and rm finishes it"
