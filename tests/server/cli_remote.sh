#!/usr/bin/env bash
# The CLI in remote mode (--url, ISLET_URL, ISLET_API_KEY): every command
# works on a running isletd's sandboxes, as the API key's organization sees
# them, with the same results and exit statuses as in local mode; the
# sandboxes it makes are isletd's (in its store, in GET /api/sandbox, in the
# audit log); a wrong key, an unreachable server and local-only commands
# fail clearly.  `islet audit` and `islet key` too.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
srv_init

# r ARGS...: the CLI against isletd, with the admin key from the environment
r () { ISLET_URL=$SRV_URL ISLET_API_KEY=$SRV_KEY "$ISLET_BIN" --state-dir /nonexistent "$@"; }

[[ "$(cat "$STATE/isletd.url")" == "$SRV_URL" ]] || fail "isletd did not write its URL to isletd.url"

log "create, ls, info: isletd's sandbox, with islet's limits"
capture r create --name web --memory 256 --pids 64 --cpus 0.5 --timeout 20
expect_eq "create" "$RC" 0
id=$OUT
[[ "$id" =~ ^[0-9a-f]{12}$ ]] || fail "create printed '$id', not an id; $ERR"
remember_id "$id"
api GET /api/sandbox/web
expect_code "the API sees the CLI's sandbox" 200
expect_eq "by its name" "$(printf '%s' "$BODY" | jq -r .id)" "$id"
capture r info --json web
expect_eq "info" "$RC" 0
expect_eq "memory limit" "$(jget "$OUT" 'j["limits"]["memory_mb"]')" 256
expect_eq "pids limit" "$(jget "$OUT" 'j["limits"]["pids"]')" 64
expect_eq "cpu limit" "$(jget "$OUT" 'j["limits"]["cpu_millis"]')" 500
expect_eq "exec timeout" "$(jget "$OUT" 'j["limits"]["timeout_s"]')" 20
expect_eq "state" "$(jget "$OUT" 'j["state"]')" running
capture r info "${id:0:5}"
expect_eq "info by a unique id prefix" "$RC" 0
capture r ls --json
expect_eq "ls lists it" "$(jget "$OUT" '[s["id"] for s in j["sandboxes"]]')" "[\"$id\"]"
cg=$(cg_dir "$id" memory)
[[ -n "$cg" ]] || fail "no memory cgroup for $id"
if [[ -f "$cg/memory.limit_in_bytes" ]]; then
  expect_eq "the kernel's memory limit (v1)" "$(cat "$cg/memory.limit_in_bytes")" $((256 << 20))
else
  expect_eq "the kernel's memory limit (v2)" "$(cat "$cg/memory.max")" $((256 << 20))
fi

log "exec: separate streams, exact bytes, exit status, stdin, env, cwd, timeout"
capture r exec web -- sh -c 'echo out; echo err >&2; exit 3'
expect_eq "exec status is the command's" "$RC" 3
expect_eq "stdout" "$OUT" out
expect_eq "stderr" "$ERR" err
out=$(printf 'line\n\001\377' | r exec -i -e GREETING=hi --cwd /tmp web -- sh -c 'cat; echo "$GREETING $(pwd)"' | od -An -tx1 | tr -d ' \n')
expect_eq "stdin and output bytes, env, cwd" "$out" "$(printf 'line\n\001\377hi /tmp\n' | od -An -tx1 | tr -d ' \n')"
capture r exec --json web -- printf 'a\000b'
expect_eq "exec --json" "$RC" 0
expect_eq "binary stdout in JSON" "$(jget "$OUT" 'j["stdout"] == "a\u0000b"')" true
capture r exec --timeout 1 web -- sleep 30
expect_eq "a timed-out exec" "$RC" 137
[[ "$ERR" == *"time"* ]] || fail "no word of the timeout: $ERR"
capture r exec web -- no-such-command
expect_eq "a missing command" "$RC" 127

log "exec output streams as it comes: the command waits for a file made after its first line"
coproc STREAM { r exec --timeout 30 web -- sh -c 'echo ready; i=0; while [ ! -e /tmp/go ] && [ $i -lt 250 ]; do sleep 0.1; i=$((i+1)); done; echo done' </dev/null; }
read -r -t 20 first <&"${STREAM[0]}" || fail "no first line while the command runs"
expect_eq "the first line, before the command ends" "$first" ready
r exec web -- touch /tmp/go || fail "touch /tmp/go"
read -r -t 20 second <&"${STREAM[0]}" || fail "no second line"
expect_eq "the second line" "$second" done
wait "$STREAM_PID" || fail "the streamed exec failed"
api POST "/v1/sandbox/$id/exec" -d '{"argv": ["sh", "-c", "printf x; printf y >&2; exit 2"], "stream": true}'
expect_code "a streamed exec over HTTP" 200
expect_eq "its lines" "$(printf '%s\n' "$BODY" | jq -c 'if .result then {exit: .result.exit_code} else . end' | tr '\n' ' ')" \
  '{"stdout":"eA=="} {"stderr":"eQ=="} {"exit":2} '
