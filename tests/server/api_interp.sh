#!/usr/bin/env bash
# The code interpreter's bad input and hard cases (the SDK's own use is
# tests/compat/interpreter.js): runCode's code over 1 MiB, and a message
# over what any code could need, refused with a close that says why; a
# flood of output kept to the sandbox's output limit and marked as cut;
# malformed messages and unknown contexts refused; contexts' REST checks
# (language, cwd, the most per sandbox, another key); code that ignores
# the interrupt is killed at its timeout and its context says it died; a
# context dies with its sandbox's stop, and says so when its memory limit
# killed it; output a thread prints between runs goes to no run; a spare
# driver made ahead serves the next context, which still has a process of
# its own, its cwd and the sandbox's env as it is then.  Needs root.  Exit
# 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_interp.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
WS_CLIENT="$(dirname "$0")/../lib/ws_client.py"

srv_init
api POST /api/sandbox -d '{"name":"interp","limits":{"output_bytes":65536}}'
expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
T="/toolbox/$A/process/interpreter"
WS="${SRV_URL/http:/ws:}$T/execute"

# run_file FILE [TIMEOUT_S]: one runCode with the message in FILE; the
# messages in RUN (one a line, as JSON), the close last ("close=CODE REASON").
run_file () {
  RUN=$(python3 "$WS_CLIENT" "$WS" "$SRV_KEY" -- "sendtext:@$1" "texts:${2:-60}" \
    | sed 's/^text=//')
}
# run JSON [TIMEOUT_S]: the same with the message given
run () {
  local f
  f=$(mktemp "$STATE.msg.XXXXXX")
  printf '%s' "$1" >"$f"
  run_file "$f" "${2:-60}"
  rm -f "$f"
}
# out: the stdout texts of RUN joined (its last newline kept); closed: the close line
texts () { grep -v '^close=' <<<"$RUN" | jq -j "select(.type == \"$1\") | .text"; echo .; }
out () { local o; o=$(texts stdout); printf '%s' "${o%.}"; }
closed () { tail -n 1 <<<"$RUN"; }
expect_close () {
  [[ "$(closed)" == "close=$2"* ]] || fail "$1: closed with '$(closed)', want 'close=$2'; got: ${RUN:0:400}"
}

log "== a run works (the default context)"
run '{"code":"x = 2\nprint(x * 21)"}'
expect_close "a run" 1000
[[ "$(out; echo .)" == "42"$'\n.' ]] || fail "a run's stdout: $(out)"
grep -q '"type":"control","text":"completed"' <<<"$RUN" || fail "no completed: $RUN"

log "== code over 1 MiB is refused with a reason"
BIG=$(mktemp "$STATE.big.XXXXXX")
python3 -c 'import json,sys; sys.stdout.write(json.dumps({"code": "#" * (2 << 20)}))' >"$BIG"
run_file "$BIG"
expect_close "2 MiB of code" "1009 code is 2097152 bytes: a run takes at most 1048576"
python3 -c 'import json,sys; sys.stdout.write(json.dumps({"code": "\u0001" * (2 << 20)}))' >"$BIG"
run_file "$BIG"
expect_close "a 12 MiB message" "1009 the message is larger than a run's code may be (1 MiB)"
rm -f "$BIG"
run '{"code":"print(x)"}'
[[ "$(out; echo .)" == "2"$'\n.' ]] || fail "the context is unharmed by the refusals: $RUN"

log "== a flood of output is bounded and marked"
run '{"code":"import sys\nfor i in range(100):\n    sys.stdout.write(\"x\" * 10000)\nprint()\nsys.stderr.write(\"e\" * 70000)"}'
expect_close "the flood" 1000
o=$(out; echo .); o=${o%.}
[[ "${o:0:65536}" == "$(printf 'x%.0s' $(seq 65536))" ]] || fail "the first 64 KiB are kept"
[[ "${o:65536}" == $'\n[islet: output cut at 65536 bytes per stream; 1000001 were written]\n' ]] \
  || fail "the stdout marker: '${o:65536:200}'"
e=$(texts stderr); e=${e%.}
[[ "$e" == *"[islet: output cut at 65536 bytes per stream; 70000 were written]"* ]] \
  || fail "the stderr marker: '${e: -200}'"
