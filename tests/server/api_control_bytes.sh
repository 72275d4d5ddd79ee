#!/usr/bin/env bash
# A control byte in a request's path or query (%00, %01, ...) is refused with
# a 400 on every route, and nothing acts.  libmicrohttpd decodes them into C
# strings, so %00 used to cut a value short: a DELETE of
# files?path=/workspace/keep%00.bak removed /workspace/keep, and
# /api/sandbox/web%00x answered (and deleted) the sandbox `web`.
# Every route of src/server/http/routes.c is tried, with the bad byte in each path
# parameter and in the query values, and a body that would act if anything
# were run; then the sandbox, its files, the store and the audit log are
# checked.  Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

ROUTES_C=$(cd "$(dirname "$0")/../.." && pwd)/src/server/http/routes.c
srv_init

api POST /api/sandbox -d '{"name":"web"}'; expect_code "create web" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
T="/toolbox/$A"
printf 'keep me\n' >"$STATE.keep"
api POST "$T/files/upload-v2?path=/workspace/keep" --data-binary @"$STATE.keep"; expect_code "upload keep" 200
api POST "$T/files/upload-v2?path=/workspace/keep.bak" --data-binary @"$STATE.keep"; expect_code "upload keep.bak" 200
api GET /api/audit; expect_code "audit" 200
AUDIT0=$(jq '.items | length' <<<"$BODY")

# the reproductions of the probe first, exactly
api DELETE "$T/files?path=/workspace/keep%00.bak"; expect_error "delete keep%00.bak" 400
expect_body "the message names the byte" '.message | test("0x00")'
api GET "/api/sandbox/web%00zzz"; expect_error "get web%00zzz" 400
api DELETE "/api/sandbox/web%00zzz"; expect_error "delete web%00zzz" 400
api POST "$T/files/upload-v2?path=/workspace/keep%00.bak" --data-binary 'overwritten'
expect_error "upload to keep%00.bak" 400
# the same requests without the byte do act (the test can fail)
api GET /api/sandbox/web; expect_code "get web" 200

# METHOD PATTERN of every route, TB expanded
mapfile -t ROUTES < <(sed -n 's/^ *{ "\([A-Z]*\)", \(TB \)\{0,1\}"\([^"]*\)".*/\1 \2\3/p' "$ROUTES_C" \
  | sed 's| TB | /toolbox/{}|')
(( ${#ROUTES[@]} >= 50 )) || fail "found only ${#ROUTES[@]} routes in $ROUTES_C"
log "== ${#ROUTES[@]} routes, each with %00 and %01"
ACT='{"name":"acted","command":"touch /workspace/acted","code":"open(\"/workspace/acted\",\"w\")","language":"python","path":"/workspace/acted","paths":["/workspace/keep"],"files":["/workspace/keep"],"pattern":"keep","newValue":"acted","labels":{"acted":"yes"},"sessionId":"acted","url":"file:///workspace","branch":"acted","jsonrpc":"2.0","id":1,"method":"tools/list"}'
QUERY="path=/workspace/keep%B.bak&source=/workspace/keep%B.x&destination=/workspace/moved%B&name=web%B&labels=%7B%7D%B&cursor=x%B&mode=755%B&recursive=true%B&pattern=keep%B&sandbox=web%B"
# refused PATH: one request, curl alone (a route at a time, 2 bytes, up to 3
# requests each: a few hundred requests on a loaded host)
tried=0
refused () {
  local code
  code=$(curl -s -o "$STATE.refused" -w '%{http_code}' --max-time 30 -X "$method" \
    -H "Authorization: Bearer $SRV_KEY" -H 'Content-Type: application/json' -d "$ACT" "$SRV_URL$1") \
    || code=000
  [[ $code == 400 && $(<"$STATE.refused") == *'"statusCode":400'*'control byte'* ]] \
    || fail "$method $1: status $code, want 400 for the control byte; body: $(head -c 300 "$STATE.refused")"
  tried=$((tried + 1))
}
for route in "${ROUTES[@]}"; do
  method=${route%% *} pattern=${route#* }
  for b in %00 %01; do
    # a path parameter with the byte: the sandbox reference, a session, a
    # command, an interval
    if [[ "$pattern" == *'{}'* ]]; then
      p=${pattern/'{}'/web$b}      # the first {} is the sandbox
      refused "${p//'{}'/acted$b}"
      # the sandbox right, a later parameter wrong
      [[ "$pattern" == *'{}'*'{}'* ]] && { p=${pattern/'{}'/web}; refused "${p//'{}'/1$b}"; }
    fi
    # the query values with the byte, the path right
    p=${pattern//'{}'/web}
    refused "$p?${QUERY//%B/$b}"
  done
done
log "tried $tried requests"

log "== nothing acted"
api GET /api/sandbox/web; expect_code "web is still there" 200
expect_body "web still runs" '.state == "started"'
api GET /api/sandbox; expect_body "one sandbox only" "(.items | map(.id)) == [\"$A\"]"
[[ $(islet ls --json | jq '.sandboxes | length') == 1 ]] || fail "islet ls: $(islet ls)"
api GET "$T/files/download?path=/workspace/keep"; expect_code "keep is there" 200
[[ "$BODY" == "keep me" ]] || fail "keep holds '$BODY'"
api GET "$T/files/download?path=/workspace/keep.bak"; expect_code "keep.bak is there" 200
[[ "$BODY" == "keep me" ]] || fail "keep.bak holds '$BODY'"
api GET "$T/files?path=/workspace"; expect_code "list /workspace" 200
expect_body "no file was made or moved" '[.[].name] | sort == ["keep", "keep.bak"]'
api GET "$T/process/session"; expect_body "no session" 'length == 0'
api GET /api/audit; expect_code "audit" 200
[[ $(jq '.items | length' <<<"$BODY") == "$AUDIT0" ]] \
  || fail "the refused requests left audit records: $(jq -c '.items[:5]' <<<"$BODY")"

log "== control bytes in a bulk-upload path field"
printf 'x' >"$STATE.x"
api POST "$T/files/bulk-upload" -F "files[0].path=/workspace/keep$(printf '\001').bak" -F "files[0].file=@$STATE.x"
expect_error "a files[i].path with 0x01" 400
api GET "$T/files/download?path=/workspace/keep"; [[ "$BODY" == "keep me" ]] || fail "keep changed: '$BODY'"

pass
