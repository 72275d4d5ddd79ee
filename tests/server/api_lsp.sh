#!/usr/bin/env bash
# Language servers through isletd, with a stub server (tests/server/lsp/
# stub_lsp.py, uploaded as the sandbox's `pylsp`: it answers with what it
# was sent) so that isletd's own rules are what is tried, quickly: at most
# 8 live servers a sandbox (the 9th refused with why and never started; a
# stopped or dead one frees its place); file URIs percent-decoded (a name
# with a space and non-ASCII letters, escaped or not; a '%' of the SDK's
# unescaped path kept), and decoded or not, "..", "%2F" and a "%00" cannot
# reach past the sandbox's root.  The real servers: tests/compat/lsp.js.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_lsp.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
STUB="$(dirname "$0")/lsp/stub_lsp.py"

srv_init
api POST /api/sandbox -d '{"name":"lsp","env":{"PATH":"/workspace/bin:/usr/bin:/bin"}}'
expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
L="/toolbox/$A/lsp"
sb_sh () { islet exec "$A" -- sh -c "$1"; }
api POST "/toolbox/$A/files/upload-v2?path=/workspace/bin/pylsp" --data-binary @"$STUB"
expect_code "upload the stub server" 200
sb_sh 'chmod 755 /workspace/bin/pylsp && mkdir -p /workspace/p0 /workspace/p1 /workspace/p2 \
  /workspace/p3 /workspace/p4 /workspace/p5 /workspace/p6 /workspace/p7 /workspace/p8 && echo X >/workspace/p1/x.py' \
  || fail "make the projects"
# servers: the stub processes in the sandbox ([p] so that grep's own is not one)
servers () { sb_sh 'grep -l "/workspace/bin/[p]ylsp" /proc/[0-9]*/cmdline 2>/dev/null | wc -l'; }
start () { api POST "$L/start" -d "{\"languageId\":\"python\",\"pathToProject\":\"$1\"}"; }
stop () { api POST "$L/stop" -d "{\"languageId\":\"python\",\"pathToProject\":\"$1\"}"; }

log "== at most 8 live servers a sandbox"
for i in 0 1 2 3 4 5 6 7; do start "/workspace/p$i"; expect_code "server $i" 200; done
[[ $(servers) == 8 ]] || fail "8 servers run: $(servers)"
start /workspace/p8; expect_error "the 9th" 429
expect_body "the 9th: why" '.code == "TOO_MANY_LSP_SERVERS" and (.message | test("runs 8 language servers, the most it may: stop one first"))'
[[ $(servers) == 8 ]] || fail "the refused 9th started no process: $(servers)"
start /workspace/p0; expect_code "a second start of a live one is no new server" 200
stop /workspace/p0; expect_code "stop p0" 200
start /workspace/p8; expect_code "the 9th, once one is stopped" 200
for (( i = 0; i < 50; i++ )); do [[ $(servers) == 8 ]] && break; sleep 0.1; done
[[ $(servers) == 8 ]] || fail "8 servers after the stop and the start: $(servers)"
start /workspace/p0; expect_error "full again" 429
# a server killed from inside is dead: its place is free
pid1=$(sb_sh 'for f in /proc/[0-9]*; do [ "$(readlink $f/cwd)" = /workspace/p1 ] && grep -q "[p]ylsp" $f/cmdline && echo ${f#/proc/}; done; true')
[[ -n "$pid1" ]] || fail "p1's server is not found by its cwd"
sb_sh "kill -9 $pid1" || fail "kill p1's server"
api GET "$L/document-symbols" -G --data-urlencode languageId=python \
  --data-urlencode pathToProject=/workspace/p1 --data-urlencode uri=file:///workspace/p1/x.py
expect_error "a call to the killed server" 410
start /workspace/p0; expect_code "the killed one's place taken" 200
for p in 0 2 3 4 5 6 7 8; do stop "/workspace/p$p"; expect_code "stop p$p" 200; done
for (( i = 0; i < 50; i++ )); do [[ $(servers) == 0 ]] && break; sleep 0.1; done
[[ $(servers) == 0 ]] || fail "no server left after the stops: $(servers)"

log "== file URIs are percent-decoded"
start /workspace/p0; expect_code "start p0" 200
sb_sh 'printf "SPACED\n" >"/workspace/p0/my file é.py"; printf "RAWPCT\n" >"/workspace/p0/100%41.py"
  printf "IN_SANDBOX\n" >/tmp/islet-lsp-probe' || fail "make the files"
HOST_FILE=/tmp/islet-lsp-probe
[[ -e $HOST_FILE ]] && fail "$HOST_FILE exists on the host: the test cannot tell the two apart"
printf 'ON_HOST\n' >"$HOST_FILE"
trap 'rm -f "$HOST_FILE"; srv_cleanup' EXIT
# symbols URI: the stub names its one symbol after the file's first line
symbols () {
  api GET "$L/document-symbols" -G --data-urlencode languageId=python \
    --data-urlencode pathToProject=/workspace/p0 --data-urlencode "uri=$1"
}
symbols 'file:///workspace/p0/my%20file%20%C3%A9.py'; expect_code "an escaped URI" 200
expect_body "the escaped URI read the file" '.[0].name == "SPACED" and .[0].location.uri == "file:///workspace/p0/my%20file%20%C3%A9.py"'
symbols 'file:///workspace/p0/my file é.py'; expect_code "the SDK's unescaped path" 200
expect_body "the unescaped path read the same file" '.[0].name == "SPACED"'
symbols 'file://my%20file%20%c3%a9.py'; expect_code "a relative escaped path" 200
expect_body "relative to the project" '.[0].name == "SPACED"'
symbols 'file:///workspace/p0/100%41.py'; expect_code "a name holding %41, unescaped" 200
expect_body "the file named with %41, not 100A.py" '.[0].name == "RAWPCT"'
api POST "$L/did-open" -d '{"languageId":"python","pathToProject":"/workspace/p0","uri":"file:///workspace/p0/my%20file%20%C3%A9.py"}'
expect_code "did-open of an escaped URI" 200
api POST "$L/completions" -d '{"languageId":"python","pathToProject":"/workspace/p0","uri":"file:///workspace/p0/my%20file%20%C3%A9.py","position":{"line":0,"character":1}}'
expect_code "completions" 200
expect_body "the server was asked about the file's URI" '.items[0].label == "file:///workspace/p0/my%20file%20%C3%A9.py"'

log "== decoded or not, a URI stays inside the sandbox"
for u in 'file:///workspace/p0/..%2F..%2F..%2F..%2Ftmp%2Fislet-lsp-probe' \
         'file:///workspace/p0/%2E%2E/%2e%2e/../../tmp/islet-lsp-probe' \
         'file://../../../../../../tmp/islet-lsp-probe'; do
  symbols "$u"; expect_code "$u" 200
  expect_body "$u: the sandbox's /tmp, not the host's" '.[0].name == "IN_SANDBOX"'
done
symbols 'file:///workspace/p0/..%2F..%2Fetc%2Fno-such-file'; expect_error "a missing file" 404
grep -q ON_HOST <<<"$BODY" && fail "the host's file leaked"
symbols 'file:///workspace/p0/x.py%00.txt'; expect_error "a %00" 400
symbols 'file:///workspace/p0/a%0Ab.py'; expect_error "a decoded newline" 400
stop /workspace/p0; expect_code "stop p0" 200

pass
