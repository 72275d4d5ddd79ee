#!/usr/bin/env bash
# Auto-pause (Daytona's autoPauseInterval), with a "minute" of 2 s
# (ISLETD_TEST_MINUTE_SECONDS, for tests only): an idle sandbox with
# autoPauseInterval 1 is paused (its group frozen: the kernel says so), one
# kept busy (refreshActivity) is not, and the paused one is not stopped or
# deleted afterwards; a start resumes it.  At most one of autoStopInterval
# and autoPauseInterval may be non-zero (400, at create and through the
# interval routes); the interval survives a restart of isletd (SQLite).
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_autopause.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

export ISLETD_TEST_MINUTE_SECONDS=2
srv_init

create () {
  api POST /api/sandbox -d "$1"; expect_code "create $1" 200
  jq -r .id <<<"$BODY"
}

core_state () {
  local json
  json=$(islet info "$1" --json 2>/dev/null) || { echo gone; return; }
  jget "$json" 'j["state"]'
}

frozen () {
  local f
  for f in "/sys/fs/cgroup/freezer/islet/$1/freezer.state" "/sys/fs/cgroup/islet/$1/cgroup.freeze"; do
    [[ -f "$f" ]] && { cat "$f"; return; }
  done
  echo none
}

log "== both intervals at once are refused"
api POST /api/sandbox -d '{"autoStopInterval":5,"autoPauseInterval":5}'
expect_code "create with both" 400
expect_body "the message names both" '.message | test("^autoPauseInterval 5 with autoStopInterval 5: at most one")'

S=$(create '{"name":"idle","autoStopInterval":0,"autoPauseInterval":1,"autoDeleteInterval":0}')
remember_id "$S"
K=$(create '{"name":"busy","autoStopInterval":0}'); remember_id "$K"
# 3 "minutes" (6 s): longer than a restart of isletd under load takes
api POST "/api/sandbox/$K/autopause/3"; expect_code "autopause on busy" 200
expect_body "autopause shown" '.autoPauseInterval == 3'
api POST "/api/sandbox/$K/autostop/3"; expect_code "autostop with autopause set" 400
api GET "/api/sandbox/$S"; expect_body "the interval at create" '.autoPauseInterval == 1'
# a restart keeps the interval (the store)
api POST "/api/sandbox/$K/last-activity"; expect_code "refresh activity" 200
kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
srv_start

log "== the idle sandbox is paused, the busy one is not"
for (( i = 0; i < 80; i++ )); do
  api POST "/api/sandbox/$K/last-activity"; expect_code "refresh activity" 200
  [[ $(core_state "$S") == paused ]] && break
  sleep 0.25
done
[[ $(core_state "$S") == paused ]] || fail "the idle sandbox was not paused within 20 s: $(core_state "$S")"
expect_eq "the kernel's freezer" "$(frozen "$S")" "$(if [[ -f /sys/fs/cgroup/islet/$S/cgroup.freeze ]]; then echo 1; else echo FROZEN; fi)"
api GET "/api/sandbox/$S"; expect_body "the API shows it paused" '.state == "paused"'
[[ $(core_state "$K") == running ]] || fail "the busy sandbox was paused"

log "== paused, it is neither stopped nor deleted (autoDeleteInterval 0)"
sleep 5
expect_eq "state 5 s later" "$(core_state "$S")" paused

api POST "/api/sandbox/$S/start"; expect_code "start resumes" 200
expect_body "started" '.state == "started"'
expect_eq "after start" "$(core_state "$S")" running
api GET "/api/audit?sandbox=$S"
expect_body "the audit log records the auto-pause" '[.items[].action] | index("sandbox.auto-pause") != null'
pass
