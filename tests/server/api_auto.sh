#!/usr/bin/env bash
# Auto-stop and auto-delete, with a "minute" of 4 s (ISLETD_TEST_MINUTE_SECONDS,
# for tests only): an idle sandbox with autoStopInterval 1 is stopped, then
# deleted autoDeleteInterval 1 later, across two kills and restarts of
# isletd (the clocks are in SQLite); one kept busy (refreshActivity) and one
# with autoStopInterval 0 keep running; autoDeleteInterval 0 deletes a
# sandbox as soon as it is stopped; the audit log records what the timer did.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_auto.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

export ISLETD_TEST_MINUTE_SECONDS=4
srv_init

create () {
  api POST /api/sandbox -d "$1"; expect_code "create $1" 200
  jq -r .id <<<"$BODY"
}

# restart: kill isletd hard (no clean-up of its own) and start it again
restart () {
  kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
  srv_start
}

# core_state ID: running, stopped, or gone, as the core says
core_state () {
  local json
  json=$(islet info "$1" --json 2>/dev/null) || { echo gone; return; }
  jget "$json" 'j["state"]'
}

# the two with a 1-"minute" auto-stop last: making the others takes seconds
# on a loaded host, and the idle one could otherwise be stopped and deleted
# before the first look, the busy one stopped before it is kept busy
N=$(create '{"name":"never","autoStopInterval":0}'); remember_id "$N"
D=$(create '{"name":"ephemeral","autoStopInterval":0,"autoDeleteInterval":0}'); remember_id "$D"
K=$(create '{"name":"busy","autoStopInterval":1}'); remember_id "$K"
S=$(create '{"name":"idle","autoStopInterval":1,"autoDeleteInterval":1}'); remember_id "$S"
api GET "/api/sandbox/$S"; expect_body "the intervals" '.autoStopInterval == 1 and .autoDeleteInterval == 1'
restart

log "== the idle sandbox is stopped, the busy one is not"
for (( i = 0; i < 80; i++ )); do
  api POST "/api/sandbox/$K/last-activity"; expect_code "refresh activity" 200
  [[ $(core_state "$S") == stopped ]] && break
  sleep 0.25
done
[[ $(core_state "$S") == stopped ]] || fail "the idle sandbox was not stopped within 20 s"
api GET "/api/sandbox/$S"; expect_body "the API shows it stopped" '.state == "stopped"'
[[ $(core_state "$K") == running ]] || fail "the busy sandbox was stopped"
[[ $(core_state "$N") == running ]] || fail "the sandbox with autoStopInterval 0 was stopped"

log "== then deleted, across another restart"
restart
for (( i = 0; i < 80; i++ )); do
  api POST "/api/sandbox/$K/last-activity"
  [[ $(core_state "$S") == gone ]] && break
  sleep 0.25
done
[[ $(core_state "$S") == gone ]] || fail "the stopped sandbox was not deleted within 20 s: $(cat "$STATE.srv.err")"
api GET "/api/sandbox/$S"; expect_error "the deleted sandbox" 404
[[ $(core_state "$K") == running ]] || fail "the busy sandbox was stopped"

log "== autoDeleteInterval 0: deleted once stopped"
api POST "/api/sandbox/$D/stop"; expect_code "stop the ephemeral sandbox" 200
for (( i = 0; i < 40; i++ )); do
  api POST "/api/sandbox/$K/last-activity" # kept busy, as above
  [[ $(core_state "$D") == gone ]] && break
  sleep 0.25
done
[[ $(core_state "$D") == gone ]] || fail "the ephemeral sandbox was not deleted within 10 s"
[[ $(core_state "$N") == running ]] || fail "the sandbox with autoStopInterval 0 was stopped"

log "== audit"
api GET "/api/audit?limit=1000"; expect_code "audit" 200
expect_body "audit: auto-stop" "[.items[] | select(.action == \"sandbox.auto-stop\" and .sandboxId == \"$S\" and .status == 200)] | length == 1"
expect_body "audit: auto-delete" "[.items[] | select(.action == \"sandbox.auto-delete\" and .sandboxId == \"$S\")] | length == 1"
expect_body "audit: ephemeral" "[.items[] | select(.action == \"sandbox.auto-delete\" and .sandboxId == \"$D\")] | length == 1"
expect_body "audit: nothing else" "[.items[] | select((.action | startswith(\"sandbox.auto-\")) and .sandboxId != \"$S\" and .sandboxId != \"$D\")] | length == 0"

log "== a sandbox removed behind isletd's back (islet rm) is forgotten by the store"
api DELETE "/api/sandbox/$K"; expect_code "delete" 200
islet rm -f "$N" </dev/null >/dev/null || fail "islet rm -f $N"
rows () { sqlite3 "$STATE/isletd.db" "SELECT count(*) FROM sandboxes WHERE id = '$N'"; }
for (( i = 0; i < 60; i++ )); do
  [[ $(rows) == 0 ]] && break
  sleep 0.25
done
[[ $(rows) == 0 ]] || fail "the store still has the row of $N 15 s after islet rm"
api GET "/api/sandbox/$N"; expect_error "the sandbox removed by the CLI" 404
pass
