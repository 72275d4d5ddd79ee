#!/usr/bin/env bash
# isletd refuses what it must: no key or a wrong key (401), another key's
# sandbox (404 for every route, as if it did not exist), malformed JSON and
# wrong types (400), unknown routes (404), oversized bodies (413), state
# conflicts (409); every error in the reference's shape {statusCode,
# message, code}.  Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_errors.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

log "== the key file and the store"
[[ $(stat -c %a "$STATE/api-key") == 600 ]] || fail "api-key is not mode 0600"
[[ "$SRV_KEY" =~ ^islet_[0-9a-f]{48}$ ]] || fail "api-key holds '$SRV_KEY', not a key"
[[ $(sqlite3 "$STATE/isletd.db" 'PRAGMA journal_mode') == wal ]] || fail "the store is not in WAL mode"
grep -q "$SRV_KEY" "$STATE/isletd.db"* && fail "the store holds the key itself"
hash=$(printf '%s' "$SRV_KEY" | sha256sum | cut -d' ' -f1)
[[ $(sqlite3 "$STATE/isletd.db" "SELECT count(*) FROM api_keys WHERE hash = '$hash'") == 1 ]] \
  || fail "the store has no hash of the key"

log "== 401"
api -k "" GET /api/sandbox; expect_error "no Authorization header" 401
api -k "wrong" GET /api/sandbox; expect_error "a wrong key" 401
api -k "" POST "/toolbox/abc/process/execute" -d '{"command":"true"}'; expect_error "toolbox without a key" 401
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Basic $SRV_KEY" "$SRV_URL/api/sandbox")
[[ $code == 401 ]] || fail "a Basic header: status $code, want 401"

log "== 400, 404, 413"
api GET /api/nope; expect_error "unknown route" 404
api PATCH /api/sandbox; expect_error "unknown method" 404
api GET /api/sandbox/nope; expect_error "unknown sandbox" 404
api POST /api/sandbox -d '{"name": '; expect_error "malformed JSON" 400
api POST /api/sandbox -d '[1, 2]'; expect_error "JSON that is not an object" 400
api POST /api/sandbox -d '{"cpu": "two"}'; expect_error "cpu as a string" 400
api POST /api/sandbox -d '{"memory": -1}'; expect_error "negative memory" 400
api POST /api/sandbox -d '{"name": 5}'; expect_error "name as a number" 400
api POST /api/sandbox -d '{"labels": ["a"]}'; expect_error "labels as an array" 400
api POST /api/sandbox -d '{"labels": {"a": 1}}'; expect_error "a label that is not a string" 400
api POST /api/sandbox -d '{"autoStopInterval": 1.5}'; expect_error "a fractional interval" 400
api POST /api/sandbox -d '{"memory": 100000}'; expect_error "memory over islet's limit" 400
api POST /api/sandbox -d '{"buildInfo": {"dockerfileContent": "FROM x"}}'; expect_code "an image to pull" 200
expect_body "an image to pull: pulling_snapshot" '.state == "pulling_snapshot"'
api DELETE "/api/sandbox/$(jq -r .id <<<"$BODY")"; expect_code "delete during the pull" 200
api POST /api/sandbox -d '{"buildInfo": {"dockerfileContent": "FROM x", "contextHashes": ["h"]}}'
expect_error "an image build with context files" 400
api GET "/api/sandbox?labels=%7Bnot-json"; expect_error "labels filter that is not JSON" 400
api GET "/api/audit?limit=0"; expect_error "audit limit 0" 400
head -c $((2 << 20)) /dev/zero | tr '\0' ' ' >"$STATE.big"
api POST /api/sandbox -H 'Content-Type: application/json' --data-binary @"$STATE.big"
expect_error "a 2 MiB JSON body" 413
api POST /api/sandbox -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
  --data-binary @"$STATE.big"
expect_error "a 2 MiB chunked JSON body" 413
api GET /api/sandbox; expect_code "the server after the oversized bodies" 200
[[ $(islet ls --json | jq '.sandboxes | length') == 0 ]] || fail "a refused create left a sandbox"

