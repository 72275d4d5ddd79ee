#!/usr/bin/env bash
# isletd --default-network all: a sandbox whose create asks for no network
# (Daytona's create, /v1/execute and a kept /v1 sandbox, MCP's
# create_sandbox) gets mode all, with its rules (public addresses, never a
# private one or isletd's port); one that asks for none, or a list, gets
# that.  --default-network allow is refused at start.  Needs root.
# Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/netfake.sh"

it_init
nf_up
ISLETD_BIN=${ISLETD_BIN:-$(dirname "$ISLET_BIN")/isletd}
capture timeout 10 "$ISLETD_BIN" --listen 127.0.0.1:0 --state-dir "$STATE" --default-network allow
[[ $RC != 0 && "$ERR" == *"--default-network: 'allow' is not none or all"* ]] \
  || fail "--default-network allow: status $RC, '$ERR'"
SRV_ARGS=(--dns "$NF_DNS" --default-network all)
srv_start
nf_trap srv_cleanup
port=${SRV_URL##*:}
host_addr=$(ip -4 -o addr show scope global | awk '$2 != "'"$NF_IF"'" {print $4}' | cut -d/ -f1 | head -1)

create () {
  api POST /api/sandbox -H 'Content-Type: application/json' -d "$1"
  expect_code "create $1" 200
  id=$(jq -r .id <<<"$BODY")
  remember_id "$id"
}

log "Daytona: no field is the server's default, all"
create '{}'
expect_body "echo" '.networkBlockAll == false and (.networkAllowList // "") == ""'
nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_P:80" "$host_addr:$port"
expect_probe "$NF_WEB_A:80" "open A"
expect_closed "$NF_WEB_P:80"
expect_closed "$host_addr:$port"

log "Daytona: networkBlockAll true, and a list, are what they say"
create '{"networkBlockAll": true}'
expect_body "echo" '.networkBlockAll == true'
nf_probe "$id" "$NF_WEB_A:80"
expect_probe "$NF_WEB_A:80" unreachable
create '{"networkAllowList": "198.51.100.0/24"}'
nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_B:80"
expect_closed "$NF_WEB_A:80"
expect_probe "$NF_WEB_B:80" "open B"

log "/v1/execute: no config is the default, enable_networking false is none"
for cfg in '{}' '{"enable_networking": false}'; do
  code="import sys
sys.argv = [\"probe\", \"$NF_WEB_A:80\"]
$NF_PROBE"
  api POST /v1/execute -d "$(jq -n --arg c "$code" --argjson cfg "$cfg" '{code: $c, config: $cfg}')"
  expect_code "execute with $cfg" 200
  PROBE=$(jq -r .stdout <<<"$BODY")
  if [[ "$cfg" == '{}' ]]; then expect_probe "$NF_WEB_A:80" "open A"; else expect_probe "$NF_WEB_A:80" unreachable; fi
done

log "MCP: create_sandbox without network is the default"
mcp_open
mcp '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_sandbox","arguments":{"persistent":true}}}'
[[ $(jq -r '.result.isError' <<<"$BODY") == false ]] || fail "create_sandbox: $BODY"
remember_id "$(jq -r '.result.structuredContent.id' <<<"$BODY")"
expect_eq "echo" "$(jq -r .result.structuredContent.network.mode <<<"$BODY")" all
pass
