#!/usr/bin/env bash
# Outbound network, mode all: a sandbox reaches the (fake) internet, and
# never the host (any of its addresses, the gateway of its own link, a
# listener on the host), another sandbox, link-local or metadata
# addresses, a private range, or anything over IPv6.  A sandbox without a
# network (the default) still has loopback only.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/netfake.sh"
it_init
nf_trap it_cleanup
nf_up

nf_host_listener

id=$(create_sb --network all)
remember_id "$id"
other=$(create_sb --network all)
remember_id "$other"
none=$(create_sb)
remember_id "$none"
expect_eq "network echoed" "$(sb_info "$id" 'j["network"]["mode"]')" all
expect_eq "no network by default" "$(sb_info "$none" 'j["network"]["mode"]')" none

xjson "$other" -- sh -c "ip -4 -o addr show eth0 2>/dev/null || awk '\$1 == \"eth0\"' /proc/net/dev; cat /proc/net/fib_trie | grep -A1 '/32 host LOCAL' | head -1"
other_addr=$(jget "$OUT" 'j["stdout"]' | grep -oE '100\.96\.[0-9]+\.[0-9]+' | head -1)
[[ -n "$other_addr" ]] || fail "the second sandbox has no address in 100.96.0.0/16: $(jget "$OUT" 'j["stdout"]')"
gw=$(awk '$2 == "00000000" {print $3}' <<<"$(islet exec "$id" -- cat /proc/net/route </dev/null)")
gw=$("$IT_PY" -c "import socket,struct,sys; print(socket.inet_ntoa(struct.pack('<I', int(sys.argv[1], 16))))" "$gw")
log "sandbox $id: gateway $gw; other sandbox at $other_addr"

nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_B:80" "$NF_WEB_P:80" "$gw:$HOST_PORT" "$gw:22" \
  "$host_addr:$HOST_PORT" "203.0.113.1:$HOST_PORT" "127.0.0.1:$HOST_PORT" "$other_addr:8080" \
  "169.254.169.254:80" "10.255.255.53:53" "[${host_addr6:-fd00::2}]:$HOST_PORT" \
  "tcpdns:$NF_DNS:a.test.example"
expect_probe "$NF_WEB_A:80" "open A"
expect_probe "$NF_WEB_B:80" "open B"
expect_closed "$NF_WEB_P:80"              # a private range
expect_closed "$gw:$HOST_PORT"            # the host, through the gateway
expect_closed "$gw:22"
expect_closed "$host_addr:$HOST_PORT"     # the host's own address
expect_closed "203.0.113.1:$HOST_PORT"    # the host's address on the fake internet's link
expect_probe "127.0.0.1:$HOST_PORT" refused # the sandbox's own loopback, not the host's
expect_closed "$other_addr:8080"          # another sandbox
expect_closed "169.254.169.254:80"        # metadata
expect_closed "10.255.255.53:53"          # the host's resolver, a private address
expect_closed "[${host_addr6:-fd00::2}]:$HOST_PORT"
xjson "$id" -- cat /proc/net/if_inet6
expect_eq "IPv6 addresses in the sandbox (none, not even link-local)" "$(jget "$OUT" 'j["stdout"]')" ""
expect_probe "tcpdns:$NF_DNS:a.test.example" "resolved $NF_WEB_A" # DNS over TCP is traffic like any

log "a sandbox without a network: loopback only"
nf_probe "$none" "$NF_WEB_A:80" "$host_addr:$HOST_PORT"
expect_probe "$NF_WEB_A:80" unreachable
expect_probe "$host_addr:$HOST_PORT" unreachable
xjson "$none" -- cat /proc/net/dev
[[ "$(jget "$OUT" 'j["stdout"]')" != *eth0* ]] || fail "a sandbox without a network has an eth0"

log "the network survives stop and start"
islet stop "$id" </dev/null >/dev/null || fail "stop"
islet start "$id" </dev/null >/dev/null || fail "start"
expect_eq "network after start" "$(sb_info "$id" 'j["network"]["mode"]')" all
nf_probe "$id" "$NF_WEB_A:80" "$gw:$HOST_PORT"
expect_probe "$NF_WEB_A:80" "open A"
expect_closed "$gw:$HOST_PORT"

log "removed, nothing of its network is left on the host"
slots=$(cat "$STATE/sandboxes/$id/supervisor.log" "$STATE/sandboxes/$other/supervisor.log" \
  | grep -oE 'on islet[0-9]+' | grep -oE '[0-9]+' | sort -u)
[[ -n "$slots" ]] || fail "no slot in the supervisors' logs"
islet rm -f "$id" </dev/null >/dev/null || fail "rm"
islet rm -f "$other" </dev/null >/dev/null || fail "rm"
slot_gone () { ! nft list table inet "islet_$1" >/dev/null 2>&1 && ! ip link show "islet$1" >/dev/null 2>&1; }
for s in $slots; do
  wait_until 5 slot_gone "$s" || fail "slot $s left: $(nft list table inet "islet_$s" 2>&1 | head -3) $(ip -br link show "islet$s" 2>&1)"
done
pass
