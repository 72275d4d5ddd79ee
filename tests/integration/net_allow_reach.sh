#!/usr/bin/env bash
# Outbound network, mode allow, with a list that names everything it can:
# 0.0.0.0/0 and, explicitly, islet's own range (other sandboxes),
# link-local (metadata) and loopback.  The list opens the public
# addresses, and still never the host (a listener on any of its addresses,
# the gateway, its address on the fake internet's link, inside the listed
# 0.0.0.0/0), another sandbox, metadata, or anything over IPv6; a UDP DNS
# query to any server is answered by islet's resolver, which sends a name
# outside the list nowhere.  Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/netfake.sh"
it_init
nf_trap it_cleanup
nf_up

nf_host_listener
wait_until 10 curl -s -m 1 -o /dev/null "http://127.0.0.1:$HOST_PORT/" || fail "the host listener did not start"

# the other sandbox listens on 8080: reached, it would answer
other=$(create_sb --network allow --allow 198.51.100.0/24)
remember_id "$other"
islet exec "$other" --timeout 120 -- python3 -m http.server 8080 </dev/null >/dev/null 2>&1 &
# a sandbox's address: the source of a datagram it would send out
addr_of () {
  xjson "$1" -- python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("198.51.100.10", 9)); print(s.getsockname()[0])'
  jget "$OUT" 'j["stdout"]'
}
other_addr=$(addr_of "$other")
[[ "$other_addr" == 100.96.* ]] || fail "the other sandbox's address '$other_addr' is not in 100.96.0.0/16"
listening () { xjson "$other" -- python3 -c "import socket; socket.create_connection(('127.0.0.1', 8080), 1)"; [[ $(jget "$OUT" 'j["exit_code"]') == 0 ]]; }
wait_until 20 listening || fail "the other sandbox's listener did not start"

id=$(create_sb --network allow --allow 0.0.0.0/0 --allow 100.96.0.0/16 --allow 169.254.0.0/16 \
  --allow 127.0.0.0/8)
remember_id "$id"
gw=$(awk '$2 == "00000000" {print $3}' <<<"$(islet exec "$id" -- cat /proc/net/route </dev/null)")
gw=$("$IT_PY" -c "import socket,struct,sys; print(socket.inet_ntoa(struct.pack('<I', int(sys.argv[1], 16))))" "$gw")
log "gateway $gw, host $host_addr ${host_addr6:-(no IPv6)}, other sandbox $other_addr"

nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_B:80" "$other_addr:8080" "$gw:$HOST_PORT" \
  "$host_addr:$HOST_PORT" "203.0.113.1:$HOST_PORT" "169.254.169.254:80" \
  "[${host_addr6:-fd00::2}]:$HOST_PORT" "[2001:db8::10]:80" \
  "udpdns:$NF_DNS:leak-allow.other.example" "udpdns:$NF_WEB_B:leak-allow2.other.example"
expect_probe "$NF_WEB_A:80" "open A"
expect_probe "$NF_WEB_B:80" "open B"
expect_closed "$other_addr:8080"       # another sandbox, its range listed
expect_closed "$gw:$HOST_PORT"         # the host through the gateway
expect_closed "$host_addr:$HOST_PORT"  # the host's own address
expect_closed "203.0.113.1:$HOST_PORT" # the host's address inside a listed public range
expect_closed "169.254.169.254:80"     # metadata, its range listed
expect_closed "[${host_addr6:-fd00::2}]:$HOST_PORT"
expect_closed "[2001:db8::10]:80"
expect_probe "udpdns:$NF_DNS:leak-allow.other.example" nxdomain # islet's resolver answers
expect_probe "udpdns:$NF_WEB_B:leak-allow2.other.example" nxdomain
if grep -qi 'leak-allow' "$NF_DNS_LOG"; then
  fail "a name outside the list reached upstream: $(grep -i leak-allow "$NF_DNS_LOG")"
fi
xjson "$id" -- sh -c 'cat /proc/net/if_inet6 2>/dev/null'
expect_eq "IPv6 addresses in the sandbox (none, not even link-local)" "$(jget "$OUT" 'j["stdout"]')" ""

log "the other way: the other sandbox does not reach this one"
id_addr=$(addr_of "$id")
[[ "$id_addr" == 100.96.* && "$id_addr" != "$other_addr" ]] || fail "this sandbox's address: '$id_addr'"
nf_probe "$other" "$id_addr:8080" "$NF_WEB_B:80"
expect_probe "$NF_WEB_B:80" "open B"
expect_closed "$id_addr:8080"
pass
