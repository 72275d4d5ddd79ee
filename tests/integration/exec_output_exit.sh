#!/usr/bin/env bash
# An exec's output is whole when the command writes it just before it exits.
# The exec's handler reaps the command on SIGCHLD and then takes what is
# left in the pipes: a line lost there is output cut with the exit status
# right, which no caller can notice (python/client's policy test once got
# only the first line of a traceback under load).  Four kinds of command,
# four at a time into one sandbox, for a bounded number of rounds while
# two CPU burners keep both CPUs busy: a shell writing lines to both
# streams to its last instruction, a child of the command writing its last
# lines (waited for, so they are the command's output), python's
# traceback at exit, and one large write to each stream just before an
# _exit (in the pipes, unread, when the command is reaped).  Every line of every stream must arrive, in order.
source "$(dirname "$0")/../lib/integration.sh"
it_init

ROUNDS=${EXEC_OUTPUT_ROUNDS:-12}
id=$(create_sb)
remember_id "$id"

burners=()
stop_burners () {
  local p
  for p in "${burners[@]}"; do kill "$p" 2>/dev/null; done
  burners=()
}
trap 'stop_burners; it_cleanup' EXIT
for _ in 1 2; do
  timeout 120 sh -c 'while :; do :; done' &
  burners+=($!)
done

LINES_SH='i=0; while [ $i -lt 400 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; echo out-last; echo err-last >&2'
CHILD_SH='sh -c "seq 1 300; seq 1 300 >&2; echo out-last; echo err-last >&2"; exit 3'
PY='import sys
for i in range(500):
    print("out %d" % i)
def f():
    raise ValueError("the end")
f()'

# one write of 60,000 bytes and a last line to each stream, then _exit: all
# of it is in the pipes, unread, when the command is gone
BURST='import os
os.write(2, b"e" * 60000 + b"\nerr-last\n")
os.write(1, b"o" * 60000 + b"\nout-last\n")
os._exit(0)'

# run KIND: one exec, its streams and status in $STATE.KIND.N.{out,err,rc}
run () {
  local kind=$1 n=$2 base="$STATE.$1.$2" rc=0
  case $kind in
    lines) islet exec "$id" -- sh -c "$LINES_SH" >"$base.out" 2>"$base.err" </dev/null || rc=$? ;;
    child) islet exec "$id" -- sh -c "$CHILD_SH" >"$base.out" 2>"$base.err" </dev/null || rc=$? ;;
    py) islet exec "$id" -- python3 -I -c "$PY" >"$base.out" 2>"$base.err" </dev/null || rc=$? ;;
    burst) islet exec "$id" -- python3 -I -c "$BURST" >"$base.out" 2>"$base.err" </dev/null || rc=$? ;;
  esac
  echo "$rc" >"$base.rc"
}

# check KIND N OUT-LINES ERR-LINES RC OUT-LAST ERR-LAST
check () {
  local base="$STATE.$1.$2"
  local rc ol el ot et
  rc=$(cat "$base.rc") ol=$(wc -l <"$base.out") el=$(wc -l <"$base.err")
  ot=$(tail -n 1 "$base.out") et=$(tail -n 1 "$base.err")
  [[ $rc == "$5" && $ol == "$3" && $el == "$4" && $ot == "$6" && $et == "$7" ]] \
    || fail "round $2, $1: status $rc (want $5), stdout $ol lines ending '$ot' (want $3, '$6'), stderr $el lines ending '$et' (want $4, '$7'); stderr begins: $(head -c 200 "$base.err")"
}

for ((n = 1; n <= ROUNDS; n++)); do
  run lines "$n" &
  a=$!
  run child "$n" &
  b=$!
  run py "$n" &
  c=$!
  run burst "$n" &
  d=$!
  wait "$a" "$b" "$c" "$d"
  check lines "$n" 401 401 0 out-last err-last
  check child "$n" 301 301 3 out-last err-last
  check py "$n" 500 4 1 "out 499" "ValueError: the end"
  check burst "$n" 2 2 0 out-last err-last
  rm -f "$STATE".lines.* "$STATE".child.* "$STATE".py.* "$STATE".burst.*
done
log "$ROUNDS rounds of 4 execs at once under 2 CPU burners: every line arrived"
stop_burners
pass
