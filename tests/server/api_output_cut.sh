#!/usr/bin/env bash
# Output past the capture limit is never cut silently: process/execute and
# code-run end `result` with a line that says where it was cut and answer
# "truncated": true; outputLimit (bytes per stream) raises the limit for one
# request, up to the sandbox's memory, and a value out of range is a 400;
# /v1/execute says "truncated" too.  The SDK's side is tests/compat/process.js.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_output_cut.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init
# a small memory (64 MiB) and output limit (64 KiB), to keep the ceiling small
api POST /api/sandbox -d '{"name":"out","limits":{"memory_mb":64,"output_bytes":65536}}'
expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
T="/toolbox/$A"
# exec BODY-FIELDS: process/execute of a command that writes 200000 x's
PRINT="python3 -c \"import sys; sys.stdout.write('x' * 200000)\""
exec_print () { api POST "$T/process/execute" -d "$(jq -nc --arg c "$PRINT" "{command: \$c} + ${1:-{\}}")"; }

log "== cut at the sandbox's limit, and said"
exec_print; expect_code "execute 200000 bytes" 200
expect_body "truncated" '.truncated == true and .exitCode == 0'
expect_body "64 KiB kept, then the marker" \
  '.result == "x" * 65536 + "\n[islet: output cut at 65536 bytes per stream; outputLimit raises it, up to 67108864]\n"'
api POST "$T/process/code-run" -d '{"code":"import sys\nsys.stderr.write(\"e\" * 70000)\nprint(\"done\")"}'
expect_code "code-run" 200
expect_body "code-run truncated" '.truncated == true and (.result | test("done\n") and endswith("outputLimit raises it, up to 67108864]\n"))'

log "== outputLimit raises it for one request"
exec_print '{"outputLimit":200000}'; expect_code "outputLimit 200000" 200
expect_body "all of it, no marker" '.truncated == false and .result == "x" * 200000'
exec_print '{"outputLimit":1000}'; expect_code "outputLimit 1000" 200
expect_body "lowered" '.truncated == true and (.result | startswith("x" * 1000 + "\n[islet: output cut at 1000 bytes"))'
# output cut just after a newline: the marker's line follows it, no blank line
api POST "$T/process/execute" -d '{"command":"sh -c \"yes abcd | head -c 2000\"","outputLimit":1000}'
expect_body "cut after a newline" '.truncated == true and (.result | startswith("abcd\n" * 200 + "[islet: output cut at 1000 bytes"))'
api POST "$T/process/code-run" -d '{"code":"print(\"y\" * 100000)","outputLimit":67108864}'
expect_code "code-run at the ceiling" 200
expect_body "code-run raised" '.truncated == false and .result == "y" * 100000 + "\n"'
for v in 0 -1 67108865 '"big"' 1.5; do
  api POST "$T/process/execute" -d "{\"command\":\"true\",\"outputLimit\":$v}"
  expect_error "outputLimit $v" 400
  expect_body "outputLimit $v: the message" '.message | test("outputLimit must be .* from 1 to 67108864")'
done

log "== session commands and their logs (8 MiB a stream) say it too"
api POST "$T/process/session" -d '{"sessionId":"s1"}'; expect_code "session" 201
BIG="python3 -c \"import sys; sys.stdout.write('s' * 9000000); sys.stderr.write('e' * 10)\""
api POST "$T/process/session/s1/exec" -d "$(jq -nc --arg c "$BIG" '{command: $c}')"
expect_code "session exec" 200
expect_body "session exec: cut and said" '.truncated == true and (.stdout | endswith("s\n[islet: output cut at 8388608 bytes per stream]\n")) and (.output | endswith("[islet: output cut at 8388608 bytes per stream]\n")) and .stderr == "eeeeeeeeee"'
CID=$(jq -r .cmdId <<<"$BODY")
api GET "$T/process/session/s1/command/$CID/logs"; expect_code "logs" 200
expect_body "logs: cut and said" '.truncated == true and (.stdout | endswith("[islet: output cut at 8388608 bytes per stream]\n"))'
api POST "$T/process/session/s1/exec" -d '{"command":"echo small"}'; expect_code "session exec small" 200
expect_body "a small one is not cut" '.truncated == false and .stdout == "small\n" and .output == "small\n"'

log "== /v1/execute says truncated"
api POST /v1/execute -d '{"code":"print(\"v\" * 2000000)","language":"python"}'; expect_code "v1 execute" 200
expect_body "v1 truncated" '.truncated == true'
api POST /v1/execute -d '{"code":"print(1)","language":"python"}'; expect_body "v1 not truncated" '.truncated == false'
pass
