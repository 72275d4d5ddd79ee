#!/usr/bin/env bash
# Leaks: create and destroy 200 sandboxes one after the other (each runs a
# couple of execs), then 20 more created by 4 concurrent workers, and compare
# the host before and after: mounts, cgroup directories, files of the state
# directory, volumes in the pool, loop devices, processes.  Nothing of a
# removed sandbox may remain.  Timings are printed; the whole test is bounded
# (8 minutes for the sequential part).
source "$(dirname "$0")/../lib/integration.sh"
it_init

ROUNDS=${IT_LEAK_ROUNDS:-200}
WORKERS=4
PER_WORKER=5
DEADLINE_S=480

ms_now () { echo $(( $(date +%s%N) / 1000000 )); }

# snapshot FILE: what the host holds that a sandbox of this state directory
# could leave behind, one "kind what" line each, sorted.
snapshot () {
  {
    my_mounts | sed 's/^/mount /'
    for d in /sys/fs/cgroup/*/islet /sys/fs/cgroup/islet; do
      [[ -d "$d" ]] || continue
      # other tests' cgroups may go while find walks: not an error here
      { find "$d" -mindepth 1 -maxdepth 2 -type d 2>/dev/null || true; } | sed 's/^/cgroup /'
    done
    # the pool's own contents are btrfs's business; its top level is ours
    find "$STATE" -path "$STATE/pool" -prune -o -print | sed 's/^/file /'
    ls -A "$STATE/pool" 2>/dev/null | sed 's/^/volume /'
    losetup -j "$STATE/pool.img" 2>/dev/null | cut -d: -f1 | sed 's/^/loop /'
    supervisors | sed 's/^/supervisor /'
    # processes with a sandbox uid: ours, or in no sandbox's cgroup at all
    # processes that exit while awk reads /proc are no error either
    { awk '/^State:/ { st = $2 } /^Uid:/ { split(FILENAME, f, "/"); if (st != "Z" && $2 >= '"$IT_UID_FIRST"') print f[3]; nextfile }' \
      /proc/[0-9]*/status 2>/dev/null || true; } | while read -r p; do
      # one that is gone by now (other tests' sandboxes come and go) is none
      cg=$(cat "/proc/$p/cgroup" 2>/dev/null) || continue
      echo "sandbox-process $p $(grep -o '/islet/[0-9a-f]*' <<<"$cg" | head -1)"
    done
  } | sort >"$1"
}

