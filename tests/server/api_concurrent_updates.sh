#!/usr/bin/env bash
# Concurrent updates of one sandbox's fields through the Daytona API: in each
# round, its labels (PUT labels), its env (the toolbox's POST /env), its
# auto-stop and auto-archive intervals and its time to live are changed by
# five requests at once.  Each change touches only its own field, so after a
# round every field holds that round's value: a request that wrote back the
# whole row it had read would undo another's change.  Needs root.
#   ISLET_BIN=build/islet bash tests/server/api_concurrent_updates.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

api POST /api/sandbox -d '{"name":"rows","autoStopInterval":0}'; expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
T="/toolbox/$A"

# req METHOD PATH [BODY]: one request in the background; its status in
# $STATE.code.N (N: the request's number in the round).
n=0 pids=()
req () {
  local f="$STATE.code.$n"
  n=$(( n + 1 ))
  curl -s -o /dev/null -w '%{http_code}' --max-time 60 -X "$1" -H "Authorization: Bearer $SRV_KEY" \
    -H 'Content-Type: application/json' ${3:+-d "$3"} "$SRV_URL$2" >"$f" &
  pids+=($!)
}

rounds=25
for (( i = 1; i <= rounds; i++ )); do
  n=0 pids=()
  req PUT "/api/sandbox/$A/labels" "{\"labels\":{\"round\":\"$i\"}}"
  req POST "$T/env" "{\"set\":{\"ROUND_$i\":\"$i\"}}"
  req POST "/api/sandbox/$A/autostop/$i"
  req POST "/api/sandbox/$A/autoarchive/$(( i + 100 ))"
  req POST "/api/sandbox/$A/ttl/$(( i + 1000 ))"
  wait "${pids[@]}" # not a bare wait: isletd is a child too
  for (( k = 0; k < n; k++ )); do
    [[ $(cat "$STATE.code.$k") == 200 ]] || fail "round $i: request $k answered $(cat "$STATE.code.$k")"
  done
  api GET "/api/sandbox/$A"; expect_code "get after round $i" 200
  expect_body "round $i: labels, env, intervals and ttl each kept their own change" \
    ".labels.round == \"$i\" and .env.ROUND_$i == \"$i\" and .autoStopInterval == $i
     and .autoArchiveInterval == $(( i + 100 )) and (.autoDestroyAt | type == \"string\")"
done
api GET "/api/sandbox/$A"
expect_body "every round's env change is kept" \
  "[.env | to_entries[] | select(.key | startswith(\"ROUND_\"))] | length == $rounds"
pass
