#!/usr/bin/env bash
# An exec whose sandbox stops under it is not an exit status: the supervisor
# is killed (kill -9) while a toolbox execute runs, and the answer must be an
# error that says the sandbox stopped (409), not {"exitCode":137} as if the
# command had been killed on its own.  Needs root.  Exit 0 pass, 1 fail.
#   ISLET_BIN=build/islet bash tests/server/api_exec_stopped.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

api POST /api/sandbox -d '{}'; expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
sup=$(sb_info "$A" 'j["supervisor"]')
[[ $sup -gt 0 ]] || fail "no supervisor for $A"

out=$STATE.exec
curl -s -o "$out" -w '%{http_code}' --max-time 60 -X POST -H "Authorization: Bearer $SRV_KEY" \
  -H 'Content-Type: application/json' -d '{"command":"sleep 37.5","timeout":40}' \
  "$SRV_URL/toolbox/$A/process/execute" >"$out.code" &
client=$!
for _ in $(seq 1 50); do
  pgrep -f '^sleep 37.5$' >/dev/null && break
  sleep 0.1
done
pgrep -f '^sleep 37.5$' >/dev/null || fail "the exec's sleep never started"
kill -9 "$sup"
wait "$client" || true
CODE=$(cat "$out.code"); BODY=$(cat "$out")
log "answer: $CODE $BODY"
expect_error "an exec whose supervisor was killed" 409
expect_body "it says the sandbox stopped" '.message | test("sandbox stopped during the exec")'
pass
