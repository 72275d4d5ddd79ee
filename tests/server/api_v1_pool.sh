#!/usr/bin/env bash
# isletd --v1-pool N: /v1/execute runs in sandboxes made ahead and answers
# before its sandbox is destroyed.  A pooled sandbox serves one request:
# no run sees another's files or processes; every run's sandbox is gone
# soon after its answer; the pool refills; a run with other limits makes
# its own.  The key's quota is asked before a pooled sandbox is given (a
# refusal leaves the pool as it was) and counts a run's sandbox until it is
# destroyed, yet a key whose quota is one sandbox runs one request after
# another.  isletd's stop destroys the pool; a kill leaves it to the next
# start's sweep.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_v1_pool.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

SRV_ARGS=(--v1-pool 2)
srv_init

J=(-H 'Content-Type: application/json')
j () { printf '%s' "$BODY" | jq -r "$1"; }

# gauge NAME: isletd_v1_NAME from GET /metrics
gauge () {
  curl -s --max-time 10 -H "Authorization: Bearer $SRV_KEY" "$SRV_URL/metrics" |
    awk -v n="isletd_v1_$1" '$1 == n { print $2 }'
}
no_destroys_pending () { [[ "$(gauge destroys_pending)" == 0 ]]; }
pool_full () { [[ "$(gauge pool_ready)" == 2 && "$(gauge destroys_pending)" == 0 ]]; }
# the sandboxes of the state directory that are no pool's: islet ls, less
# isletd's own (isletd-own-*), which are the pool's here
listed () { islet ls --json </dev/null | jq -r '.sandboxes[] | select(.name | startswith("isletd-own-") | not) | .id'; }

log "the pool fills"
wait_until 60 pool_full || fail "the pool has $(gauge pool_ready) of 2 ready after 60 s"
expect_eq "pooled sandboxes in islet ls" "$(islet ls --json </dev/null | jq '[.sandboxes[] | select(.name | startswith("isletd-own-"))] | length')" 2

log "one request per sandbox: files and processes of a run never seen by the next"
code='import os, subprocess
seen = [p for p in ("/workspace/left.txt", "/tmp/left.txt") if os.path.exists(p)]
procs = subprocess.run(["sh", "-c", "ps -eo args | grep -c [s]leep-left || true"], capture_output=True, text=True).stdout.strip()
open("/workspace/left.txt", "w").write("x")
open("/tmp/left.txt", "w").write("x")
subprocess.Popen(["sh", "-c", "exec -a sleep-left sleep 300"], start_new_session=True)
print("seen", seen, "procs", procs)'
ids=()
taken0=$(gauge pool_taken_total)
for i in 1 2 3 4 5; do
  api POST /v1/execute "${J[@]}" -d "$(jq -n --arg c "$code" '{code: $c}')"
  expect_code "run $i" 200
  expect_eq "run $i sees nothing of the runs before" "$(j .stdout)" "seen [] procs 0"
  ids+=("$(j .metadata.sandbox_id)")
  [[ "${ids[-1]}" =~ ^[0-9a-f]{12}$ ]] || fail "run $i: no sandbox id: $BODY"
  # the next run takes a pooled sandbox again (not one made for it)
  wait_until 60 pool_full || fail "run $i: the pool did not refill within 60 s"
done
expect_eq "five runs, five sandboxes" "$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)" 5
expect_eq "every run took a pooled sandbox" "$(( $(gauge pool_taken_total) - taken0 ))" 5
for id in "${ids[@]}"; do
  wait_until 20 test ! -d "$STATE/sandboxes/$id" || fail "sandbox $id of an answered run is still there after 20 s"
  [[ -z "$(procs_in_cg "$id")" ]] || fail "processes of the answered run $id still run: $(procs_in_cg "$id")"
done
[[ -z "$(pgrep -f sleep-left)" ]] || fail "a run's background process outlived its sandbox"

log "semantics of a run in a pooled sandbox: stdin, files, exit code, cwd, the answer's fields"
api POST /v1/execute "${J[@]}" -d '{
  "code": "import sys, os\nprint(open(\"data.txt\").read().strip(), sys.stdin.read().strip())\nprint(os.getcwd(), sys.argv[0], file=sys.stderr)\nsys.exit(3)",
  "stdin": "from-stdin", "files": {"data.txt": "from-a-file"}}'
