#!/usr/bin/env bash
# Image builds through isletd have slots per key: a key's second build
# waits for its first (never two of one key's RUNs at once) instead of
# taking the machine's other slot, so another key's build runs meanwhile;
# a key's builds past the waiting bound are a 429 that says so, and every
# build that waited ends made.  Each create answers at once (pending_build)
# and its sandbox starts when its build is done.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/image.sh"

srv_init
want=$(test_image example.test/slots:1)
[[ "$want" == sha256:* ]] || fail "test_image printed '$want', not an image id"
B=$(new_key other)

# build_bg NAME KEY DOCKERFILE-TEXT: a create with that Dockerfile, in the
# background; its status lands in $STATE.NAME.code.
PIDS=()
build_bg () {
  local body
  body=$(jq -n --arg d "$3" '{buildInfo: {dockerfileContent: $d}, env: {}, labels: {}}')
  curl -s -o "$STATE.$1.body" -w '%{http_code}' --max-time 240 -X POST \
    -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$body" \
    "$SRV_URL/api/sandbox" >"$STATE.$1.code" &
  PIDS+=($!)
}
build_sandboxes () {
  islet ls --json | jq '[.sandboxes[] | select(.name | startswith("islet-build-"))] | length'
}
slow () { printf 'FROM example.test/slots:1\nRUN /bin/busybox sleep %s && echo %s >/srv/app/made\n' "$1" "$2"; }

log "two builds of one key: one runs, the other waits for it"
build_bg a1 "$SRV_KEY" "$(slow 40 a1)"
build_bg a2 "$SRV_KEY" "$(slow 1 a2)"
wait_until 60 sh -c "[ \"\$('$ISLET_BIN' --state-dir '$STATE' ls --json | jq '[.sandboxes[] | select(.name | startswith(\"islet-build-\"))] | length')\" -ge 1 ]" \
  || fail "no build sandbox appeared"
most=0
for (( i = 0; i < 20; i++ )); do
  n=$(build_sandboxes); (( n > most )) && most=$n
  sleep 0.2
done
expect_eq "build sandboxes of one key at once" "$most" 1

log "another key's build is not held back by them"
t0=$(date +%s%N)
api -k "$B" POST /api/sandbox -d "$(jq -n --arg d "$(printf 'FROM example.test/slots:1\nRUN echo b >/srv/app/made\n')" '{buildInfo: {dockerfileContent: $d}}')"
expect_code "the other key's build, while the first key's run" 200
id=$(jq -r .id <<<"$BODY"); remember_id "$id"
wait_sandbox -k "$B" "$id" started 60
t1=$(( ($(date +%s%N) - t0) / 1000000 ))
api -k "$B" POST "/toolbox/$id/process/execute" -d '{"command":"cat /srv/app/made"}'
expect_body "the other key's image" '.result == "b\n"'
expect_range "its time (ms): not after the first key's two builds" "$t1" 0 20000

log "past the waiting bound: a 429 naming it, at once"
build_bg a3 "$SRV_KEY" "$(slow 1 a3)"
build_bg a4 "$SRV_KEY" "$(slow 1 a4)"
build_bg a5 "$SRV_KEY" "$(slow 1 a5)"
sleep 2
api POST /api/sandbox -d "$(jq -n --arg d "$(slow 1 a6)" '{buildInfo: {dockerfileContent: $d}}')"
expect_error "a key's build past 1 running and 4 waiting" 429
expect_body "it says why" '.message | test("image builds of this key are waiting")'

log "every build that waited is made"
for p in "${PIDS[@]}"; do wait "$p" || true; done
for n in a1 a2 a3 a4 a5; do
  expect_eq "build $n" "$(cat "$STATE.$n.code")" 200
  id=$(jq -r .id "$STATE.$n.body"); remember_id "$id"
  wait_sandbox "$id" started 120
  T=/toolbox/$id
  sh_in 'cat /srv/app/made'
  expect_eq "build $n's image" "$OUT" "$n"
done
expect_eq "build sandboxes left" "$(build_sandboxes)" 0
pass
