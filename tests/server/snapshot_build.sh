#!/usr/bin/env bash
# snapshot.create from an Image (POST /api/snapshots with buildInfo)
# answers at once, building (pending while the key's other build runs);
# its build log (GET /api/snapshots/{id}/build-logs-url, then the URL with
# ?follow=true) streams the RUN's output and ends with the build (another
# key's is a 404); the snapshot is then active with the built image, and
# a sandbox made from it has the built file.  While it builds, a sandbox
# from it is a 409 that says so.  A failing step: build_failed,
# errorReason naming the step.  A delete mid-build (running, or waiting
# for its slot) calls the build off and leaves nothing: no builder, no RUN
# sandbox, no image, no log.  kill -9 of isletd mid-build: after the
# restart the snapshot is build_failed (and one waiting behind it too),
# never active, and no sandbox can be made from it.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/image.sh"

srv_init
base=$(test_image example.test/base:1)
[[ "$base" == sha256:* ]] || fail "test_image printed '$base', not an image id"

# snap_df NAME DOCKERFILE: POST /api/snapshots with it as buildInfo
snap_df () {
  api POST /api/snapshots -H 'Content-Type: application/json' \
    -d "$(jq -n --arg n "$1" --arg df "$2" '{name: $n, buildInfo: {dockerfileContent: $df}}')"
}
# wait_snap ID STATE [SECONDS]: GET it until STATE (or settled in another)
wait_snap () {
  local i st
  for (( i = 0; i < ${3:-60} * 10; i++ )); do
    api GET "/api/snapshots/$1"
    st=$(jq -r .state <<<"$BODY")
    [[ "$st" == "$2" || "$st" == active || "$st" == error || "$st" == build_failed ]] && break
    sleep 0.1
  done
  [[ "$st" == "$2" ]] || fail "snapshot $1 is $st, want $2: ${BODY:0:400}"
}
build_sb () { islet ls --json 2>/dev/null | jq -e '[.sandboxes[] | select(.name | startswith("islet-build-"))] | length > 0' >/dev/null; }
no_build_sb () { ! build_sb; }
images () { islet image ls --json | jq '.images | length'; }
nothing_left () {
  wait_until 20 no_build_sb || fail "$1: the RUN's sandbox is left: $(islet ls 2>&1)"
  pgrep -f "islet-image $STATE build" >/dev/null && fail "$1: islet-image is left"
  [[ ! -e "$STATE/isletd-builds/$2.log" ]] || fail "$1: the build log is left"
  expect_eq "$1: images in the store" "$(images)" "$3"
}

log "a build: the create answers at once, building; the log follows the RUN"
n0=$(images)
t0=$(date +%s%N)
snap_df built $'FROM example.test/base:1\nRUN echo first-line && /bin/busybox sleep 3 && echo second-line && echo made >/srv/app/built\n'
t1=$(date +%s%N)
expect_code "snapshot.create with a Dockerfile" 200
id=$(jq -r .id <<<"$BODY")
expect_body "the answer is building" '.state == "building" and .name == "built"'
(( (t1 - t0) / 1000000 < 2000 )) || fail "the create waited $(( (t1 - t0) / 1000000 )) ms for the build"
api POST /api/sandbox -H 'Content-Type: application/json' -d '{"snapshot":"built"}'
expect_error "a sandbox from a snapshot that builds" 409
expect_body "it says the snapshot is building" '.message | test("built.*building")'
api GET "/api/snapshots/$id/build-logs-url"
expect_code "build-logs-url" 200
url=$(jq -r .url <<<"$BODY")
[[ "$url" == "$SRV_URL/api/snapshots/$id/build-logs" ]] || fail "build-logs-url: $url"
curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url" | grep -qx 401 \
  || fail "the build log answered without the key"
t0=$(date +%s%N)
log_out=$(curl -s --max-time 60 -H "Authorization: Bearer $SRV_KEY" "$url?follow=true") \
  || fail "follow the build log (curl $?)"
grep -q '^first-line$' <<<"$log_out" && grep -q '^second-line$' <<<"$log_out" \
  || fail "the followed log lacks the RUN's lines: $log_out"