expect_code "execute python" 200
expect_eq "stdout" "$(j .stdout)" "from-a-file from-stdin"
expect_eq "stderr" "$(j .stderr)" "/workspace /tmp/.islet-v1/main.py"
expect_eq "exit code" "$(j .exit_code)" 3
expect_body "execution time, memory" '.execution_time > 0 and .execution_time < 30 and .resource_usage.memory_usage_mb > 0'
api POST /v1/execute "${J[@]}" -d '{"code": "print(\"x\" * 2000000)"}'
expect_code "output over the limit" 200
expect_eq "the cut is said" "$(j .truncated)" true
api POST /v1/execute "${J[@]}" -d '{"code": "import time\ntime.sleep(30)", "timeout": 1}'
expect_eq "a timeout" "$(j .status)" timeout

log "a pooled run answers as a plain run does (the same program in a sandbox made for it)"
# memory_limit_mb 1000 is not the pool's 1024: that run is a plain one
progs=(
  'print(1)'
  $'def f():\n    return 1 / 0\nf()'
  'print('
  $'import sys\nsys.exit(3)'
  $'import sys\nsys.exit("a message")'
  $'import os\nos._exit(4)'
  $'import sys, os\nprint(sys.argv, __file__, __name__, sys.path[0], os.getcwd(), __doc__, __spec__, __package__, __cached__, type(__loader__).__name__)\nprint(sorted(k for k in globals() if not k.startswith("__")), sorted(k for k in globals()))'
  $'"""the doc"""\nprint(__doc__)'
  $'import sys\nprint(repr(sys.stdin.read()))'
  $'import os\nprint(repr(os.read(0, 100)))'
  $'import threading, time\nt = threading.Thread(target=lambda: (time.sleep(0.2), print("thread")))\nt.start()\nprint("main")'
  $'import atexit\natexit.register(lambda: print("bye"))\nprint("hi")'
  $'try:\n    1 / 0\nexcept Exception as e:\n    raise ValueError("x") from e'
  $'try:\n    1 / 0\nexcept Exception:\n    raise ValueError("y")'
  'raise KeyboardInterrupt'
  $'import pickle\nclass A:\n    pass\nprint(type(pickle.loads(pickle.dumps(A()))).__name__)'
  $'import inspect\ndef g():\n    return 2\nprint(inspect.getsource(g))'
  $'import warnings\nwarnings.warn("w")'
  $'import sys\nsys.stdout.buffer.write(b"\\xff\\n")'
  "print('é', len('é'))"
  'import sys; print(sys.flags.isolated, sys.flags.no_site, sys.flags.unbuffered if hasattr(sys.flags, "unbuffered") else "")'
  $'import sys\nsys.excepthook = lambda t, v, tb: print("hooked", t.__name__)\nraise OSError("z")'
  'print("x" * 2000000)'
  $'import sys\nsys.stderr.write("y" * 2000000)'
  'import __main__, sys; print(__main__ is sys.modules["__main__"], __main__.__dict__ is globals())'
  $'x = bytearray(1500 << 20)\nprint(len(x))'
)
for p in "${progs[@]}"; do
  body=$(jq -n --arg c "$p" '{code: $c, stdin: "in\nput"}')
  api POST /v1/execute "${J[@]}" -d "$body"
  expect_code "pooled: $p" 200
  pooled=$(j '[.exit_code, .stdout, .stderr, .status, .truncated]')
  api POST /v1/execute "${J[@]}" -d "$(jq '.config = {memory_limit_mb: 1000}' <<<"$body")"
  expect_code "plain: $p" 200
  plain=$(j '[.exit_code, .stdout, .stderr, .status, .truncated]')
  [[ "$pooled" == "$plain" ]] || fail "a pooled run of: $p
answered: ${pooled:0:1500}
a plain run: ${plain:0:1500}"
  wait_until 60 pool_full || fail "the pool did not refill"
