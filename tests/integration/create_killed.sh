#!/usr/bin/env bash
# A create cut short: `islet create` killed (kill -9) at many points, from its
# first milliseconds to the sandbox running.  After the kills:
#   - `islet ls` succeeds and lists every sandbox directory there is, each one
#     running, stopped or broken (half-made: no config);
#   - `islet rm` (a broken one, or a stopped one) and `islet rm -f` remove them
#     all, and nothing is left: no directory, uid claim, name link, volume,
#     cgroup, mount beyond the pool's, supervisor;
#   - a second round of kills is cleaned by `islet system reset -f` alone,
#     which also leaves no pool mount and no loop device.
source "$(dirname "$0")/../lib/integration.sh"
it_init

KILLS=20       # creates killed per round
TIME_MAX_S=300 # for the whole test

# One create to make the pool and the image, one to time a whole create.
id=$(create_sb)
remember_id "$id"
t0=$(date +%s%N)
id2=$(create_sb)
create_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
remember_id "$id2"
islet rm -f "$id" "$id2" >/dev/null || fail "rm -f of a whole sandbox failed"
log "a create takes $create_ms ms"

# Waits of a few milliseconds without a fork: a read that times out on a
# pipe nobody writes.
mkfifo "$STATE.fifo"
exec 9<>"$STATE.fifo"

# kill_creates: KILLS creates, each killed after a delay that grows from 1 ms
# to a little past a whole create, denser at the start where most steps are.
kill_creates () {
  local i d p
  for (( i = 0; i < KILLS; i++ )); do
    (( SECONDS < TIME_MAX_S )) || fail "over $TIME_MAX_S s"
    d=$(( 1 + (create_ms + 20) * i * i / (KILLS * KILLS) ))
    "$ISLET_BIN" --state-dir "$STATE" create </dev/null >/dev/null 2>&1 &
    p=$!
    read -r -t "$(printf '0.%03d' "$d")" -u 9 || true
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  # a supervisor whose CLI was killed may still be starting: let it finish
  sleep 1
  for d in "$STATE"/sandboxes/*; do
    [[ -d "$d" ]] && remember_id "$(basename "$d")"
  done
  return 0
}

# check_listed: ls lists every directory, each in a known state; prints
# "id state" lines.
check_listed () {
  local json dirs listed
  json=$(islet ls --json) || fail "islet ls failed: $json"
  dirs=$(ls "$STATE/sandboxes" | sort | tr '\n' ' ')
  listed=$(jget "$json" '" ".join(sorted(s["id"] for s in j["sandboxes"]))')
  [[ "${listed% }" == "${dirs% }" ]] || fail "islet ls shows [$listed], the state dir holds [$dirs]"
  jget "$json" '"\n".join(s["id"] + " " + s["state"] for s in j["sandboxes"])' |
    while read -r sid st; do
      [[ "$st" =~ ^(running|stopped|broken)$ ]] || fail "sandbox $sid listed as '$st'"
      echo "$sid $st"
    done
}

# check_nothing_left LABEL: no trace of any sandbox in the state directory
# or on the host.
check_nothing_left () {
  local label=$1 left sid
  left=$(ls -A "$STATE/sandboxes" 2>/dev/null | tr '\n' ' ')
  [[ -z "$left" ]] || fail "$label: sandbox directories left: $left"
  left=$(ls -A "$STATE/uids" 2>/dev/null | tr '\n' ' ')
  [[ -z "$left" ]] || fail "$label: uid claims left: $left"
  left=$(ls -A "$STATE/names" 2>/dev/null | tr '\n' ' ')
  [[ -z "$left" ]] || fail "$label: name links left: $left"
  if mountpoint -q "$STATE/pool"; then
    left=$(btrfs subvolume list -o "$STATE/pool" 2>/dev/null | awk '{ print $NF }' | tr '\n' ' ')
    [[ -z "$left" ]] || fail "$label: subvolumes left in the pool: $left"
    left=$(ls -A "$STATE/pool" | tr '\n' ' ')
    [[ -z "$left" ]] || fail "$label: volumes left in the pool: $left"
  fi
  left=$(my_mounts | grep -vx "$STATE/pool" | tr '\n' ' ' || true)
  [[ -z "$left" ]] || fail "$label: mounts left: $left"
  wait_empty 5 supervisors || fail "$label: supervisors left: $(supervisors | tr '\n' ' ')"
  for sid in $(sort -u "$STATE.ids"); do
    left=$(cg_dirs "$sid" | tr '\n' ' ')
    [[ -z "$left" ]] || fail "$label: cgroups of $sid left: $left"
  done
}

log "round 1: $KILLS creates killed, then ls and rm"
kill_creates
listing=$(check_listed)
broken1=$(grep -c ' broken$' <<<"$listing" || true)
log "listed: $(wc -l <<<"$listing") sandboxes, $broken1 broken"
n=0
while read -r sid st; do
  [[ -n "$sid" ]] || continue
  n=$((n + 1))
  if [[ $st == running ]] || (( n % 2 == 0 )); then
    out=$(islet rm -f "$sid" 2>&1) || fail "rm -f of $st sandbox $sid failed: $out"
  else
    out=$(islet rm "$sid" 2>&1) || fail "rm of $st sandbox $sid failed: $out"
  fi
done <<<"$listing"
out=$(islet ls --json) || fail "islet ls after rm failed: $out"
expect_eq "sandboxes listed after rm" "$(jget "$out" 'len(j["sandboxes"])')" 0
check_nothing_left "after rm"

log "round 2: $KILLS creates killed, then system reset"
kill_creates
listing=$(check_listed)
broken2=$(grep -c ' broken$' <<<"$listing" || true)
log "listed: $(wc -l <<<"$listing") sandboxes, $broken2 broken"
out=$(islet system reset -f 2>&1) || fail "system reset failed: $out"
check_nothing_left "after system reset"
mountpoint -q "$STATE/pool" && fail "the pool is still mounted after system reset"
left=$(losetup -j "$STATE/pool.img" 2>/dev/null | wc -l)
(( left == 0 )) || fail "$left loop devices left on the pool image after system reset"

# the test means something only if some create was cut in the middle
(( broken1 + broken2 > 0 )) || fail "no kill left a half-made sandbox: the delays missed every step"
pass
