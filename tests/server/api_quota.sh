#!/usr/bin/env bash
# The operator's bounds: a key's quota (`isletd key create --max-sandboxes
# --max-memory --max-cpus --max-disk`, and --default-max-* for keys without
# their own) holds on every face that makes sandboxes (Daytona create, MCP
# create_sandbox, /v1/sandbox, /v1/execute) with a 429 that names the bound,
# and frees up when a sandbox goes; each sandbox's limits have a ceiling
# (--sandbox-max; the probe's 1 TiB of memory, 4M pids, 1,024 CPUs are
# refused with a 400); `isletd key list` shows the quotas.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_quota.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

SRV_ARGS=(--default-max-sandboxes 3 --sandbox-max memory_mb=2048)
srv_init

J=(-H 'Content-Type: application/json')

log "== ceilings: what the probe asked for is refused, each limit by name"
api POST /api/sandbox "${J[@]}" -d '{"limits": {"memory_mb": 1048576}}'
expect_error "1 TiB of memory" 400
expect_body "names memory_mb and the ceiling" '.message | test("memory_mb 1048576 .*ceiling of 2048")'
api POST /api/sandbox "${J[@]}" -d '{"limits": {"pids": 4194304}}'
expect_error "4M pids" 400
expect_body "names pids" '.message | test("pids 4194304 .*ceiling of 1024")'
api POST /api/sandbox "${J[@]}" -d '{"cpu": 1024}'
expect_error "1,024 CPUs" 400
expect_body "names cpu_millis" '.message | test("cpu_millis")'
api POST /v1/execute "${J[@]}" -d '{"code": "print(1)", "config": {"memory_limit_mb": 1048576}}'
expect_error "/v1/execute over the ceiling" 400
capture islet ls --json
expect_eq "nothing was made" "$(jq '.sandboxes | length' <<<"$OUT")" 0

log "== a key's own quota: 2 sandboxes, 768 MiB, 2 CPUs, 4096 MiB of disk"
capture isletd_cmd key create --name small --max-sandboxes 2 --max-memory 768 --max-cpus 2 --max-disk 4096
expect_eq "key create with a quota" "$RC" 0
Q=$OUT
capture isletd_cmd key list --json
expect_eq "key list" "$RC" 0
expect_eq "its quota in key list --json" \
  "$(jq -c '.[] | select(.name == "small") | [.max_sandboxes, .max_memory_mb, .max_cpu_millis, .max_disk_mb]' <<<"$OUT")" \
  "[2,768,2000,4096]"
expect_eq "no quota of its own for the admin key" \
  "$(jq -c '.[] | select(.name == "admin") | .max_sandboxes' <<<"$OUT")" null
capture isletd_cmd key list
grep -A1 ' small$' <<<"$OUT" | grep -q '^ *quota: sandboxes 2, memory 768 MiB, cpus 2, disk 4096 MiB$' \
  || fail "key list shows no quota: $OUT"

api -k "$Q" POST /api/sandbox "${J[@]}" -d '{"name": "a", "limits": {"memory_mb": 512, "disk_mb": 1024}}'
expect_code "a first sandbox within the quota" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
api -k "$Q" POST /api/sandbox "${J[@]}" -d '{"name": "b", "limits": {"memory_mb": 512, "disk_mb": 1024}}'
expect_error "memory over the quota" 429
expect_body "names the memory quota" '.message | test("quota.*768 MiB of memory \\(--max-memory\\)")'
api -k "$Q" POST /api/sandbox "${J[@]}" -d '{"name": "b", "cpu": 2, "limits": {"memory_mb": 128, "disk_mb": 1024}}'
expect_error "CPUs over the quota" 429
expect_body "names the CPU quota" '.message | test("--max-cpus")'
api -k "$Q" POST /api/sandbox "${J[@]}" -d '{"name": "b", "limits": {"memory_mb": 128, "disk_mb": 4000}}'
expect_error "disk over the quota" 429
expect_body "names the disk quota" '.message | test("--max-disk")'
api -k "$Q" POST /v1/sandbox "${J[@]}" -d '{"language": "python", "config": {"memory_limit_mb": 512}}'
expect_error "/v1/sandbox over the quota" 429
api -k "$Q" POST /v1/execute "${J[@]}" -d '{"code": "print(1)", "config": {"memory_limit_mb": 512}}'
expect_error "/v1/execute over the quota" 429
api -k "$Q" POST /v1/execute "${J[@]}" -d '{"code": "print(6 * 7)", "config": {"memory_limit_mb": 128}}'
expect_code "/v1/execute within the quota" 200
expect_body "it ran" '.stdout == "42\n"'
api -k "$Q" POST /api/sandbox "${J[@]}" -d '{"name": "b", "limits": {"memory_mb": 128, "disk_mb": 1024}}'
expect_code "a second sandbox (the one-shot run gave its share back)" 200
B=$(jq -r .id <<<"$BODY"); remember_id "$B"
api -k "$Q" POST /api/sandbox "${J[@]}" -d '{"name": "c", "limits": {"memory_mb": 16, "disk_mb": 1}}'
expect_error "a third sandbox" 429
expect_body "names the sandbox quota" '.message | test("2 sandboxes \\(--max-sandboxes\\)")'

log "== MCP create_sandbox holds to the same quota"
mcp_open "$Q"
mcp '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_sandbox","arguments":{"name":"m","persistent":true,"limits":{"memory_mb":16}}}}'
expect_body "MCP create over the quota is a tool error" '.result.isError == true'
expect_body "that names the quota" '.result.content[0].text | test("--max-sandboxes")'

log "== a delete gives the share back"
api -k "$Q" DELETE /api/sandbox/a; expect_code "delete a" 200
mcp '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"create_sandbox","arguments":{"name":"m","persistent":true,"limits":{"memory_mb":16}}}}'
expect_body "MCP create within the quota" '.result.isError != true'
api -k "$Q" GET /api/sandbox/m; expect_code "the MCP sandbox is the key's" 200
remember_id "$(jq -r .id <<<"$BODY")"

log "== the default quota for a key without its own (--default-max-sandboxes 3)"
for n in 1 2 3; do
  api POST /api/sandbox "${J[@]}" -d "{\"name\": \"admin$n\"}"
  expect_code "admin's sandbox $n" 200
  remember_id "$(jq -r .id <<<"$BODY")"
done
api POST /api/sandbox "${J[@]}" -d '{"name": "admin4"}'
expect_error "admin's fourth sandbox" 429
expect_body "names the bound" '.message | test("3 sandboxes \\(--max-sandboxes\\)")'
pass
