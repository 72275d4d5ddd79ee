#!/usr/bin/env bash
# A pause that comes while work is under way: a toolbox execute and a
# runCode in flight are frozen with the sandbox (no answer while it is
# paused, their processes still there) and finish with their output once
# it is started again; the interpreter context keeps its state.  A paused
# sandbox deleted with an execute in flight answers it with an error, and
# leaves no process and no cgroup behind.  Needs root.  Exit 0 pass, 1
# fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_pause_exec.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
WS_CLIENT="$(dirname "$0")/../lib/ws_client.py"

srv_init
api POST /api/sandbox -d '{"name":"pausex"}'; expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
T="/toolbox/$A"
WS="${SRV_URL/http:/ws:}$T/process/interpreter/execute"

# in the background: an execute and a runCode, each answer to a file
execute_bg () {
  curl -s -o "$1" -w '%{http_code}' --max-time 120 -X POST -H "Authorization: Bearer $SRV_KEY" \
    -H 'Content-Type: application/json' -d "$(jq -n --arg c "$2" '{command: $c}')" \
    "$SRV_URL$T/process/execute" >"$1.code" &
}
runcode_bg () {
  printf '%s' "$2" >"$1.msg"
  python3 "$WS_CLIENT" "$WS" "$SRV_KEY" -- "sendtext:@$1.msg" texts:120 >"$1" 2>&1 &
}
# stdout FILE: a runCode's stdout texts joined
stdout () { sed -n 's/^text=//p' "$1" | jq -j 'select(.type == "stdout") | .text'; }
paused () {
  api GET "/api/sandbox/$A"; [[ $(jq -r .state <<<"$BODY") == paused ]]
}

log "== an execute and a runCode in flight wait through a pause"
run_json='{"code":"import time\nkept = 41\ntime.sleep(1.5)\nprint(\"ran\", kept + 1)"}'
runcode_bg "$STATE.rc0" '{"code":"warm = 1"}'; wait $!  # the default context, before the pause
execute_bg "$STATE.ex" 'sh -c "sleep 1.55; echo executed"'
ex_pid=$!
runcode_bg "$STATE.rc" "$run_json"
rc_pid=$!
sleep 0.5
api POST "/api/sandbox/$A/pause"; expect_code "pause with work under way" 200
paused || fail "the sandbox is paused: $BODY"
sleep 3 # longer than either needs when it runs
alive "$ex_pid" || fail "the execute answered while paused: $(cat "$STATE.ex")"
alive "$rc_pid" || fail "the runCode answered while paused: $(cat "$STATE.rc")"
pgrep -f '^sleep 1.55$' >/dev/null || fail "the execute's process is gone during the pause"
api POST "/api/sandbox/$A/start"; expect_code "start after the pause" 200
for (( i = 0; i < 300; i++ )); do alive "$ex_pid" || alive "$rc_pid" || break; sleep 0.1; done
wait "$ex_pid"; wait "$rc_pid"
[[ $(cat "$STATE.ex.code") == 200 ]] || fail "the execute: status $(cat "$STATE.ex.code"): $(cat "$STATE.ex")"
jq -e '.exitCode == 0 and .result == "executed\n"' "$STATE.ex" >/dev/null \
  || fail "the execute's answer after the start: $(cat "$STATE.ex")"
[[ $(stdout "$STATE.rc") == "ran 42" ]] || fail "the runCode's output after the start: $(cat "$STATE.rc")"
grep -q '"completed"' "$STATE.rc" || fail "the runCode completed: $(cat "$STATE.rc")"
tail -n 1 "$STATE.rc" | grep -q '^close=1000' || fail "the runCode's close: $(tail -n 1 "$STATE.rc")"
runcode_bg "$STATE.rc2" '{"code":"print(kept, warm)"}'; wait $!
[[ $(stdout "$STATE.rc2") == "41 1" ]] || fail "the context kept its state through the pause: $(cat "$STATE.rc2")"

log "== a paused sandbox deleted with an execute in flight"
execute_bg "$STATE.ex2" 'sh -c "sleep 30; echo never"'
ex_pid=$!
sleep 0.5
api POST "/api/sandbox/$A/pause"; expect_code "pause again" 200
api DELETE "/api/sandbox/$A"; expect_code "delete the paused sandbox" 200
for (( i = 0; i < 300; i++ )); do alive "$ex_pid" || break; sleep 0.1; done
alive "$ex_pid" && fail "the execute still has no answer 30 s after the delete"
wait "$ex_pid"
code=$(cat "$STATE.ex2.code")
[[ $code != 200 ]] || jq -e '.exitCode != 0' "$STATE.ex2" >/dev/null \
  || fail "the execute of a deleted sandbox answered as if it ran: $code $(cat "$STATE.ex2")"
grep -q never "$STATE.ex2" && fail "the execute ran on after the delete: $(cat "$STATE.ex2")"
[[ -z $(find /sys/fs/cgroup -maxdepth 4 -type d -path "*/islet/$A" 2>/dev/null) ]] \
  || fail "the deleted sandbox's cgroup is left"
pgrep -f 'sleep 30; echo never' >/dev/null && fail "the execute's process is left"

pass
