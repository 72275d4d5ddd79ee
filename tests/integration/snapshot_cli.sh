#!/usr/bin/env bash
# Snapshots and forks from the CLI: `islet snapshot ID NAME` of a running
# and of a stopped sandbox, `islet create --from NAME`, `islet fork ID`.
# The new sandboxes have the source's files (with their owners and set-id
# bits: root's inside, the new sandbox's root on the host), a loop pool's
# dirty page cache is bounded to 16 MiB (strict), changes on
# either side are not seen by the other, a snapshot in use cannot be
# removed and its layer goes with it, a source that turned /etc into links
# to the host's files gets no write through them, and a snapshot killed
# before its record was written is never listed and its layer is swept.
source "$(dirname "$0")/../lib/integration.sh"

it_init
SNAPS=$STATE/pool/.snapshots

src=$(create_sb --name src)
remember_id "$src"
xjson "$src" -- sh -c 'echo hello >/workspace/a.txt && mkdir -p /root/d && echo x >/root/d/f && chmod 4755 /root/d/f && dd if=/dev/urandom of=/workspace/big bs=1M count=8 status=none && md5sum /workspace/big | cut -c1-32'
expect_eq "writing the source's files" "$(jget "$OUT" 'j["exit_code"]')" 0
big_sum=$(jget "$OUT" 'j["stdout"].strip()')

log "a snapshot of a running sandbox"
capture islet snapshot "$src" s1 --json
expect_eq "snapshot status ($ERR)" "$RC" 0
sid=$(jget "$OUT" 'j["id"]')
[[ -d "$SNAPS/$sid" ]] || fail "no layer $SNAPS/$sid"
[[ $(stat -c %i "$SNAPS/$sid") == 256 ]] || fail "the layer is not a btrfs subvolume"
capture islet snapshot "$src" s1
expect_eq "a second snapshot named s1" "$RC" 1
[[ "$ERR" == *"a snapshot named \`s1\` exists"* ]] || fail "taken name: $ERR"
capture islet snapshot "$src" '../x'
expect_eq "a bad snapshot name" "$RC" 2

