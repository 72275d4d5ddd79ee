#!/usr/bin/env bash
# kill -9 in the middle of an import: the store never shows a half-written
# blob or a half-unpacked layer under its digest, no image record names
# what is not there, and the next change clears the leftovers and succeeds.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/image.sh"
it_init
MK="$IT_PY $(dirname "$0")/../lib/mkimage.py"
W=$STATE.work
mkdir -p "$W"
head -c $((24 << 20)) /dev/urandom >"$W/big"
printf '{"format":"oci","compress":"none","config":{},"layers":[[{"name":"big","src":"%s"},{"name":"b2","src":"%s"},{"name":"b3","src":"%s"}]]}' \
  "$W/big" "$W/big" "$W/big" >"$W/spec.json"
$MK "$W/spec.json" "$W/img" >/dev/null || fail "mkimage"
want=$(stat -c %s "$W/big")

# every layer directory is whole; every record's blobs and layers exist
check_store () {
  local what=$1 l f
  for l in "$STATE"/images/layers/*; do
    [[ -e "$l" ]] || continue
    for f in big b2 b3; do
      [[ $(stat -c %s "$l/$f" 2>/dev/null) == "$want" ]] || fail "$what: layer $l is not whole ($f)"
    done
  done
  store_ok "$what"
}

for delay in 0.05 0.15 0.3 0.5 0.8 1.5; do
  rm -rf "$STATE/images"
  "$ISLET_BIN" --state-dir "$STATE" image import "$W/img" >/dev/null 2>&1 &
  cli=$!
  sleep "$delay"
  pkill -9 -P "$cli" -x islet-image 2>/dev/null || true
  kill -9 "$cli" 2>/dev/null || true
  wait "$cli" 2>/dev/null || true
  # the unpacker, if one was running, dies with islet-image
  wait_empty 10 pgrep -f "islet-image $STATE " || fail "an islet-image of this test outlived the kill"
  check_store "killed after ${delay}s"
  log "killed after ${delay}s: layers $(ls "$STATE/images/layers" 2>/dev/null | wc -l), temporaries $(ls "$STATE/images/tmp" 2>/dev/null | wc -l)"
done
capture islet image import "$W/img"
[[ $RC == 0 ]] || fail "an import after the kills: $ERR"
check_store "after a whole import"
[[ -z "$(ls -A "$STATE/images/tmp")" ]] || fail "temporaries left: $(ls -A "$STATE/images/tmp")"
pass "kill -9 during import leaves nothing half-done in use"
