#!/usr/bin/env bash
# Pulls through isletd, from a real registry on loopback (Debian's
# docker-registry, started here, filled with skopeo): snapshot.create of
# an image not on the machine is pending or pulling, then active, and a
# sandbox from it has the image's files; create with buildInfo FROM an
# image not here answers at once, pulling_snapshot, then started; an image
# that is not in the registry ends in error with the reason (a snapshot's,
# and a sandbox's); an image past the key's disk quota is refused
# before a layer is fetched; isletd killed -9 in the middle of a pull (its
# blob downloads held by a front, tests/lib/hold_proxy.py) takes its
# islet-image along, and the restarted isletd shows the snapshot in error,
# never active, the image not in the store; the pull works again after;
# a registry that is not on loopback is spoken to in plain HTTP only when
# isletd names it with --insecure-registry.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/registry.sh"

registry_srv_init

# push NAME EXTRA-LAYERS: a busybox image of two layers and more
push () {
  cat >"$W/spec.json" <<EOF
{"format":"oci","compress":"gzip","config":{"Env":["PATH=/bin","FROM=$1"],"WorkingDir":"/srv"},
 "layers":[[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493},
   {"name":"bin/sh","type":"symlink","target":"busybox"},{"name":"bin/cat","type":"symlink","target":"busybox"}],
  [{"name":"srv","type":"dir"},{"name":"srv/hello","data":"$1\n"}]$2]}
EOF
  rm -rf "$W/img"
  $MK "$W/spec.json" "$W/img" >/dev/null || fail "mkimage $1"
  skopeo copy -q --dest-tls-verify=false "oci:$W/img" "docker://$R/$1" >"$W/skopeo.log" 2>&1 \
    || fail "skopeo push of $1: $(cat "$W/skopeo.log")"
}

log "snapshot.create of an image not on the machine: pulled"
push test/app:1 ""
api POST /api/snapshots -d "{\"name\":\"p1\",\"imageName\":\"$R/test/app:1\"}"
expect_code "snapshot create" 200
expect_body "pending or pulling at first" '.state == "pending" or .state == "pulling"'
snapshot_wait p1 active
log "states seen:$SEEN"
expect_body "active, no error" '.errorReason == null'
api POST /api/sandbox -d '{"snapshot":"p1"}'
expect_code "create from the pulled snapshot" 200
T=/toolbox/$(jq -r .id <<<"$BODY"); remember_id "${T#/toolbox/}"
sh_in 'cat hello; echo $FROM'
expect_eq "the pulled image's file, WorkingDir and Env" "$OUT" $'test/app:1\ntest/app:1'
[[ $(pgrep -c -f "islet-image $STATE pull") == 0 ]] || fail "an islet-image is left running"

log "create with buildInfo FROM an image not here: pulled, then made"
push test/from:1 ""
api POST /api/sandbox -d "{\"buildInfo\":{\"dockerfileContent\":\"FROM $R/test/from:1\\n\"}}"
expect_code "create FROM" 200
expect_body "pulling_snapshot at once" '.state == "pulling_snapshot"'
T=/toolbox/$(jq -r .id <<<"$BODY"); remember_id "${T#/toolbox/}"
wait_sandbox "${T#/toolbox/}" started
sh_in 'cat /srv/hello'
expect_eq "the FROM image's file" "$OUT" "test/from:1"
api POST /api/sandbox -d "{\"buildInfo\":{\"dockerfileContent\":\"FROM $R/test/none:1\\n\"}}"
expect_code "create FROM an image the registry has not" 200
none=$(jq -r .id <<<"$BODY"); remember_id "$none"
wait_sandbox "$none" error
expect_body "the reason" '.errorReason | test("test/none:1. is not on this machine and its pull failed")'
api DELETE "/api/sandbox/$none"
expect_code "delete the sandbox whose pull failed" 200

