#!/usr/bin/env bash
# sandbox.archive() keeps a stopped sandbox's files compressed outside the
# disk pool and frees the pool's space; start() restores them exactly:
# contents, modes, owners (host uids the sandbox maps to 0), xattrs, hard links, symlinks and holes.  A
# sandbox archived and removed leaves no archive behind.  `islet ls` on
# the state directory and `islet --url ls` both say `archived`, from the
# archive itself.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init
POOL=$STATE/pool
command -v btrfs >/dev/null || fail "needs btrfs (btrfs-progs)"
used () { sync; btrfs subvolume sync "$POOL" >/dev/null 2>&1 || true; df -B1 --output=used "$POOL" | tail -1 | tr -d ' '; }

api POST /api/sandbox -d '{"name":"arc"}'
expect_code "create" 200
id=$(jq -r .id <<<"$BODY"); remember_id "$id"
T=/toolbox/$id
# 48 MiB that does not compress, and the shapes a copy gets wrong
sh_in 'head -c 50331648 /dev/urandom >/workspace/big && sha256sum /workspace/big | cut -c1-64'
big=$OUT
# script NAME TEXT: a script in the sandbox, written through base64 (no quoting to get wrong)
script () { sh_in "echo $(printf '%s' "$2" | base64 -w0) | base64 -d >/tmp/$1.sh && echo written"; expect_eq "write $1.sh" "$OUT" written; }
script setup 'set -e
cd /workspace
echo hi >f; chmod 640 f; ln f hl; ln -s f sl
truncate -s 100M sparse; echo x | dd of=sparse bs=1 seek=52428800 conv=notrunc 2>/dev/null
mkdir d; chmod 1750 d
if command -v python3 >/dev/null; then python3 -c "import os; os.setxattr(\"f\", \"user.kept\", b\"value\")"; fi
echo done'
sh_in 'sh /tmp/setup.sh'
expect_eq "setup" "$OUT" done
script shape 'cd /workspace
stat -c "%n %a %u:%g %h %s" f hl d sparse
readlink sl
du -k sparse | cut -f1
cat f
if command -v python3 >/dev/null; then python3 -c "import os; print(os.getxattr(\"f\", \"user.kept\").decode())"; else echo value; fi'
sh_in 'sh /tmp/shape.sh'
before=$OUT
[[ "$before" == *"f 640 0:0 2 3"*"sparse 644 0:0 1 104857600"*$'\nf\n'*$'\nhi\nvalue' ]] \
  || fail "the shapes before the archive are not what setup made: $before"
(( $(sed -n 6p <<<"$before") < 1024 )) || fail "the sparse file is not sparse: $before"
log "before: $(tr '\n' ' ' <<<"$before")"

api POST "/api/sandbox/$id/stop"; expect_code "stop" 200
u0=$(used)
api POST "/api/sandbox/$id/archive"; expect_code "archive" 200
expect_body "archived" '.state == "archived"'
[[ -s "$STATE/archive/$id.btrfs.zst" ]] || fail "no archive in $STATE/archive: $(ls -la "$STATE/archive" 2>&1)"
[[ ! -e "$POOL/$id" ]] || fail "the volume is still in the pool"
expect_eq "islet ls on the state directory" "$(islet ls | awk -v id="$id" '$1 == id { print $3 }')" archived
expect_eq "islet ls --json" "$(islet ls --json | jq -r --arg id "$id" '.sandboxes[] | select(.id == $id) | .state')" archived
expect_eq "islet --url ls" "$(ISLET_API_KEY=$SRV_KEY "$ISLET_BIN" --url "$SRV_URL" ls --json | jq -r --arg id "$id" '.sandboxes[] | select(.id == $id) | .state')" archived
u1=$(used)
log "pool used: $u0 before the archive, $u1 after"
(( u0 - u1 >= 40 << 20 )) || fail "the pool's used bytes fell by $(( (u0 - u1) >> 20 )) MiB, want at least 40"

api POST "/api/sandbox/$id/start"; expect_code "start" 200
expect_body "started" '.state == "started"'
[[ ! -e "$STATE/archive/$id.btrfs.zst" ]] || fail "the archive is left after the restore"
expect_eq "islet ls after the start" "$(islet ls | awk -v id="$id" '$1 == id { print $3 }')" running
sh_in 'sh /tmp/shape.sh'
expect_eq "the files' shapes after the restore" "$OUT" "$before"
sh_in 'sha256sum /workspace/big | cut -c1-64'
expect_eq "the big file after the restore" "$OUT" "$big"
sh_in 'echo more >>/workspace/f && cat /workspace/f'
expect_eq "the restored files are writable" "$OUT" $'hi\nmore'

log "archived, then deleted: nothing left"
api POST "/api/sandbox/$id/stop"; expect_code "stop again" 200
api POST "/api/sandbox/$id/archive"; expect_code "archive again" 200
# an archived sandbox's files are no volume: a snapshot or a fork of it is
# refused with the reason, and the archive stays whole
api POST "/api/sandbox/$id/snapshot" -H 'Content-Type: application/json' -d '{"name":"of-archived"}'
expect_error "snapshot of an archived sandbox" 409
expect_body "the snapshot's refusal says why" '.message | test("is archived.*start it first")'
api POST "/api/sandbox/$id/fork" -H 'Content-Type: application/json' -d '{}'
expect_error "fork of an archived sandbox" 409
expect_body "the fork's refusal says why" '.message | test("is archived.*start it first")'
[[ -s "$STATE/archive/$id.btrfs.zst" ]] || fail "the refused snapshot touched the archive"
api DELETE "/api/sandbox/$id"; expect_code "delete the archived sandbox" 200
[[ -z "$(ls -A "$STATE/archive")" ]] || fail "left in $STATE/archive: $(ls -A "$STATE/archive")"
pass "archive frees the pool's space, start restores the files exactly"
