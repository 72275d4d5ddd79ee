#!/bin/bash
# islet mcp against the official MCP TypeScript SDK client
# (@modelcontextprotocol/sdk, the exact version in package.json and
# package-lock.json): mcp.js lists the tools and prompts, calls every tool
# and checks real results (base64 and --host-dir transfers, git_repo,
# persistent), then sends raw JSON-RPC the SDK never would.
# Afterwards nothing may be left in the private state directory.
#
# The SDK comes from the npm registry (or npm's cache) by `npm ci`: without
# it this test fails, it does not skip.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_NAME=mcp
# shellcheck source=../lib/integration.sh
source "$HERE/../lib/integration.sh"
# shellcheck source=../lib/image.sh
source "$HERE/../lib/image.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

SCRIPT_TIMEOUT_S=300

mcp_npm_ci

it_init
seed=$(seed_repo)
export MCP_IMAGE=example.test/mcp:1
test_image "$MCP_IMAGE" >/dev/null
# the host directory of --host-dir, with a way out that must stay shut
# (inside the state directory, which the clean-up removes)
mkdir "$STATE/mcp-host" "$STATE/mcp-outside"
printf 'secret\n' >"$STATE/mcp-outside/secret"
ln -s "$STATE/mcp-outside" "$STATE/mcp-host/out"
rc=0
timeout "$SCRIPT_TIMEOUT_S" node "$HERE/mcp.js" "$ISLET_BIN" "$STATE" "$STATE/mcp-host" "$seed" || rc=$?
[[ $rc == 0 ]] || fail "mcp.js exited with status $rc (124: killed after ${SCRIPT_TIMEOUT_S} s)"

left=$(islet ls --json | "$IT_PY" -c 'import json, sys; print(len(json.load(sys.stdin)["sandboxes"]))') \
  || fail "islet ls --json"
[[ "$left" == 0 ]] || fail "islet ls shows $left sandboxes after the MCP session: $(islet ls)"
islet system reset -f >/dev/null || fail "islet system reset -f"
pass
