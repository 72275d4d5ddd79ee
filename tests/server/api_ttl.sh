#!/usr/bin/env bash
# setTtl (POST /api/sandbox/{id}/ttl/{minutes}), with a "minute" of 2 s
# (ISLETD_TEST_MINUTE_SECONDS): the sandbox object's autoDestroyAt, the
# destroy when it is due whatever the state (here a stopped sandbox and a
# paused one), an audit record, and ttl 0 taking it away.  Needs root.
#   ISLET_BIN=build/islet bash tests/server/api_ttl.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

export ISLETD_TEST_MINUTE_SECONDS=2
srv_init

for n in a b c; do
  api POST /api/sandbox -d "{\"name\":\"$n\",\"autoStopInterval\":0}"; expect_code "create $n" 200
  remember_id "$(jq -r .id <<<"$BODY")"
done
api POST /api/sandbox/a/ttl/x; expect_error "a ttl that is not a number" 400
api POST /api/sandbox/a/ttl/-1; expect_error "a negative ttl" 400
api GET /api/sandbox/a; expect_body "no ttl: no autoDestroyAt" 'has("autoDestroyAt") | not'

t0=$(date +%s)
api POST /api/sandbox/a/ttl/2; expect_code "ttl a" 200
expect_body "autoDestroyAt 4 s from now" "(.autoDestroyAt | sub(\"\\\\.000Z\$\"; \"Z\") | fromdate) - $t0 | . >= 3 and . <= 6"
api POST /api/sandbox/b/ttl/1; expect_code "ttl b" 200
api POST /api/sandbox/c/ttl/1; expect_code "ttl c" 200
api POST /api/sandbox/c/ttl/0; expect_code "ttl c taken away" 200
expect_body "ttl 0: no autoDestroyAt" 'has("autoDestroyAt") | not'
api GET "/api/sandbox?autoDestroyAtBefore=$(date -u -d @$(( t0 + 60 )) +%Y-%m-%dT%H:%M:%SZ)"
expect_code "list by autoDestroyAt" 200
expect_body "the list's autoDestroyAt filter sees the ttl" '[.items[].name] | sort == ["a", "b"]'
api POST /api/sandbox/a/stop; expect_code "stop a" 200
api POST /api/sandbox/b/pause; expect_code "pause b" 200

gone=0
for _ in $(seq 1 60); do
  api GET /api/sandbox/a; ca=$CODE
  api GET /api/sandbox/b; cb=$CODE
  if [[ $ca == 404 && $cb == 404 ]]; then gone=1; break; fi
  sleep 0.25
done
[[ $gone == 1 ]] || fail "the stopped and the paused sandbox outlived their ttl (a $ca, b $cb)"
(( $(date +%s) - t0 >= 2 )) || fail "destroyed before their time"
api GET /api/sandbox/c; expect_code "c, whose ttl was taken away, stays" 200
[[ $(islet ls --json | jq '.sandboxes | length') == 1 ]] || fail "islet ls: $(islet ls)"
api GET "/api/audit?limit=50"; expect_code "audit" 200
[[ $(jq '[.items[]? // .[]? | select(.action == "sandbox.ttl-expired" and .status == 200)] | length' <<<"$BODY") == 2 ]] \
  || fail "two sandbox.ttl-expired records: ${BODY:0:600}"
pass
