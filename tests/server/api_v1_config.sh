#!/usr/bin/env bash
# The reasoning engine's SandboxConfig on /v1: every field in /v1/execute's
# config and in PUT /v1/config is honoured or refused with a 400 that says
# why (an unknown one by its name); GET /v1/status answers the engine's
# names; each key has its own defaults and sees its own sandboxes only.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
srv_init

j () { printf '%s' "$BODY" | jq -r "$1"; }
# run JSON-CONFIG CODE [KEY]: /v1/execute of python CODE with that config
run () {
  api ${3:+-k "$3"} POST /v1/execute -d "$(jq -n --arg c "$2" --argjson cfg "$1" '{code: $c, config: $cfg}')"
}
# refused WHAT WORD: a 400 whose message has WORD
refused () {
  expect_error "$1" 400
  [[ "$(j .message)" == *"$2"* ]] || fail "$1: the 400 does not say '$2': $BODY"
}

log "execution_timeout limits the run"
t0=$(date +%s)
run '{"execution_timeout": 1}' 'import time
time.sleep(20)
print("woke")'
expect_code "execute with execution_timeout" 200
expect_eq "status after execution_timeout" "$(j .status)" timeout
[[ "$(j .stdout)" != *woke* ]] || fail "the run outlived its execution_timeout: $BODY"
(( $(date +%s) - t0 < 15 )) || fail "execution_timeout 1 took $(( $(date +%s) - t0 )) s"

log "temp_storage_mb limits the disk, /tmp included"
run '{"temp_storage_mb": 32}' 'import os
with open("/tmp/small", "wb") as f:
    f.write(b"y" * (4 << 20))
ok = []
for path in ("/tmp/big", "/workspace/big"):
    try:
        with open(path, "wb") as f:
            for _ in range(96):
                f.write(b"x" * (1 << 20))
                f.flush()
                os.fsync(f.fileno())
        ok.append(path)
    except OSError as e:
        print(path, "refused", e.errno)
    try:
        os.unlink(path)
    except OSError:
        pass
print("wrote", ok)'
if [[ "$CODE" == 400 ]]; then
  [[ "$(j .message)" == *"cannot limit"* ]] || fail "temp_storage_mb refused without saying why: $BODY"
  log "this host cannot limit a sandbox's disk: refused with a 400, as it must be"
else
  expect_code "execute with temp_storage_mb" 200
  [[ "$(j .stdout)" == *"/tmp/big refused"* ]] || fail "96 MB written to /tmp under temp_storage_mb 32: $BODY"
  [[ "$(j .stdout)" == *"/workspace/big refused"* ]] || fail "96 MB written to /workspace under temp_storage_mb 32: $BODY"
  [[ "$(j .stdout)" == *"wrote []"* ]] || fail "temp_storage_mb: $BODY"
fi
run '{"temp_storage_mb": 1}' 'print(1)'
refused "temp_storage_mb below the minimum" temp_storage_mb

log "enable_ast_validation: the policy with the default deny-list"
run '{"enable_ast_validation": true}' 'import json
import os
import subprocess
print(json.dumps(1))'
expect_code "execute with enable_ast_validation" 200
expect_eq "status" "$(j .status)" error
for want in "line 2: import of os" "line 3: import of subprocess"; do
  [[ "$(j .stderr)" == *"$want"* ]] || fail "the deny-list's answer lacks '$want': $BODY"
done
[[ "$(j .stderr)" != *"import of json"* ]] || fail "json is on no deny-list: $BODY"
run '{"enable_ast_validation": true}' 'import json, math
print(json.dumps(math.floor(2.5)))'
expect_eq "code outside the deny-list runs" "$(j .stdout)" 2
run '{"enable_ast_validation": false, "allowed_imports": ["math"]}' 'import json
print(json.dumps(3))'
expect_eq "enable_ast_validation false: no policy" "$(j .stdout)" 3