log "== a sandbox, and 409"
api POST /api/sandbox -d '{"name": "errs-a", "labels": {"team": "a"}}'; expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
api POST /api/sandbox -d '{"name": "errs-a"}'; expect_error "a taken name" 409
api POST "/api/sandbox/$A/start"; expect_error "start a started sandbox" 409
api POST "/toolbox/$A/process/execute" -d '{"cmd": "true"}'; expect_error "execute without command" 400
api POST "/toolbox/$A/process/execute" -d '{"command": "echo \"open"}'; expect_error "an unterminated quote" 400
api POST "/toolbox/$A/process/execute" -d '{"command": "true", "timeout": "1"}'; expect_error "timeout as a string" 400
api POST "/toolbox/$A/process/execute" -d '{"command": "true", "envs": {"A": 1}}'; expect_error "envs with a number" 400
api POST "/toolbox/$A/process/code-run" -d '{"code": "x", "language": "cobol"}'; expect_error "an unknown language" 400
api GET "/toolbox/$A/files/info"; expect_error "files/info without path" 400
api GET "/toolbox/$A/files/info?path=/workspace/nope"; expect_error "files/info of a missing file" 404
expect_body "FILE_NOT_FOUND code" '.code == "FILE_NOT_FOUND" and .source == "DAYTONA_DAEMON"'
api POST "/toolbox/$A/files/bulk-upload" -H 'Content-Type: multipart/form-data; boundary=xyz' \
  --data-binary 'not multipart'
expect_error "a malformed multipart body" 400
# isletd keeps sessions with the sandbox's file agent: none may outlive a stop
api GET "/toolbox/$A/files/download?path=/etc/hostname"; expect_code "download before the stop" 200
api POST "/api/sandbox/$A/stop"; expect_code "stop" 200
api POST "/api/sandbox/$A/stop"; expect_error "stop a stopped sandbox" 409
api POST "/toolbox/$A/process/execute" -d '{"command": "true"}'; expect_error "execute in a stopped sandbox" 409
api GET "/toolbox/$A/files/download?path=/etc/hostname"; expect_error "download in a stopped sandbox" 409
api GET "/toolbox/$A/files/info?path=/etc/hostname"; expect_error "files/info in a stopped sandbox" 409
api POST "/api/sandbox/$A/start"; expect_code "start" 200
api GET "/toolbox/$A/files/download?path=/etc/hostname"; expect_code "download after the start" 200
# the same behind isletd's back: the CLI stops and starts it
islet stop "$A" >/dev/null || fail "islet stop"
api GET "/toolbox/$A/files/download?path=/etc/hostname"; expect_error "download after islet stop" 409
api POST "/toolbox/$A/process/execute" -d '{"command": "true"}'; expect_error "execute after islet stop" 409
islet start "$A" >/dev/null || fail "islet start"
api GET "/toolbox/$A/files/download?path=/etc/hostname"; expect_code "download after islet start" 200
api POST "/toolbox/$A/process/execute" -d '{"command": "true"}'; expect_code "execute after islet start" 200

log "== another key is another organization"
K2=$(new_key second)
api -k "$K2" GET /api/sandbox; expect_code "list with the second key" 200
expect_body "the second key sees no sandbox" '.items == []'
api -k "$K2" GET "/api/sandbox/$A"; expect_error "get by id with the second key" 404
api -k "$K2" GET "/api/sandbox/errs-a"; expect_error "get by name with the second key" 404
api -k "$K2" POST "/api/sandbox/$A/stop"; expect_error "stop with the second key" 404
api -k "$K2" PUT "/api/sandbox/$A/labels" -d '{"labels": {"x": "y"}}'; expect_error "labels with the second key" 404
api -k "$K2" POST "/toolbox/$A/process/execute" -d '{"command": "echo hi"}'; expect_error "execute with the second key" 404
api -k "$K2" GET "/toolbox/$A/files/download?path=/etc/hostname"; expect_error "download with the second key" 404
api -k "$K2" DELETE "/api/sandbox/$A"; expect_error "delete with the second key" 404
api -k "$K2" GET "/api/sandbox/${A:0:6}"; expect_error "an id prefix" 404
api GET "/api/sandbox/${A:0:6}"; expect_error "an id prefix, own key" 404
api -k "$K2" GET /api/audit; expect_code "audit of the second key" 200
expect_body "the second key's audit holds none of the first key's records" \
  "[.items[] | select(.sandboxId == \"$A\")] == []"
