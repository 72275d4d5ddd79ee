#!/usr/bin/env bash
# kill -9 of isletd during sandbox.createSnapshot (POST /api/sandbox/{id}/snapshot),
# after the copy-on-write layer is taken and before anything says it is
# done: after a restart no snapshot is listed or usable, the name is free,
# and the next snapshot sweeps the orphan layer.  Then one not killed:
# listed, usable, its layer alone in the pool, and `islet snapshot ls` shows
# it by the name it was given.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init
SNAPS=$STATE/pool/.snapshots
layers () { find "$SNAPS" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
has_layer () { (( $(layers) > 0 )); }

api POST /api/sandbox -H 'Content-Type: application/json' -d '{"name":"src"}'
expect_code "create" 200
id=$(jq -r .id <<<"$BODY")
remember_id "$id"
T=/toolbox/$id
sh_in 'echo kept >/workspace/f'

log "isletd killed in the middle of a snapshot"
srv_stop
ISLET_TEST_SNAPSHOT_PAUSE_MS=30000 srv_start
curl -s -o /dev/null --max-time 60 -X POST -H "Authorization: Bearer $SRV_KEY" \
  -H 'Content-Type: application/json' -d '{"name":"s1"}' "$SRV_URL/api/sandbox/$id/snapshot" &
cpid=$!
wait_until 20 has_layer || fail "no layer appeared"
kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
wait "$cpid" 2>/dev/null || true
srv_start
api GET /api/snapshots
expect_code "list after the kill" 200
expect_body "nothing listed after the kill" '.total == 0 and (.items | length) == 0'
api GET /api/snapshots/s1
expect_code "get of the killed snapshot" 404
api POST /api/sandbox -H 'Content-Type: application/json' -d '{"snapshot":"s1"}'
[[ "$CODE" != 200 ]] || fail "a sandbox was made from the killed snapshot: $BODY"
capture islet snapshot ls --json
expect_eq "the core's snapshots after the kill" "$(jq '.snapshots | length' <<<"$OUT")" 0

log "the name is free; the next snapshot sweeps the orphan layer"
api POST "/api/sandbox/$id/snapshot" -H 'Content-Type: application/json' -d '{"name":"s1"}'
expect_code "snapshot s1 again" 200
expect_eq "layers after the next snapshot" "$(layers)" 1
capture islet snapshot ls
grep -Eq '^s1 +[0-9a-f]{12} ' <<<"$OUT" \
  || fail "islet snapshot ls: s1 by the name its key gave it, with its id: $OUT"
capture islet snapshot ls --json
expect_eq "islet snapshot ls --json: the label" "$(jq -r '.snapshots[0].label' <<<"$OUT")" s1
api GET /api/snapshots/s1
expect_code "get s1" 200
expect_body "s1 is active and from the sandbox" ".state == \"active\" and .sourceSandboxId == \"$id\""
api POST /api/sandbox -H 'Content-Type: application/json' -d '{"snapshot":"s1","name":"from-s1"}'
expect_code "create from s1" 200
T=/toolbox/$(jq -r .id <<<"$BODY")
remember_id "${T#/toolbox/}"
sh_in 'cat /workspace/f'
expect_eq "the file in the sandbox from s1" "$OUT" "kept"
api DELETE /api/snapshots/s1
expect_error "delete of s1 while from-s1 exists" 409
pass "a snapshot killed mid-way is never listed, its name is free, its layer swept"
