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
api POST /v1/execute -d '{"code": "print(1)", "config": {"enable_networking": true}}'
expect_error "networking asked for" 400
api POST /v1/execute -d '{"code": "x", "language": "bash", "config": {"allowed_imports": ["os"]}}'
expect_error "a policy for bash" 400
api POST /v1/execute -d '{"code": "print(1)", "config": {"memory_limit_mb": 1}}'
expect_error "memory below the minimum" 400
api POST /v1/execute -d 'not json'
expect_error "malformed JSON" 400
api -k nope POST /v1/execute -d '{"code": "print(1)"}'
expect_error "a bad key" 401

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
