#!/usr/bin/env bash
# A full host disk under the disk pool.  The state directory is on a small
# ext4 file system this test makes (a 600 MiB image, loop-mounted), which is
# filled from the host and then, through a sandbox writing within its own
# limit, the pool itself.  Checked:
#   - with the host full, sandboxes still write (the pool's image is
#     allocated: nothing it holds needs the host's free space), the pool
#     stays read-write, and a create fails with an error that says so;
#   - a sandbox filling the pool gets ENOSPC, the others get ENOSPC at worst,
#     never EIO or a read-only file system, and read what they had;
#   - no acknowledged write is lost: files written (and synced, or written
#     by `islet fs write`) before and during the fill are there, whole, after;
#   - isletd answers a create on the full host 507 INSUFFICIENT_STORAGE;
#   - once the space is freed everything works again, with no unmount by
#     hand; a pool made read-only is remounted by the next create.
source "$(dirname "$0")/../lib/integration.sh"
it_init

command -v mkfs.ext4 >/dev/null || skip "no mkfs.ext4"
command -v mkfs.btrfs >/dev/null || skip "no mkfs.btrfs: the pool is plain directories here"

HOST=$STATE.host
S2=$HOST/mnt/s
mkdir -p "$HOST/mnt"
D_PID=
d_stop () {
  [[ -n $D_PID ]] || return 0
  kill -TERM "$D_PID" 2>/dev/null
  wait_until 10 dead "$D_PID" || kill -KILL "$D_PID" 2>/dev/null
  wait "$D_PID" 2>/dev/null
  D_PID=
  return 0
}
df_cleanup () {
  local rc=$?
  trap - EXIT
  set +e
  d_stop
  clean_state_dir "$S2"
  umount "$HOST/mnt" 2>/dev/null || umount -l "$HOST/mnt" 2>/dev/null
  rm -rf "$HOST"
  it_cleanup "$rc"
}
trap df_cleanup EXIT

truncate -s 600M "$HOST/host.img"
mkfs.ext4 -q -F "$HOST/host.img" || fail "mkfs.ext4 failed"
mount -o loop "$HOST/host.img" "$HOST/mnt" || fail "cannot loop-mount the test's file system"

i2 () { timeout 120 "$ISLET_BIN" --state-dir "$S2" "$@" </dev/null; }
# sb_sha ID PATH: sha256 of a file in a sandbox
sb_sha () { i2 exec "$1" -- sha256sum "$2" | cut -d' ' -f1; }
pool_rw () { awk -v m="$S2/pool" '$2 == m { split($4, o, ","); print o[1] }' /proc/mounts; }
bad_error () { grep -qiE 'read-only file system|input/output error' <<<"$1"; }

log "two sandboxes: a (64 MiB) and b (2 GiB, more than the host can back)"
a=$(i2 create --name a --disk 64) || fail "create a failed: $a"
b=$(i2 create --name b --disk 2048) || fail "create b failed: $b"
remember_id "$a"; remember_id "$b"
size=$(stat -c %s "$S2/pool.img")
alloc=$(( $(stat -c %b "$S2/pool.img") * $(stat -c %B "$S2/pool.img") ))
log "pool image: $((size >> 20)) MiB, $((alloc >> 20)) MiB allocated"
(( alloc >= size )) || fail "the pool image is sparse: $((alloc >> 20)) of $((size >> 20)) MiB allocated"

ISLETD_BIN=${ISLETD_BIN:-$(dirname "$ISLET_BIN")/isletd}
d_start () {
  [[ -x $ISLETD_BIN ]] || return 0
  : >"$STATE.d.out"
  "$ISLETD_BIN" --listen 127.0.0.1:0 --state-dir "$S2" --create-pool 0 --v1-pool 0 >"$STATE.d.out" 2>"$STATE.d.err" </dev/null &
  D_PID=$!
  wait_until 20 grep -q 'serving the Daytona API at' "$STATE.d.out" || fail "isletd did not start: $(cat "$STATE.d.err")"
  D_URL=$(sed -n 's|^isletd: serving the Daytona API at \(http://[^ ]*\)/api$|\1|p' "$STATE.d.out")
  D_KEY=$(cat "$S2/api-key")
}
# d_create: POST /api/sandbox; the status in code, the body in $STATE.d.body
d_create () {
  code=$(curl -s -o "$STATE.d.body" -w '%{http_code}' --max-time 60 -X POST \
    -H "Authorization: Bearer $D_KEY" -H 'Content-Type: application/json' -d '{"disk":1}' \
    "$D_URL/api/sandbox") || code=000
}
d_start

out=$(i2 exec a -- sh -c 'head -c 1048576 /dev/urandom > /workspace/keep && sync' 2>&1) \
  || fail "write before the fill failed: $out"
keep=$(sb_sha a /workspace/keep)

