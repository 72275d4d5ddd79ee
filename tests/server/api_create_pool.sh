#!/usr/bin/env bash
# isletd --create-pool N: a Daytona create of the default image and limits
# takes a sandbox made ahead, and the key sees exactly what a cold create
# gives it.  Each field of the create's body is tried: a pooled create and
# a cold one (the same body, after a restart without the pool) answer the
# same object and their sandboxes the same commands, but for the id, the
# times and the server's address.  Tenancy: no pooled sandbox is seen by
# any key (listed, read, used) before it is taken; the key's quota is asked
# before a take, and a refusal leaves the pool as it was (the same
# sandboxes, alive); a create that asks for something else (limits,
# network) makes its own.  isletd's stop removes the pool; a kill leaves it
# to the next start, which also takes back a sandbox a take left half-done.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_create_pool.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

SRV_ARGS=(--create-pool 2)
srv_init

J=(-H 'Content-Type: application/json')
gauge () {
  curl -s --max-time 10 -H "Authorization: Bearer $SRV_KEY" "$SRV_URL/metrics" |
    awk -v n="isletd_create_pool_$1" '$1 == n { print $2 }'
}
pooled () { ls "$STATE/warm/ready" 2>/dev/null | sort; }
pool_full () { [[ "$(pooled | wc -l)" == 2 ]]; }

log "the pool fills; its sandboxes are no key's"
wait_until 60 pool_full || fail "the pool has $(pooled | wc -l) of 2 ready after 60 s"
capture isletd_cmd key create --name other
OTHER=$OUT
for p in $(pooled); do
  for key in "$SRV_KEY" "$OTHER"; do
    api -k "$key" GET "/api/sandbox/$p"; expect_error "GET a pooled sandbox" 404
    api -k "$key" POST "/toolbox/$p/process/execute" "${J[@]}" -d '{"command":"true"}'
    expect_error "execute in a pooled sandbox" 404
    api -k "$key" DELETE "/api/sandbox/$p"; expect_error "DELETE a pooled sandbox" 404
    api -k "$key" GET /api/sandbox
    expect_body "the list has no pooled sandbox" "[.items[].id] | index(\"$p\") == null"
    api -k "$key" GET "/api/sandbox/paginated?limit=100"
    expect_body "the paginated list has no pooled sandbox" "[.items[].id] | index(\"$p\") == null"
  done
  capture islet ls --json
  expect_eq "islet ls hides pooled $p" "$(jq --arg p "$p" '[.sandboxes[] | select(.id == $p)] | length' <<<"$OUT")" 0
done

# A body that names every field a pooled create may take (the default
# image and limits, no network): isletd's own, or per-exec.
BODY_ALL='{"name": "NAME", "labels": {"team": "a", "code-toolbox-language": "typescript"},
  "env": {"GREETING": "hi there", "PATH_EXTRA": "/opt/x"}, "autoStopInterval": 30,
  "autoArchiveInterval": 90, "autoDeleteInterval": 120, "public": true, "ttlMinutes": 60,
  "target": "local", "user": "root", "volumes": [], "buildInfo": null, "gpu": 0, "kvm": false,
  "secrets": {}, "linkedSandbox": "", "networkBlockAll": true}'
BODY_MIN='{}'
BODY_PAUSE='{"name": "NAME", "autoStopInterval": 0, "autoPauseInterval": 5, "public": false}'
BODY_SNAP='{"name": "NAME", "snapshot": "host"}'
BODY_FROM='{"buildInfo": {"dockerfileContent": "FROM host\n"}, "limits": {"memory_mb": 1024}}'
bodies=(BODY_ALL BODY_MIN BODY_PAUSE BODY_SNAP BODY_FROM)