# compare WHAT BEFORE AFTER: fail on what AFTER has more, except what plainly
# belongs to sandboxes of other tests (cgroups and processes of ids that this
# test never made).
compare () {
  local what=$1 before=$2 after=$3 extra line id leaks=()
  extra=$(comm -13 "$before" "$after")
  while IFS= read -r line; do
    [[ -n "$line" ]] || continue
    case "$line" in
      cgroup* | sandbox-process*)
        id=$(grep -o 'islet/[0-9a-f]\{12\}' <<<"$line" | head -1 | cut -d/ -f2) || true
        if [[ -n "$id" ]] && ! grep -qx "$id" "$STATE.ids"; then
          continue # another test's sandbox
        fi
        ;;
    esac
    leaks+=("$line")
  done <<<"$extra"
  if (( ${#leaks[@]} )); then
    printf '  leaked: %s\n' "${leaks[@]:0:40}" >&2
    fail "$what: ${#leaks[@]} things left behind (first ones above)"
  fi
  log "$what: nothing left behind ($(wc -l <"$after") entries compared)"
}

# qgroups of the pool: btrfs may keep the qgroup of a deleted subvolume.
qgroup_count () {
  command -v btrfs >/dev/null || { echo 0; return; }
  btrfs qgroup show --raw "$STATE/pool" 2>/dev/null | grep -c '^0/' || true
}

# Warm up: the pool and the image are made once per state directory.
warm=$(create_sb)
remember_id "$warm"
islet rm -f "$warm" </dev/null >/dev/null || fail "rm -f of the warm-up sandbox failed"

snapshot "$STATE.before"
qg_before=$(qgroup_count)
loops_before=$(losetup -a | wc -l)
log "baseline: $(wc -l <"$STATE.before") entries, $qg_before qgroups, $loops_before loop devices on the host"

log "$ROUNDS sandboxes, one after the other: create, exec true twice, rm -f"
t_create=0 t_exec=0 t_rm=0
t_start=$(ms_now)
for (( i = 1; i <= ROUNDS; i++ )); do
  (( $(ms_now) - t_start < DEADLINE_S * 1000 )) \
    || fail "only $((i - 1)) of $ROUNDS rounds within $DEADLINE_S s"
  t0=$(ms_now)
  id=$(islet create </dev/null) || fail "round $i: create failed"
  echo "$id" >>"$STATE.ids"
  t1=$(ms_now)
  xjson "$id" -- true
  expect_eq "round $i: exec true" "$(jget "$OUT" 'j["exit_code"]')" 0
  islet exec "$id" -- true </dev/null || fail "round $i: plain exec true failed"
  t2=$(ms_now)
  islet rm -f "$id" </dev/null >/dev/null || fail "round $i: rm -f failed"
  t3=$(ms_now)
  t_create=$((t_create + t1 - t0)) t_exec=$((t_exec + t2 - t1)) t_rm=$((t_rm + t3 - t2))
  (( i % 50 )) || log "  $i rounds, $(( $(ms_now) - t_start )) ms"
done
total=$(( $(ms_now) - t_start ))
log "$ROUNDS rounds in $total ms: create $((t_create / ROUNDS)) ms, 2 execs $((t_exec / ROUNDS)) ms, rm -f $((t_rm / ROUNDS)) ms on average"

snapshot "$STATE.after"
compare "after $ROUNDS sequential sandboxes" "$STATE.before" "$STATE.after"
# btrfs drops a deleted subvolume, and then its qgroup, in the background
qgroups_settled () { (( $(qgroup_count) <= qg_before + 1 )); }
t0=$(ms_now)
timeout 60 btrfs subvolume sync "$STATE/pool" >/dev/null 2>&1 || true
wait_until 60 qgroups_settled \
  || fail "the pool keeps $(( $(qgroup_count) - qg_before )) qgroups of removed sandboxes after 60 s"
log "qgroups: $qg_before before, $(qgroup_count) after $(( $(ms_now) - t0 )) ms of btrfs clean-up"

log "$((WORKERS * PER_WORKER)) sandboxes created by $WORKERS concurrent workers"
t_start=$(ms_now)
for (( w = 1; w <= WORKERS; w++ )); do
  (
    for (( k = 1; k <= PER_WORKER; k++ )); do
      id=$("$ISLET_BIN" --state-dir "$STATE" create </dev/null) || { echo "create-failed" >>"$STATE.par"; continue; }
      echo "$id" >>"$STATE.par"
    done
  ) &
done
for (( w = 1; w <= WORKERS; w++ )); do wait -n || true; done
wait
log "concurrent creates took $(( $(ms_now) - t_start )) ms"
cat "$STATE.par" >>"$STATE.ids"
! grep -q create-failed "$STATE.par" || fail "$(grep -c create-failed "$STATE.par") concurrent creates failed"
expect_eq "sandboxes made concurrently" "$(sort -u "$STATE.par" | wc -l)" $((WORKERS * PER_WORKER))
expect_eq "islet ls after the concurrent creates" "$(jget "$(islet ls --json </dev/null)" 'len(j["sandboxes"])')" $((WORKERS * PER_WORKER))
expect_eq "distinct uid ranges" \
  "$(jget "$(islet ls --json </dev/null)" 'len(set(s["uid_base"] for s in j["sandboxes"]))')" $((WORKERS * PER_WORKER))
for id in $(cat "$STATE.par"); do
  xjson "$id" -- true
  expect_eq "exec in concurrent sandbox $id" "$(jget "$OUT" 'j["exit_code"]')" 0
done

t_start=$(ms_now)
xargs -P "$WORKERS" -n 1 "$ISLET_BIN" --state-dir "$STATE" rm -f <"$STATE.par" >/dev/null \
  || fail "a concurrent rm -f failed"
log "concurrent removals took $(( $(ms_now) - t_start )) ms"
expect_eq "islet ls after the concurrent removals" "$(jget "$(islet ls --json </dev/null)" 'len(j["sandboxes"])')" 0

snapshot "$STATE.after2"
compare "after the concurrent sandboxes" "$STATE.before" "$STATE.after2"
log "loop devices on the host: $loops_before before, $(losetup -a | wc -l) after (other tests may add their own)"

pass