log "== names are per key"
api -k "$K2" POST /api/sandbox -d '{"name": "errs-a"}'; expect_code "the second key takes the same name" 200
A2=$(jq -r .id <<<"$BODY"); remember_id "$A2"
[[ "$A2" != "$A" ]] || fail "the second key got the first key's sandbox"
api -k "$K2" GET /api/sandbox/errs-a; expect_body "the name is the second key's own" ".id == \"$A2\" and .name == \"errs-a\""
api GET /api/sandbox/errs-a; expect_body "and the first key's own" ".id == \"$A\""
api -k "$K2" GET "/api/sandbox?name=errs-a"; expect_body "list by name, second key" "(.items | map(.id)) == [\"$A2\"]"
api GET "/api/sandbox?name=errs-a"; expect_body "list by name, first key" "(.items | map(.id)) == [\"$A\"]"
api -k "$K2" POST /api/sandbox -d '{"name": "errs-a"}'; expect_error "the name taken within the second key" 409
api POST /api/sandbox -d '{"name": "a/b"}'; expect_error "a name with a slash" 400
api -k "$K2" DELETE /api/sandbox/errs-a; expect_code "the second key deletes its own by name" 200
api GET /api/sandbox/errs-a; expect_code "the first key's is still there" 200
api GET "/api/sandbox/$A"; expect_code "the first key still sees it" 200
expect_body "still started" '.state == "started" and .labels.team == "a"'
[[ $(sb_info "$A" 'j["state"]') == running ]] || fail "the second key's calls changed the sandbox"
# a sandbox the CLI made belongs to no key
C=$(create_sb --name errs-cli); remember_id "$C"
api GET "/api/sandbox/$C"; expect_error "a sandbox made by the CLI" 404

log "== key management"
K3=$(new_key third)
api -k "$K3" GET /api/sandbox; expect_code "a new key works while isletd runs" 200
isletd_cmd key list --json >"$STATE.keys" || fail "isletd key list"
jq -e 'length == 3 and ([.[] | .revoked] == [null, null, null]) and .[2].name == "third"' "$STATE.keys" >/dev/null \
  || fail "key list: $(cat "$STATE.keys")"
isletd_cmd key list | grep -Eq '^3 +valid +[0-9]{4}-.* third$' || fail "key list (table): $(isletd_cmd key list)"
grep -q "${K3#islet_}" "$STATE.keys" "$STATE/isletd.db"* && fail "the key itself is stored or listed"
id3=$(jq '.[2].id' "$STATE.keys")
isletd_cmd key revoke "$id3" || fail "isletd key revoke"
api -k "$K3" GET /api/sandbox; expect_error "a revoked key" 401
api -k "$K2" GET /api/sandbox; expect_code "the other keys still work" 200
isletd_cmd key list --json | jq -e ".[2].revoked | type == \"number\"" >/dev/null || fail "key list: not revoked"
isletd_cmd key revoke "$id3" 2>/dev/null && fail "revoking a key twice succeeded"
isletd_cmd key revoke 999 2>/dev/null && fail "revoking a missing key succeeded"
rc=0; isletd_cmd key frob 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "an unknown key command: exit $rc, want 2 (usage)"

log "== delete"
api DELETE "/api/sandbox/$A"; expect_code "delete" 200
expect_body "delete answers a destroyed sandbox" ".id == \"$A\" and .state == \"destroyed\""
api GET "/api/sandbox/$A"; expect_error "get after delete" 404
api DELETE "/api/sandbox/$A"; expect_error "delete twice" 404
islet rm -f "$C" >/dev/null
# one removed behind isletd's back, after isletd has served it: gone
api POST /api/sandbox -d '{}'; expect_code "create" 200
B=$(jq -r .id <<<"$BODY"); remember_id "$B"
api GET "/toolbox/$B/files/info?path=/etc/hostname"; expect_code "files/info" 200
islet rm -f "$B" >/dev/null || fail "islet rm"
api GET "/toolbox/$B/files/info?path=/etc/hostname"; expect_error "files/info after islet rm" 404
api POST "/toolbox/$B/process/execute" -d '{"command": "true"}'; expect_error "execute after islet rm" 404
[[ $(islet ls --json | jq '.sandboxes | length') == 0 ]] || fail "sandboxes left: $(islet ls)"
pass
