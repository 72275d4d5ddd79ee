#!/usr/bin/env bash
# Outbound network through isletd's Daytona API: networkAllowList and
# domainAllowList at create are honoured and echoed; isletd --dns is the
# sandboxes' upstream resolver; isletd's own port is never reachable from a
# sandbox; updateNetworkSettings (POST /api/sandbox/{id}/network-settings)
# changes a running sandbox at once (block all, another list, all); the
# settings survive a restart of isletd while the sandbox runs (its filter
# too), and a stop, a restart of isletd and a start.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/netfake.sh"

# the fake internet first: isletd is started pointing at its DNS server
nf_srv_init
port=${SRV_URL##*:}
host_addr=$(ip -4 -o addr show scope global | awk '$2 != "'"$NF_IF"'" {print $4}' | cut -d/ -f1 | head -1)

# settings ID: POST network-settings with the JSON body $2
settings () {
  api POST "/api/sandbox/$1/network-settings" -H 'Content-Type: application/json' -d "$2"
  expect_code "network-settings $2" 200
}

log "create with a CIDR and a name"
api POST /api/sandbox -H 'Content-Type: application/json' \
  -d '{"networkAllowList":"198.51.100.0/24","domainAllowList":"a.test.example"}'
expect_code "create" 200
id=$(jq -r .id <<<"$BODY")
remember_id "$id"
expect_body "echo" '.networkBlockAll == false and .networkAllowList == "198.51.100.0/24" and .domainAllowList == "a.test.example"'
gw=$(awk '$2 == "00000000" {print $3}' <<<"$(islet exec "$id" -- cat /proc/net/route </dev/null)")
gw=$("$IT_PY" -c "import socket,struct,sys; print(socket.inet_ntoa(struct.pack('<I', int(sys.argv[1], 16))))" "$gw")
nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_B:80" "$gw:$port" "$host_addr:$port"
expect_closed "$NF_WEB_A:80" # not resolved yet
expect_probe "$NF_WEB_B:80" "open B"
expect_closed "$gw:$port"        # isletd's port, through the gateway
expect_closed "$host_addr:$port" # and on the host's address
nf_probe "$id" dns:a.test.example dns:leak-api.other.example
expect_probe dns:a.test.example "resolved $NF_WEB_A"
expect_probe dns:leak-api.other.example nxdomain
nf_probe "$id" "$NF_WEB_A:80"
expect_probe "$NF_WEB_A:80" "open A"
grep -q 'leak-api' "$NF_DNS_LOG" && fail "a name outside the list reached upstream"

log "updateNetworkSettings: block all, at once"
settings "$id" '{"networkBlockAll":true}'
expect_body "echo" '.networkBlockAll == true and (.networkAllowList // "") == "" and (.domainAllowList // "") == ""'
nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_B:80"
expect_probe "$NF_WEB_A:80" unreachable
expect_probe "$NF_WEB_B:80" unreachable

log "updateNetworkSettings: another list"
settings "$id" '{"networkAllowList":"203.0.113.0/24"}'
expect_body "echo" '.networkBlockAll == false and .networkAllowList == "203.0.113.0/24" and (.domainAllowList // "") == ""'
nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_B:80"
expect_probe "$NF_WEB_A:80" "open A"
expect_closed "$NF_WEB_B:80"
nf_probe "$id" dns:a.test.example
expect_probe dns:a.test.example nxdomain # no names in the list now

log "updateNetworkSettings: all"
settings "$id" '{"networkBlockAll":false}'
expect_body "echo" '.networkBlockAll == false and (.networkAllowList // "") == ""'
nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_B:80" "$NF_WEB_P:80" "$gw:$port"
expect_probe "$NF_WEB_A:80" "open A"
expect_probe "$NF_WEB_B:80" "open B"
expect_closed "$NF_WEB_P:80"
expect_closed "$gw:$port"
api GET "/api/sandbox/$id"
expect_body "get" '.networkBlockAll == false'

log "a running sandbox keeps its settings and its filter across a restart of isletd"
srv_stop
srv_start
port=${SRV_URL##*:}
api GET "/api/sandbox/$id"
expect_body "after a restart, running" '.state == "started" and .networkBlockAll == false and (.networkAllowList // "") == ""'
nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_P:80" "$gw:$port" "$host_addr:$port"
expect_probe "$NF_WEB_A:80" "open A"
expect_closed "$NF_WEB_P:80"
expect_closed "$gw:$port"
expect_closed "$host_addr:$port"

log "kept across stop, start and a restart of isletd"
settings "$id" '{"domainAllowList":"*.b.test.example"}'
api POST "/api/sandbox/$id/stop"
expect_code stop 200
srv_stop
srv_start
api GET "/api/sandbox/$id"
expect_body "after a restart" '.state == "stopped" and .domainAllowList == "*.b.test.example" and .networkBlockAll == false'
api POST "/api/sandbox/$id/start"
expect_code start 200
nf_probe "$id" dns:x.b.test.example dns:a.test.example
expect_probe dns:x.b.test.example "resolved $NF_WEB_B"
expect_probe dns:a.test.example nxdomain
nf_probe "$id" "$NF_WEB_B:80" "$NF_WEB_A:80"
expect_probe "$NF_WEB_B:80" "open B"
expect_closed "$NF_WEB_A:80"

log "the CLI over --url asks for a network with the same fields, and reads it back"
R () { ISLET_URL=$SRV_URL ISLET_API_KEY=$SRV_KEY "$ISLET_BIN" "$@" </dev/null; }
rid=$(R create --network allow --allow 198.51.100.0/24 --allow a.test.example) || fail "remote create: $rid"
remember_id "$rid"
expect_eq "remote info" "$(R info "$rid" --json | jq -c .network)" \
  '{"mode":"allow","allow":["198.51.100.0/24","a.test.example"]}'
expect_eq "the core's config" "$(islet info "$rid" --json </dev/null | jq -c .network)" \
  '{"mode":"allow","allow":["198.51.100.0/24","a.test.example"]}'
rall=$(R create --network all) || fail "remote create all: $rall"
remember_id "$rall"
expect_eq "remote all" "$(R info "$rall" --json | jq -r .network.mode)" all
pass
