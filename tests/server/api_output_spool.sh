#!/usr/bin/env bash
# The answers of /v1/execute (a run and a session), /v1/sandbox/{id}/exec,
# /v1/tool and MCP's execute_shell, execute_code and git_operation carry their output from
# the key's scratch space, never whole in isletd's memory: over 100 MB through each
# grows isletd's peak (VmHWM) by little, the bytes arrive exact (sha256 of
# the file printed; MCP's twice, in structuredContent and as the escaped
# JSON of its text), output past the key's scratch space is refused (507, or
# MCP's tool error) and no scratch file is left.  api_output.sh is the
# toolbox's side.  Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_output_spool.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

SRV_ARGS=(--max-key-scratch $((250 << 20)) --sandbox-max output_bytes=268435456)
srv_init
PID=$SRV_PID
command -v python3 >/dev/null || skip "python3 is needed to read the answers"

hwm_kib () { awk '/^VmHWM/ {print $2}' "/proc/$PID/status"; }
scratch_files () { find "/proc/$PID/fd" -lname "$STATE/*(deleted)" 2>/dev/null | wc -l; }
# no_scratch_files: true once isletd holds none (counted at each try of wait_until)
no_scratch_files () { [[ $(scratch_files) == 0 ]]; }

api POST /api/sandbox -d '{"name": "big", "limits": {"output_bytes": 268435456}}'
expect_code "create" 200
ID=$(jq -r .id <<<"$BODY"); remember_id "$ID"
# sh_in CMD: CMD run with sh -c in the sandbox, its stdout in OUT
sh_in () {
  api POST "/v1/sandbox/$ID/exec" -d "$(jq -n --arg c "$1" '{argv: ["sh", "-c", $c], timeout_ms: 120000}')"
  expect_code "exec $1" 200
  OUT=$(jq -r '.stdout | @base64d' <<<"$BODY")
}
# text with every kind of escape (quote, backslash, tab, a control byte,
# UTF-8) and binary bytes, each over 100 MB, and their digests
sh_in 'head -c 78000000 /dev/urandom | base64 -w 76 > /workspace/text; printf "q\"b\\\\c\t\001é end" >> /workspace/text; head -c 104857600 /dev/urandom > /workspace/bin; sha256sum /workspace/text /workspace/bin'
TEXT_SUM=$(awk '/text$/ {print $1}' <<<"$OUT")
BIN_SUM=$(awk '/bin$/ {print $1}' <<<"$OUT")
[[ ${#TEXT_SUM} == 64 && ${#BIN_SUM} == 64 ]] || fail "no digests: $OUT"
sh_in 'wc -c < /workspace/text'
TEXT_LEN=$OUT
(( TEXT_LEN > 100000000 )) || fail "the text is $TEXT_LEN bytes"

hwm0=$(hwm_kib)
# post PATH BODY: the answer to $STATE.ans, its status in CODE
post () {
  CODE=$(curl -s -o "$STATE.ans" -w '%{http_code}' --max-time 180 -X POST \
    -H "Authorization: Bearer $SRV_KEY" -H 'Content-Type: application/json' "${@:3}" \
    -d "$2" "$SRV_URL$1") || CODE=000
}
# check WHAT: isletd's peak grew by under 64 MiB since the start, and its
# scratch files are gone once the answer was sent
check () {
  local h
  h=$(hwm_kib)
  log "$1: isletd peak $hwm0 KiB at the start, $h KiB now"
  (( h - hwm0 < 64 * 1024 )) || fail "$1: isletd's peak grew by $(( (h - hwm0) / 1024 )) MiB"
  wait_until 5 no_scratch_files || fail "$1: $(scratch_files) scratch files left"
}
# digest PY-EXPR: sha256 of a value of the answer (a, the parsed JSON)
digest () {
  python3 -c 'import hashlib, json, base64, sys
a = json.load(open(sys.argv[1], encoding="utf-8"))
v = eval(sys.argv[2])
print(hashlib.sha256(v if isinstance(v, bytes) else v.encode()).hexdigest())' "$STATE.ans" "$1" \
    || fail "cannot read the answer: $(head -c 300 "$STATE.ans")"
}

log "== /v1/execute in a kept sandbox"
code='import shutil, sys
shutil.copyfileobj(open("/workspace/text", "rb"), sys.stdout.buffer)
sys.stderr.write("err\n")'
post /v1/execute "$(jq -n --arg c "$code" --arg id "$ID" '{code: $c, sandbox_id: $id, timeout: 120}')"
[[ $CODE == 200 ]] || fail "/v1/execute: $CODE $(head -c 300 "$STATE.ans")"
[[ $(digest 'a["stdout"]') == "$TEXT_SUM" ]] || fail "/v1/execute: stdout is not the file"
[[ $(digest 'a["stderr"] + a["status"] + str(a["truncated"])') == \
   $(printf 'err\ncompletedFalse' | sha256sum | cut -c1-64) ]] || fail "/v1/execute: the rest of the answer"
check "/v1/execute"

log "== /v1/execute in a session"
code='import sys
sys.stdout.write(open("/workspace/text").read())'
post /v1/execute "$(jq -n --arg c "$code" --arg id "$ID" '{code: $c, sandbox_id: $id, session: "s1", timeout: 120}')"
[[ $CODE == 200 ]] || fail "/v1/execute session: $CODE $(head -c 300 "$STATE.ans")"
[[ $(digest 'a["stdout"]') == "$TEXT_SUM" ]] || fail "/v1/execute session: stdout is not the file"
check "/v1/execute session"

log "== /v1/sandbox/{id}/exec"
post "/v1/sandbox/$ID/exec" '{"argv": ["sh", "-c", "cat /workspace/bin; echo e >&2"], "timeout_ms": 120000}'
[[ $CODE == 200 ]] || fail "/v1/sandbox/{id}/exec: $CODE $(head -c 300 "$STATE.ans")"
[[ $(digest 'base64.b64decode(a["stdout"])') == "$BIN_SUM" ]] || fail "/v1/sandbox/{id}/exec: stdout is not the file"
[[ $(digest 'base64.b64decode(a["stderr"]) + str(a["exit_code"]).encode()') == \
   $(printf 'e\n0' | sha256sum | cut -c1-64) ]] || fail "/v1/sandbox/{id}/exec: the rest of the answer"
check "/v1/sandbox/{id}/exec"

log "== MCP execute_shell and execute_code"
mcp_open
mcp_post () {
  post /mcp "$1" -H "Mcp-Session-Id: $MCP_SID" -H 'MCP-Protocol-Version: 2025-06-18' \
    -H 'Accept: application/json, text/event-stream'
}
mcp_post "$(jq -nc --arg id "$ID" '{jsonrpc: "2.0", id: 2, method: "tools/call", params: {name: "execute_shell", arguments: {sandbox_id: $id, command: "cat /workspace/text", timeout: 120}}}')"
[[ $CODE == 200 ]] || fail "MCP execute_shell: $CODE $(head -c 300 "$STATE.ans")"
[[ $(digest 'a["result"]["structuredContent"]["stdout"]') == "$TEXT_SUM" ]] \
  || fail "MCP execute_shell: structuredContent.stdout is not the file"
[[ $(digest 'json.loads(a["result"]["content"][0]["text"])["stdout"]') == "$TEXT_SUM" ]] \
  || fail "MCP execute_shell: the text's stdout is not the file"
[[ $(digest 'str(a["result"]["isError"]) + a["result"]["structuredContent"]["sandbox_id"]') == \
   $(printf 'False%s' "$ID" | sha256sum | cut -c1-64) ]] || fail "MCP execute_shell: the rest of the answer"
check "MCP execute_shell"
# every escape, in both places
mcp_post '{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "execute_code", "arguments": {"language": "python", "code": "import sys; sys.stdout.write(chr(97) + chr(92) + chr(34) + chr(98) + chr(233) + chr(1) + chr(10))"}}}'
[[ $CODE == 200 ]] || fail "MCP execute_code: $CODE $(head -c 300 "$STATE.ans")"
python3 - "$STATE.ans" <<'EOF' || fail "MCP execute_code: $(head -c 600 "$STATE.ans")"
import json, sys
a = json.load(open(sys.argv[1]))["result"]
text = json.loads(a["content"][0]["text"])
assert a["structuredContent"]["stdout"] == 'a\\"bé\x01\n', a
assert text == a["structuredContent"], (text, a["structuredContent"])
EOF
check "MCP execute_code"
# git's output is the repository's to make (a hook prints what it likes)
sh_in 'git init -q /workspace/repo && printf "#!/bin/sh\ncat /workspace/text >&2\n" > /workspace/repo/.git/hooks/pre-commit && chmod +x /workspace/repo/.git/hooks/pre-commit && echo a > /workspace/repo/f && git -C /workspace/repo add f && echo ready'
[[ $OUT == ready ]] || fail "the repository with a hook: $OUT"
mcp_post "$(jq -nc --arg id "$ID" '{jsonrpc: "2.0", id: 5, method: "tools/call", params: {name: "git_operation", arguments: {sandbox_id: $id, operation: "commit", path: "/workspace/repo", message: "m"}}}')"
[[ $CODE == 200 ]] || fail "MCP git_operation: $CODE $(head -c 300 "$STATE.ans")"
[[ $(digest 'a["result"]["structuredContent"]["stderr"]') == "$TEXT_SUM" ]] \
  || fail "MCP git_operation: stderr is not what the hook printed"
[[ $(digest 'str(a["result"]["structuredContent"]["exit_code"]) + str(len(a["result"]["structuredContent"]["commit"]))') == \
   $(printf '040' | sha256sum | cut -c1-64) ]] || fail "MCP git_operation: the commit and its hash"
check "MCP git_operation"

log "== /v1/tool: 20 commands of 8 MB each"
sh_in 'head -c 8000000 /workspace/text | sha256sum'
PART_SUM=${OUT%% *}
tag='<daytona-execute action="execute-command" command="head -c 8000000 /workspace/text; echo x >> /workspace/ran"/>'
tool_text () { for _ in $(seq "$1"); do printf '%s\n' "$tag"; done; }
post /v1/tool "$(jq -n --arg t "$(tool_text 20)" --arg id "$ID" '{sandbox_id: $id, text: $t}')"
[[ $CODE == 200 ]] || fail "/v1/tool: $CODE $(head -c 300 "$STATE.ans")"
python3 - "$STATE.ans" "$PART_SUM" <<'EOF' || fail "/v1/tool: the answer"
import hashlib, json, sys
a = json.load(open(sys.argv[1], encoding="utf-8"))
assert a["commands"] == 20 and a["failed"] == 0 and len(a["results"]) == 20, {k: a[k] for k in ("commands", "failed")}
for r in a["results"]:
    assert r["ok"] and r["exit_code"] == 0, r.get("error")
    assert hashlib.sha256(r["stdout"].encode()).hexdigest() == sys.argv[2], "a result's stdout is not the file's"
EOF
check "/v1/tool"
sh_in 'rm -f /workspace/ran'
post /v1/tool "$(jq -n --arg t "$(tool_text 60)" --arg id "$ID" '{sandbox_id: $id, text: $t}')"
[[ $CODE == 507 ]] || fail "/v1/tool of 60 x 8 MB: $CODE $(head -c 300 "$STATE.ans")"
grep -q "commands ran (not the rest): .*scratch space" "$STATE.ans" || fail "the refusal says why: $(head -c 300 "$STATE.ans")"
sh_in 'wc -l < /workspace/ran'
(( OUT >= 20 && OUT < 60 )) || fail "/v1/tool over the scratch space: $OUT of 60 commands ran, want the rest not run"
check "/v1/tool refused"

log "== output over the key's scratch space (250 MiB here) is refused"
sh_in 'head -c 140000000 /dev/zero > /workspace/zero'
post "/v1/sandbox/$ID/exec" '{"argv": ["sh", "-c", "cat /workspace/zero; cat /workspace/zero >&2"], "timeout_ms": 120000}'
[[ $CODE == 507 ]] || fail "/v1/sandbox/{id}/exec of 280 MB: $CODE $(head -c 300 "$STATE.ans")"
grep -q "scratch space" "$STATE.ans" || fail "the refusal says why: $(head -c 300 "$STATE.ans")"
check "/v1/sandbox/{id}/exec refused"
post /v1/execute "$(jq -n --arg id "$ID" '{code: "import sys\nsys.stdout.write(\"x\" * 270000000)", sandbox_id: $id, timeout: 120}')"
[[ $CODE == 507 ]] || fail "/v1/execute of 270 MB: $CODE $(head -c 300 "$STATE.ans")"
check "/v1/execute refused"
mcp_post "$(jq -nc --arg id "$ID" '{jsonrpc: "2.0", id: 4, method: "tools/call", params: {name: "execute_shell", arguments: {sandbox_id: $id, command: "cat /workspace/zero /workspace/zero", timeout: 120}}}')"
[[ $CODE == 200 ]] || fail "MCP execute_shell of 280 MB: $CODE $(head -c 300 "$STATE.ans")"
python3 - "$STATE.ans" <<'EOF' || fail "MCP over the scratch space: $(head -c 600 "$STATE.ans")"
import json, sys
a = json.load(open(sys.argv[1]))["result"]
assert a["isError"] is True and "scratch space" in a["structuredContent"]["error"]["message"], a
EOF
check "MCP refused"
api POST "/v1/sandbox/$ID/exec" -d '{"argv": ["echo", "still"]}'
expect_body "the budget came back" '.stdout == ("still\n" | @base64)'
rm -f "$STATE.ans"

pass
