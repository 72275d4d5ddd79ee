#!/usr/bin/env bash
# create({image: Image}) answers at once: the sandbox is pending_build or
# building_snapshot while its Dockerfile is built, then started; its build
# log (GET build-logs-url, then the URL with ?follow=true) streams the RUN's
# output and ends with the build.  A failing step leaves a build_failed
# sandbox whose errorReason names the step, listed, refused a start, and
# deleted with nothing left.  A delete mid-build calls the build off: no
# build process or RUN sandbox is left.  create({image: REF}) of an image
# not on the machine is pulling_snapshot, then error with the reason.
# kill -9 of isletd mid-build: after the restart the sandbox is build_failed
# (never started without its image), and the next build removes the RUN
# sandbox the killed build left.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init
W=$STATE.work
mkdir -p "$W"
[[ -x /bin/busybox ]] && file -L /bin/busybox | grep -q 'statically linked' \
  || fail "needs a static /bin/busybox (busybox-static; scripts/install-deps installs it)"
layer='[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493}'
for a in sh cat echo sleep ls; do layer+=",{\"name\":\"bin/$a\",\"type\":\"symlink\",\"target\":\"busybox\"}"; done
layer+=',{"name":"tmp","type":"dir","mode":1023}]'
printf '{"format":"oci","compress":"gzip","name":"example.test/base:1","config":{"Env":["PATH=/bin"]},"layers":[%s]}' \
  "$layer" >"$W/spec.json"
"$IT_PY" "$(dirname "$0")/../lib/mkimage.py" "$W/spec.json" "$W/oci" >/dev/null || fail "mkimage"
islet image import "$W/oci" >/dev/null || fail "import the base image"

# create_df DOCKERFILE [NAME]: POST /api/sandbox with it as buildInfo
create_df () {
  local body
  body=$(jq -n --arg df "$1" --arg name "${2:-}" \
    '{buildInfo: {dockerfileContent: $df}} + (if $name == "" then {} else {name: $name} end)')
  api POST /api/sandbox -H 'Content-Type: application/json' -d "$body"
}

log "a build: the create answers at once, the log follows the RUN, then started"
t0=$(date +%s%N)
create_df $'FROM example.test/base:1\nRUN echo first-line && sleep 3 && echo second-line && echo made >/built\n' built
t1=$(date +%s%N)
expect_code "create with a Dockerfile" 200
id=$(jq -r .id <<<"$BODY")
remember_id "$id"
expect_body "the answer is pending_build or building_snapshot" \
  '.state == "pending_build" or .state == "building_snapshot"'
(( (t1 - t0) / 1000000 < 2000 )) || fail "the create waited $(( (t1 - t0) / 1000000 )) ms for the build"
api GET "/api/sandbox/$id/build-logs-url"
expect_code "build-logs-url" 200
url=$(jq -r .url <<<"$BODY")
[[ "$url" == "$SRV_URL/api/sandbox/$id/build-logs" ]] || fail "build-logs-url: $url"
curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url" | grep -qx 401 \
  || fail "the build log answered without the key"
log_out=$(curl -s --max-time 60 -H "Authorization: Bearer $SRV_KEY" "$url?follow=true") \
  || fail "follow the build log (curl $?)"
grep -q '^first-line$' <<<"$log_out" && grep -q '^second-line$' <<<"$log_out" \
  || fail "the followed log lacks the RUN's lines: $log_out"
grep -q 'step 2/2' <<<"$log_out" || fail "the followed log lacks the step line: $log_out"
wait_sandbox "$id" started 30
T=/toolbox/$id
sh_in 'cat /built'
expect_eq "the built file in the sandbox" "$OUT" "made"
api DELETE "/api/sandbox/$id"
expect_code "delete the built sandbox" 200
[[ ! -e "$STATE/isletd-builds/$id.log" ]] || fail "the build log outlived its sandbox"

log "a failing step: build_failed with the step in errorReason, listed, deletable"
create_df $'FROM example.test/base:1\nRUN echo about to fail && exit 3\n' broken
expect_code "create with a failing Dockerfile" 200
bad=$(jq -r .id <<<"$BODY")
remember_id "$bad"
wait_sandbox "$bad" build_failed 60
expect_body "errorReason names the step, the status and the output" \
  '.errorReason | test("step 2/2.*status 3.*about to fail")'
api GET /api/sandbox
expect_code "list" 200
expect_body "the failed sandbox is listed as build_failed" \
  "[.items[] | select(.id == \"$bad\")] | length == 1 and .[0].state == \"build_failed\""
