#!/usr/bin/env bash
# /v1's network, against a fake internet: enable_networking true reaches a
# public address and never a private one; network_allow_list holds its
# CIDRs and names only (a name outside it is not even resolved); none of
# them is loopback only; a key's defaults (PUT /v1/config) and a kept
# sandbox (POST /v1/sandbox) take the same fields.  Needs root.
# Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/netfake.sh"

nf_srv_init

# probe JSON-CONFIG TARGET...: netfake's probe as /v1/execute's code; its
# lines in PROBE
probe () {
  local cfg=$1 code
  shift
  code="import sys
sys.argv = [\"probe\"$(printf ', "%s"' "$@")]
$NF_PROBE"
  api POST /v1/execute -d "$(jq -n --arg c "$code" --argjson cfg "$cfg" '{code: $c, config: $cfg}')"
  expect_code "execute with $cfg" 200
  PROBE=$(jq -r .stdout <<<"$BODY")
  log "probe with $cfg: $(echo "$PROBE" | tr '\n' ';')"
}

log "no network unless asked"
probe '{}' "$NF_WEB_A:80"
expect_probe "$NF_WEB_A:80" unreachable

log "enable_networking: public addresses, never a private one"
probe '{"enable_networking": true}' "$NF_WEB_A:80" "$NF_WEB_B:80" "$NF_WEB_P:80"
expect_probe "$NF_WEB_A:80" "open A"
expect_probe "$NF_WEB_B:80" "open B"
expect_closed "$NF_WEB_P:80"

log "network_allow_list: a CIDR"
probe '{"network_allow_list": ["198.51.100.0/24"]}' "$NF_WEB_A:80" "$NF_WEB_B:80"
expect_closed "$NF_WEB_A:80"
expect_probe "$NF_WEB_B:80" "open B"

log "network_allow_list: a name, resolved by islet's resolver only when listed"
probe '{"enable_networking": true, "network_allow_list": ["a.test.example"]}' \
  dns:a.test.example dns:v1-leak.b.test.example
expect_probe dns:a.test.example "resolved $NF_WEB_A"
expect_probe dns:v1-leak.b.test.example nxdomain
grep -q 'v1-leak' "$NF_DNS_LOG" && fail "a name outside the list reached upstream"

log "a key's defaults"
api PUT /v1/config -d '{"network_allow_list": ["203.0.113.0/24"]}'
expect_code "put the list" 200
expect_body "shown" '.enable_networking == true and .network_allow_list == ["203.0.113.0/24"]'
probe '{}' "$NF_WEB_A:80" "$NF_WEB_B:80"
expect_probe "$NF_WEB_A:80" "open A"
expect_closed "$NF_WEB_B:80"
probe '{"enable_networking": false, "network_allow_list": null}' "$NF_WEB_A:80"
expect_probe "$NF_WEB_A:80" unreachable

log "a kept sandbox"
api POST /v1/sandbox -d '{"config": {"network_allow_list": null, "enable_networking": true}}'
expect_code "kept sandbox" 200
sid=$(jq -r .sandbox_id <<<"$BODY")
remember_id "$sid"
expect_eq "its network" "$(islet info "$sid" --json </dev/null | jq -r .network.mode)" all
pass