log "python_version: checked against the image's python3"
run '{"python_version": "3"}' 'import sys
print("%d.%d" % sys.version_info[:2])'
expect_code "python 3" 200
have=$(j .stdout)
[[ "$have" =~ ^3\.[0-9]+$ ]] || fail "no python version printed: $BODY"
run "{\"python_version\": \"$have\"}" 'print("ok")'
expect_eq "python $have, as the image has" "$(j .stdout)" ok
run '{"python_version": "2.7"}' 'print("ok")'
refused "python 2.7" "2.7 is not available"
run '{"python_version": "3.999"}' 'print("ok")'
refused "python 3.999" "3.999 is not available"
run '{"python_version": "three"}' 'print("ok")'
refused "a version that is not one" python_version
api POST /v1/execute -d '{"code": "echo 1", "language": "bash", "config": {"python_version": "3"}}'
refused "python_version for bash" "python only"

log "enable_networking and network_allow_list: a network device or none (what each reaches: api_v1_net)"
HAS_ETH0='print("eth0:" in open("/proc/net/dev").read())'
run '{"enable_networking": true}' "$HAS_ETH0"
expect_eq "networking on" "$(j .stdout)" True
run '{"network_allow_list": ["198.51.100.0/24", "*.example.com"]}' "$HAS_ETH0"
expect_eq "a list alone" "$(j .stdout)" True
run '{"enable_networking": false}' "$HAS_ETH0"
expect_eq "networking off" "$(j .stdout)" False
run '{"enable_networking": false, "network_allow_list": ["example.com"]}' 'print(1)'
refused "off with a list" "give one or the other"
run '{"network_allow_list": ["fd00::/8"]}' 'print(1)'
refused "an IPv6 range" "IPv6"
run '{"network_allow_list": "example.com"}' 'print(1)'
refused "a list that is not an array" network_allow_list
run '{"enable_networking": "yes"}' 'print(1)'
refused "not a boolean" enable_networking

log "unknown fields and values out of range: 400, never dropped"
run '{"colour": "blue"}' 'print(1)'
refused "an unknown config field" colour
run '{"cpu_limit": 5000}' 'print(1)'
refused "cpu_limit too high" cpu_limit
run '{"cpu_limit": "two"}' 'print(1)'
refused "cpu_limit not a number" cpu_limit
run '{"memory_limit_mb": 8}' 'print(1)'
refused "memory_limit_mb too low" memory_limit_mb
run '{"execution_timeout": 0}' 'print(1)'
refused "execution_timeout 0" execution_timeout
run '{"execution_timeout": 301}' 'print(1)'
refused "execution_timeout too long" execution_timeout
run '{"execution_timeout": 5, "timeout": 6}' 'print(1)'
refused "two timeouts that differ" differ
run '{"execution_timeout": 5, "timeout": null}' 'print(1)'
refused "a timeout and a null one" differ
run '{"execution_timeout": 5, "timeout": 5.0}' 'print(1)'
expect_eq "the same timeout under both names" "$(j .stdout)" 1
run '{"allowed_imports": "json"}' 'print(1)'
refused "allowed_imports not a list" allowed_imports
run '{"enable_ast_validation": "yes"}' 'print(1)'
refused "enable_ast_validation not a boolean" enable_ast_validation

log "PUT /v1/config: the engine's names, checked the same way"
api PUT /v1/config -d '{"execution_timeout": 2, "temp_storage_mb": 512, "python_version": "3", "cpu_limit": 0.5}'
expect_code "put the engine's fields" 200
expect_body "the answer shows them" '.execution_timeout == 2 and .timeout == 2 and .temp_storage_mb == 512 and .python_version == "3" and .cpu_limit == 0.5'
api GET /v1/config
expect_body "GET shows them" '.execution_timeout == 2 and .temp_storage_mb == 512 and .python_version == "3" and .enable_networking == false and .enable_ast_validation == false'
api PUT /v1/config -d '{"python_version": "2.7"}'
refused "put python 2.7" "2.7 is not available"
api PUT /v1/config -d '{"network_allow_list": ["not a name"]}'
refused "put a list with a bad entry" "neither an IPv4 CIDR nor a domain name"
api PUT /v1/config -d '{"sandbox_type": "docker"}'
refused "put an unknown field" sandbox_type
api PUT /v1/config -d '{"memory_limit_mb": 4}'
refused "put memory out of range" memory_limit_mb
api GET /v1/config
expect_body "refused puts changed nothing" '.execution_timeout == 2 and .memory_limit_mb == 1024 and .python_version == "3"'
t0=$(date +%s)
api POST /v1/execute -d '{"code": "import time\ntime.sleep(20)"}'
expect_eq "the key's execution_timeout applies" "$(j .status)" timeout
(( $(date +%s) - t0 < 15 )) || fail "the key's execution_timeout 2 took $(( $(date +%s) - t0 )) s"