(( ${#e} < 65536 + 200 )) || fail "stderr kept to the limit: ${#e}"

log "== malformed messages and unknown contexts"
run 'not json'; expect_close "not JSON" "1008 the message must be a JSON object"
run '{"code":""}'; expect_close "empty code" "1008 code must be a non-empty string"
run '{"code":"1","timeout":-1}'; expect_close "a negative timeout" "1008 timeout must be 0 to 86400 seconds"
run '{"code":"1","envs":{"A":1}}'; expect_close "envs of a number" "1008 envs must map names to strings"
run '{"code":"1","contextId":"nope"}'; expect_close "an unknown context" "4004 interpreter context 'nope' not found"
api -k "$(new_key other)" GET "$T/context"; expect_error "another key's sandbox" 404
api -k "" GET "$T/execute" -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
  -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
expect_error "runCode without the key" 401

log "== contexts: what create refuses"
api POST "$T/context" -d '{"language":"javascript"}'; expect_error "javascript" 400
api POST "$T/context" -d '{"cwd":"tmp"}'; expect_error "a relative cwd" 400
api POST "$T/context" -d '{"cwd":"/no/such/dir"}'; expect_error "a missing cwd" 400
expect_body "the missing cwd named" '.message | test("/no/such/dir")'
api DELETE "$T/context/nope"; expect_error "delete an unknown context" 404
ids=()
for (( i = 0; i < 15; i++ )); do
  api POST "$T/context" -d '{}'; expect_code "context $i" 200
  ids+=("$(jq -r .id <<<"$BODY")")
done
api POST "$T/context" -d '{}'; expect_error "the 17th (with the default)" 429
api GET "$T/context"; expect_code "list" 200
expect_body "15 listed, the default left out" '(.contexts | length) == 15 and all(.contexts[]; .active and .language == "python")'
for id in "${ids[@]:1}"; do api DELETE "$T/context/$id"; expect_code "delete $id" 200; done
C=${ids[0]}

log "== code that ignores the interrupt is killed at its timeout"
run "{\"contextId\":\"$C\",\"code\":\"import time\nv = 1\nwhile True:\n    try:\n        time.sleep(10)\n    except KeyboardInterrupt:\n        pass\",\"timeout\":1}" 30
expect_close "stubborn code" "4008 the run timed out after 1 s and did not stop when interrupted"
run "{\"contextId\":\"$C\",\"code\":\"print(v)\"}"
grep -q '"name":"ContextDied"' <<<"$RUN" || fail "the killed context says it died: $RUN"
api GET "$T/context"; expect_body "listed as not active" ".contexts[] | select(.id == \"$C\") | .active == false"
api DELETE "$T/context/$C"; expect_code "delete the dead one" 200

log "== output printed between runs goes to no run"
run '{"code":"import threading, time\ndef late():\n    time.sleep(0.5)\n    print(\"late\")\nthreading.Thread(target=late).start()\nprint(\"now\")"}'
[[ "$(out; echo .)" == "now"$'\n.' ]] || fail "the run's own output: $RUN"
sleep 1
run '{"code":"print(\"next\")"}'
[[ "$(out; echo .)" == "next"$'\n.' ]] || fail "a thread's late print is in no run: $RUN"

log "== a spare driver: made ahead, each context a process of its own, the sandbox's env as it is now"
api POST "$T/context" -d '{}'; expect_code "context p" 200
P=$(jq -r .id <<<"$BODY")
api POST "$T/context" -d '{"cwd":"/tmp"}'; expect_code "context q, in /tmp" 200
Q=$(jq -r .id <<<"$BODY")
expect_body "q's cwd" '.cwd == "/tmp"'
run "{\"contextId\":\"$P\",\"code\":\"import os\nprint(os.getpid())\nv = 1\"}"
p_pid=$(out)
run "{\"contextId\":\"$Q\",\"code\":\"import os\nprint(os.getpid())\nprint(os.getcwd(), globals().get('v'))\"}"
q_out=$(out)
[[ -n "$p_pid" && "${q_out%%$'\n'*}" != "$p_pid" ]] || fail "two contexts share a process: $p_pid / $q_out"
[[ "$q_out" == *$'\n'"/tmp None" ]] || fail "q has its cwd and none of p's variables: $q_out"
# the default context, p, q and one spare: four drivers in the sandbox
drivers () {
  local cmd="sh -c 'grep -l \"[i]slet.s Python driver\" /proc/[0-9]*/cmdline 2>/dev/null | wc -l'"
  api POST "/toolbox/$A/process/execute" -d "$(jq -n --arg c "$cmd" '{command: $c}')"
  jq -r .result <<<"$BODY" | tr -d ' \n'
}
for (( i = 0; i < 300; i++ )); do n=$(drivers); [[ "$n" == 4 ]] && break; sleep 0.1; done
[[ "$n" == 4 ]] || fail "drivers in the sandbox: $n, want 4 (three contexts and a spare)"
api POST "/toolbox/$A/env" -d '{"set":{"ISLET_SPARE_T":"now"}}'; expect_code "env set" 200
api POST "$T/context" -d '{}'; expect_code "context r, after the env changed" 200
R=$(jq -r .id <<<"$BODY")
run "{\"contextId\":\"$R\",\"code\":\"import os\nprint(os.environ.get('ISLET_SPARE_T'))\"}"
[[ "$(out; echo .)" == "now"$'\n.' ]] || fail "a context made after an env change has it: $RUN"
for id in "$P" "$Q" "$R"; do api DELETE "$T/context/$id"; expect_code "delete $id" 200; done
for (( i = 0; i < 300; i++ )); do n=$(drivers); [[ "$n" == 2 ]] && break; sleep 0.1; done
[[ "$n" == 2 ]] || fail "drivers once p, q and r are deleted: $n, want 2 (the default context and a spare)"

log "== a context dies with its sandbox's stop"
api POST "$T/context" -d '{}'; expect_code "a context" 200
C=$(jq -r .id <<<"$BODY")
api POST "/api/sandbox/$A/stop"; expect_code "stop" 200
api POST "/api/sandbox/$A/start"; expect_code "start" 200
run "{\"contextId\":\"$C\",\"code\":\"print(1)\"}"
grep -q '"name":"ContextDied"' <<<"$RUN" || fail "a context of a stopped sandbox says it died: $RUN"
run '{"code":"print(\"x\" in globals())"}'
grep -q '"name":"ContextDied"' <<<"$RUN" || fail "the default context says it died, once: $RUN"
run '{"code":"print(\"x\" in globals())"}'
[[ "$(out; echo .)" == "False"$'\n.' ]] || fail "then the default context starts anew: $RUN"

log "== a context killed by its sandbox's memory limit says so, and the default one starts anew"
api POST /api/sandbox -d '{"name":"interp-oom","limits":{"memory_mb":128}}'; expect_code "a small sandbox" 200
M=$(jq -r .id <<<"$BODY"); remember_id "$M"
WS_A=$WS
WS="${SRV_URL/http:/ws:}/toolbox/$M/process/interpreter/execute"
run '{"code":"kept = 1"}'
run '{"code":"x = b\"x\" * (512 << 20)\nprint(\"survived\")"}' 120
grep -q '"name":"ContextDied"' <<<"$RUN" || fail "the killed context's run says it died: ${RUN:0:400}"
grep -q 'out of memory' <<<"$RUN" || fail "the death is named out of memory: ${RUN:0:400}"
grep -q survived <<<"$RUN" && fail "the code went on past the limit"
run '{"code":"print(\"kept\" in globals())"}'
[[ "$(out; echo .)" == "False"$'\n.' ]] || fail "then the default context starts anew: $RUN"
WS=$WS_A
api DELETE "/api/sandbox/$M"; expect_code "delete the small sandbox" 200

log "== /v1/execute with a session keeps its state in a kept sandbox"
api POST /v1/sandbox -d '{"language":"python"}'; expect_code "v1 sandbox" 200
V=$(jq -r .sandbox_id <<<"$BODY"); remember_id "$V"
v1 () { api POST /v1/execute -d "$1"; }
v1 "{\"code\":\"import math\na = 5\",\"session\":\"s1\",\"sandbox_id\":\"$V\"}"
expect_code "session s1" 200
expect_body "s1 ran" '.status == "completed" and .exit_code == 0 and .metadata.session == "s1"'
v1 "{\"code\":\"print(a, math.pi > 3)\",\"session\":\"s1\",\"sandbox_id\":\"$V\"}"
expect_body "s1 kept a and the import" '.stdout == "5 True\n" and .status == "completed"'
v1 "{\"code\":\"print(a)\",\"session\":\"s2\",\"sandbox_id\":\"$V\"}"
expect_body "s2 is a session of its own" '.status == "error" and .exit_code == 1 and .error.name == "NameError" and (.error.traceback | test("line 1"))'
v1 "{\"code\":\"print(a)\",\"sandbox_id\":\"$V\"}"
expect_body "without a session, a run of its own" '.exit_code == 1 and (.stderr | test("NameError"))'
v1 '{"code":"1","session":"s1"}'; expect_error "a session without sandbox_id" 400
expect_body "says why" '.message | test("kept sandbox")'
v1 "{\"code\":\"1\",\"language\":\"javascript\",\"session\":\"s1\",\"sandbox_id\":\"$V\"}"
expect_error "a javascript session" 400
v1 "{\"code\":\"1\",\"session\":\"../x\",\"sandbox_id\":\"$V\"}"; expect_error "a bad session name" 400

pass
