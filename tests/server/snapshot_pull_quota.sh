#!/usr/bin/env bash
# A pull's bounds per key, from a real registry on loopback: an image whose
# layer is small compressed (50 MB of zeros gzip to about 50 KB) but past
# the key's disk quota unpacked is stopped as it is written, the snapshot in
# error naming the quota and create({image})'s sandbox in error naming it
# (its pull meets the quota, not its create), nothing of it
# left in the store; the same image under a larger quota is pulled.  A key
# with 2 pulls running and 8 waiting (their blobs held by a front,
# tests/lib/hold_proxy.py) gets a 429 for the next, and every held pull
# ends active once the front lets them go.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/registry.sh"

registry_srv_init

log "an image of 50 MB of zeros: small compressed, large unpacked"
head -c $((50 << 20)) /dev/zero >"$W/zeros"
cat >"$W/spec.json" <<EOF
{"format":"oci","compress":"gzip","config":{"Env":["PATH=/bin"]},
 "layers":[[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493},
   {"name":"bin/sh","type":"symlink","target":"busybox"}],[{"name":"zeros","src":"$W/zeros"}]]}
EOF
$MK "$W/spec.json" "$W/img" >/dev/null || fail "mkimage"
skopeo copy -q --dest-tls-verify=false "oci:$W/img" "docker://$R/test/zeros:1" >"$W/skopeo.log" 2>&1 \
  || fail "skopeo push: $(cat "$W/skopeo.log")"
compressed=$(find "$W/img/blobs" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
expect_range "the image's compressed bytes" "$compressed" 1 $((8 << 20))

small=$(isletd_cmd key create --name small --max-disk 10 2>/dev/null) || fail "key create"
api -k "$small" POST /api/snapshots -d "{\"name\":\"z\",\"imageName\":\"$R/test/zeros:1\"}"
expect_code "snapshot create of the image" 200
snapshot_wait z error "$small"
expect_body "the reason names the quota and the unpacked bound" \
  '.errorReason | test("disk quota of 10 MiB.*more than the 10 MiB allowed once unpacked")'
islet image ls | grep -q test/zeros && fail "the image past the quota is in the store"
[[ -z "$(ls -A "$STATE/images/tmp")" ]] || fail "the stopped unpack left $(ls -A "$STATE/images/tmp")"
big=$(find "$STATE/images/layers" -name zeros 2>/dev/null | head -1)
[[ -z "$big" ]] || fail "the file past the quota is in the store: $big"

# a sandbox whose own disk fits the quota, so that the pull is what meets it
# (a create asking for more than the quota is refused before any pull)
api -k "$small" POST /api/sandbox \
  -d "{\"disk\":0.001,\"buildInfo\":{\"dockerfileContent\":\"FROM $R/test/zeros:1\\n\"}}"
expect_code "create({image}) of the image" 200
zid=$(jq -r .id <<<"$BODY")
remember_id "$zid"
wait_sandbox -k "$small" "$zid" error 60
expect_body "its errorReason names the quota" '.errorReason | test("disk quota of 10 MiB")'
expect_eq "sandboxes of the small key" "$(islet ls --json | jq '.sandboxes | length')" 0
api -k "$small" DELETE "/api/sandbox/$zid"
expect_code "delete the failed pull's sandbox" 200

larger=$(isletd_cmd key create --name larger --max-disk 100 2>/dev/null) || fail "key create"
api -k "$larger" POST /api/snapshots -d "{\"name\":\"z\",\"imageName\":\"$R/test/zeros:1\"}"
expect_code "snapshot create under a larger quota" 200
snapshot_wait z active "$larger"

log "a key's eleventh pull while 2 run and 8 wait: a 429"
touch "$W/hold"
"$IT_PY" "$(dirname "$0")/../lib/hold_proxy.py" "$W/proxy.port" "$R" "$W/hold" &
PROXY_PID=$!
wait_until 10 test -s "$W/proxy.port" || fail "the holding front did not start"
P=127.0.0.1:$(cat "$W/proxy.port")
registry_push_test_image "$W" test/held:1
many=$(new_key many)
for i in $(seq 1 10); do
  api -k "$many" POST /api/snapshots -d "{\"name\":\"h$i\",\"imageName\":\"$P/test/held:1\"}"
  expect_code "held pull $i" 200
done
api -k "$many" POST /api/snapshots -d "{\"name\":\"h11\",\"imageName\":\"$P/test/held:1\"}"
expect_error "the eleventh pull" 429
expect_body "it says why" '.message | test("10 pulls of this key are running or waiting")'
api -k "$many" GET /api/snapshots/h11
expect_code "no snapshot left by the refused pull" 404
api -k "$small" POST /api/snapshots -d "{\"name\":\"other\",\"imageName\":\"$P/test/held:1\"}"
expect_code "another key's pull meanwhile" 200
rm -f "$W/hold"
for i in $(seq 1 10); do snapshot_wait "h$i" active "$many"; done
snapshot_wait other active "$small"
pass "unpacked bytes bounded by the quota, pulls per key bounded"
