#!/usr/bin/env bash
# A sandbox through isletd, the way the Daytona SDK drives it: create with
# labels, env and limits; execute (no shell: word splitting, quotes) with real
# output checked; code-run in python and javascript; a binary file up and
# down with the exact bytes (bulk-upload, upload-v2, download,
# bulk-download); files list/info/folder/move/delete; labels and the label
# filter; stop and start; isletd killed and started again (the sandbox lives
# on, the key still works); the audit log; delete, and `islet ls` empty.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_sandbox.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init
WORK=$STATE/srv-work
mkdir "$WORK"

log "== create"
api POST /api/sandbox -H 'Content-Type: application/json' \
  -d '{"name":"api-a","env":{"SMOKE_VAR":"smoke value"},"labels":{"purpose":"smoke","code-toolbox-language":"python"},"target":"local","autoStopInterval":0,"cpu":0.5,"memory":0.5,"disk":1}'
expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
[[ "$A" =~ ^[0-9a-f]{12}$ ]] || fail "create: id '$A'"
expect_body "create: the Sandbox fields" '.state == "started" and .name == "api-a" and .env.SMOKE_VAR == "smoke value"'
expect_body "create: labels echo the language" '.labels.purpose == "smoke" and .labels["code-toolbox-language"] == "python"'
expect_body "create: resources" '.cpu == 0.5 and .memory == 0.5 and .disk == 1 and .gpu == 0'
expect_body "create: toolboxProxyUrl" ".toolboxProxyUrl == \"$SRV_URL/toolbox\""
expect_body "create: other fields" '(.organizationId|type) == "string" and (.createdAt|test("^[0-9]{4}-")) and .autoStopInterval == 0'
[[ $(sb_info "$A" 'j["limits"]["memory_mb"]') == 512 ]] || fail "memory 0.5 GiB is not 512 MB in islet"
[[ $(sb_info "$A" 'j["limits"]["cpu_millis"]') == 500 ]] || fail "cpu 0.5 is not 500 millis in islet"
[[ $(sb_info "$A" 'j["limits"]["disk_mb"]') == 1024 ]] || fail "disk 1 GiB is not 1024 MB in islet"
# the Daytona name is isletd's, per key; the core's name is islet-<id>
islet ls | grep -Eq "^$A +islet-$A +running" || fail "islet ls does not show the sandbox: $(islet ls)"
api POST /api/sandbox -d '{}'; expect_code "create with defaults" 200
B=$(jq -r .id <<<"$BODY"); remember_id "$B"
expect_body "defaults" '.cpu == 1 and .memory == 1 and .disk == 3 and .labels["code-toolbox-language"] == "python"'
expect_body "the default name is the id" ".name == \"$B\""

log "== get, list"
api GET "/api/sandbox/$A"; expect_code "get by id" 200; expect_body "get by id" ".id == \"$A\""
api GET /api/sandbox/api-a; expect_code "get by name" 200; expect_body "get by name" ".id == \"$A\""
api GET /api/sandbox; expect_code "list" 200
expect_body "list: both, no cursor" "(.items | map(.id) | sort) == ([\"$A\", \"$B\"] | sort) and .nextCursor == null"
api GET /api/sandbox -G --data-urlencode 'labels={"purpose":"smoke"}'; expect_code "list by label" 200
expect_body "list by label" "(.items | map(.id)) == [\"$A\"]"
api GET "/api/sandbox/$A/toolbox-proxy-url"; expect_body "toolbox-proxy-url" ".url == \"$SRV_URL/toolbox\""

log "== list pages"
P=()
for n in 1 2 3; do
  api POST /api/sandbox -d "{\"name\":\"page-$n\",\"labels\":{\"page\":\"yes\"}}"; expect_code "create page-$n" 200
  P+=("$(jq -r .id <<<"$BODY")"); remember_id "${P[-1]}"
