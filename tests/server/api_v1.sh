#!/usr/bin/env bash
# The one-shot API: POST /v1/execute runs code in a fresh sandbox that is
# gone before the answer; status, resource use and metadata are real; the
# Python import policy (allowed_imports) refuses code before it runs, with
# every violation and its line; bad input is a 400; GET /v1/status.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
srv_init

j () { printf '%s' "$BODY" | jq -r "$1"; }

log "python: output, exit code, stdin, files, metadata"
api POST /v1/execute -H 'Content-Type: application/json' -d '{
  "code": "import sys, os\nprint(open(\"data.txt\").read().strip(), sys.stdin.read().strip())\nprint(os.getcwd(), file=sys.stderr)\nsys.exit(3)",
  "stdin": "from-stdin", "files": {"data.txt": "from-a-file"}, "timeout": 20}'
expect_code "execute python" 200
expect_eq "stdout" "$(j .stdout)" "from-a-file from-stdin"
expect_eq "stderr" "$(j .stderr)" "/workspace"
expect_eq "exit code" "$(j .exit_code)" 3
expect_eq "status" "$(j .status)" completed
expect_eq "sandbox type" "$(j .metadata.sandbox_type)" islet
sid=$(j .metadata.sandbox_id)
[[ "$sid" =~ ^[0-9a-f]{12}$ ]] || fail "no sandbox id in the metadata: $BODY"
expect_body "execution time" '.execution_time > 0 and .execution_time < 20'
expect_body "memory use" '.resource_usage.memory_usage_mb > 0'
[[ ! -d "$STATE/sandboxes/$sid" ]] || fail "the sandbox $sid is still there after the answer"

log "javascript and bash"
api POST /v1/execute -d '{"code": "console.log(6*7)", "language": "javascript"}'
expect_code "execute javascript" 200
expect_eq "javascript stdout" "$(j .stdout)" 42
api POST /v1/execute -d '{"code": "echo $((6*7)) $0", "language": "bash"}'
expect_code "execute bash" 200
expect_eq "bash stdout" "$(j '.stdout | split(" ")[0]')" 42

log "limits: timeout, memory"
api POST /v1/execute -d '{"code": "import time\ntime.sleep(30)", "timeout": 1}'
expect_code "execute with a timeout" 200
expect_eq "status on timeout" "$(j .status)" timeout
api POST /v1/execute -d '{"code": "x = bytearray(400 << 20)\nprint(len(x))", "config": {"memory_limit_mb": 64}}'
expect_code "execute over its memory" 200
expect_eq "status over the memory limit" "$(j .status)" oom
api POST /v1/execute -d '{"code": "import os\nprint(os.cpu_count() > 0)", "config": {"cpu_limit": 0.5}}'
expect_code "execute with half a CPU" 200
expect_eq "half a CPU runs" "$(j .stdout)" True

log "the import policy: every violation, with its line; nothing runs"
api POST /v1/execute -d '{"code": "import json\nimport os\nfrom subprocess import run\nx = eval(\"1\")\nf = getattr(json, \"dumps\")\nopen(\"/etc/passwd\")\nprint(\"RAN\")", "config": {"allowed_imports": ["json", "math"]}}'
expect_code "execute against the policy" 200
expect_eq "status" "$(j .status)" error
[[ "$(j .stdout)" != *RAN* ]] || fail "the refused code ran: $BODY"
for want in "line 2: import of os" "line 3: import from subprocess" "line 4: use of eval" \
  "line 5: use of getattr" "line 6: use of open"; do
  [[ "$(j .stderr)" == *"$want"* ]] || fail "the policy's answer lacks '$want': $(j .stderr)"
done
api POST /v1/execute -d '{"code": "import json, math\nprint(json.dumps(math.floor(2.5)))", "config": {"allowed_imports": ["json", "math"]}}'
expect_code "execute within the policy" 200
expect_eq "allowed code runs" "$(j .stdout)" 2
expect_eq "its status" "$(j .status)" completed

log "bad input"
api POST /v1/execute -d '{"code": 3}'
expect_error "code not a string" 400
api POST /v1/execute -d '{"code": "print(1)", "language": "cobol"}'
expect_error "unknown language" 400
api POST /v1/execute -d '{"code": "print(1)", "timeout": 9999}'
expect_error "timeout too long" 400
api POST /v1/execute -d '{"code": "print(1)", "config": {"enable_networking": false, "network_allow_list": ["example.com"]}}'
expect_error "networking off with an allow-list" 400
api POST /v1/execute -d '{"code": "x", "language": "bash", "config": {"allowed_imports": ["os"]}}'
expect_error "a policy for bash" 400
api POST /v1/execute -d '{"code": "print(1)", "config": {"memory_limit_mb": 1}}'
expect_error "memory below the minimum" 400
api POST /v1/execute -d 'not json'
expect_error "malformed JSON" 400
api -k nope POST /v1/execute -d '{"code": "print(1)"}'
expect_error "a bad key" 401