log "each key its own defaults (probe 7)"
other=$(new_key other)
api -k "$other" GET /v1/config
expect_body "another key has the built-in defaults" '.execution_timeout == 30 and .cpu_limit == 1 and .allowed_imports == null'
api -k "$other" PUT /v1/config -d '{"allowed_imports": ["math"], "timeout": 1, "memory_limit_mb": 64}'
expect_code "another key puts its own" 200
api GET /v1/config
expect_body "the first key's are untouched" '.execution_timeout == 2 and .memory_limit_mb == 1024 and .allowed_imports == null'
api POST /v1/execute -d '{"code": "import os\nprint(os.sep)", "timeout": 10}'
expect_code "the first key runs os" 200
expect_eq "not under the other key's policy" "$(j .stdout)" /
api -k "$other" POST /v1/execute -d '{"code": "import os\nprint(1)"}'
[[ "$(j .stderr)" == *"line 1: import of os"* ]] || fail "the other key's own policy did not apply: $BODY"
srv_stop
srv_start
api -k "$other" GET /v1/config
expect_body "a key's defaults survive a restart" '.allowed_imports == ["math"] and .execution_timeout == 1 and .memory_limit_mb == 64'
api GET /v1/config
expect_body "and stay its own" '.allowed_imports == null and .execution_timeout == 2'
api PUT /v1/config -d '{"execution_timeout": null, "temp_storage_mb": null, "python_version": null, "cpu_limit": null}'
expect_body "null puts a field back to its default" '.execution_timeout == 30 and .temp_storage_mb == 3072 and .cpu_limit == 1'

log "GET /v1/status: the engine's names, the caller's own sandboxes (probe 15)"
cli=$(create_sb)
remember_id "$cli"
api POST /v1/sandbox -d '{"language": "python", "config": {"temp_storage_mb": 48, "execution_timeout": 7, "cpu_limit": 0.5, "memory_limit_mb": 200}}'
expect_code "a kept sandbox" 200
kept=$(j .sandbox_id)
expect_eq "its disk from temp_storage_mb" "$(sb_info "$kept" 'j["limits"]["disk_mb"]')" 48
expect_eq "its exec timeout" "$(sb_info "$kept" 'j["limits"]["timeout_s"]')" 7
expect_eq "its CPUs" "$(sb_info "$kept" 'j["limits"]["cpu_millis"]')" 500
expect_eq "its memory" "$(sb_info "$kept" 'j["limits"]["memory_mb"]')" 200
api GET /v1/status
expect_code "status" 200
expect_body "the engine's names" '.service_status == "running" and .sandbox_active == true and .config.execution_timeout == 30 and (.config.python_version | test("^3\\.[0-9]+$")) and .config.enable_networking == false and .config.enable_ast_validation == false and .config.temp_storage_mb == 3072 and .config.memory_limit_mb == 1024 and .config.cpu_limit == 1 and (.config | has("allowed_imports"))'
expect_body "its own sandbox only" '.sandboxes == 1 and .active_sandboxes == 1'
api -k "$other" GET /v1/status
expect_body "another key sees none of them" '.sandboxes == 0 and .active_sandboxes == 0 and .sandbox_active == false'
expect_body "and its own config" '.config.execution_timeout == 1 and .config.enable_ast_validation == true and .config.allowed_imports == ["math"]'
api DELETE "/v1/sandbox/$kept"
expect_code "delete the kept sandbox" 200
islet rm -f "$cli" </dev/null >/dev/null || fail "islet rm $cli"
pass