log "fill the host file system"
timeout 60 dd if=/dev/zero of="$HOST/mnt/fill" bs=1M 2>/dev/null || true
avail=$(df --output=avail -B1 "$HOST/mnt" | tail -1)
log "host: $((avail >> 10)) KiB left"

out=$(i2 exec a -- dd if=/dev/urandom of=/workspace/w1 bs=1M count=1 conv=fsync 2>&1) \
  || fail "a 1 MiB write in a sandbox failed with the host full: $out"
w1=$(sb_sha a /workspace/w1)
head -c 1048576 /dev/urandom >"$STATE.payload"
w2_ok=0
out=$(timeout 60 "$ISLET_BIN" --state-dir "$S2" fs a write /workspace/w2 <"$STATE.payload" 2>&1) || w2_ok=$?
bad_error "$out" && fail "fs write with the host full: $out"
expect_eq "the pool with the host full" "$(pool_rw)" rw

out=$(i2 create --disk 16 2>&1) && fail "a create with the host full succeeded"
log "create with the host full: $out"
grep -qiE 'no space|full|no room' <<<"$out" || fail "a create with the host full says: $out"
if [[ -n $D_PID ]]; then
  d_create
  log "isletd's create with the host full: $code $(head -c 300 "$STATE.d.body")"
  expect_eq "isletd's status for a create with the host full" "$code" 507
  grep -q INSUFFICIENT_STORAGE "$STATE.d.body" || fail "507 without its code: $(cat "$STATE.d.body")"
  d_stop
fi
out=$(i2 ls --json) || fail "ls failed: $out"
expect_eq "sandboxes after the refused creates" "$(jget "$out" 'len(j["sandboxes"])')" 2

log "fill the pool from b, within its own limit"
out=$(i2 exec b -- dd if=/dev/zero of=/workspace/big bs=1M count=1800 2>&1) \
  && fail "b wrote 1800 MiB into a pool that cannot hold it"
bad_error "$out" && fail "b filling the pool: $out"
grep -q 'No space left' <<<"$out" || fail "b filling the pool stopped with: $out"
expect_eq "the pool when full" "$(pool_rw)" rw
expect_eq "a's file with the pool full" "$(sb_sha a /workspace/keep)" "$keep"
out=$(i2 exec a -- sh -c 'echo x > /workspace/small && sync' 2>&1) || true
bad_error "$out" && fail "a writing with the pool full: $out"
out=$(i2 create --disk 16 2>&1) && fail "a create with the pool full succeeded"
grep -qiE 'no space|full|no room' <<<"$out" || fail "a create with the pool full says: $out"

log "free the space"
rm -f "$HOST/mnt/fill"
out=$(i2 exec b -- sh -c 'rm -f /workspace/big && sync' 2>&1) || fail "rm in b failed: $out"
c=$(i2 create --disk 16 2>&1) || fail "create after freeing failed: $c"
remember_id "$c"
expect_eq "a's file written before the fill" "$(sb_sha a /workspace/keep)" "$keep"
expect_eq "a's file written with the host full" "$(sb_sha a /workspace/w1)" "$w1"
if (( w2_ok == 0 )); then
  expect_eq "the file fs write acknowledged" "$(sb_sha a /workspace/w2)" "$(sha256sum <"$STATE.payload" | cut -d' ' -f1)"
fi
out=$(i2 exec a -- sh -c 'head -c 4194304 /dev/zero > /workspace/after && sync' 2>&1) \
  || fail "a cannot write after freeing: $out"
expect_eq "the pool after freeing" "$(pool_rw)" rw

log "a pool turned read-only is remounted by the next create: isletd's, then the CLI's"
i2 rm -f "$c" >/dev/null
d_start
if [[ -n $D_PID ]]; then
  d_create
  expect_eq "isletd's create after freeing" "$code" 200
  if mount -o remount,ro "$S2/pool" 2>/dev/null; then
    expect_eq "the pool after remount,ro" "$(pool_rw)" ro
    d_create
    expect_eq "isletd's create on a read-only pool ($(head -c 300 "$STATE.d.body"))" "$code" 200
    expect_eq "the pool after isletd's create" "$(pool_rw)" rw
    log "isletd remounted the read-only pool"
  else
    log "remount,ro refused here: isletd's recovery not exercised"
  fi
  d_stop
fi
if mount -o remount,ro "$S2/pool" 2>/dev/null; then
  expect_eq "the pool after remount,ro" "$(pool_rw)" ro
  d=$(i2 create --disk 16 2>&1) || fail "create on a read-only pool failed: $d"
  remember_id "$d"
  expect_eq "the pool after the create" "$(pool_rw)" rw
  out=$(i2 start a 2>&1) || [[ $out == *"already running"* ]] || fail "start a after recovery: $out"
  expect_eq "a's file after recovery" "$(sb_sha a /workspace/keep)" "$keep"
else
  log "remount,ro refused here: recovery not exercised"
fi
pass
