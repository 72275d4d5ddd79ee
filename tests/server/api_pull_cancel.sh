#!/usr/bin/env bash
# A delete during a pull calls the pull off.  create({image: REF}) of an
# image behind a slow front (tests/lib/hold_proxy.py, which logs every blob
# transfer) answers pulling_snapshot; a DELETE mid-download ends the
# front's transfers within 4 s (its log says each was cut), and leaves
# nothing: no islet-image, no blob or layer that was not in the store
# before, nothing in images/tmp, nothing in `islet image ls`, the key's
# sandbox slot free again.  The same for a build whose FROM image is
# being pulled.  Two sandboxes of the key pulling one image
# share the pull: deleting one leaves the other's, which starts with the
# image's files.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/registry.sh"

registry_srv_init

registry_slow_image "$W"
REF=$SLOW_REF

create_from () {
  api -k "$1" POST /api/sandbox -H 'Content-Type: application/json' \
    -d "{\"buildInfo\":{\"dockerfileContent\":\"FROM $REF\\n\"}}"
  expect_code "create({image}) of the slow image" 200
  expect_body "it answers pulling_snapshot" '.state == "pulling_snapshot"'
}

log "a delete mid-download"
one=$(isletd_cmd key create --name one --max-sandboxes 1 2>/dev/null) || fail "key create"
before=$(store_list)
create_from "$one"
id=$(jq -r .id <<<"$BODY")
remember_id "$id"
wait_until 20 mid_transfer || fail "no blob transfer began: $(cat "$XFER_LOG" 2>/dev/null)"
sleep 0.5
mid_transfer || fail "the pull ended before the delete; the front is not slow enough"
t0=$(date +%s%N)
api -k "$one" DELETE "/api/sandbox/$id"
expect_code "delete mid-pull" 200
wait_empty 4 open_xfers || fail "transfers still running 4 s after the delete: $(open_xfers)"
grep -q '^cut ' "$XFER_LOG" || fail "no transfer was cut: $(cat "$XFER_LOG")"
wait_empty 6 pgrep -f "islet-image $STATE pull" \
  || fail "islet-image still runs 6 s after the delete"
log "the pull ended $(( ($(date +%s%N) - t0) / 1000000 )) ms after the delete"
starts=$(grep -c '^start ' "$XFER_LOG")
expect_eq "the store's blobs and layers" "$(store_list)" "$before"
[[ -z "$(ls -A "$STATE/images/tmp" 2>/dev/null)" ]] \
  || fail "temporaries left: $(ls -A "$STATE/images/tmp")"
islet image ls | grep -q test/slow && fail "the called-off image is listed"
api -k "$one" GET "/api/sandbox/$id"
expect_code "the deleted sandbox" 404
sleep 1
expect_eq "blob transfers begun after the pull ended" "$(grep -c '^start ' "$XFER_LOG")" "$starts"
# the key's one sandbox slot is free again: a create of a local image fits
api -k "$one" POST /api/sandbox -H 'Content-Type: application/json' -d '{}'
expect_code "a create in the freed slot" 200
api -k "$one" DELETE "/api/sandbox/$(jq -r .id <<<"$BODY")"
expect_code "delete it" 200

log "a delete of a build while its FROM image is pulled"
: >"$XFER_LOG"
before=$(store_list)
api -k "$one" POST /api/sandbox -H 'Content-Type: application/json' \
  -d "{\"buildInfo\":{\"dockerfileContent\":\"FROM $REF\\nRUN echo built >/built\\n\"}}"
expect_code "create({image: Image}) on the slow image" 200
bid=$(jq -r .id <<<"$BODY")
remember_id "$bid"
wait_until 20 mid_transfer || fail "the build's base pull began no transfer"
api -k "$one" DELETE "/api/sandbox/$bid"
expect_code "delete the build mid-pull" 200
wait_empty 4 open_xfers || fail "the base pull's transfers run 4 s after the delete: $(open_xfers)"
wait_empty 6 pgrep -f "islet-image $STATE pull" || fail "islet-image still runs after the delete"
expect_eq "the store after the build's delete" "$(store_list)" "$before"
islet image ls | grep -q test/slow && fail "the called-off base is listed"

log "two sandboxes pulling one image: one deleted, the other gets the image"
two=$(new_key two)
: >"$XFER_LOG"
create_from "$two"
a=$(jq -r .id <<<"$BODY")
remember_id "$a"
create_from "$two"
b=$(jq -r .id <<<"$BODY")
remember_id "$b"
wait_until 20 mid_transfer || fail "no blob transfer began"
api -k "$two" DELETE "/api/sandbox/$a"
expect_code "delete one of the two" 200
sleep 1.5
[[ -z "$(grep '^cut ' "$XFER_LOG")" ]] || fail "the shared pull was cut: $(cat "$XFER_LOG")"
wait_sandbox -k "$two" "$b" started 90
T=/toolbox/$b
api -k "$two" POST "$T/process/execute" -d '{"command":"sh -c \"cat /r1 | busybox sha256sum\""}'
expect_code "execute in the other sandbox" 200
expect_eq "the image's layer in the other sandbox" "$(jq -r .result <<<"$BODY" | tr -d '\n')" "$SLOW_R1  -"
islet image ls | grep -q test/slow || fail "the shared pull's image is not in the store"
api -k "$two" DELETE "/api/sandbox/$b"
expect_code "delete the other" 200
pass "a delete mid-pull stops its downloads and leaves nothing; a shared pull goes on"
