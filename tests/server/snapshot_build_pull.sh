#!/usr/bin/env bash
# snapshot.create from an Image whose FROM is not on the machine: the
# base is pulled first, the snapshot `pulling` meanwhile and its build log
# saying so; a delete during that pull calls it off (the front's transfers
# end, no islet-image is left, the store is as before) and leaves no
# snapshot and no log.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/registry.sh"

registry_srv_init
registry_slow_image "$W"
REF=$SLOW_REF

log "a build on a base behind a slow front: pulling, said in its log"
before=$(store_list)
api POST /api/snapshots -H 'Content-Type: application/json' \
  -d "$(jq -n --arg df "$(printf 'FROM %s\nRUN echo never\n' "$REF")" '{name: "on-slow", buildInfo: {dockerfileContent: $df}}')"
expect_code "snapshot.create on the slow base" 200
id=$(jq -r .id <<<"$BODY")
wait_until 20 mid_transfer || fail "no blob transfer began: $(cat "$XFER_LOG" 2>/dev/null)"
api GET /api/snapshots/on-slow
expect_body "the snapshot is pulling its base" '.state == "pulling"'
api GET "/api/snapshots/$id/build-logs"
expect_code "its build log" 200
grep -qF "islet: FROM $REF is not on this machine: pulling it" <<<"$BODY" \
  || fail "the log does not say the base is pulled: $BODY"

log "a delete mid-pull calls the pull off and leaves nothing"
mid_transfer || fail "the pull ended before the delete; the front is not slow enough"
t0=$(date +%s%N)
api DELETE /api/snapshots/on-slow
expect_code "delete mid-pull" 200
(( ($(date +%s%N) - t0) / 1000000 < 20000 )) || fail "the delete waited for the pull"
wait_empty 4 open_xfers || fail "transfers still running 4 s after the delete: $(open_xfers)"
wait_empty 6 pgrep -f "islet-image $STATE" || fail "islet-image still runs 6 s after the delete"
expect_eq "the store's blobs and layers" "$(store_list)" "$before"
islet image ls | grep -q test/slow && fail "the called-off base is listed"
api GET /api/snapshots/on-slow
expect_code "the deleted snapshot" 404
[[ ! -e "$STATE/isletd-builds/$id.log" ]] || fail "the build log outlived its snapshot"
pass "a snapshot's build pulls its base first, says so, and a delete mid-pull leaves nothing"
