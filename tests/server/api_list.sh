#!/usr/bin/env bash
# GET /api/sandbox applies every query parameter the Daytona SDK sends, or
# refuses it: states as repeated keys, cpu/memory/disk ranges, sort and order
# with their cursors, and a 400 that names the parameter for an unknown one
# or a value that is not of its form (a list that ignored its filter would
# hand a clean-up script the wrong sandboxes).  The SDK's side is
# tests/compat/list.js.  Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_list.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

api POST /api/sandbox -d '{"name":"run-1","cpu":1}'; expect_code "create run-1" 200
R=$(jq -r .id <<<"$BODY"); remember_id "$R"
api POST /api/sandbox -d '{"name":"stop-1","cpu":2}'; expect_code "create stop-1" 200
S=$(jq -r .id <<<"$BODY"); remember_id "$S"
api POST "/api/sandbox/$S/stop"; expect_code "stop stop-1" 200

log "== filters"
api GET "/api/sandbox?states=stopped"; expect_code "states=stopped" 200
expect_body "states=stopped" "(.items | map(.id)) == [\"$S\"]"
api GET "/api/sandbox?states=started"; expect_body "states=started" "(.items | map(.id)) == [\"$R\"]"
api GET "/api/sandbox?states=started&states=stopped"; expect_body "both states" '.items | length == 2'
api GET "/api/sandbox?states=archived"; expect_body "a state islet never has" '.items == []'
# a paused sandbox is paused to the filter, as it is in the items; it goes
# again at once, so the checks below see the two sandboxes they expect
api POST /api/sandbox -d '{"name":"pause-1"}'; expect_code "create pause-1" 200
P=$(jq -r .id <<<"$BODY"); remember_id "$P"
api POST "/api/sandbox/$P/pause"; expect_code "pause pause-1" 200
api GET "/api/sandbox?states=paused"
expect_body "states=paused" "(.items | map(.id)) == [\"$P\"] and .items[0].state == \"paused\""
api GET "/api/sandbox?states=stopped"; expect_body "states=stopped, one paused" "(.items | map(.id)) == [\"$S\"]"
api DELETE "/api/sandbox/$P"; expect_code "delete pause-1" 200
api GET "/api/sandbox?minCpu=1.5"; expect_body "minCpu" "(.items | map(.id)) == [\"$S\"]"
api GET "/api/sandbox?maxCpu=1&minMemoryGiB=1&maxDiskGiB=3"; expect_body "maxCpu" "(.items | map(.id)) == [\"$R\"]"
api GET "/api/sandbox?name=STOP"; expect_body "a name prefix" "(.items | map(.id)) == [\"$S\"]"
api GET "/api/sandbox?name=stop-1x"; expect_body "a longer name" '.items == []'
api GET "/api/sandbox?sandboxClasses=container&includeWarm=false&includeErroredDeleted=true"
expect_body "class, warm, errored" '.items | length == 2'
api GET "/api/sandbox?sandboxClasses=windows"; expect_body "another class" '.items == []'
api GET "/api/sandbox?minGpu=1"; expect_body "minGpu" '.items == []'
api GET "/api/sandbox?createdAtAfter=2000-01-01T00:00:00Z&createdAtBefore=2999-01-01T00:00:00.000%2B02:00"
expect_body "created between" '.items | length == 2'
api GET "/api/sandbox?autoDestroyAtAfter=2000-01-01T00:00:00Z"; expect_body "none will be destroyed" '.items == []'
api GET "/api/sandbox?sort=cpu&order=desc"; expect_body "sort cpu desc" "(.items | map(.id)) == [\"$S\", \"$R\"]"
api GET "/api/sandbox?sort=name&order=asc&limit=1"; expect_body "sort name, a page" "(.items | map(.id)) == [\"$R\"]"
CURSOR=$(jq -r .nextCursor <<<"$BODY")
api GET /api/sandbox -G --data-urlencode "cursor=$CURSOR" -d sort=name -d order=asc -d limit=1
expect_code "the next page" 200
expect_body "the next page" "(.items | map(.id)) == [\"$S\"] and .nextCursor == null"

log "== refused, by name"
bad () {
  api GET "/api/sandbox?$1"; expect_error "list ?$1" 400
  expect_body "list ?$1: the message names $2" ".message | startswith(\"$2 \")"
}
bad 'states=stoped' states
bad 'states=started,stopped' states
bad 'minCpu=abc' minCpu
bad 'maxMemoryGiB=-1' maxMemoryGiB
bad 'sort=size' sort
bad 'order=up' order
bad 'createdAtAfter=yesterday' createdAtAfter
bad 'lastEventBefore=2026-13-01' lastEventBefore
bad 'isPublic=maybe' isPublic
bad 'sandboxClasses=vm' sandboxClasses
bad 'page=2' page
bad 'state=stopped' state
bad 'labels=%7Bnot-json' labels
bad 'limit=0' limit
bad "cursor=$CURSOR&sort=cpu" cursor
api GET "/api/sandbox/paginated?states=stopped&page=1"; expect_error "paginated with page" 400
api GET "/api/sandbox/paginated?states=stopped"; expect_body "paginated, filtered" "(.items | map(.id)) == [\"$S\"]"
pass
