#!/usr/bin/env bash
# MCP's create_sandbox network arguments over isletd's /mcp, against a fake
# internet: network all reaches a public address and never a private one;
# allow_list alone is mode allow and holds its CIDRs and names only; the
# sandbox echoes its network; a mode that is not one, a list with mode
# none and an unknown argument are errors and make nothing.  Needs root.
# Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/netfake.sh"

nf_srv_init
mcp_open

n=1
# create ARGS-JSON: create_sandbox with those arguments; its result in RES
create () {
  n=$((n + 1))
  mcp "$(jq -nc --argjson a "$1" --argjson id "$n" \
    '{jsonrpc: "2.0", id: $id, method: "tools/call", params: {name: "create_sandbox", arguments: $a}}')"
  RES=$BODY
}
created () {
  [[ $(jq -r '.result.isError' <<<"$RES") == false ]] || fail "create_sandbox $1: $RES"
  ID=$(jq -r '.result.structuredContent.id' <<<"$RES")
  remember_id "$ID"
}

log "the schema"
mcp '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
expect_body "network and allow_list" '.result.tools[] | select(.name == "create_sandbox") | .inputSchema.properties | (.network.enum == ["none", "all", "allow"]) and (.allow_list.type == "array")'

log "network all"
create '{"network": "all", "persistent": true}'
created all
expect_eq "echo" "$(jq -c .result.structuredContent.network <<<"$RES")" '{"mode":"all","allow":[]}'
nf_probe "$ID" "$NF_WEB_A:80" "$NF_WEB_P:80"
expect_probe "$NF_WEB_A:80" "open A"
expect_closed "$NF_WEB_P:80"

log "allow_list alone"
create '{"allow_list": ["198.51.100.0/24", "a.test.example"], "persistent": true}'
created allow
expect_eq "echo" "$(jq -c .result.structuredContent.network <<<"$RES")" \
  '{"mode":"allow","allow":["198.51.100.0/24","a.test.example"]}'
nf_probe "$ID" dns:a.test.example dns:mcp-leak.b.test.example "$NF_WEB_B:80"
expect_probe dns:a.test.example "resolved $NF_WEB_A"
expect_probe dns:mcp-leak.b.test.example nxdomain
expect_probe "$NF_WEB_B:80" "open B"
nf_probe "$ID" "$NF_WEB_A:80"
expect_probe "$NF_WEB_A:80" "open A"
grep -q 'mcp-leak' "$NF_DNS_LOG" && fail "a name outside the list reached upstream"

log "none of them: the server's default, none"
create '{"persistent": true}'
created none
expect_eq "echo" "$(jq -r .result.structuredContent.network.mode <<<"$RES")" none

log "errors, and nothing made"
before=$(islet ls --json </dev/null | jq '.sandboxes | length')
create '{"network": "some"}'
[[ $(jq -r '.error.code // .result.isError' <<<"$RES") != false ]] || fail "network some: $RES"
create '{"network": "none", "allow_list": ["example.com"]}'
expect_eq "none with a list" "$(jq -r .result.isError <<<"$RES")" true
jq -r '.result.content[0].text' <<<"$RES" | grep -q "needs network mode allow" || fail "none with a list: $RES"
create '{"allow_list": ["fd00::/8"]}'
expect_eq "IPv6" "$(jq -r .result.isError <<<"$RES")" true
create '{"network": "all", "network_mode": "all"}'
expect_eq "an unknown argument" "$(jq -r .error.code <<<"$RES")" -32602
expect_eq "nothing made" "$(islet ls --json </dev/null | jq '.sandboxes | length')" "$before"
pass