# what a sandbox shows from inside, the id and file times taken out (df
# reports the host's disk pool, which other sandboxes grow)
PROBE='hostname | sed "s/[0-9a-f]\{12\}/ID/g"; id; env | sort | grep -v "^HOSTNAME=" | sed "s/[0-9a-f]\{12\}/ID/g"; ls -la / | awk "{print \$1, \$3, \$4, \$NF}"; cat /etc/hosts | sed "s/[0-9a-f]\{12\}/ID/g"; ps -eo user,args | sed "s/[0-9a-f]\{12\}/ID/g"; ulimit -a; cat /proc/self/status | grep -E "^(Cap|Seccomp|NoNewPrivs)"; ls -la /workspace /tmp 2>&1 | awk "{print \$1, \$3, \$4, \$5, \$NF}"; pwd'
declare -A DTO INSIDE
# make KIND BODYVAR: create, then its normalised object and inside view
make () {
  local kind=$1 var=$2 body id t0
  body=$(jq -c --arg n "cp-$kind-$var" 'if .name then .name = $n else . end' <<<"${!var}")
  t0=$(date +%s)
  api POST /api/sandbox "${J[@]}" -d "$body"
  expect_code "$kind create $var" 200
  id=$(jq -r .id <<<"$BODY")
  expect_body "$kind create $var: started" '.state == "started"'
  # a taken sandbox's time is the take's, as a cold one's is its make
  expect_range "$kind create $var: islet.created" "$(jq .islet.created <<<"$BODY")" "$t0" $(( $(date +%s) + 1 ))
  api GET "/api/sandbox/$id"
  expect_code "$kind GET $var" 200
  DTO[$kind.$var]=$(jq -S --arg id "$id" '
    del(.id, .createdAt, .updatedAt, .lastActivityAt, .autoDestroyAt, .toolboxProxyUrl,
        .islet.created, .islet.created_nsec, .islet.uid_base)
    | if .name == $id then .name = "ID" else . end' <<<"$BODY")
  [[ $(jq -r 'has("autoDestroyAt")' <<<"$BODY") == "$(jq -r 'has("ttlMinutes")' <<<"$body")" ]] \
    || fail "$kind create $var: autoDestroyAt is not as ttlMinutes asks: $BODY"
  api POST "/toolbox/$id/process/execute" "${J[@]}" -d "$(jq -n --arg c "sh -c '$PROBE'" '{command: $c}')"
  expect_code "$kind execute in $var" 200
  INSIDE[$kind.$var]=$(jq -r '.result, .exitCode' <<<"$BODY")
  LAST=$id
}

log "pooled creates: each takes a sandbox of the pool"
for v in "${bodies[@]}"; do
  wait_until 60 pool_full || fail "the pool did not refill within 60 s"
  before=$(pooled)
  taken0=$(gauge taken_total)
  make pooled "$v"
  grep -qx "$LAST" <<<"$before" || fail "create $v did not take a pooled sandbox ($LAST; pool: $before)"
  expect_eq "create $v counted as taken" "$(( $(gauge taken_total) - taken0 ))" 1
done

log "POST /v1/sandbox, MCP create_sandbox and /v1/execute take from the same pool"
# took FACE ID: ID was one of the pool's a moment before
took () { grep -qx "$2" <<<"$before" || fail "$1 did not take a pooled sandbox ($2; pool: $before)"; }
wait_until 60 pool_full || fail "the pool did not refill within 60 s"
before=$(pooled)
api POST /v1/sandbox "${J[@]}" -d '{"language": "python"}'
expect_code "POST /v1/sandbox" 200
took "POST /v1/sandbox" "$(jq -r .sandbox_id <<<"$BODY")"
wait_until 60 pool_full || fail "the pool did not refill within 60 s"
before=$(pooled)
mcp_open "$SRV_KEY"
mcp '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_sandbox","arguments":{"name":"cp-mcp","persistent":true}}}'
expect_body "MCP create_sandbox" '.result.isError != true'
api GET /api/sandbox/cp-mcp
expect_code "the MCP sandbox is the key's" 200
took "MCP create_sandbox" "$(jq -r .id <<<"$BODY")"
wait_until 60 pool_full || fail "the pool did not refill within 60 s"
before=$(pooled)
api POST /v1/execute "${J[@]}" -d '{"code": "print(6 * 7)"}'
expect_code "/v1/execute" 200
expect_body "it ran" '.stdout == "42\n"'
took "/v1/execute" "$(jq -r .metadata.sandbox_id <<<"$BODY")"

log "a create that asks for other limits or a network makes its own"
for body in '{"cpu": 2}' '{"memory": 2}' '{"limits": {"pids": 300}}' '{"networkBlockAll": false}' \
  '{"networkAllowList": "10.0.0.0/8"}'; do
  wait_until 60 pool_full || fail "the pool did not refill within 60 s"
  before=$(pooled)
  api POST /api/sandbox "${J[@]}" -d "$body"
  expect_code "create $body" 200
  id=$(jq -r .id <<<"$BODY")
  grep -qx "$id" <<<"$before" && fail "create $body took a pooled sandbox"
  expect_eq "create $body: the pool untouched" "$(pooled)" "$before"
done

log "the quota is asked before a take; a refusal leaves the pool as it was"
capture isletd_cmd key create --name one --max-sandboxes 1
ONE=$OUT
wait_until 60 pool_full || fail "the pool did not refill within 60 s"
api -k "$ONE" POST /api/sandbox "${J[@]}" -d '{}'
expect_code "the key's first sandbox" 200
ONE_ID=$(jq -r .id <<<"$BODY")
wait_until 60 pool_full || fail "the pool did not refill within 60 s"
before=$(pooled)
refused0=$(gauge refused_total)
for i in 1 2 3; do
  api -k "$ONE" POST /api/sandbox "${J[@]}" -d '{}'
  expect_error "create $i over the key's quota" 429
done
expect_eq "three refusals counted" "$(( $(gauge refused_total) - refused0 ))" 3
expect_eq "the pool holds the same sandboxes" "$(pooled)" "$before"
for p in $before; do [[ -n "$(procs_in_cg "$p")" ]] || fail "pooled sandbox $p was stopped by a refusal"; done
api -k "$ONE" GET /api/sandbox
expect_body "the key sees its one sandbox" "[.items[].id] == [\"$ONE_ID\"]"
expect_eq "no row of a refused create" "$(sqlite3 "$STATE/isletd.db" "select count(*) from sandboxes where key_id = (select id from api_keys where name = 'one')" 2>/dev/null || echo 1)" 1

log "isletd's stop removes the pool"
before=$(pooled)
srv_stop
expect_eq "no pooled sandbox after the stop" "$(pooled | wc -l)" 0
for p in $before; do
  [[ -d "$STATE/sandboxes/$p" ]] && fail "pooled sandbox $p is still there after the stop"
  [[ -z "$(procs_in_cg "$p")" ]] || fail "processes of pooled sandbox $p still run"
done

log "cold creates (no pool) answer the same as pooled ones"
SRV_ARGS=()
srv_start
for v in "${bodies[@]}"; do
  make cold "$v"
  [[ -z "$(pooled)" ]] || fail "a pool without --create-pool"
  expect_eq "$v: the Daytona object, pooled and cold" "${DTO[pooled.$v]//cp-pooled-/cp-}" "${DTO[cold.$v]//cp-cold-/cp-}"
  expect_eq "$v: inside, pooled and cold" "${INSIDE[pooled.$v]//cp-pooled-/cp-}" "${INSIDE[cold.$v]//cp-cold-/cp-}"
done
srv_stop

log "a kill leaves the pool to the next start, which removes it and fills a new one"
SRV_ARGS=(--create-pool 2)
srv_start
wait_until 60 pool_full || fail "the pool did not fill within 60 s"
old=$(pooled)
kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
# as a kill between a take's rename and its claim leaves one: in taking/,
# no row, hidden from islet ls, taken back once it is older than a take
first=$(head -1 <<<"$old")
mv "$STATE/warm/ready/$first" "$STATE/warm/taking/$first"
capture islet ls --json
expect_eq "islet ls hides a sandbox being taken" "$(jq --arg p "$first" '[.sandboxes[] | select(.id == $p)] | length' <<<"$OUT")" 0
sleep 11
srv_start
for p in $old; do
  wait_until 20 test ! -d "$STATE/sandboxes/$p" || fail "pooled sandbox $p of the killed isletd is still there"
done
wait_until 60 pool_full || fail "the pool did not fill again within 60 s"
[[ -z "$(comm -12 <(echo "$old") <(pooled))" ]] || fail "the new pool holds the killed isletd's sandboxes"

log "ok"
