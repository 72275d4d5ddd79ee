#!/usr/bin/env bash
# Where the ready exec handler waits.  On v1 it enters the sandbox's group
# io (memory's: the sandbox's own) in every hierarchy but pids as soon as
# it has forked its command's process, so that no cgroup move is left
# between a request and its answer; in pids it stays out of the sandbox,
# which it takes none of while idle.  On v2 it waits outside the sandbox
# and enters io whole once its command has started.
source "$(dirname "$0")/../lib/integration.sh"
it_init

id=$(create_sb --pids 16)
remember_id "$id"
sup=$(sb_info "$id" 'j["supervisor"]')
# the supervisor keeps a handler ready from a sandbox's second exec on
for i in 1 2; do
  out=$(islet exec "$id" -- true </dev/null 2>&1) || fail "exec $i: $out"
done

ready=
find_ready () {
  ready=$(ps --ppid "$sup" -o pid=,comm= | awk '$2 == "islet-exec" { print $1 }' | head -1)
  [[ -n $ready ]]
}
wait_until 10 find_ready || fail "no ready exec handler below supervisor $sup"
log "ready handler $ready: $(tr '\n' ' ' </proc/"$ready"/cgroup)"

if [[ $(cg_version) == 1 ]]; then
  for h in cpu freezer; do
    grep -Eq "^[0-9]+:([a-z_]+,)*$h(,[a-z_]+)*:/islet/$id/io\$" /proc/"$ready"/cgroup \
      || fail "the ready handler is not in io's $h group: $(grep ":$h" /proc/"$ready"/cgroup)"
  done
  grep -Eq "^[0-9]+:memory:/islet/$id\$" /proc/"$ready"/cgroup \
    || fail "the ready handler is not in the sandbox's memory group: $(grep memory /proc/"$ready"/cgroup)"
  grep -Eq "^[0-9]+:pids:/islet/$id(/|\$)" /proc/"$ready"/cgroup \
    && fail "the ready handler counts in the sandbox's pids: $(grep pids /proc/"$ready"/cgroup)"
  pids=$(cg_dir "$id" pids)
  # the init and the ready handler's waiting command
  expect_range "pids.current of the idle sandbox" "$(cat "$pids/pids.current")" 1 2
else
  grep -q "^0::/islet/$id\(/\|\$\)" /proc/"$ready"/cgroup \
    && fail "the ready handler waits in the sandbox's group: $(cat /proc/"$ready"/cgroup)"
fi

# and it serves: the next exec, its output, its stats
xjson "$id" -- sh -c 'echo hi' </dev/null
expect_eq "second exec: stdout" "$(jget "$OUT" 'j["stdout"]')" hi
pass
