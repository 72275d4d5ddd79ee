#!/bin/bash
# isletd's /mcp (MCP over streamable HTTP) against the official MCP
# TypeScript SDK client (@modelcontextprotocol/sdk, pinned as for run.sh):
# http.js lists the tools, calls every one with real checks, and checks
# tenancy between two keys, auth, sessions and the transport's refusals.
# Afterwards nothing may be left, for either key or in the core.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_NAME=mcp-http
# shellcheck source=../lib/integration.sh
source "$HERE/../lib/integration.sh"
# shellcheck source=../lib/server.sh
source "$HERE/../lib/server.sh"
# shellcheck source=../lib/image.sh
source "$HERE/../lib/image.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

SCRIPT_TIMEOUT_S=300

mcp_npm_ci

SRV_ARGS=(--allow-origin http://app.example --allow-origin https://agents.example:8443)
srv_init
seed=$(seed_repo)
export MCP_IMAGE=example.test/mcp:1
test_image "$MCP_IMAGE" >/dev/null
key_b=$(new_key other-org)
rc=0
ISLET_BIN="$ISLET_BIN" timeout "$SCRIPT_TIMEOUT_S" node "$HERE/http.js" "$SRV_URL" "$SRV_KEY" "$key_b" "$seed" || rc=$?
[[ $rc == 0 ]] || fail "http.js exited with status $rc (124: killed after ${SCRIPT_TIMEOUT_S} s): $(tail -5 "$STATE.srv.err")"

for key in "$SRV_KEY" "$key_b"; do
  api -k "$key" GET /api/sandbox; expect_code "list" 200
  expect_body "no sandbox left for a key" '.items | length == 0'
done
left=$(islet ls --json | "$IT_PY" -c 'import json, sys; print(len(json.load(sys.stdin)["sandboxes"]))') \
  || fail "islet ls --json"
[[ "$left" == 0 ]] || fail "islet ls shows $left sandboxes after the MCP sessions: $(islet ls)"
pass
