#!/usr/bin/env bash
# kill -9 of isletd in the middle of sandbox.archive() (the archive written,
# the volume not yet deleted) and in the middle of the restore of start()
# (the archive received, not yet in the volume's place): after a restart
# the sandbox starts with its files, nothing is left in <state>/archive or
# in the pool's staging directory, and no state said started before the
# files were back.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init
A=$STATE/archive
api POST /api/sandbox -d '{"name":"ak"}'
expect_code "create" 200
id=$(jq -r .id <<<"$BODY"); remember_id "$id"
T=/toolbox/$id
sh_in 'head -c 4194304 /dev/urandom >/workspace/data && sha256sum /workspace/data | cut -c1-64'
sum=$OUT
api POST "/api/sandbox/$id/stop"; expect_code "stop" 200

# killed_during WHAT ACTION FILE: isletd paused inside ACTION, killed once FILE exists
killed_during () {
  srv_stop
  ISLET_TEST_ARCHIVE_PAUSE_MS=30000 srv_start
  curl -s -o /dev/null --max-time 60 -X POST -H "Authorization: Bearer $SRV_KEY" \
    "$SRV_URL/api/sandbox/$id/$2" &
  local cpid=$!
  wait_until 30 test -e "$3" || fail "$1: $3 did not appear"
  sleep 0.5
  kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
  wait "$cpid" 2>/dev/null || true
  srv_start
  api GET "/api/sandbox/$id"
  expect_code "$1: get after the restart" 200
  log "$1: state after the restart: $(jq -r .state <<<"$BODY")"
  expect_body "$1: not started" '.state != "started"'
}

started_whole () {
  api POST "/api/sandbox/$id/start"; expect_code "$1: start" 200
  sh_in 'sha256sum /workspace/data | cut -c1-64'
  expect_eq "$1: the files after the start" "$OUT" "$sum"
  [[ -z "$(ls -A "$A" 2>/dev/null)" ]] || fail "$1: left in $A: $(ls -A "$A")"
  [[ -z "$(ls -A "$STATE/pool/.restore" 2>/dev/null)" ]] || fail "$1: left in the staging dir"
}

log "killed after the archive is written, before the volume goes"
killed_during archive archive "$A/$id.btrfs.zst"
[[ -d "$STATE/pool/$id" ]] || fail "the volume went although isletd was killed before"
started_whole "archive killed"

log "killed in the middle of a restore"
api POST "/api/sandbox/$id/stop"; expect_code "stop" 200
api POST "/api/sandbox/$id/archive"; expect_code "archive" 200
[[ ! -e "$STATE/pool/$id" ]] || fail "archived, and the volume is still there"
killed_during restore start "$STATE/pool/.restore/$id"
[[ -e "$A/$id.btrfs.zst" ]] || fail "the archive went before the restore was done"
started_whole "restore killed"
pass "a kill in an archive or a restore loses nothing, and leaves nothing"