log "the loop pool bounds its own dirty pages (what a snapshot writes out first)"
pool_dev=$(awk -v m="$STATE/pool" '$2 == m { print $1 }' /proc/mounts | tail -1)
if [[ "$pool_dev" == /dev/loop* ]]; then
  bdi=$(dirname "$(ls -d /sys/fs/btrfs/*/devices/"${pool_dev#/dev/}")")/../bdi
  max=$(cat "$bdi/max_bytes") strict=$(cat "$bdi/strict_limit")
  # the kernel keeps the bound as a share of its own, so 16 MiB reads back
  # a little over or under it
  (( max > 0 && max <= 17 * 1024 * 1024 )) || fail "the pool's dirty bound is $max bytes"
  expect_eq "the pool's strict_limit" "$strict" 1
else
  log "skip: the pool is not a loop mount ($pool_dev)"
fi

log "create --from and fork have the files"
from=$(create_sb --from s1 --name from1)
remember_id "$from"
fork=$(islet fork "$src" --name fork1) || fail "fork failed"
remember_id "$fork"
for sb in "$from" "$fork"; do
  xjson "$sb" -- sh -c 'cat /workspace/a.txt; stat -c "%u:%g %a" /workspace/a.txt /root/d/f; md5sum /workspace/big | cut -c1-32; hostname; cat /etc/hostname'
  name=$(sb_info "$sb" 'j["name"]')
  expect_eq "files of $name" "$(jget "$OUT" 'j["stdout"]')" "hello
0:0 644
0:0 4755
$big_sum
$name
$name"
  base=$(sb_info "$sb" 'j["uid_base"]')
  vol=$STATE/pool/$sb/upper
  expect_eq "host owner of $name's /workspace/a.txt" "$(stat -c %u "$vol/workspace/a.txt")" "$base"
  expect_eq "host owner of $name's /root/d/f" "$(stat -c %u "$vol/root/d/f")" "$base"
done
expect_eq "the sandbox made from s1 records it" "$(sb_info "$from" 'j["snapshot"]')" "$sid"

log "changes are each sandbox's own"
xjson "$fork" -- sh -c 'echo forked >/workspace/a.txt; echo new >/workspace/only-fork'
xjson "$src" -- sh -c 'echo original >/workspace/a.txt'
xjson "$src" -- sh -c 'cat /workspace/a.txt; ls /workspace'
expect_eq "the source after both changed" "$(jget "$OUT" 'j["stdout"]')" "original
a.txt
big"
xjson "$fork" -- cat /workspace/a.txt
expect_eq "the fork after both changed" "$(jget "$OUT" 'j["stdout"]')" "forked"
xjson "$from" -- cat /workspace/a.txt
expect_eq "the sandbox from s1 after both changed" "$(jget "$OUT" 'j["stdout"]')" "hello"

log "a snapshot of a stopped sandbox"
islet stop "$src" >/dev/null || fail "stop"
islet snapshot "$src" s2 >/dev/null || fail "snapshot of a stopped sandbox"
from2=$(create_sb --from s2)
remember_id "$from2"
xjson "$from2" -- cat /workspace/a.txt
expect_eq "files of a stopped sandbox's snapshot" "$(jget "$OUT" 'j["stdout"]')" "original"

log "a snapshot in use cannot be removed"
capture islet snapshot rm s1
expect_eq "rm of s1 while from1 uses it" "$RC" 1
[[ "$ERR" == *"in use by sandbox \`from1\`"* ]] || fail "rm refusal: $ERR"
[[ -d "$SNAPS/$sid" ]] || fail "the refused rm removed the layer"
islet rm -f "$from" >/dev/null || fail "rm from1"
islet snapshot rm s1 >/dev/null || fail "rm of s1 once unused"
[[ ! -e "$SNAPS/$sid" ]] || fail "the layer of s1 is still there"
capture islet snapshot inspect s1
expect_eq "inspect of a removed snapshot" "$RC" 1
capture islet create --from s1
expect_eq "create from a removed snapshot" "$RC" 1

log "a source whose /etc links to the host's: nothing is written through the links"
hosts_sum=$(md5sum </etc/hosts) hostname_sum=$(md5sum </etc/hostname)
islet start "$src" >/dev/null || fail "start"
xjson "$src" -- sh -c 'rm -rf /etc.x; mv /etc /etc.x && /etc.x/../usr/bin/ln -s / /etc'
xjson "$src" -- sh -c 'ls -ld /etc'
hostile=$(islet fork "$src" --name hostile) || fail "fork of the hostile source failed"
remember_id "$hostile"
xjson "$from2" -- sh -c 'rm -f /etc/hosts /etc/hostname && ln -s /etc/shadow /etc/hosts && ln -s /etc/passwd /etc/hostname'
hostile2=$(islet fork "$from2" --name hostile2) || fail "fork of the second hostile source failed"
remember_id "$hostile2"
expect_eq "the host's /etc/hosts" "$(md5sum </etc/hosts)" "$hosts_sum"
expect_eq "the host's /etc/hostname" "$(md5sum </etc/hostname)" "$hostname_sum"

log "a snapshot killed before its record is never listed, and its layer is swept"
layers () { find "$SNAPS" -mindepth 1 -maxdepth 1 | wc -l; }
more_layers () { (( $(layers) > before )); }
before=$(layers)
ISLET_TEST_SNAPSHOT_PAUSE_MS=20000 "$ISLET_BIN" --state-dir "$STATE" snapshot "$src" killed \
  </dev/null >/dev/null 2>&1 &
pid=$!
wait_until 10 more_layers || fail "no layer of the snapshot to kill"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
capture islet snapshot ls --json
[[ "$(jget "$OUT" '[s["name"] for s in j["snapshots"]]')" == '["s2"]' ]] \
  || fail "snapshots after the kill: $OUT"
capture islet create --from killed
expect_eq "create from the killed snapshot" "$RC" 1
islet snapshot "$src" s3 >/dev/null || fail "snapshot after the kill"
expect_eq "layers after the next snapshot (s2, s3)" "$(layers)" 2

log "reset removes every snapshot"
capture islet system reset -f
[[ $RC == 0 ]] || fail "reset: $ERR"
[[ ! -e "$STATE/snapshots" ]] || fail "records left after reset: $(ls -a "$STATE/snapshots")"
pass "snapshots and forks carry the files, stay apart, and are removed whole"