api POST "/api/sandbox/$bad/start"
expect_error "start of a build_failed sandbox" 409
create_df $'FROM example.test/base:1\nRUN echo x\n' broken
expect_error "the failed sandbox keeps its name" 409
api DELETE "/api/sandbox/$bad"
expect_code "delete the build_failed sandbox" 200
api GET "/api/sandbox/$bad"
expect_code "get after the delete" 404
[[ ! -e "$STATE/isletd-builds/$bad.log" && ! -e "$STATE/isletd-builds/$bad.failed" ]] \
  || fail "the failed build's files outlived its sandbox"

log "a delete mid-build calls it off and leaves nothing"
create_df $'FROM example.test/base:1\nRUN echo long-run && sleep 120\n'
expect_code "create a long build" 200
long=$(jq -r .id <<<"$BODY")
remember_id "$long"
wait_sandbox "$long" building_snapshot 30
build_sb () { islet ls --json 2>/dev/null | jq -e '[.sandboxes[]? // .[]? | select(.name | startswith("islet-build-"))] | length > 0' >/dev/null; }
wait_until 30 build_sb || fail "the build's RUN sandbox never appeared"
t0=$(date +%s%N)
api DELETE "/api/sandbox/$long"
expect_code "delete mid-build" 200
(( ($(date +%s%N) - t0) / 1000000 < 10000 )) || fail "the delete waited for the build"
api GET "/api/sandbox/$long"
expect_code "get after the delete mid-build" 404
no_build_sb () { ! build_sb; }
wait_until 20 no_build_sb || fail "the RUN's sandbox outlived the delete: $(islet ls 2>&1)"
pgrep -f "islet-image $STATE build" >/dev/null && fail "islet-image outlived the delete"
api GET /api/sandbox
expect_body "nothing listed" "[.items[] | select(.id == \"$long\")] | length == 0"

log "create({image: REF}) of an image not here: pulling_snapshot, then error"
api POST /api/sandbox -H 'Content-Type: application/json' \
  -d '{"buildInfo":{"dockerfileContent":"FROM 127.0.0.1:9/none/such:1\n"}}'
expect_code "create from an image not here" 200
pull=$(jq -r .id <<<"$BODY")
remember_id "$pull"
expect_body "the answer is pulling_snapshot" '.state == "pulling_snapshot"'
wait_sandbox "$pull" error 60
expect_body "errorReason names the image and the pull" \
  '.errorReason | test("127.0.0.1:9/none/such:1.*pull failed")'
api DELETE "/api/sandbox/$pull"
expect_code "delete the failed pull's sandbox" 200
log "kill -9 of isletd mid-build: after the restart the sandbox is build_failed, never started"
create_df $'FROM example.test/base:1\nRUN echo long-run && sleep 120 && echo never >/never\n' killed
expect_code "create a build to kill" 200
dead=$(jq -r .id <<<"$BODY")
remember_id "$dead"
wait_sandbox "$dead" building_snapshot 30
wait_until 30 build_sb || fail "the build's RUN sandbox never appeared"
kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
srv_start
api GET "/api/sandbox/$dead"
expect_code "get after the restart" 200
expect_body "build_failed, saying isletd stopped" \
  '.state == "build_failed" and (.errorReason | test("isletd stopped"))'
sleep 2
api GET "/api/sandbox/$dead"
expect_body "still build_failed" '.state == "build_failed"'
islet ls --json 2>/dev/null | jq -e "[.sandboxes[]? // .[]? | select(.id == \"$dead\")] | length == 0" >/dev/null \
  || fail "the core has a sandbox of the killed build's row"
log "the next build removes what the killed one left"
create_df $'FROM example.test/base:1\nRUN echo after >/after\n' after
expect_code "a build after the kill" 200
next=$(jq -r .id <<<"$BODY")
remember_id "$next"
wait_sandbox "$next" started 60
T=/toolbox/$next
sh_in 'cat /after; ls /never 2>&1 || true'
[[ "$OUT" == after* ]] || fail "the build after the kill: $OUT"
wait_until 20 no_build_sb || fail "the killed build's RUN sandbox is still there: $(islet ls 2>&1)"
api DELETE "/api/sandbox/$dead"
expect_code "delete the killed build's sandbox" 200
pass "a build or pull answers at once, streams its log, fails visibly, is called off by a delete and survives a kill -9 of isletd as build_failed"