done
api POST /v1/execute "${J[@]}" -d '{"code": "import time\ntime.sleep(0.3)\nprint(1)"}'
expect_body "the wall time is the program's, not the wait in the pool" '.execution_time >= 0.3 and .execution_time < 5'

log "other limits: a sandbox made for the run, not a pooled one"
wait_until 60 pool_full || fail "the pool did not refill"
taken0=$(gauge pool_taken_total)
api POST /v1/execute "${J[@]}" -d '{"code": "print(6 * 7)", "config": {"memory_limit_mb": 256}}'
expect_code "a run with 256 MiB" 200
expect_eq "its answer" "$(j .stdout)" 42
expect_eq "it did not take from the pool" "$(gauge pool_taken_total)" "$taken0"

log "quota: asked before a pooled sandbox is given, counting a run's sandbox until it is gone"
wait_until 60 pool_full || fail "the pool did not refill"
small=$(isletd_cmd key create --name small --max-memory 512 2>/dev/null) || fail "key create"
api -k "$small" POST /v1/execute "${J[@]}" -d '{"code": "print(1)"}'
expect_error "1024 MiB over a quota of 512" 429
expect_eq "the refused run left the pool full" "$(gauge pool_ready)" 2
expect_eq "and took nothing from it" "$(gauge pool_taken_total)" "$taken0"
one=$(isletd_cmd key create --name one --max-sandboxes 1 2>/dev/null) || fail "key create"
for i in 1 2 3 4 5 6; do
  api -k "$one" POST /v1/execute "${J[@]}" -d '{"code": "print(6 * 7)"}'
  expect_code "a key with a quota of one sandbox, run $i in a row" 200
  expect_eq "its answer" "$(j .stdout)" 42
done
# a flood from one key: never more of its sandboxes at once than its quota
api -k "$one" POST /v1/sandbox "${J[@]}" -d '{"language": "python"}'
expect_code "the key's one kept sandbox" 200
kept=$(j .sandbox_id)
wait_until 20 no_destroys_pending || fail "destroys still pending"
api -k "$one" POST /v1/execute "${J[@]}" -d '{"code": "print(1)"}'
expect_error "a run while the key's one sandbox is kept" 429
api -k "$one" DELETE "/v1/sandbox/$kept"
expect_code "delete it" 200

log "stop: the pool's sandboxes destroyed; nothing of the runs left"
wait_until 60 pool_full || fail "the pool did not refill"
pids=()
for id in $(islet ls --json </dev/null | jq -r '.sandboxes[] | select(.name | startswith("isletd-own-")) | .id'); do
  for p in $(procs_in_cg "$id"); do
    if [[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" == *_islet_boot* ]]; then pids+=("$p"); fi
  done
done
pids="${pids[*]}"
[[ -n "$pids" ]] || fail "no pooled python is waiting"
kill -TERM "$SRV_PID"
# each pooled python is ended before its sandbox goes (a stop that killed
# it under its exec's handler left it frozen, and isletd 20 s a sandbox)
wait_until 10 dead "$SRV_PID" || fail "isletd took over 10 s to stop"
wait "$SRV_PID" || fail "isletd's stop: exit status $?"
SRV_PID=
for p in $pids; do
  dead "$p" || fail "a pooled python ($p) outlived isletd's stop: $(grep freezer "/proc/$p/cgroup" 2>/dev/null)"
done
capture islet ls --json
expect_eq "islet ls after isletd's stop" "$(jq '.sandboxes | length' <<<"$OUT")" 0

log "a kill: the next start's sweep takes the pool's sandboxes back"
srv_start
wait_until 60 pool_full || fail "the pool did not fill after a restart"
kill -KILL "$SRV_PID"
wait "$SRV_PID" 2>/dev/null || true
SRV_PID=
SRV_ARGS=()
srv_start
none_listed () { [[ -z "$(islet ls --json </dev/null | jq -r '.sandboxes[].id')" ]]; }
wait_until 20 none_listed \
  || fail "sandboxes left after a kill and a start without a pool: $(islet ls)"
[[ -z "$(listed)" ]] || fail "sandboxes left: $(listed)"
pass