(( ($(date +%s%N) - t0) / 1000000 >= 1000 )) || fail "the log ended before the RUN: $log_out"
other=$(new_key other)
api -k "$other" GET "/api/snapshots/$id/build-logs-url"
expect_code "another key's build-logs-url" 404
[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $other" "$url") == 404 ]] \
  || fail "another key read the build log"
api GET /api/snapshots/built
expect_body "active once its log ends, with the built image" \
  '.state == "active" and (.imageName | test("^sha256:[0-9a-f]{64}$")) and .errorReason == null'
api POST /api/sandbox -H 'Content-Type: application/json' -d '{"snapshot":"built"}'
expect_code "a sandbox from the built snapshot" 200
sid=$(jq -r .id <<<"$BODY"); remember_id "$sid"
T=/toolbox/$sid
sh_in 'cat /srv/app/built /srv/app/only-in-the-image'
expect_eq "the built file and the base's in the sandbox" "$OUT" $'made\nimage file'
api DELETE "/api/sandbox/$sid"
expect_code "delete the sandbox" 200
api DELETE /api/snapshots/built
expect_code "delete the built snapshot" 200
[[ ! -e "$STATE/isletd-builds/$id.log" ]] || fail "the build log outlived its snapshot"
n1=$(images)

log "a failing step: build_failed, errorReason naming it, listed, deletable"
snap_df broken $'FROM example.test/base:1\nRUN echo about to fail && exit 3\n'
expect_code "snapshot.create with a failing Dockerfile" 200
bad=$(jq -r .id <<<"$BODY")
wait_snap "$bad" build_failed 60
expect_body "errorReason names the step, the status and the output" \
  '.errorReason | test("step 2/2.*status 3.*about to fail")'
api GET /api/snapshots
expect_body "listed as build_failed" '[.items[] | select(.name == "broken")] | length == 1 and .[0].state == "build_failed"'
api POST /api/sandbox -H 'Content-Type: application/json' -d '{"snapshot":"broken"}'
expect_error "a sandbox from a failed snapshot" 409
api DELETE /api/snapshots/broken
expect_code "delete the failed snapshot" 200
nothing_left "after the failed build" "$bad" "$n1"

log "a delete mid-build calls it off; one waiting for its slot too"
snap_df long $'FROM example.test/base:1\nRUN echo long-run && /bin/busybox sleep 120 && echo never >/srv/app/never\n'
expect_code "create a long build" 200
long=$(jq -r .id <<<"$BODY")
snap_df queued $'FROM example.test/base:1\nRUN echo queued >/srv/app/q\n'
expect_code "create a build behind it" 200
queued=$(jq -r .id <<<"$BODY")
expect_body "the second build of the key is pending" '.state == "pending"'
wait_until 30 build_sb || fail "the long build's RUN sandbox never appeared"
api GET /api/snapshots/queued
expect_body "still pending behind the first" '.state == "pending"'
api DELETE /api/snapshots/queued
expect_code "delete of the waiting build" 200
t0=$(date +%s%N)
api DELETE "/api/snapshots/$long"
expect_code "delete mid-build" 200
(( ($(date +%s%N) - t0) / 1000000 < 20000 )) || fail "the delete waited for the build's end"
api GET /api/snapshots/long
expect_code "get after the delete mid-build" 404
nothing_left "after the delete mid-build" "$long" "$n1"
api GET /api/snapshots
expect_body "nothing listed" '.total == 0'

log "kill -9 of isletd mid-build: build_failed after the restart, never active"
snap_df killed $'FROM example.test/base:1\nRUN echo long-run && /bin/busybox sleep 120 && echo never >/srv/app/never\n'
expect_code "create a build to kill" 200
dead=$(jq -r .id <<<"$BODY")
snap_df killed-waiting $'FROM example.test/base:1\nRUN echo never >/srv/app/never\n'
expect_body "a build behind it, pending" '.state == "pending"'
wait_until 30 build_sb || fail "the build's RUN sandbox never appeared"
kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
srv_start
api GET /api/snapshots/killed
expect_code "get after the restart" 200
expect_body "build_failed, saying isletd stopped" \
  '.state == "build_failed" and (.errorReason | test("isletd stopped"))'
api GET /api/snapshots/killed-waiting
expect_body "the waiting one too" '.state == "build_failed" and (.errorReason | test("isletd stopped"))'
api POST /api/sandbox -H 'Content-Type: application/json' -d '{"snapshot":"killed"}'
expect_error "a sandbox from the killed build" 409
sleep 2
api GET /api/snapshots/killed
expect_body "still build_failed" '.state == "build_failed"'
api DELETE /api/snapshots/killed
expect_code "delete the killed build's snapshot" 200
api DELETE /api/snapshots/killed-waiting
expect_code "delete the waiting one" 200
log "the next build removes the killed one's RUN sandbox"
snap_df after $'FROM example.test/base:1\nRUN echo after >/srv/app/after\n'
expect_code "a build after the kill" 200
wait_snap "$(jq -r .id <<<"$BODY")" active 60
wait_until 20 no_build_sb || fail "the killed build's RUN sandbox is still there: $(islet ls 2>&1)"
pass "snapshot.create of an Image answers at once, streams its log, fails visibly, is called off by a delete and survives a kill -9 of isletd as build_failed"