api POST "/v1/sandbox/$id/exec" -d '{"argv": [], "stream": true}'
expect_error "an empty argv" 400

log "files: write, read, stat, ls, mkdir, mv, rm, cp both ways (30 MB, and a pipe)"
capture r fs web write --mode 0600 --content 'hi there' a/b.txt
expect_eq "fs write" "$RC" 0
capture r fs web read a/b.txt
expect_eq "fs read" "$OUT" "hi there"
capture r fs --json web stat a/b.txt
expect_eq "stat size" "$(jget "$OUT" 'j["size"]')" 8
expect_eq "stat mode" "$(jget "$OUT" 'j["mode"]')" 0600
expect_eq "stat type" "$(jget "$OUT" 'j["type"]')" file
capture r fs web mkdir --mode 0700 d
expect_eq "fs mkdir" "$RC" 0
capture r fs web mv a/b.txt d/c.txt
expect_eq "fs mv" "$RC" 0
capture r fs --json web ls d
expect_eq "fs ls" "$(jget "$OUT" '[e["name"] for e in j["entries"]]')" '["c.txt"]'
capture r fs web read nope
expect_eq "reading a missing file" "$RC" 1
[[ "$ERR" == *"No such file"* ]] || fail "no reason for the missing file: $ERR"
capture r fs web rm d
expect_eq "rm of a full directory without -r" "$RC" 1
capture r fs web rm -r d
expect_eq "rm -r" "$RC" 0
big="$STATE.big"
head -c $((30 << 20)) /dev/urandom >"$big"
capture r cp "$big" web:big.bin
expect_eq "cp in" "$RC" 0
r cp web:big.bin "$big.back" || fail "cp out"
cmp -s "$big" "$big.back" || fail "the file copied out differs from the one copied in"
r cp - web:piped.bin <"$big" || fail "cp from a pipe"
capture r fs --json web stat piped.bin
expect_eq "a piped copy is whole" "$(jget "$OUT" 'j["size"]')" $((30 << 20))
capture r fs web read --max 100 big.bin
expect_eq "read over --max" "$RC" 1
rm -f "$big" "$big.back"
capture r tool web 'write file:x.py content:print(6*7)'
expect_eq "tool text" "$RC" 0
capture r exec web -- python3 x.py
expect_eq "the tool's file runs" "$OUT" 42

log "stop, start, rm; run"
capture r stop web
expect_eq "stop" "$RC" 0
capture r exec web -- true
expect_eq "exec in a stopped sandbox fails" "$RC" 125
capture r stop web
expect_eq "stopping a stopped sandbox" "$RC" 1
capture r start web
expect_eq "start" "$RC" 0
capture r exec web -- cat x.py
expect_eq "files survive stop and start" "$OUT" "print(6*7)"
capture r rm web
expect_eq "rm of a running sandbox without -f" "$RC" 1
capture r run --lang python --code 'import socket; print(socket.gethostname().startswith("islet-"))'
expect_eq "run" "$OUT" True
capture r ls --json
expect_eq "run leaves no sandbox" "$(jget "$OUT" 'len(j["sandboxes"])')" 1

log "the audit log: islet audit, by sandbox, as JSON"
capture "$ISLET_BIN" --state-dir "$STATE" audit --json --sandbox web
expect_eq "audit (the local isletd, found by isletd.url)" "$RC" 0
actions=$(jget "$OUT" '",".join(sorted(set(i["action"] for i in j["items"])))')
expect_eq "the sandbox's audited actions" "$actions" \
  "files.delete,files.folder,files.move,files.upload,sandbox.create,sandbox.start,sandbox.stop,v1.sandbox.exec"
expect_eq "only that sandbox" "$(jget "$OUT" 'all(i["sandboxId"] == "'"$id"'" for i in j["items"])')" true
capture r audit -n 2
expect_eq "audit as a table" "$RC" 0
expect_eq "two records and a header" "$(printf '%s\n' "$OUT" | wc -l)" 3

log "tenancy: another key sees none of it"
other=$(new_key other)
capture env ISLET_URL="$SRV_URL" ISLET_API_KEY="$other" "$ISLET_BIN" ls --json
expect_eq "another key's listing" "$(jget "$OUT" 'j["sandboxes"]')" "[]"
for cmd in "info $id" "exec $id -- true" "fs $id read x.py" "rm -f $id" "stop $id"; do
  # shellcheck disable=SC2086
  capture env ISLET_URL="$SRV_URL" ISLET_API_KEY="$other" "$ISLET_BIN" $cmd
  [[ "$RC" != 0 ]] || fail "another key could '$cmd'"
  [[ "$ERR" == *"not found"* || "$ERR" == *"no sandbox"* ]] || fail "'$cmd' by another key: $ERR"
done
capture r info "$id"
expect_eq "still there for its own key" "$RC" 0
capture env ISLET_URL="$SRV_URL" ISLET_API_KEY="$other" "$ISLET_BIN" audit --json
expect_eq "another key's audit log has none of it" \
  "$(jget "$OUT" 'any(i["sandboxId"] == "'"$id"'" for i in j["items"])')" false

