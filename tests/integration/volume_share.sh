#!/usr/bin/env bash
# Volumes: one volume mounted read-write in two sandboxes at once (with
# different uid ranges: each sees the other's files as root's, the host
# keeps them as 0), its data kept after both sandboxes are removed, a
# mount kept across stop and start, its size limit hit inside (EDQUOT or
# ENOSPC), and its removal refused while a sandbox, running or stopped,
# mounts it.
source "$(dirname "$0")/../lib/integration.sh"
it_init

MIB=$((1 << 20))

capture islet volume create data --size 32 --json
expect_eq "volume create: status" "$RC" 0
expect_eq "volume create: size_mb" "$(jget "$OUT" 'j["size_mb"]')" 32
vol=$STATE/pool/vol-data
[[ -d "$vol" ]] || skip "no pool directory at $vol"
capture islet volume create data
expect_eq "a second create of the name: status" "$RC" 1
[[ "$ERR" == *exists* ]] || fail "a second create of the name: '$ERR'"
capture islet volume create ../x
expect_eq "a volume name with a slash: status" "$RC" 2

a=$(create_sb --volume data:/mnt/data)
remember_id "$a"
b=$(create_sb --volume data:/work/shared)
remember_id "$b"
base_a=$(sb_info "$a" 'j["uid_base"]')
base_b=$(sb_info "$b" 'j["uid_base"]')
[[ "$base_a" != "$base_b" ]] || fail "the two sandboxes share uid range $base_a"

log "written in one sandbox, read in the other at once"
xjson "$a" -- sh -c 'printf "from a\n" > /mnt/data/note && mkdir /mnt/data/dir && stat -c "%u:%g" /mnt/data/note'
expect_eq "write in a" "$(jget "$OUT" 'j["stdout"]')" 0:0
xjson "$b" -- sh -c 'cat /work/shared/note; stat -c "%u:%g %a" /work/shared/note /work/shared/dir; echo "from b" > /work/shared/dir/back'
expect_eq "read in b" "$(jget "$OUT" 'j["stdout"]')" $'from a\n0:0 644\n0:0 755'
xjson "$a" -- cat /mnt/data/dir/back
expect_eq "b's write, read in a" "$(jget "$OUT" 'j["stdout"]')" "from b"
log "the host keeps the files with the sandboxes' own owners, not a sandbox's range"
expect_eq "host: owner of note" "$(stat -c %u:%g "$vol/note")" 0:0
expect_eq "host: owner of dir/back" "$(stat -c %u:%g "$vol/dir/back")" 0:0
expect_eq "host: content" "$(cat "$vol/dir/back")" "from b"
xjson "$a" -- sh -c 'grep " /mnt/data " /proc/self/mountinfo'
[[ "$(jget "$OUT" 'j["stdout"]')" == *nosuid,nodev*idmapped* ]] \
  || fail "the volume's mount is not nosuid, nodev, idmapped: $(jget "$OUT" 'j["stdout"]')"
[[ "$(jget "$OUT" 'j["stdout"]')" != *"$STATE"* ]] || fail "mountinfo names the state directory"

log "the size limit holds inside: EDQUOT or ENOSPC"
xjson "$b" -- sh -c 'dd if=/dev/zero of=/work/shared/big bs=1M count=100 2>&1 >/dev/null | grep -i -e quota -e space; stat -c %s /work/shared/big'
out=$(jget "$OUT" 'j["stdout"]')
[[ "$out" == *"Disk quota exceeded"* || "$out" == *"No space left"* ]] \
  || fail "100 MiB into a 32 MiB volume: no EDQUOT/ENOSPC: $out"
wrote=$(tail -n1 <<<"$out")
expect_range "bytes written into the volume" "$wrote" $((8 * MIB)) $((32 * MIB))
xjson "$a" -- rm -f /mnt/data/big
expect_eq "rm of the big file in a" "$(jget "$OUT" 'j["exit_code"]')" 0

log "the volume cannot be removed while a sandbox mounts it, running or stopped"
capture islet volume rm data
expect_eq "rm while mounted by two running sandboxes: status" "$RC" 1
[[ "$ERR" == *"mounted by sandbox"* ]] || fail "rm while mounted: '$ERR'"
islet stop "$a" >/dev/null </dev/null || fail "stop $a"
islet rm "$b" -f >/dev/null </dev/null || fail "rm $b"
capture islet volume rm data
expect_eq "rm while mounted by a stopped sandbox: status" "$RC" 1
[[ "$ERR" == *"$a"* ]] || fail "the refusal does not name the stopped sandbox $a: '$ERR'"

log "the mount is made again at start"
islet start "$a" >/dev/null </dev/null || fail "start $a"
xjson "$a" -- cat /mnt/data/note
expect_eq "read after stop and start" "$(jget "$OUT" 'j["stdout"]')" "from a"

log "a fork shares its source's volumes"
f=$(islet fork "$a" </dev/null) || fail "fork $a"
[[ "$f" =~ ^[0-9a-f]{12}$ ]] || fail "fork printed '$f', not an id"
remember_id "$f"
xjson "$f" -- sh -c 'cat /mnt/data/note && echo "from the fork" > /mnt/data/forked'
expect_eq "read in the fork" "$(jget "$OUT" 'j["stdout"]')" "from a"
expect_eq "host: the fork's write is in the volume" "$(cat "$vol/forked")" "from the fork"
islet rm "$a" -f >/dev/null </dev/null || fail "rm $a"
capture islet volume rm data
expect_eq "rm while the fork mounts it: status" "$RC" 1
[[ "$ERR" == *"$f"* ]] || fail "the refusal does not name the fork $f: '$ERR'"
islet rm "$f" -f >/dev/null </dev/null || fail "rm $f"

log "the data stays after both sandboxes are gone"
capture islet volume ls --json
expect_eq "volume ls: names" "$(jget "$OUT" '[v["name"] for v in j["volumes"]]')" '["data"]'
c=$(create_sb --volume data:/again)
remember_id "$c"
xjson "$c" -- cat /again/note /again/dir/back
expect_eq "read in a third sandbox" "$(jget "$OUT" 'j["stdout"]')" $'from a\nfrom b'
islet rm "$c" -f >/dev/null </dev/null || fail "rm $c"

log "a create naming a volume that is not there is refused, and leaves nothing"
capture islet create --volume nothere:/x
expect_eq "create with a missing volume: status" "$RC" 1
[[ "$ERR" == *"no volume"* ]] || fail "create with a missing volume: '$ERR'"
expect_eq "sandboxes after the refused create" "$(ls "$STATE/sandboxes")" ""

log "removed once nothing mounts it: record and subvolume gone"
capture islet volume rm data
expect_eq "volume rm: status ($ERR)" "$RC" 0
[[ ! -e "$vol" ]] || fail "the subvolume $vol is still there"
capture islet volume ls --json
expect_eq "volume ls after rm" "$(jget "$OUT" 'j["volumes"]')" '[]'
pass
