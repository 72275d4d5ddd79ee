#!/usr/bin/env bash
# A delete during a pull calls the pull off.  create({image: REF}) of an
# image behind a slow front (tests/lib/slow_proxy.py, which logs every blob
# transfer) answers pulling_snapshot; a DELETE mid-download ends the
# front's transfers within 4 s (its log says each was cut), and leaves
# nothing: no islet-image, no blob or layer that was not in the store
# before, nothing in images/tmp, nothing in `islet image ls`, the key's
# sandbox slot free again.  Two sandboxes of the key pulling one image
# share the pull: deleting one leaves the other's, which starts with the
# image's files.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/registry.sh"

registry_srv_init

# random data does not compress: two layers of 4 MiB behind busybox's
head -c $((4 << 20)) /dev/urandom >"$W/r1"
head -c $((4 << 20)) /dev/urandom >"$W/r2"
cat >"$W/spec.json" <<EOF2
{"format":"oci","compress":"gzip","config":{"Env":["PATH=/bin"]},
 "layers":[[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493},
   {"name":"bin/sh","type":"symlink","target":"busybox"},{"name":"bin/cat","type":"symlink","target":"busybox"}],
  [{"name":"r1","src":"$W/r1"}],[{"name":"r2","src":"$W/r2"}]]}
EOF2
$MK "$W/spec.json" "$W/img" >/dev/null || fail "mkimage"
skopeo copy -q --dest-tls-verify=false "oci:$W/img" "docker://$R/test/slow:1" >"$W/skopeo.log" 2>&1 \
  || fail "skopeo push: $(cat "$W/skopeo.log")"
r1=$(sha256sum "$W/r1" | cut -d' ' -f1)

# 512 KiB/s a transfer: a 4 MiB layer takes 8 s
"$IT_PY" "$(dirname "$0")/../lib/slow_proxy.py" "$W/proxy.port" "$R" $((512 << 10)) "$W/xfer.log" &
PROXY_PID=$!
wait_until 10 test -s "$W/proxy.port" || fail "the slow front did not start"
REF=127.0.0.1:$(cat "$W/proxy.port")/test/slow:1

store_list () { local d; for d in blobs/sha256 layers; do ls "$STATE/images/$d" 2>/dev/null || true; done | sort; }
# transfers started and neither done nor cut
open_xfers () {
  awk '$1 == "start" { n[$2]++ } $1 == "done" || $1 == "cut" { n[$2]-- }
       END { for (d in n) if (n[d] > 0) print d }' "$W/xfer.log" 2>/dev/null
}
mid_transfer () { [[ -n "$(open_xfers)" ]]; }

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
wait_until 20 mid_transfer || fail "no blob transfer began: $(cat "$W/xfer.log" 2>/dev/null)"
sleep 0.5
mid_transfer || fail "the pull ended before the delete; the front is not slow enough"
t0=$(date +%s%N)
api -k "$one" DELETE "/api/sandbox/$id"
expect_code "delete mid-pull" 200
wait_empty 4 open_xfers || fail "transfers still running 4 s after the delete: $(open_xfers)"
grep -q '^cut ' "$W/xfer.log" || fail "no transfer was cut: $(cat "$W/xfer.log")"
wait_empty 6 pgrep -f "islet-image $STATE pull" \
  || fail "islet-image still runs 6 s after the delete"
log "the pull ended $(( ($(date +%s%N) - t0) / 1000000 )) ms after the delete"
starts=$(grep -c '^start ' "$W/xfer.log")
expect_eq "the store's blobs and layers" "$(store_list)" "$before"
[[ -z "$(ls -A "$STATE/images/tmp" 2>/dev/null)" ]] \
  || fail "temporaries left: $(ls -A "$STATE/images/tmp")"
islet image ls | grep -q test/slow && fail "the called-off image is listed"
api -k "$one" GET "/api/sandbox/$id"
expect_code "the deleted sandbox" 404
sleep 1
expect_eq "blob transfers begun after the pull ended" "$(grep -c '^start ' "$W/xfer.log")" "$starts"
# the key's one sandbox slot is free again: a create of a local image fits
api -k "$one" POST /api/sandbox -H 'Content-Type: application/json' -d '{}'
expect_code "a create in the freed slot" 200
api -k "$one" DELETE "/api/sandbox/$(jq -r .id <<<"$BODY")"
expect_code "delete it" 200

log "two sandboxes pulling one image: one deleted, the other gets the image"
two=$(new_key two)
: >"$W/xfer.log"
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
[[ -z "$(grep '^cut ' "$W/xfer.log")" ]] || fail "the shared pull was cut: $(cat "$W/xfer.log")"
wait_sandbox -k "$two" "$b" started 90
T=/toolbox/$b
api -k "$two" POST "$T/process/execute" -d '{"command":"sh -c \"cat /r1 | busybox sha256sum\""}'
expect_code "execute in the other sandbox" 200
expect_eq "the image's layer in the other sandbox" "$(jq -r .result <<<"$BODY" | tr -d '\n')" "$r1  -"
islet image ls | grep -q test/slow || fail "the shared pull's image is not in the store"
api -k "$two" DELETE "/api/sandbox/$b"
expect_code "delete the other" 200
pass "a delete mid-pull stops its downloads and leaves nothing; a shared pull goes on"