log "defaults: GET and PUT /v1/config, persisted, used by /v1/execute"
api GET /v1/config
expect_code "config" 200
expect_body "the core's defaults" '.memory_limit_mb == 1024 and .cpu_limit == 1 and .timeout == 30 and .allowed_imports == null'
api PUT /v1/config -d '{"memory_limit_mb": 64, "allowed_imports": ["json"]}'
expect_code "put config" 200
api PUT /v1/config -d '{"memory_limit_mb": "lots"}'
expect_error "put a wrong type" 400
api PUT /v1/config -d '{"colour": "blue"}'
expect_error "put an unknown field" 400
srv_stop
srv_start
api GET /v1/config
expect_body "the defaults survive a restart" '.memory_limit_mb == 64 and .allowed_imports == ["json"]'
api POST /v1/execute -d '{"code": "import os\nprint(1)"}'
expect_code "execute under the default policy" 200
[[ "$(j .stderr)" == *"line 1: import of os"* ]] || fail "the default policy did not apply: $BODY"
api POST /v1/execute -d '{"code": "x = bytearray(200 << 20)\nprint(len(x))", "config": {"allowed_imports": null}}'
expect_code "execute under the default memory" 200
expect_eq "64 MB by default now" "$(j .status)" oom
api PUT /v1/config -d '{"memory_limit_mb": 1024, "allowed_imports": null}'
expect_code "put the defaults back" 200

log "a self-test that really runs"
api POST /v1/test
expect_code "test" 200
expect_body "self-test" '.ok == true and .got == "45\n" and .result.status == "completed"'