log "islet mcp over --url: the tools see the key's sandboxes"
mcp_list () {
  printf '%s\n' \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_sandboxes","arguments":{}}}' \
    | env ISLET_URL="$SRV_URL" ISLET_API_KEY="$1" timeout 60 "$ISLET_BIN" mcp 2>/dev/null \
    | jq -c 'select(.id == 2) | [.result.structuredContent.sandboxes[].id]'
}
expect_eq "the admin key's MCP listing" "$(mcp_list "$SRV_KEY")" "[\"$id\"]"
expect_eq "another key's MCP listing" "$(mcp_list "$other")" "[]"

log "errors: a wrong key, no server, local-only commands"
capture env ISLET_URL="$SRV_URL" ISLET_API_KEY=wrong "$ISLET_BIN" ls
expect_eq "a wrong key" "$RC" 2
[[ "$ERR" == *"refused the API key"* ]] || fail "wrong key: $ERR"
capture "$ISLET_BIN" --url http://127.0.0.1:1 --state-dir "$STATE" ls
expect_eq "no server" "$RC" 1
[[ "$ERR" == *"cannot reach isletd"* ]] || fail "no server: $ERR"
capture "$ISLET_BIN" --url ftp://x ls
expect_eq "not an http URL" "$RC" 2
capture r system warm 2
expect_eq "system over --url" "$RC" 2
capture r key list
expect_eq "key over --url" "$RC" 2

log "islet key: create, list, revoke (through isletd key, on the state directory)"
capture islet key create --name from-cli
expect_eq "key create" "$RC" 0
k=$OUT
[[ "$k" =~ ^islet_[0-9a-f]{48}$ ]] || fail "islet key create printed '$k'"
capture env ISLET_URL="$SRV_URL" ISLET_API_KEY="$k" "$ISLET_BIN" ls
expect_eq "the new key works" "$RC" 0
capture islet key list --json
kid=$(jget "$OUT" '[k["id"] for k in j if k["name"] == "from-cli"][0]')
capture islet key revoke "$kid"
expect_eq "key revoke" "$RC" 0
capture env ISLET_URL="$SRV_URL" ISLET_API_KEY="$k" "$ISLET_BIN" ls
expect_eq "a revoked key" "$RC" 2
# --json: one object, with the name as given and the key that works
capture islet key create --name "the chat app's key" --json
expect_eq "key create --json" "$RC" 0
expect_eq "one JSON object: its fields" "$(jget "$OUT" '" ".join(sorted(j))')" "created id key name"
expect_eq "its name" "$(jget "$OUT" 'j["name"]')" "the chat app's key"
jk=$(jget "$OUT" 'j["key"]') jid=$(jget "$OUT" 'j["id"]') jat=$(jget "$OUT" 'j["created"]')
[[ "$jk" =~ ^islet_[0-9a-f]{48}$ ]] || fail "key create --json: no key in '$OUT'"
capture env ISLET_URL="$SRV_URL" ISLET_API_KEY="$jk" "$ISLET_BIN" ls
expect_eq "the key of --json works" "$RC" 0
capture islet key list --json
expect_eq "key list: its name and time" \
  "$(jget "$OUT" "[[k['name'], k['created']] for k in j if k['id'] == $jid][0]")" \
  "[\"the chat app's key\", $jat]"
capture islet key list
grep -Eq "^$jid +valid +[0-9]{4}-[^ ]+ +the chat app's key\$" <<<"$OUT" || fail "key list (table): $OUT"
# a name is one line of UTF-8 text: kept as given, or refused before any key
# is made (one that is not UTF-8 was made, then left out of both lists, and
# its --json said it was not in the store)
capture islet key create --name "ünï cödé ☃ 日本 $(printf 'x%.0s' {1..200})" --json
expect_eq "key create, a unicode name" "$RC" 0
expect_eq "its name, exact" "$(jget "$OUT" 'j["name"]')" "ünï cödé ☃ 日本 $(printf 'x%.0s' {1..200})"
capture islet key list --json
nkeys=$(jget "$OUT" 'len(j)')
for bad in $'two\nlines' $'bad\xffutf' $'tab\there' "$(printf 'y%.0s' {1..300})"; do
  capture islet key create --name "$bad"
  expect_eq "key create --name $(printf '%q' "$bad" | cut -c1-40)" "$RC" 2
  [[ "$ERR" == *"key name"* && -z "$OUT" ]] || fail "the refusal says why and prints no key: $OUT / $ERR"
  capture "$ISLETD_BIN" --state-dir "$STATE" key create --name "$bad" --json
  expect_eq "isletd key create --name $(printf '%q' "$bad" | cut -c1-40) --json" "$RC" 2
done
capture islet key list --json
expect_eq "no key made by a refused name" "$(jget "$OUT" 'len(j)')" "$nkeys"

capture r rm -f web
expect_eq "rm -f" "$RC" 0
api GET /api/sandbox
expect_eq "nothing left in isletd" "$(printf '%s' "$BODY" | jq '.items | length')" 0
[[ ! -d "$STATE/sandboxes/$id" ]] || fail "the sandbox's state is still there"
pass
