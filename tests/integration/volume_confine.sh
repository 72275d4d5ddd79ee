#!/usr/bin/env bash
# Volumes stay where they belong: a subpath with `..` or an absolute one is
# refused before anything is made; a symlink a sandbox made inside the
# volume cannot carry another sandbox's subpath out of it (refused, and the
# host checked: nothing made or mounted there), while one that stays inside
# is followed; a mount path the sandbox turned into a symlink resolves in
# the sandbox's own root, never the host's, and one leading onto the host's
# read-only /usr is refused.
source "$(dirname "$0")/../lib/integration.sh"
it_init

tag=$(basename "$STATE")
islet volume create data --size 16 >/dev/null </dev/null || fail "volume create"
vol=$STATE/pool/vol-data
[[ -d "$vol" ]] || skip "no pool directory at $vol"

log "hostile paths refused before anything is made"
for spec in "data:/m:../x" "data:/m:sub/../../x" "data:/m:/etc" "data:relative" "data:/" \
  "data:/proc/x" "data:/usr/lib/x" "data:/a/../b" "data:/m:./x"; do
  capture islet create --volume "$spec"
  expect_eq "create --volume $spec: status ($ERR)" "$RC" 2
done
capture islet create --volume data:/a --volume data:/a/b
expect_eq "nested mount paths: status ($ERR)" "$RC" 2
expect_eq "sandboxes after the refusals" "$(ls "$STATE/sandboxes")" ""

a=$(create_sb --volume data:/v)
remember_id "$a"
xjson "$a" -- sh -c "mkdir -p /v/sub && echo inside > /v/sub/f && ln -s /etc /v/abs && ln -s ../../../../../.. /v/up && ln -s sub /v/inner && ln -s /etc/$tag /v/absnew"
expect_eq "symlinks made in the volume" "$(jget "$OUT" 'j["exit_code"]')" 0

log "a subpath through a symlink that leaves the volume is refused"
for sub in abs abs/$tag up up/etc absnew; do
  capture islet create --volume "data:/m:$sub"
  expect_eq "subpath $sub: status" "$RC" 2
  [[ "$ERR" == *"leads out"* ]] || fail "subpath $sub: '$ERR'"
done
[[ ! -e /etc/$tag ]] || fail "host: /etc/$tag was made"
expect_eq "host: mounts under the state directory" "$(my_mounts | grep -v "^$STATE/pool\$" || true)" ""
expect_eq "sandboxes after the refused creates" "$(ls "$STATE/sandboxes" | grep -v "^$a\$" || true)" ""

log "a subpath through a symlink that stays inside is followed; a missing one is made"
b=$(create_sb --volume data:/m:inner --volume data:/n:new/deeper)
remember_id "$b"
xjson "$b" -- sh -c 'cat /m/f; echo made > /n/g; stat -c %u /n'
expect_eq "inner subpath, made subpath" "$(jget "$OUT" 'j["stdout"]')" $'inside\n0'
expect_eq "host: the made subpath holds the file" "$(cat "$vol/new/deeper/g")" made
expect_eq "host: owner of the made subpath" "$(stat -c %u:%g "$vol/new/deeper")" 0:0

log "a mount path turned into a symlink resolves inside the sandbox"
c=$(create_sb --volume "data:/a/$tag")
remember_id "$c"
xjson "$c" -- sh -c "mv /a /c && mkdir -p /tmp/hx && ln -s /tmp/hx /a"
expect_eq "mount path swapped for a symlink" "$(jget "$OUT" 'j["exit_code"]')" 0
islet stop "$c" >/dev/null </dev/null || fail "stop $c"
islet start "$c" >/dev/null </dev/null || fail "start $c after its mount path became a symlink"
xjson "$c" -- sh -c "cat /tmp/hx/$tag/sub/f"
expect_eq "the volume, mounted at the sandbox's own /tmp/hx" "$(jget "$OUT" 'j["stdout"]')" inside
[[ ! -e /tmp/hx/$tag ]] || fail "host: /tmp/hx/$tag was made"

log "a mount path led onto the host's /usr is refused"
xjson "$c" -- sh -c "rm /a && ln -s /usr/share /a"
islet stop "$c" >/dev/null </dev/null || fail "stop $c"
capture islet start "$c"
expect_eq "start with the mount path on /usr: status" "$RC" 2
[[ "$ERR" == *"leads out"* ]] || fail "start with the mount path on /usr: '$ERR'"
[[ ! -e /usr/share/$tag ]] || fail "host: /usr/share/$tag was made"
expect_eq "the sandbox after the refused start" "$(sb_info "$c" 'j["state"]')" stopped
expect_eq "host: no file of the volume moved" "$(cat "$vol/sub/f")" inside
pass
