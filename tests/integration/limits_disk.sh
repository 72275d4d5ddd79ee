#!/usr/bin/env bash
# Disk limit: --disk 64 caps the sandbox's writable layer, /workspace, /root
# and /tmp together at 64 MiB (a btrfs qgroup on its own subvolume).  A write
# past it fails with EDQUOT or ENOSPC, deleting frees the space again, a
# sandbox that fills its disk does not touch another one's, and the limit
# holds across stop and start.
source "$(dirname "$0")/../lib/integration.sh"
it_init

MIB=$((1 << 20))

# fill ID PATH MB: dd MB MiB of zeros into PATH; sets OUT (the exec result),
# WROTE (bytes in the file afterwards) and DD_ERR (dd's complaint, if any).
fill () {
  local id=$1 path=$2 mb=$3
  xjson "$id" -- sh -c "dd if=/dev/zero of='$path' bs=1M count=$mb 2>&1 >/dev/null | grep -i error; stat -c %s '$path'"
  WROTE=$(jget "$OUT" 'j["stdout"].split("\n")[-2]')
  DD_ERR=$(jget "$OUT" '"".join(j["stdout"].split("\n")[:-2])')
}

# expect_full WHAT: the last fill stopped at the limit with the right error.
expect_full () {
  [[ "$DD_ERR" == *"Disk quota exceeded"* || "$DD_ERR" == *"No space left on device"* ]] \
    || fail "$1: dd did not fail with EDQUOT or ENOSPC (wrote $WROTE bytes): '$DD_ERR'"
}

# write_mb ID PATH MB: the write must succeed.  A deletion is counted by the
# qgroup when btrfs commits its transaction; one sync and retry is allowed.
write_mb () {
  local id=$1 path=$2 mb=$3 try
  for try in 1 2 3; do
    xjson "$id" -- sh -c "dd if=/dev/zero of='$path' bs=1M count=$mb 2>&1 && sync"
    [[ "$(jget "$OUT" 'j["exit_code"]')" == 0 ]] && return 0
    log "write of $mb MiB to $path failed (try $try), syncing: $(jget "$OUT" 'j["stdout"]')"
    sync -f "$STATE/pool" 2>/dev/null || sync
    sleep 1
  done
  fail "writing $mb MiB to $path in $id fails: $(jget "$OUT" 'j["stdout"]')"
}

# The qgroup limit of the sandbox's subvolume, as btrfs holds it (bytes).
host_qgroup_limit () {
  local vol=$STATE/pool/$1 sid
  command -v btrfs >/dev/null || return 0
  sid=$(btrfs inspect-internal rootid "$vol" 2>/dev/null) || return 0
  btrfs qgroup show -re --raw "$STATE/pool" | awk -v q="0/$sid" '$1 == q { print $4 }'
}

id=$(create_sb --disk 64)
remember_id "$id"
[[ "$(sb_info "$id" 'j["disk_enforced"]')" == true ]] \
  || skip "disk limits are not enforced here (no btrfs pool): $(islet info "$id" </dev/null | grep -i disk)"
expect_eq "info: limits.disk_mb" "$(sb_info "$id" 'j["limits"]["disk_mb"]')" 64
limit=$(host_qgroup_limit "$id")
[[ -z "$limit" ]] || expect_eq "host: qgroup max referenced" "$limit" $((64 * MIB))

log "200 MiB into /workspace stops at about 64 MiB"
fill "$id" /workspace/big 200
expect_full "200 MiB into /workspace"
expect_range "bytes written to /workspace/big" "$WROTE" $((40 * MIB)) $((64 * MIB))
log "/workspace/big: $WROTE bytes, then '$DD_ERR'"

log "with the disk full, small writes fail too, and reading still works"
xjson "$id" -- sh -c 'echo hello > /workspace/more'
[[ "$(jget "$OUT" 'j["exit_code"]')" != 0 ]] || log "note: a 6-byte write still fit after the fill"
xjson "$id" -- sh -c 'head -c 4 /workspace/big | od -An -tx1'
expect_eq "read back from the full disk" "$(jget "$OUT" 'j["stdout"].strip()')" "00 00 00 00"

log "removing the file frees the space: 10 MiB fits again"
xjson "$id" -- rm -f /workspace/big /workspace/more
expect_eq "rm: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 0
write_mb "$id" /workspace/small 10
xjson "$id" -- rm -f /workspace/small

log "/tmp counts against the same limit"
fill "$id" /tmp/big 200
expect_full "200 MiB into /tmp"
expect_range "bytes written to /tmp/big" "$WROTE" $((40 * MIB)) $((64 * MIB))
xjson "$id" -- rm -f /tmp/big

log "/root and /workspace share the limit: 40 + 40 MiB do not fit"
write_mb "$id" /root/a 40
fill "$id" /workspace/b 40
expect_full "40 MiB into /workspace after 40 MiB into /root"
expect_range "bytes written to /workspace/b" "$WROTE" 0 $((26 * MIB))
xjson "$id" -- rm -f /root/a /workspace/b

log "a full sandbox does not take space from another"
other=$(create_sb --disk 64)
remember_id "$other"
fill "$id" /workspace/big 200
expect_full "refill of the first sandbox"
write_mb "$other" /workspace/fine 50
xjson "$id" -- rm -f /workspace/big
xjson "$other" -- rm -f /workspace/fine

log "the limit holds across stop and start"
write_mb "$id" /workspace/keep 8
islet stop "$id" </dev/null >/dev/null || fail "stop $id failed"
expect_eq "state after stop" "$(sb_info "$id" 'j["state"]')" stopped
islet start "$id" </dev/null >/dev/null || fail "start $id failed"
expect_eq "state after start" "$(sb_info "$id" 'j["state"]')" running
expect_eq "info after restart: limits.disk_mb" "$(sb_info "$id" 'j["limits"]["disk_mb"]')" 64
limit=$(host_qgroup_limit "$id")
[[ -z "$limit" ]] || expect_eq "host after restart: qgroup max referenced" "$limit" $((64 * MIB))
xjson "$id" -- stat -c %s /workspace/keep
expect_eq "file kept across restart" "$(jget "$OUT" 'j["stdout"].strip()')" $((8 * MIB))
fill "$id" /workspace/big 200
expect_full "200 MiB into /workspace after restart"
expect_range "bytes written after restart" "$WROTE" $((30 * MIB)) $((56 * MIB))

log "one-off: islet run --disk 16"
capture islet run --disk 16 --json -- sh -c 'dd if=/dev/zero of=/workspace/x bs=1M count=100 2>&1 | grep -i error'
DD_ERR=$(jget "$OUT" 'j["stdout"]') WROTE=-
expect_full "run --disk 16"

pass
