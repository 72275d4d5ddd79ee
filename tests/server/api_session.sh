#!/usr/bin/env bash
# Sessions through isletd (/process/session...): create, sync exec with
# stdout, stderr, the combined output and the exit code; `cd` and `export`
# persist from one command to the next; an async command (202) keeps
# running after its request, shows no exitCode while it runs, then its
# exit code and logs; get, list, delete (which kills what still runs);
# input to an async command's stdin as it runs, refused with its reason when
# the command has ended, reads nothing for 5 s, or is not there;
# the state is inside the sandbox (/tmp/.islet-sessions), none on the host.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_session.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

api POST /api/sandbox -d '{"name":"sess","env":{"SMOKE_VAR":"from the sandbox"}}'; expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
T="/toolbox/$A/process/session"

# sexec SID JSON-BODY: a session command; the answer in BODY, CODE
sexec () { api POST "$T/$1/exec" -H 'Content-Type: application/json' -d "$2"; }

log "== create"
api POST "$T" -d '{"sessionId":"s1"}'; expect_code "create s1" 201
api POST "$T" -d '{"sessionId":"s1"}'; expect_error "create s1 again" 409
api POST "$T" -d '{"sessionId":"../x"}'; expect_error "a session id with a slash" 400
api POST "$T" -d '{}'; expect_error "no sessionId" 400

log "== sync exec"
sexec s1 '{"command":"echo out; echo err >&2; exit 3"}'; expect_code "exec" 200
expect_body "exec: streams and exit code" '.stdout == "out\n" and .stderr == "err\n" and .exitCode == 3 and (.cmdId | test("^[0-9a-f-]{36}$"))'
expect_body "exec: combined output" '(.output | contains("out\n")) and (.output | contains("err\n")) and (.output | length) == 8'
C1=$(jq -r .cmdId <<<"$BODY")

log "== cd and export persist"
sexec s1 '{"command":"mkdir -p /tmp/deep/er && cd /tmp/deep && export GREETING=\"hello there\" && V=local"}'
expect_code "cd" 200; expect_body "cd" '.exitCode == 0'
sexec s1 '{"command":"cd er; pwd"}'; expect_body "relative cd from the saved cwd" '.stdout == "/tmp/deep/er\n"'
sexec s1 '{"command":"echo \"$GREETING|$PWD\""}'
expect_body "env and cwd in a later command" '.stdout == "hello there|/tmp/deep/er\n"'
sexec s1 '{"command":"echo $SMOKE_VAR"}'; expect_body "the sandbox env" '.stdout == "from the sandbox\n"'
api POST "$T" -d '{"sessionId":"s2"}'; expect_code "create s2" 201
sexec s2 '{"command":"pwd; echo \"[$GREETING]\""}'
expect_body "another session starts fresh" '.stdout == "/workspace\n[]\n"'

log "== async"
sexec s1 '{"command":"echo started; sleep 2; echo done-now; echo oops >&2; exit 7","runAsync":true}'
expect_code "async" 202; expect_body "async: only cmdId" '(.cmdId | length) == 36 and (keys == ["cmdId"])'
C2=$(jq -r .cmdId <<<"$BODY")
api GET "$T/s1/command/$C2"; expect_code "running command" 200
expect_body "no exitCode while running" "(.id == \"$C2\") and (has(\"exitCode\") | not) and (.command | startswith(\"echo started\"))"
for (( i = 0; i < 100; i++ )); do
  api GET "$T/s1/command/$C2"; expect_code "poll" 200
  [[ $(jq -r '.exitCode // empty' <<<"$BODY") == 7 ]] && break
  sleep 0.1
done
(( i < 100 )) || fail "the async command did not finish in 10 s: $BODY"
api GET "$T/s1/command/$C2/logs" -H 'Accept: application/json'; expect_code "logs" 200
expect_body "async logs" '.stdout == "started\ndone-now\n" and .stderr == "oops\n" and (.output | contains("done-now")) and (.output | contains("oops"))'
# the legacy field name
sexec s1 '{"command":"cd /; echo x","async":true}'; expect_code "legacy async" 202
C3=$(jq -r .cmdId <<<"$BODY")
for (( i = 0; i < 100; i++ )); do
  api GET "$T/s1/command/$C3"; [[ $(jq -r '.exitCode // empty' <<<"$BODY") == 0 ]] && break; sleep 0.1
done
sexec s1 '{"command":"pwd"}'; expect_body "an async cd persists too" '.stdout == "/\n"'

