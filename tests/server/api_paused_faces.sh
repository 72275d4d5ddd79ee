#!/usr/bin/env bash
# A paused sandbox as /v1 and MCP see it: /v1/status counts it as paused
# (not active, not stopped), /v1/execute in it is a 409 that says it is
# paused and how to resume it, and an MCP tool call on it resumes it (MCP
# has no start) and runs: the process frozen by the pause runs on.  Needs
# root.
#   ISLET_BIN=build/islet bash tests/server/api_paused_faces.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

api POST /v1/sandbox -d '{"language": "python"}'; expect_code "create a kept sandbox" 200
id=$(jq -r .sandbox_id <<<"$BODY"); remember_id "$id"
expect_body "it is started" '.state == "started"'
# a counter that advances only while the sandbox runs (a session's
# command: an exec's processes end with it)
api POST "/toolbox/$id/process/session" -d '{"sessionId":"c"}'; expect_code "session" 201
api POST "/toolbox/$id/process/session/c/exec" -d '{"command":"i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done","runAsync":true}'
expect_code "start the counter" 202
for _ in $(seq 1 50); do
  api POST /v1/execute -d "$(jq -n --arg s "$id" '{sandbox_id: $s, language: "bash", code: "cat /tmp/count"}')"
  [[ $(jq -r .stdout <<<"$BODY") =~ ^[0-9]+ ]] && break
  sleep 0.1
done
[[ $(jq -r .stdout <<<"$BODY") =~ ^[0-9]+ ]] || fail "the counter never started: $BODY"
api POST "/api/sandbox/$id/pause"; expect_code "pause" 200

api GET /v1/status; expect_code "status" 200
expect_body "the paused sandbox is counted as paused, not active" '.paused_sandboxes == 1 and .active_sandboxes == 0 and .sandboxes == 1'
api POST /v1/execute -d "$(jq -n --arg s "$id" '{sandbox_id: $s, code: "print(1)"}')"
expect_error "execute in a paused sandbox" 409
expect_body "it says paused and how to resume" '.message | test("is paused: start it to resume it")'
api GET "/api/sandbox/$id"; expect_body "still paused" '.state == "paused"'

mcp_open
mcp '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_sandboxes","arguments":{}}}'
expect_body "MCP lists it as paused" ".result.structuredContent.sandboxes[0].state == \"paused\" or (.result.content[0].text | fromjson | .sandboxes[0].state == \"paused\")"
mcp "$(jq -n --arg s "$id" '{jsonrpc: "2.0", id: 3, method: "tools/call", params: {name: "execute_shell", arguments: {sandbox_id: $s, command: "a=$(cat /tmp/count); sleep 0.5; b=$(cat /tmp/count); echo $a $b"}}}')"
expect_body "an MCP exec on the paused sandbox runs" '.result.isError != true'
read -r a b <<<"$(jq -r '.result.content[0].text | fromjson | .stdout' <<<"$BODY")"
[[ -n "$a" && -n "$b" ]] && (( b > a )) || fail "the counter did not run on after MCP resumed the sandbox: '$a' '$b' ($BODY)"
api GET "/api/sandbox/$id"; expect_body "it is started again" '.state == "started"'
pass