log "a kept sandbox: POST /v1/sandbox, execute in it twice, DELETE"
api POST /v1/sandbox -d '{"language": "python", "config": {"memory_limit_mb": 256}}'
expect_code "create a kept sandbox" 200
kept=$(j .sandbox_id)
[[ "$kept" =~ ^[0-9a-f]{12}$ ]] || fail "no sandbox id: $BODY"
expect_eq "its memory limit" "$(sb_info "$kept" 'j["limits"]["memory_mb"]')" 256
api POST /v1/execute -d "{\"sandbox_id\": \"$kept\", \"code\": \"open('/workspace/state', 'w').write('kept')\"}"
expect_code "execute in the kept sandbox" 200
api POST /v1/execute -d "{\"sandbox_id\": \"$kept\", \"code\": \"print(open('/workspace/state').read())\"}"
expect_eq "the kept sandbox kept its file" "$(j .stdout)" kept
expect_eq "and is the one asked for" "$(j .metadata.sandbox_id)" "$kept"
second=$(new_key)
api -k "$second" POST /v1/execute -d "{\"sandbox_id\": \"$kept\", \"code\": \"print(1)\"}"
expect_error "another key's kept sandbox" 404
log "tool text in the kept sandbox: POST /v1/tool"
api POST /v1/tool -d "$(jq -n --arg s "$kept" '{sandbox_id: $s, text: "I will write it.\nwrite file:/workspace/t.txt content:two\nlines\nread file:/workspace/t.txt\n<daytona-execute action=\"execute-command\" command=\"wc -l &lt; /workspace/t.txt\"/>\nread file:/workspace/none"}')"
expect_code "tool text" 200
expect_body "four results, one failed" '.commands == 4 and .failed == 1 and ([.results[].ok] == [true, true, true, false])'
expect_body "the file as written" '.results[1].content == "two\nlines"'
expect_body "the command saw it" '.results[2].stdout == "1\n"'
# the attributes of a <daytona-execute> block in its body, one a line
api POST /v1/tool -d "$(jq -n --arg s "$kept" '{sandbox_id: $s, text: "<daytona-execute>\naction=\"create-file\"\nfilePath=\"todo.md\"\ncontent=\"# Plan\n- [ ] say \"hi\"\"\n</daytona-execute>\n<daytona-execute>\naction=\"execute-command\"\ncommand=\"cat /workspace/todo.md\"\n</daytona-execute>"}')"
expect_code "tool text, attributes in the body" 200
expect_body "both ran" '.commands == 2 and .failed == 0 and .results[1].stdout == "# Plan\n- [ ] say \"hi\""'
# a write of 10 MiB through /v1/tool (over the 1 MiB of other JSON bodies),
# byte for byte; a body over the route's 16 MiB is still 413
want=$("$IT_PY" - "$kept" "$STATE.tool-big" "$STATE.tool-huge" <<'PY'
import hashlib, json, string, sys
line = string.ascii_letters + string.digits + "_\n"
content = line * ((10 << 20) // 64)
text = ("write file:/workspace/big.txt content:\"%s\"\n" % content.replace("\n", "\\n")
        + "read file:/workspace/none\n"
        + '<daytona-execute action="execute-command" command="sha256sum /workspace/big.txt"/>')
with open(sys.argv[2], "w") as f:
    json.dump({"sandbox_id": sys.argv[1], "text": text}, f)
with open(sys.argv[3], "w") as f:
    json.dump({"sandbox_id": sys.argv[1], "text": "write file:/workspace/huge.txt content:" + "y" * (17 << 20)}, f)
print(hashlib.sha256(content.encode()).hexdigest())
PY
)
api POST /v1/tool -H 'Content-Type: application/json' --data-binary @"$STATE.tool-big"
expect_code "tool text with a 10 MiB write" 200
expect_body "the write, its size" '.results[0].ok == true and .results[0].size == 10485760 and .failed == 1'
expect_body "the file, byte for byte" ".results[2].stdout | startswith(\"$want \")"
api POST /v1/tool -H 'Content-Type: application/json' --data-binary @"$STATE.tool-huge"
expect_error "tool text over 16 MiB" 413
api POST /v1/execute -H 'Content-Type: application/json' --data-binary @"$STATE.tool-big"
expect_error "the other routes keep their 1 MiB" 413
rm -f "$STATE.tool-big" "$STATE.tool-huge"
# workspace_only: file commands only in /workspace, no symbolic link on the way
api POST /v1/tool -d "$(jq -n --arg s "$kept" '{sandbox_id: $s, text: "<daytona-execute action=\"execute-command\" command=\"ln -s /etc /workspace/etc\"/>\nread file:/etc/hostname\nread file:etc/hostname"}')"
expect_body "without workspace_only: both read" '[.results[].ok] == [true, true, true]'
api POST /v1/tool -d "$(jq -n --arg s "$kept" '{sandbox_id: $s, workspace_only: true, text: "read file:/etc/hostname\nread file:etc/hostname\nwrite file:../../tmp/x content:y\nwrite file:w/in.txt content:ok\nread file:/workspace/w/../w/in.txt"}')"
expect_code "workspace_only" 200
expect_body "outside and through a link: refused" '[.results[].ok] == [false, false, false, true, true] and .results[4].content == "ok"'
expect_body "saying why" '(.results[0].error | contains("outside /workspace")) and (.results[1].error | contains("symbolic link")) and (.results[2].error | contains("outside /workspace"))'
api POST /v1/tool -d "$(jq -n --arg s "$kept" '{sandbox_id: $s, workspace_only: "yes", text: "read file:/etc/hostname"}')"
expect_error "workspace_only not a boolean" 400
api POST /v1/tool -d "$(jq -n --arg s "$kept" '{sandbox_id: $s, text: "no commands at all"}')"
expect_error "text without a command" 400
[[ "$BODY" == *"list files:DIR"* ]] || fail "the 400 does not show the forms: $BODY"
api -k "$second" POST /v1/tool -d "$(jq -n --arg s "$kept" '{sandbox_id: $s, text: "read file:/etc/hostname"}')"
expect_error "tool text in another key's sandbox" 404
api -k "$second" DELETE "/v1/sandbox/$kept"
expect_error "another key deletes it" 404
api DELETE "/v1/sandbox/$kept"
expect_code "delete the kept sandbox" 200
[[ ! -d "$STATE/sandboxes/$kept" ]] || fail "the kept sandbox is still there after DELETE"

log "status"
api GET /v1/status
expect_code "status" 200
expect_eq "available" "$(j .status)" available
expect_body "default config" '.default_config.memory_limit_mb == 1024 and .default_config.timeout == 30'
expect_eq "nothing left running" "$(j .active_sandboxes)" 0
api GET "/api/audit?limit=1000"
expect_body "audit: every execute" '[.items[] | select(.action == "v1.execute")] | length >= 10'
[[ -z "$(islet ls --json </dev/null | jq -r ".sandboxes[].id")" ]] \
  || fail "sandboxes left: $(islet ls)"
pass
