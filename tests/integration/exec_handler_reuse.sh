#!/usr/bin/env bash
# A ready exec handler serves several execs in turn (v1): after a clean
# exec it makes a new command's process in the group it kept and waits
# again, so that back-to-back execs are served by a few handlers, not one
# forked per exec.  What must hold: nothing of one exec is seen by the next
# (its fds, environment, working directory, umask, ignored or blocked
# signals, rlimits, stdin, memory peak), the command's oom_score_adj is the
# one a fresh handler gives (not the handler's -1000, nor lowerable to it),
# and a handler killed from the host is replaced.
source "$(dirname "$0")/../lib/integration.sh"
it_init

[[ $(cg_version) == 1 ]] || skip "a handler serves again only where an exec's group is kept (v1)"

id=$(create_sb --memory 256)
remember_id "$id"
sup=$(sb_info "$id" 'j["supervisor"]')

# what an exec sees of its own state, one line each
PROBE='echo "fds $(ls /proc/self/fd | tr "\n" " ")"
echo "cwd $(pwd)"
echo "umask $(umask)"
echo "env ${LEAK:-unset}"
grep -E "^Sig(Ign|Blk):" /proc/self/status | tr -s "\t " " "
echo "nofile $(ulimit -n)"
echo "stdin $(head -c 64 | od -An -c | tr -d " \n")"
echo "oom $(cat /proc/self/oom_score_adj)"
if (echo -1000 >/proc/self/oom_score_adj) 2>/dev/null; then echo "oom lowered"; fi'

# an exec that leaves its own state as different as it can, and grows
DIRTY='cd /tmp; umask 077; trap "" INT TERM USR1 HUP; ulimit -n 64
exec 7>/tmp/dirty 8</dev/null 9<&0
python3 -c "x = bytearray(64 << 20); x[::4096] = b\"a\" * (len(x) // 4096)"'

probe () {
  xjson "$id" -- sh -c "$PROBE" </dev/null
  expect_eq "exit of the probe" "$(jget "$OUT" 'j["exit_code"]')" 0
  seen=$(jget "$OUT" 'j["stdout"]')
  peak=$(jget "$OUT" 'j["memory_peak_bytes"]')
}

# the handlers below the supervisor, now and in all
declare -A handlers=()
note_handlers () {
  local p
  for p in $(ps --ppid "$sup" -o pid=,comm= | awk '$2 == "islet-exec" { print $1 }'); do
    handlers[$p]=1
  done
}

# the first exec of the sandbox is served by a handler forked for it: what
# any exec must see
probe
base=$seen
log "a fresh exec sees: $(tr '\n' ';' <<<"$base")"
[[ $base == *"oom lowered"* ]] && fail "an exec lowered its oom_score_adj to -1000"
[[ $base == *"oom -1000"* ]] && fail "an exec runs spared by the OOM killer"

rounds=10
for ((i = 1; i <= rounds; i++)); do
  capture islet exec "$id" --json -e LEAK=yes --cwd /tmp -- sh -c "$DIRTY" <<<"secret-$i"
  expect_eq "exit of dirty exec $i" "$(jget "$OUT" 'j["exit_code"]')" 0
  note_handlers
  probe
  note_handlers
  [[ $seen == "$base" ]] || fail "the exec after dirty exec $i sees:
$seen
where a fresh one sees:
$base"
  expect_range "memory peak of the probe after dirty exec $i" "$peak" 1 $((16 << 20))
done

n=${#handlers[@]}
log "$((2 * rounds)) execs, $n handlers seen: ${!handlers[*]}"
# one forked per exec would be about 2 * rounds; a handler that serves again
# leaves the supervisor's two ready ones and a spare
expect_range "handlers seen over $((2 * rounds)) execs" "$n" 1 4

log "ready handlers killed from the host are replaced"
for p in $(ps --ppid "$sup" -o pid=,comm= | awk '$2 == "islet-exec" { print $1 }'); do
  kill -9 "$p"
done
for i in 1 2 3 4; do
  probe
  [[ $seen == "$base" ]] || fail "exec $i after the handlers were killed sees: $seen"
done
pass
