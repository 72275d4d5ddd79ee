#!/usr/bin/env bash
# kill -9 of isletd in the middle of work, then a restart: nothing is lost
# and nothing is orphaned.  20 concurrent creates killed at several points,
# three /v1/execute runs killed while their code runs, and 5 concurrent
# deletes killed a few ms in; after each restart every sandbox the core has
# (`islet ls` on the state directory) is one the API lists, every create
# that was answered 200 is there, and a name whose delete was cut short is
# free again at once (not held for the reaper's 90 s).
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_crash.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

restart () {
  kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
  srv_start
}

# consistent WHAT [ACKED...]: the core's sandboxes are the API's, and
# every acknowledged id is among them
consistent () {
  local what=$1 listed core id
  shift
  api GET '/api/sandbox?limit=1000'; expect_code "$what: list" 200
  listed=$(jq -r '.items[].id' <<<"$BODY" | sort | tr '\n' ' ')
  capture islet ls --json
  expect_eq "$what: islet ls" "$RC" 0
  core=$(jq -r '.sandboxes[].id' <<<"$OUT" | sort | tr '\n' ' ')
  [[ "$core" == "$listed" ]] \
    || fail "$what: the core has [$core], the API lists [$listed]: orphans or lost rows"
  for id in "$@"; do
    [[ " $listed " == *" $id "* ]] || fail "$what: acknowledged sandbox $id is gone"
  done
}

# delete_all: every listed sandbox, so that the next round starts empty
delete_all () {
  local id
  api GET '/api/sandbox?limit=1000'
  for id in $(jq -r '.items[].id' <<<"$BODY"); do
    api DELETE "/api/sandbox/$id"; expect_code "delete $id" 200
  done
}

out=$(mktemp -d "$STATE.out.XXXXXX")
round=0
for delay in 0.1 0.3 0.6 1.2; do
  round=$((round + 1))
  log "== 20 concurrent creates, isletd killed after $delay s"
  pids=()
  for i in $(seq 1 20); do
    curl -s -o "$out/$round.$i" -w '%{http_code}' --max-time 60 -X POST \
      -H "Authorization: Bearer $SRV_KEY" -H 'Content-Type: application/json' \
      -d '{}' "$SRV_URL/api/sandbox" >"$out/$round.$i.code" 2>/dev/null &
    pids+=($!)
  done
  sleep "$delay"
  restart
  wait "${pids[@]}" 2>/dev/null || true
  acked=()
  for i in $(seq 1 20); do
    if [[ $(cat "$out/$round.$i.code") == 200 ]]; then
      acked+=("$(jq -r .id "$out/$round.$i")")
    fi
  done
  log "$((${#acked[@]})) of 20 acknowledged"
  consistent "creates killed after $delay s" "${acked[@]}"
  delete_all
done

log "== three /v1/execute runs, isletd killed while their code runs"
pids=()
for i in 1 2 3; do
  curl -s -o /dev/null --max-time 60 -X POST -H "Authorization: Bearer $SRV_KEY" \
    -H 'Content-Type: application/json' \
    -d '{"code": "import time; time.sleep(20)", "language": "python"}' \
    "$SRV_URL/v1/execute" 2>/dev/null &
  pids+=($!)
done
# until the three sandboxes run (at most 30 s)
for (( i = 0; i < 300; i++ )); do
  capture islet ls --json
  (( $(jq '.sandboxes | length' <<<"$OUT") >= 3 )) && break
  sleep 0.1
done
(( $(jq '.sandboxes | length' <<<"$OUT") >= 3 )) || fail "the three /v1/execute sandboxes never ran"
sleep 0.5
restart
wait "${pids[@]}" 2>/dev/null || true
consistent "/v1/execute killed"
capture islet ls --json
expect_eq "no /v1/execute sandbox left" "$(jq '.sandboxes | length' <<<"$OUT")" 0

log "== 5 concurrent deletes, isletd killed a few ms in"
for i in 1 2 3 4 5; do
  api POST /api/sandbox -H 'Content-Type: application/json' -d "{\"name\": \"d$i\"}"
  expect_code "create d$i" 200
done
pids=()
for i in 1 2 3 4 5; do
  curl -s -o /dev/null --max-time 60 -X DELETE -H "Authorization: Bearer $SRV_KEY" \
    "$SRV_URL/api/sandbox/d$i" 2>/dev/null &
  pids+=($!)
done
sleep 0.05
restart
wait "${pids[@]}" 2>/dev/null || true
consistent "deletes killed"
for i in 1 2 3 4 5; do
  api GET "/api/sandbox/d$i"
  [[ "$CODE" == 200 ]] && continue # its delete had not begun: it is whole
  expect_code "d$i: gone" 404
  api POST /api/sandbox -H 'Content-Type: application/json' -d "{\"name\": \"d$i\"}"
  expect_code "the name d$i, free again after the restart" 200
done
consistent "names taken again"
delete_all
pass