log "== following logs: a WebSocket only where it fits"
WSH=(-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')
api GET "$T/s1/command/$C2/logs" "${WSH[@]}"; expect_error "follow without ?follow=true" 400
api GET "$T/s1/command/00000000-0000-4000-8000-000000000000/logs?follow=true" "${WSH[@]}"
expect_error "follow a missing command" 404
api -k "" GET "$T/s1/command/$C2/logs?follow=true" "${WSH[@]}"; expect_error "follow without a key" 401
api -k "$(new_key follower)" GET "$T/s1/command/$C2/logs?follow=true" "${WSH[@]}"
expect_error "follow another key's sandbox" 404
api GET "/toolbox/$A/files?path=/&follow=true" "${WSH[@]}"; expect_error "a WebSocket on a plain route" 404
f=$(mktemp "$STATE.ws.XXXXXX")
curl -s -N --max-time 20 -o "$f" -H "Authorization: Bearer $SRV_KEY" "${WSH[@]}" \
  "$SRV_URL$T/s1/command/$C2/logs?follow=true" || true
# the 101, then binary messages (opcode 2) whose payload is 01 01 01 + stdout
# or 02 02 02 + stderr, then a close 1000 (the frames are short: one length byte)
got=$(od -An -tx1 -v "$f" | tr -d ' \n')
rm -f "$f"
want_out=$(printf '\001\001\001started\ndone-now\n' | od -An -tx1 | tr -d ' \n')
want_err=$(printf '\002\002\002oops\n' | od -An -tx1 | tr -d ' \n')
[[ "$got" == "82"*"$want_out"*"82"*"$want_err"*"8802""03e8" ]] \
  || fail "a finished command's followed logs: $got"

log "== get, list"
api GET "$T/s1"; expect_code "get" 200
expect_body "get: the commands in order" "(.sessionId == \"s1\") and ([.commands[].id][0] == \"$C1\") and ([.commands[].id] | index(\"$C2\")) > 0 and (.commands[0].exitCode == 3)"
api GET "$T"; expect_code "list" 200
expect_body "list: both sessions" '([.[].sessionId] | sort) == ["s1","s2"]'
api GET "$T/s1/command/$C1/logs"; expect_body "sync logs kept" '.stdout == "out\n" and .stderr == "err\n"'
api GET "$T/nope"; expect_error "get a missing session" 404
api GET "$T/s1/command/00000000-0000-4000-8000-000000000000"; expect_error "a missing command" 404
api GET "$T/s1/command/00000000-0000-4000-8000-000000000000/logs"; expect_error "logs of a missing command" 404
sexec nope '{"command":"true"}'; expect_error "exec in a missing session" 404

log "== delete kills what runs"
sexec s2 '{"command":"sleep 300","runAsync":true}'; expect_code "a long async" 202
sleep 0.3
islet exec "$A" -- pgrep -x sleep >/dev/null || fail "the async sleep is not running in the sandbox"
api DELETE "$T/s2"; expect_code "delete" 200
for (( i = 0; i < 50; i++ )); do
  islet exec "$A" -- pgrep -x sleep >/dev/null || break; sleep 0.1
done
(( i < 50 )) || fail "delete left the session's sleep running"
api GET "$T/s2"; expect_error "a deleted session" 404
api DELETE "$T/s2"; expect_error "delete again" 404

log "== input to an async command's stdin"
api POST "$T" -d '{"sessionId":"s3"}'; expect_code "create s3" 201
sexec s3 '{"command":"read a; echo \"a=$a\"; sleep 300","runAsync":true}'; expect_code "a reader" 202
C3=$(jq -r .cmdId <<<"$BODY")
api POST "$T/s3/command/$C3/input" -H 'Content-Type: application/json' -d '{"data":"one\n"}'
expect_code "input" 200
for (( i = 0; i < 50; i++ )); do
  api GET "$T/s3/command/$C3/logs"; [[ $(jq -r .stdout <<<"$BODY") == "a=one" ]] && break; sleep 0.1
done
(( i < 50 )) || fail "the command read its input: $BODY"
api POST "$T/s3/command/$C3/input" -d '{"data":1}'; expect_error "data that is not a string" 400
api POST "$T/s3/command/00000000-0000-4000-8000-000000000000/input" -d '{"data":"x"}'
expect_error "input to no command" 404
# the sleep reads nothing: its pipe and the connection fill, and an input
# that cannot go in within 5 s closes its stdin, and says so
{ printf '{"data":"'; head -c 700000 /dev/zero | tr '\0' x; printf '"}'; } >"$STATE.big"
refused=
for (( i = 0; i < 4; i++ )); do
  api POST "$T/s3/command/$C3/input" -H 'Content-Type: application/json' --data-binary "@$STATE.big"
  [[ "$CODE" == 409 ]] && { refused=$BODY; break; }
  expect_code "input $i before the pipe is full" 200
done
rm -f "$STATE.big"
[[ "$refused" == *"did not take its input within 5 s"* ]] || fail "a command that reads nothing: ${refused:0:300}"
api POST "$T/s3/command/$C3/input" -d '{"data":"more\n"}'; expect_error "input after its stdin closed" 409
islet exec "$A" -- pgrep -x sleep >/dev/null || fail "a closed stdin does not end the command"
sexec s1 '{"command":"true"}'
sync_id=$(jq -r .cmdId <<<"$BODY")
api POST "$T/s1/command/$sync_id/input" -d '{"data":"x"}'; expect_error "input to an ended command" 409
expect_body "why" '.message | test("has ended")'
api DELETE "$T/s3"; expect_code "delete s3" 200

log "== the state is in the sandbox, not on the host"
islet exec "$A" -- test -f "/tmp/.islet-sessions/s1/cmds/$C1/exit" || fail "no exit file in the sandbox"
[[ ! -e /tmp/.islet-sessions ]] || fail "session state on the host"
api GET "/api/audit?limit=1000"; expect_code "audit" 200
expect_body "audit has the session exec" "[.items[] | select(.action == \"process.session.exec\" and .sandboxId == \"$A\")] | length > 0"

pass