done
# walk_pages QUERY: follow nextCursor (at most 10 pages); the ids in SEEN, pages in PAGES
walk_pages () {
  local cursor="" q
  SEEN=() PAGES=0
  while (( PAGES < 10 )); do
    q=("$@"); [[ -n "$cursor" ]] && q+=(--data-urlencode "cursor=$cursor")
    api GET /api/sandbox -G "${q[@]}"; expect_code "list page $PAGES" 200
    PAGES=$((PAGES + 1))
    mapfile -t -O "${#SEEN[@]}" SEEN < <(jq -r '.items[].id' <<<"$BODY")
    cursor=$(jq -r '.nextCursor // empty' <<<"$BODY")
    [[ -n "$cursor" ]] || return 0
  done
  fail "more than 10 pages"
}
# the order is creation time (to the second), then id: compare as sorted sets
sorted () { printf '%s\n' "$@" | sort | tr '\n' ' '; }
walk_pages --data-urlencode limit=2
[[ $(sorted "${SEEN[@]}") == $(sorted "$A" "$B" "${P[@]}") && $PAGES == 3 ]] \
  || fail "pages of 2: ${SEEN[*]} in $PAGES pages, want $A $B ${P[*]} in 3, each once"
walk_pages --data-urlencode limit=1 --data-urlencode 'labels={"page":"yes"}'
[[ $(sorted "${SEEN[@]}") == $(sorted "${P[@]}") && $PAGES == 3 ]] || fail "pages of 1 with a label: ${SEEN[*]} in $PAGES pages"
walk_pages --data-urlencode limit=5
[[ ${#SEEN[@]} == 5 && $PAGES == 1 ]] || fail "a limit of exactly all: ${SEEN[*]} in $PAGES pages"
api GET "/api/sandbox?cursor=nope"; expect_error "a bad cursor" 400
api GET "/api/sandbox?limit=0"; expect_error "limit 0" 400
for id in "${P[@]}"; do api DELETE "/api/sandbox/$id"; expect_code "delete $id" 200; done

T=/toolbox/$A
log "== execute"
api POST "$T/process/execute" -d '{"command":"echo hi"}'; expect_code "echo hi" 200
expect_body "echo hi" '.exitCode == 0 and .result == "hi\n"'
api POST "$T/process/execute" -d '{"command":"printf \"%s|\" one '"'"'two  three'"'"' $HOME"}'
expect_body "words: quotes kept together, no shell expansion" '.result == "one|two  three|$HOME|"'
api POST "$T/process/execute" -d '{"command":"sh -c \"echo $SMOKE_VAR $EXTRA; echo oops >&2; exit 3\"","envs":{"EXTRA":"x"}}'
expect_body "sh -c: env, stderr in result, exit code" '.exitCode == 3 and .result == "smoke value x\noops\n"'
api POST "$T/process/execute" -d '{"command":"pwd","cwd":"/tmp"}'; expect_body "cwd" '.result == "/tmp\n"'
# output that is not all UTF-8: the valid characters kept, each bad byte U+FFFD
api POST "$T/process/execute" -d '{"command":"printf \"caf\\303\\251 \\377 \\342\\202\\254\""}'
expect_body "utf-8 kept, bad byte replaced" '.result == "café \ufffd €"'
api POST "$T/process/execute" -d '{"command":"pwd"}'; expect_body "default cwd" '.result == "/workspace\n"'
api POST "$T/process/execute" -d '{"command":"no-such-command-xyz"}'; expect_body "missing command" '.exitCode == 127'
api POST "$T/process/execute" -d '{"command":"sleep 30","timeout":1}'
expect_error "timeout" 408; expect_body "timeout code" '.code == "PROCESS_EXECUTION_TIMEOUT"'

log "== code-run"
api POST "$T/process/code-run" -d '{"code":"import sys, os\nprint(6 * 7, sys.argv[1:], os.environ[\"SMOKE_VAR\"])\nprint(\"dtn_artifact_k39fd2:{\\\"type\\\":\\\"chart\\\",\\\"value\\\":{\\\"title\\\":\\\"t\\\"}}\")\n","argv":["a1"]}'
expect_code "code-run python" 200
expect_body "code-run python" '.exitCode == 0 and .result == "42 [\u0027a1\u0027] smoke value\n" and .artifacts.charts[0].title == "t"'
api POST "$T/process/code-run" -d '{"code":"console.log([1, 2, 3].map(x => x * 2).join(\",\")); process.exit(4)","language":"javascript"}'
expect_body "code-run javascript" '.exitCode == 4 and .result == "2,4,6\n"'
api POST "$T/process/code-run" -d '{"code":"raise SystemExit(\"bad\")"}'
expect_body "code-run error" '.exitCode == 1 and .result == "bad\n"'
# an error's traceback as python itself prints it: from the code's frames,
# none of the driver's
api POST "$T/process/code-run" -d '{"code":"def f():\n    1 / 0\nf()\n"}'
expect_body "code-run traceback" '.exitCode == 1 and .result == "Traceback (most recent call last):\n  File \"<stdin>\", line 3, in <module>\n  File \"<stdin>\", line 2, in f\nZeroDivisionError: division by zero\n"'
# the driver loads nothing the code did not ask for before it runs (what
# python's start loads aside): a code-run costs python's start, little more
api POST "$T/process/code-run" -d '{"code":"import sys\nprint([m for m in (\"json\", \"threading\", \"traceback\", \"base64\") if m in sys.modules])"}'
expect_body "code-run imports nothing first" '.exitCode == 0 and .result == "[]\n"'

log "== files"
head -c 300000 /dev/urandom >"$WORK/blob"; printf '\0\r\n--x\0' >>"$WORK/blob"
api POST "$T/files/bulk-upload" -F "files[0].path=/workspace/up/blob.bin" -F "files[0].file=@$WORK/blob;filename=blob.bin" \
  -F "files[1].path=rel.txt" -F "files[1].file=@$WORK/blob;filename=other" -H "Transfer-Encoding: chunked"
expect_code "bulk-upload, multipart and chunked as the SDK sends it" 200
curl -s --max-time 60 -H "Authorization: Bearer $SRV_KEY" -o "$WORK/down" "$SRV_URL$T/files/download?path=/workspace/up/blob.bin" \
  || fail "download"
cmp "$WORK/blob" "$WORK/down" || fail "bulk-upload then download changed the bytes"
curl -s --max-time 60 -H "Authorization: Bearer $SRV_KEY" -o "$WORK/down2" "$SRV_URL$T/files/download?path=%2Fworkspace%2Frel.txt" \
  || fail "download of the relative upload"
cmp "$WORK/blob" "$WORK/down2" || fail "a relative upload path is not under /workspace"
api POST "$T/files/upload-v2?path=/workspace/raw.bin" -H 'Content-Type: application/octet-stream' \
  -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/blob"
expect_code "upload-v2, raw and chunked" 200
islet cp "$A:/workspace/raw.bin" "$WORK/raw" >/dev/null || fail "islet cp of the upload"
cmp "$WORK/blob" "$WORK/raw" || fail "upload-v2 changed the bytes"
curl -s --max-time 60 -H "Authorization: Bearer $SRV_KEY" -H 'Content-Type: application/json' \
  -d '{"paths":["/workspace/up/blob.bin","/workspace/missing"]}' -D "$WORK/bd.h" -o "$WORK/bd" \
  "$SRV_URL$T/files/bulk-download" || fail "bulk-download"
"$IT_PY" - "$WORK/bd.h" "$WORK/bd" "$WORK/blob" <<'PY' || fail "bulk-download parts"
import sys, re, json
head = open(sys.argv[1], 'rb').read().decode()
b = re.search(r'boundary=([^\r\n;]+)', head).group(1).encode()
body, want = open(sys.argv[2], 'rb').read(), open(sys.argv[3], 'rb').read()
parts = body.split(b'--' + b)[1:-1]
assert len(parts) == 2, len(parts)
h0, d0 = parts[0].split(b'\r\n\r\n', 1)
assert b'name="file"; filename="/workspace/up/blob.bin"' in h0, h0
assert d0[:-2] == want and d0[-2:] == b'\r\n', 'file bytes'
h1, d1 = parts[1].split(b'\r\n\r\n', 1)
assert b'name="error"; filename="/workspace/missing"' in h1, h1
assert json.loads(d1[:-2])['statusCode'] == 404
PY
api GET "$T/files?path=/workspace"; expect_code "list" 200
expect_body "list" '[.[] | .name] | (index("up") != null and index("raw.bin") != null)'
expect_body "list FileInfo" '.[] | select(.name == "up") | .isDir == true and (.mode | startswith("d")) and .permissions == "0755"'
api GET "$T/files/info?path=/workspace/raw.bin"; expect_code "info" 200
expect_body "info" ".size == $(stat -c %s "$WORK/blob") and .isDir == false and .mode == \"-rw-r--r--\""
api POST "$T/files/folder?path=/workspace/made/deep&mode=700"; expect_code "folder" 200
api GET "$T/files/info?path=/workspace/made/deep"; expect_body "folder mode" '.isDir == true and .permissions == "0700"'
api POST "$T/files/move?source=/workspace/raw.bin&destination=/workspace/made/moved.bin"; expect_code "move" 200
api GET "$T/files/info?path=/workspace/made/moved.bin"; expect_code "moved file" 200
api DELETE "$T/files?path=/workspace/made"; [[ $CODE != 200 ]] || fail "delete of a full directory without recursive"
api DELETE "$T/files?path=/workspace/made&recursive=true"; expect_code "delete recursive" 200
api GET "$T/files/info?path=/workspace/made"; expect_error "deleted" 404
api GET "$T/work-dir"; expect_body "work-dir" '.dir == "/workspace"'
api GET "$T/user-home-dir"; expect_body "user-home-dir" '(.dir | type) == "string"'
# a symlink inside the sandbox is resolved inside it, never on the host
api POST "$T/process/execute" -d '{"command":"ln -s /etc/shadow /workspace/link"}'; expect_body "ln" '.exitCode == 0'
api GET "$T/files/download?path=/workspace/link"
[[ "$BODY" != *"root:"* ]] || fail "a symlink reached the host's /etc/shadow"

log "== labels, intervals"
api PUT "/api/sandbox/$A/labels" -d '{"labels":{"team":"b"}}'; expect_code "labels" 200
expect_body "labels answer" '.labels.team == "b" and .labels["code-toolbox-language"] == "python" and (.labels | has("purpose") | not)'
api GET /api/sandbox -G --data-urlencode 'labels={"team":"b"}'; expect_body "list by the new label" "(.items | map(.id)) == [\"$A\"]"
api POST "/api/sandbox/$A/autostop/30"; expect_code "autostop" 200
api GET "/api/sandbox/$A"; expect_body "autostop kept" '.autoStopInterval == 30'

log "== stop, start"
api POST "/api/sandbox/$A/stop?force=false" -H 'Content-Type: application/x-www-form-urlencoded' -H 'Content-Length: 0'
expect_code "stop" 200
api GET "/api/sandbox/$A"; expect_body "stopped" '.state == "stopped"'
[[ $(sb_info "$A" 'j["state"]') == stopped ]] || fail "islet does not see it stopped"
api POST "/api/sandbox/$A/start"; expect_code "start" 200; expect_body "started" '.state == "started"'
api GET "$T/files/info?path=/workspace/up/blob.bin"; expect_code "files survive stop and start" 200

log "== isletd dies, the sandbox lives on"
kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
[[ $(sb_info "$A" 'j["state"]') == running ]] || fail "the sandbox died with isletd"
OLD_KEY=$SRV_KEY
srv_start
[[ "$SRV_KEY" == "$OLD_KEY" ]] || fail "a restart made a new key"
api POST "$T/process/execute" -d '{"command":"echo again"}'; expect_body "exec after restart" '.result == "again\n"'

log "== audit"
api GET "/api/audit?limit=1000"; expect_code "audit" 200
for action in sandbox.create process.execute process.code-run files.upload files.folder files.move files.delete sandbox.labels sandbox.stop sandbox.start; do
  expect_body "audit has $action" "[.items[] | select(.action == \"$action\" and .sandboxId == \"$A\")] | length > 0"
done
expect_body "audit records the result" '[.items[] | select(.action == "process.execute" and .status == 408)] | length == 1'
expect_body "audit records durations" '[.items[] | .durationMs | type == "number"] | all'
[[ $(sqlite3 "$STATE/isletd.db" "SELECT count(*) FROM audit WHERE action = 'sandbox.create'") == 5 ]] \
  || fail "the audit table does not hold five creates"

log "== delete"
api DELETE "/api/sandbox/$A"; expect_code "delete A" 200
api DELETE "/api/sandbox/$B"; expect_code "delete B" 200
api GET "/api/sandbox/$A"; expect_error "get after delete" 404
api GET /api/sandbox; expect_body "list after delete" '.items == []'
[[ $(islet ls --json | jq '.sandboxes | length') == 0 ]] || fail "islet ls shows sandboxes left: $(islet ls)"
[[ $(sqlite3 "$STATE/isletd.db" "SELECT count(*) FROM sandboxes") == 0 ]] || fail "the store kept deleted sandboxes"
pass
