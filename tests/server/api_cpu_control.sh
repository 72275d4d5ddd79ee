#!/usr/bin/env bash
# isletd's control path (isletd, the supervisor forker, the supervisors)
# runs in the CPU group islet-control, at ten times the default weight, and
# no process of any sandbox is in it or gets its weight once it runs: the
# init (which builds the root there, and leaves before its create is
# answered), an exec's command, a process it leaves running and the file
# agent are each in their sandbox's own group, at nice 0 and the normal
# policy.  A sandbox that
# tries to raise its priority (renice, a real-time policy, the cgroup
# files, joining islet-control) gets nothing, which the host then checks.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_cpu_control.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

J=(-H 'Content-Type: application/json')
if [[ $(cg_version) == 2 ]]; then
  CTL=/sys/fs/cgroup/islet-control WFILE=cpu.weight WANT=1000
else
  CTL=/sys/fs/cgroup/cpu/islet-control WFILE=cpu.shares WANT=10240
fi

# cpu_cg PID: the process's group in the cpu hierarchy.
cpu_cg () {
  awk -F: -v v2="$(cg_version)" '(v2 == 2 && $1 == "0") || (v2 != 2 && $2 ~ /(^|,)cpu(,|$)/) { print $3 }' \
    "/proc/$1/cgroup" 2>/dev/null
}
host_pidns=$(readlink /proc/self/ns/pid)
left_control () { ! alive "$1" || [[ "$(cpu_cg "$1")" != /islet-control ]]; }

# Every process in islet-control is a host process (no sandbox's pid
# namespace), and every process of sandbox $1 is in its own cpu group, at
# nice 0 and SCHED_OTHER (or batch/idle), never islet-control.
check_sandbox () {
  local id=$1 what=$2 p n=0 cg stat
  for p in $(cat "$CTL/cgroup.procs"); do
    alive "$p" || continue
    # an init (of any state directory's sandbox) is there until its ids
    # are mapped, while it builds its root: it must leave within seconds
    [[ "$(readlink "/proc/$p/ns/pid")" == "$host_pidns" ]] || wait_until 10 left_control "$p" \
      || fail "$what: pid $p ($(cat "/proc/$p/comm")) in islet-control is in a sandbox's pid namespace"
  done
  for p in $(procs_in_cg "$id"); do
    cg=$(cpu_cg "$p") || continue
    [[ -n "$cg" ]] || continue
    [[ "$cg" == /islet/"$id"* ]] \
      || fail "$what: pid $p ($(cat "/proc/$p/comm")) of sandbox $id is in cpu group '$cg'"
    stat=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    # after the comm: field 19 (nice) is the 17th, 41 (policy) the 39th
    read -r -a f <<<"$stat"
    [[ "${f[16]}" == 0 ]] || fail "$what: pid $p of sandbox $id has nice ${f[16]}"
    [[ "${f[38]}" == 0 || "${f[38]}" == 3 || "${f[38]}" == 5 ]] \
      || fail "$what: pid $p of sandbox $id has scheduling policy ${f[38]}"
    n=$((n + 1))
  done
  (( n >= $3 )) || fail "$what: $n processes of sandbox $id found, want at least $3"
  log "$what: $n processes of $id in its own cpu group, nice 0; islet-control holds host processes only"
}

log "isletd and its supervisor forker are in islet-control, at ten times the default weight"
[[ -d "$CTL" ]] || fail "no $CTL"
expect_eq "islet-control's $WFILE" "$(cat "$CTL/$WFILE")" "$WANT"
expect_eq "isletd's cpu group" "$(cpu_cg "$SRV_PID")" /islet-control
forker=$(pgrep -f "^islet-run --fork-supervisors $STATE\$") || fail "no supervisor forker"
expect_eq "the forker's cpu group" "$(cpu_cg "$forker")" /islet-control

log "a sandbox: its supervisor in islet-control, its processes in its own group"
api POST /api/sandbox "${J[@]}" -d '{}'
expect_code "create" 200
ID=$(jq -r .id <<<"$BODY")
remember_id "$ID"
T=/toolbox/$ID
for p in $(supervisors); do
  [[ "$(cat "/proc/$p/cmdline" | tr '\0' ' ')" == *" $ID "* ]] || continue
  expect_eq "supervisor $p's cpu group" "$(cpu_cg "$p")" /islet-control
done
# a process left running, an exec in flight and the file agent
sh_in 'setsid -f sleep 120 </dev/null >/dev/null 2>&1; echo ok'
expect_eq "the background sleep started" "$OUT" ok
api POST "$T/process/execute" "${J[@]}" -d '{"command":"sleep 3"}' &
execpid=$!
api GET "$T/files/info?path=%2Fetc%2Fhostname"
expect_code "a file request (the agent)" 200
sleep 1
check_sandbox "$ID" "at rest" 3
wait "$execpid"

log "the sandbox tries to raise its priority: renice, real time, cgroup files, islet-control"
base_w=$(cat "$(cg_dir "$ID" cpu)/$WFILE")
ATTACK='r=""
command -v renice >/dev/null && command -v chrt >/dev/null || r="$r no-tools"
sh -c "renice -n 5 -p \$\$" >/dev/null 2>&1 || r="$r cannot-lower"
renice -n -10 -p $$ >/dev/null 2>&1 && r="$r renice"
chrt -f -p 1 $$ >/dev/null 2>&1 && r="$r fifo"
chrt -r -p 1 $$ >/dev/null 2>&1 && r="$r rr"
for f in /sys/fs/cgroup/cpu.shares /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/cpu/cpu.shares \
         /sys/fs/cgroup/cpu,cpuacct/cpu.shares /sys/fs/cgroup/init/cpu.weight; do
  [ -e "$f" ] && echo 262144 2>/dev/null >"$f" && r="$r $f"
done
for d in /sys/fs/cgroup/islet-control /sys/fs/cgroup/cpu/islet-control /sys/fs/cgroup/cpu/../islet-control; do
  [ -e "$d/cgroup.procs" ] && echo $$ 2>/dev/null >"$d/cgroup.procs" && r="$r $d"
done
setsid -f sh -c "renice -n -5 -p \$\$; sleep 120" </dev/null >/dev/null 2>&1
echo "got:$r"'
api POST "$T/process/execute" "${J[@]}" -d "$(jq -n --arg c "sh -c '$ATTACK'" '{command: $c}')"
expect_code "execute the attempts" 200
OUT=$(jq -r .result <<<"$BODY")
expect_eq "what the sandbox could raise" "$OUT" "got:"
expect_eq "the sandbox's $WFILE after the attempts" "$(cat "$(cg_dir "$ID" cpu)/$WFILE")" "$base_w"
expect_eq "islet-control's $WFILE after the attempts" "$(cat "$CTL/$WFILE")" "$WANT"
check_sandbox "$ID" "after the attempts" 3

api DELETE "/api/sandbox/$ID"
expect_code "delete" 200
pass
