#!/usr/bin/env bash
# Persistence: a stopped sandbox keeps its files (/workspace, /root, /etc, the
# whole writable layer) and nothing else: no process, no cgroup.  Started
# again it has its files, its name as hostname, and runs commands.  rm -f
# leaves no trace: state directory, uid claim, volume, cgroups, processes.
source "$(dirname "$0")/../lib/integration.sh"
it_init

name=persist-it
id=$(create_sb --name "$name" --memory 256)
remember_id "$id"
base=$(sb_info "$id" 'j["uid_base"]')
slot=$(( (base - IT_UID_FIRST) / IT_UID_RANGE ))
sup=$(sb_info "$id" 'j["supervisor"]')
log "sandbox $id ($name): uid base $base (slot $slot), supervisor $sup"
expect_eq "state after create" "$(sb_info "$id" 'j["state"]')" running
expect_eq "info by name" "$(sb_info "$name" 'j["id"]')" "$id"
[[ -f "$STATE/uids/$slot" ]] || fail "no uid claim file $STATE/uids/$slot"
[[ -d "$STATE/pool/$id" ]] || fail "no volume $STATE/pool/$id"
[[ -n "$(cg_dirs "$id")" ]] || fail "no cgroup for a running sandbox"
[[ -n "$(procs_of_uid "$base" "$id")" ]] || fail "no process of uid $base for a running sandbox"

log "write files in /workspace, /root, /etc, /home, / and /var/tmp"
xjson "$id" -- sh -c '
  echo ws > /workspace/file && mkdir -p /workspace/dir/sub && echo deep > /workspace/dir/sub/f &&
  echo rootfile > /root/.profile-it && echo etcfile > /etc/islet-it.conf &&
  mkdir -p /home/user && echo home > /home/user/f && mkdir /data-it && echo top > /data-it/f &&
  echo vartmp > /var/tmp/f &&
  ln -s /workspace/file /workspace/link && chmod 600 /root/.profile-it && echo written'
expect_eq "writes: stdout (stderr: $(jget "$OUT" 'j["stderr"]'))" "$(jget "$OUT" 'j["stdout"]')" written

log "start on a running sandbox is refused; stop it"
capture islet start "$id"
[[ "$RC" != 0 ]] || fail "start of a running sandbox succeeded"
islet stop "$id" </dev/null >/dev/null || fail "stop $id failed"
expect_eq "state after stop" "$(sb_info "$id" 'j["state"]')" stopped
expect_eq "supervisor after stop" "$(sb_info "$id" 'j["supervisor"]')" 0
# the supervisor answers once the sandbox is torn down, then exits
wait_until 5 dead "$sup" || fail "the supervisor $sup is still alive 5 s after stop"
left=$(procs_of_uid "$base" "$id")
[[ -z "$left" ]] || fail "processes of uid range $base left after stop: $(ps -o pid,user,args -p "$(echo $left | tr ' ' ,)")"
[[ -z "$(procs_in_cg "$id")" ]] || fail "processes left in the sandbox's cgroups after stop"
[[ -z "$(cg_dirs "$id")" ]] || fail "cgroup directories left after stop: $(cg_dirs "$id")"
[[ ! -S "$STATE/sandboxes/$id/ctl.sock" ]] || fail "ctl.sock left after stop"
capture islet exec "$id" -- true
expect_eq "exec on a stopped sandbox: islet's status" "$RC" 125
[[ "$ERR" == *"not running"* ]] || fail "exec on a stopped sandbox: unclear error '$ERR'"
capture islet stop "$id"
[[ "$RC" != 0 ]] || fail "stop of a stopped sandbox succeeded"
expect_eq "ls shows it stopped" \
  "$(jget "$(islet ls --json </dev/null)" '[s["state"] for s in j["sandboxes"] if s["id"] == "'"$id"'"]')" '["stopped"]'

log "start it again"
islet start "$name" </dev/null >/dev/null || fail "start $name failed"
expect_eq "state after start" "$(sb_info "$id" 'j["state"]')" running
expect_eq "uid base after start" "$(sb_info "$id" 'j["uid_base"]')" "$base"
expect_eq "memory limit after start" "$(sb_info "$id" 'j["limits"]["memory_mb"]')" 256
expect_eq "host memory limit after start" "$(cat "$(cg_dir "$id" memory)"/memory.limit_in_bytes 2>/dev/null \
  || cat "$(cg_dir "$id" memory)"/memory.max)" $((256 << 20))