log "an image the registry has not: error with the reason"
api POST /api/snapshots -d "{\"name\":\"p2\",\"imageName\":\"$R/test/none:1\"}"
expect_code "snapshot create of a missing image" 200
snapshot_wait p2 error
expect_body "the reason" '.errorReason | test("not on this machine and its pull failed")'
api POST /api/sandbox -d '{"snapshot":"p2"}'
expect_error "create from a snapshot in error" 409

log "past the key's disk quota: refused before a layer is fetched"
head -c $((3 << 20)) /dev/urandom >"$W/big"
push test/big:1 ",[{\"name\":\"big\",\"src\":\"$W/big\"}]"
small=$(isletd_cmd key create --name small --max-disk 1 2>/dev/null) || fail "key create"
api -k "$small" POST /api/snapshots -d "{\"name\":\"big\",\"imageName\":\"$R/test/big:1\"}"
expect_code "snapshot create past the quota" 200
snapshot_wait big error "$small"
expect_body "the reason names the bound" '.errorReason | test("more than the 1 MiB allowed")'
islet image ls | grep -q test/big && fail "the image past the quota is in the store"

log "isletd killed -9 in the middle of a pull"
touch "$W/hold"
"$IT_PY" "$(dirname "$0")/../lib/hold_proxy.py" "$W/proxy.port" "$R" "$W/hold" &
PROXY_PID=$!
wait_until 10 test -s "$W/proxy.port" || fail "the holding front did not start"
P=127.0.0.1:$(cat "$W/proxy.port")
push test/killed:1 ""
api POST /api/snapshots -d "{\"name\":\"k1\",\"imageName\":\"$P/test/killed:1\"}"
expect_code "snapshot create through the holding front" 200
snapshot_wait k1 pulling
child=$(pgrep -f "islet-image $STATE pull $P/test/killed:1") || fail "no islet-image child"
kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
wait_until 10 dead "$child" || fail "islet-image $child outlived isletd"
rm -f "$W/hold"
srv_start
api GET /api/snapshots/k1
expect_code "get after the restart" 200
expect_body "in error, never active" '.state == "error" and (.errorReason | test("cut short"))'
islet image ls | grep -q test/killed && fail "the image of the killed pull is in the store"
api POST /api/sandbox -d '{"snapshot":"k1"}'
expect_error "create from the killed snapshot" 409
api DELETE /api/snapshots/k1
expect_code "delete of the killed snapshot" 200
api POST /api/snapshots -d "{\"name\":\"k1\",\"imageName\":\"$P/test/killed:1\"}"
expect_code "snapshot create again" 200
snapshot_wait k1 active
api POST /api/sandbox -d '{"snapshot":"k1"}'
expect_code "create from the pulled snapshot" 200
T=/toolbox/$(jq -r .id <<<"$BODY"); remember_id "${T#/toolbox/}"
sh_in 'cat /srv/hello'
expect_eq "the image pulled after the kill" "$OUT" "test/killed:1"
log "plain HTTP only to loopback registries or isletd --insecure-registry hosts"
# this machine's own non-loopback address: packets to it stay in the host
own=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')
if [[ -n "$own" ]]; then
  api POST /api/snapshots -d "{\"name\":\"i1\",\"imageName\":\"$own:${R##*:}/test/app:1\"}"
  expect_code "snapshot create from a non-loopback registry" 200
  snapshot_wait i1 error
  expect_body "asked over https" ".errorReason | test(\"https://$own:${R##*:}/\")"
  srv_stop
  SRV_ARGS=(--insecure-registry "$own:${R##*:}")
  srv_start
  api POST /api/snapshots -d "{\"name\":\"i2\",\"imageName\":\"$own:${R##*:}/test/app:1\"}"
  expect_code "snapshot create from an insecure registry" 200
  snapshot_wait i2 error
  expect_body "asked over http" ".errorReason | test(\"GET http://$own:${R##*:}/\")"
else
  log "no non-loopback address here: the https check is left out"
fi
pass "pulled through the API, failures and quota say why, a kill leaves nothing that looks whole"
