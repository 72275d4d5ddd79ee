#!/usr/bin/env bash
# Resize through the CLI: new memory and CPU are in the live cgroup files at
# once, a new disk limit is the volume's quota (a write past the old limit
# then fits), all are kept across a stop and a start, and a resize below use
# is refused with the reason (memory below what the sandbox holds now, disk
# below its files) and changes nothing.
source "$(dirname "$0")/../lib/integration.sh"
it_init

mem_file () { if [[ $(cg_version) == 1 ]]; then echo memory.limit_in_bytes; else echo memory.max; fi; }
cpu_quota () {
  if [[ $(cg_version) == 1 ]]; then cat "$(cg_dir "$1" cpu)/cpu.cfs_quota_us"
  else cut -d' ' -f1 "$(cg_dir "$1" cpu)/cpu.max"; fi
}
mem_limit () { cat "$(cg_dir "$1" memory)/$(mem_file)"; }

id=$(create_sb --memory 256 --cpus 1 --disk 200)
remember_id "$id"
capture islet resize "$id" --memory 384 --cpus 0.5
[[ $RC == 0 ]] || fail "resize failed ($RC): $ERR"
expect_eq "memory limit in the cgroup" "$(mem_limit "$id")" $((384 << 20))
expect_eq "cpu quota in the cgroup" "$(cpu_quota "$id")" 50000
expect_eq "info" "$(sb_info "$id" 'j["limits"]["memory_mb"]')" 384

log "disk: a 250 MiB write fails at 200 MiB, fits after a resize to 400"
xjson "$id" -- sh -c 'dd if=/dev/zero of=/workspace/big bs=1M count=250 2>/dev/null; sync; rm -f /workspace/big; sync'
capture islet resize "$id" --disk 400
[[ $RC == 0 ]] || fail "disk resize failed ($RC): $ERR"
xjson "$id" -- sh -c 'dd if=/dev/zero of=/workspace/big bs=1M count=250 2>&1 && sync && echo fits'
grep -q fits <<<"$(jget "$OUT" 'j["stdout"]')" || fail "a 250 MiB write after the resize: $(jget "$OUT" 'j["stdout"] + j["stderr"]')"

log "refused below use"
capture islet resize "$id" --disk 100
[[ $RC != 0 ]] || fail "a disk below the files was taken"
grep -q "below the .* MiB the sandbox's files use" <<<"$ERR" || fail "disk refusal: $ERR"
xjson "$id" -- sh -c 'nohup sh -c "x=\$(head -c 60000000 /dev/zero | tr \"\\0\" a); sleep 600" >/dev/null 2>&1 & sleep 2; echo held'
capture islet resize "$id" --memory 32
[[ $RC != 0 ]] || fail "a memory limit below use was taken"
grep -q "below the .* MiB the sandbox uses now" <<<"$ERR" || fail "memory refusal: $ERR"
expect_eq "memory limit unchanged" "$(mem_limit "$id")" $((384 << 20))
expect_eq "disk unchanged" "$(sb_info "$id" 'j["limits"]["disk_mb"]')" 400

log "kept across stop and start"
islet stop "$id" </dev/null >/dev/null || fail "stop failed"
capture islet resize "$id" --memory 512
[[ $RC == 0 ]] || fail "resize of a stopped sandbox failed ($RC): $ERR"
islet start "$id" </dev/null >/dev/null || fail "start failed"
expect_eq "memory after start" "$(mem_limit "$id")" $((512 << 20))
expect_eq "cpu after start" "$(cpu_quota "$id")" 50000
pass