xjson "$id" -- sh -c 'cat /workspace/file /workspace/dir/sub/f /root/.profile-it /etc/islet-it.conf /home/user/f /data-it/f /var/tmp/f; readlink /workspace/link; stat -c %a /root/.profile-it'
expect_eq "files after restart" "$(jget "$OUT" '" ".join(j["stdout"].split())')" \
  "ws deep rootfile etcfile home top vartmp /workspace/file 600"
xjson "$id" -- sh -c 'hostname; cat /etc/hostname; uname -n'
expect_eq "hostname after restart" "$(jget "$OUT" '" ".join(j["stdout"].split())')" "$name $name $name"
xjson "$id" -- sh -c 'cd /workspace && echo again >> file && cat file && pwd'
expect_eq "exec after restart" "$(jget "$OUT" '" ".join(j["stdout"].split())')" "ws again /workspace"

log "a second stop/start cycle by id prefix"
islet stop "${id:0:8}" </dev/null >/dev/null || fail "stop by prefix failed"
islet start "${id:0:8}" </dev/null >/dev/null || fail "start by prefix failed"
xjson "$id" -- cat /workspace/file
expect_eq "file after the second restart" "$(jget "$OUT" '" ".join(j["stdout"].split())')" "ws again"

log "rm without -f refuses a running sandbox"
capture islet rm "$id"
[[ "$RC" != 0 ]] || fail "rm of a running sandbox without -f succeeded"
expect_eq "state after refused rm" "$(sb_info "$id" 'j["state"]')" running

log "rm -f leaves nothing"
sup=$(sb_info "$id" 'j["supervisor"]')
islet rm -f "$id" </dev/null >/dev/null || fail "rm -f $id failed"
[[ ! -e "$STATE/sandboxes/$id" ]] || fail "sandbox directory left: $(ls -la "$STATE/sandboxes/$id")"
[[ ! -e "$STATE/uids/$slot" ]] || fail "uid claim file left: $STATE/uids/$slot"
[[ ! -e "$STATE/pool/$id" ]] || fail "volume left: $STATE/pool/$id"
if command -v btrfs >/dev/null; then
  vols=$(btrfs subvolume list -o "$STATE/pool" 2>/dev/null | grep -c "$id" || true)
  expect_eq "btrfs subvolumes named $id" "$vols" 0
fi
[[ -z "$(cg_dirs "$id")" ]] || fail "cgroups left after rm -f: $(cg_dirs "$id")"
wait_until 5 dead "$sup" || fail "supervisor $sup alive after rm -f"
[[ -z "$(procs_of_uid "$base" "$id")" ]] || fail "processes of uid range $base left after rm -f"
[[ -z "$(supervisors)" ]] || fail "islet-run processes left: $(supervisors)"
expect_eq "ls after rm -f" "$(jget "$(islet ls --json </dev/null)" 'len(j["sandboxes"])')" 0
capture islet info "$id"
[[ "$RC" != 0 ]] || fail "info of a removed sandbox succeeded"

log "rm of a stopped sandbox (no -f needed) leaves nothing either"
id2=$(create_sb --name persist-two)
remember_id "$id2"
base2=$(sb_info "$id2" 'j["uid_base"]')
islet stop "$id2" </dev/null >/dev/null || fail "stop $id2 failed"
islet rm "$id2" </dev/null >/dev/null || fail "rm of stopped $id2 failed"
[[ ! -e "$STATE/sandboxes/$id2" && ! -e "$STATE/pool/$id2" ]] || fail "rm of a stopped sandbox left files"
[[ ! -e "$STATE/uids/$(( (base2 - IT_UID_FIRST) / IT_UID_RANGE ))" ]] || fail "rm of a stopped sandbox left its uid claim"
[[ -z "$(cg_dirs "$id2")" ]] || fail "rm of a stopped sandbox left cgroups"

log "a new sandbox with the old name starts empty"
id3=$(create_sb --name "$name")
remember_id "$id3"
[[ "$id3" != "$id" ]] || fail "the new sandbox reused the old id"
xjson "$id3" -- sh -c 'ls -A /workspace; test -e /etc/islet-it.conf && echo stale-etc; true'
expect_eq "new sandbox's /workspace and /etc" "$(jget "$OUT" 'j["stdout"]')" ""

pass
