#!/usr/bin/env bash
# kill -9 in the middle of a pull from a real registry on loopback (Debian's
# docker-registry, started here, filled with skopeo): the pulling process
# group (`islet image pull` and the islet-image it runs) is killed at
# several points of the transfer.  After each kill no blob is stored under
# a digest it does not hash to, no unpacked layer is half there, no image
# record names what is not there and `islet image ls` lists the image only
# if it is whole; then a pull succeeds and a sandbox from it runs.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/image.sh"
source "$(dirname "$0")/../lib/registry.sh"
it_init
command -v setsid >/dev/null || fail "needs setsid (util-linux)"
[[ -x /bin/busybox ]] || fail "needs /bin/busybox (busybox-static)"
MK="$IT_PY $(dirname "$0")/../lib/mkimage.py"
W=$STATE.work
REG_PID=
PULL_PID=
trap '[[ -n "$PULL_PID" ]] && kill -9 -- "-$PULL_PID" 2>/dev/null; kill "$REG_PID" 2>/dev/null; wait 2>/dev/null; it_cleanup' EXIT
export DOCKER_CONFIG=$W/no-docker-config

registry_start "$W"
REF=$R/test/big:1

# random data does not compress: two layers of 8 MiB blobs behind a small one
head -c $((8 << 20)) /dev/urandom >"$W/r1"
head -c $((8 << 20)) /dev/urandom >"$W/r2"
bb=$(stat -L -c %s /bin/busybox)
cat >"$W/spec.json" <<EOF
{"format":"oci","compress":"gzip","config":{"Env":["PATH=/bin"]},
 "layers":[[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493},
   {"name":"bin/sh","type":"symlink","target":"busybox"},{"name":"bin/cat","type":"symlink","target":"busybox"}],
  [{"name":"r1","src":"$W/r1"}],[{"name":"r2","src":"$W/r2"}]]}
EOF
$MK "$W/spec.json" "$W/img" >/dev/null || fail "mkimage"
skopeo copy -q --dest-tls-verify=false "oci:$W/img" "docker://$REF" >"$W/skopeo.log" 2>&1 \
  || fail "skopeo push: $(cat "$W/skopeo.log")"
r1=$(sha256sum "$W/r1" | cut -d' ' -f1)
r2=$(sha256sum "$W/r2" | cut -d' ' -f1)

# a layer directory is whole: it has all of one of the three layers' files
layer_whole () {
  local l=$1
  if [[ -e "$l/bin/busybox" || -e "$l/bin" ]]; then
    [[ $(stat -c %s "$l/bin/busybox" 2>/dev/null) == "$bb" && -L "$l/bin/sh" && -L "$l/bin/cat" ]]
  elif [[ -e "$l/r1" ]]; then
    [[ $(sha256sum "$l/r1" | cut -d' ' -f1) == "$r1" ]]
  else
    [[ $(sha256sum "$l/r2" 2>/dev/null | cut -d' ' -f1) == "$r2" ]]
  fi
}

check_store () {
  local what=$1 l ls
  for l in "$STATE"/images/layers/*; do
    [[ -e "$l" ]] || continue
    layer_whole "$l" || fail "$what: layer $l is not whole: $(ls -la "$l")"
  done
  store_ok "$what"
  ls=$("$ISLET_BIN" --state-dir "$STATE" image ls 2>&1) || fail "$what: islet image ls: $ls"
  if [[ "$ls" == *"test/big"* ]]; then
    # listed: then it is whole, all three layers there and inspect works
    "$ISLET_BIN" --state-dir "$STATE" image inspect "$REF" >/dev/null 2>&1 \
      || fail "$what: listed but not inspectable: $ls"
    [[ $(ls "$STATE/images/layers" | wc -l) -ge 3 ]] || fail "$what: listed with fewer than 3 layers"
    LISTED=$((LISTED + 1))
  fi
}

LISTED=0
# the last kills land mid-transfer: the final pull starts over their leftovers
for delay in 0.02 0.2 0.35 0.5 0.8 1.2 0.05 0.1; do
  rm -rf "$STATE/images"
  # its own process group: the kill takes islet and the islet-image it runs
  setsid "$ISLET_BIN" --state-dir "$STATE" image pull "$REF" >/dev/null 2>"$W/pull.err" &
  PULL_PID=$!
  sleep "$delay"
  kill -9 -- "-$PULL_PID" 2>/dev/null || true
  wait "$PULL_PID" 2>/dev/null || true
  wait_empty 10 pgrep -f "islet-image $STATE " || fail "an islet-image of this test outlived the kill"
  PULL_PID=
  check_store "killed after ${delay}s"
  log "killed after ${delay}s: blobs $(ls "$STATE/images/blobs/sha256" 2>/dev/null | wc -l), layers $(ls "$STATE/images/layers" 2>/dev/null | wc -l), temporaries $(ls "$STATE/images/tmp" 2>/dev/null | wc -l)"
done
log "the image was listed (whole) after $LISTED of the kills"
capture islet image pull "$REF"
[[ $RC == 0 ]] || fail "a pull after the kills: $ERR"
check_store "after a whole pull"
[[ -z "$(ls -A "$STATE/images/tmp")" ]] || fail "temporaries left: $(ls -A "$STATE/images/tmp")"
capture islet run --image "$REF" -- sh -c 'cat /r1 | busybox sha256sum; cat /r2 | busybox sha256sum'
expect_eq "a sandbox from the pulled image" "$OUT" "$r1  -"$'\n'"$r2  -"
pass "kill -9 during a pull leaves nothing half-done in use; the next pull works"
