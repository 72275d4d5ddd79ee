#!/usr/bin/env bash
# Outbound network, mode allow with CIDRs: only the listed ranges are
# reached; a private range only when a CIDR inside it is listed (0.0.0.0/0
# does not open them); the host, metadata and other sandboxes never.  Lists
# islet cannot honour are refused with the reason.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/netfake.sh"
it_init
nf_trap it_cleanup
nf_up

log "lists that cannot be honoured are refused"
capture islet create --network allow --allow fd00::/8
[[ $RC != 0 && "$ERR" == *IPv6* ]] || fail "an IPv6 CIDR: status $RC, '$ERR'"
capture islet create --network all --allow 198.51.100.0/24
[[ $RC != 0 && "$ERR" == *"needs network mode allow"* ]] || fail "all with a list: status $RC, '$ERR'"
capture islet create --network allow
[[ $RC != 0 && "$ERR" == *"needs an allow-list"* ]] || fail "allow without a list: status $RC, '$ERR'"
capture islet create --network allow --allow 'no spaces.example'
[[ $RC != 0 && "$ERR" == *"neither an IPv4 CIDR nor a domain name"* ]] || fail "a bad entry: status $RC, '$ERR'"
capture islet create --network some
[[ $RC != 0 && "$ERR" == *"not one of none, all, allow"* ]] || fail "a bad mode: status $RC, '$ERR'"

id=$(create_sb --network allow --allow 198.51.100.0/24 --allow "$NF_WEB_P")
remember_id "$id"
expect_eq "mode echoed" "$(sb_info "$id" 'j["network"]["mode"]')" allow
expect_eq "list echoed" "$(sb_info "$id" '",".join(j["network"]["allow"])')" "198.51.100.0/24,$NF_WEB_P/32"
gw=$(awk '$2 == "00000000" {print $3}' <<<"$(islet exec "$id" -- cat /proc/net/route </dev/null)")
gw=$("$IT_PY" -c "import socket,struct,sys; print(socket.inet_ntoa(struct.pack('<I', int(sys.argv[1], 16))))" "$gw")
nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_B:80" "$NF_WEB_P:80" "10.77.0.1:80" "$gw:22" "169.254.169.254:80" \
  "tcpdns:$NF_DNS:a.test.example"
expect_closed "$NF_WEB_A:80"
expect_probe "$NF_WEB_B:80" "open B"
expect_probe "$NF_WEB_P:80" "open P" # a private address, named
expect_closed "10.77.0.1:80"         # the host's address beside it
expect_closed "$gw:22"
expect_closed "169.254.169.254:80"
expect_closed "tcpdns:$NF_DNS:a.test.example" # DNS over TCP to an address not listed

wide=$(create_sb --network allow --allow 0.0.0.0/0)
remember_id "$wide"
nf_probe "$wide" "$NF_WEB_A:80" "$NF_WEB_B:80" "$NF_WEB_P:80" "$gw:22"
expect_probe "$NF_WEB_A:80" "open A"
expect_probe "$NF_WEB_B:80" "open B"
expect_closed "$NF_WEB_P:80" # 0.0.0.0/0 names no private range
expect_closed "$gw:22"

wide2=$(create_sb --network allow --allow 10.0.0.0/7)
remember_id "$wide2"
nf_probe "$wide2" "$NF_WEB_P:80"
expect_closed "$NF_WEB_P:80" # wider than 10.0.0.0/8: not inside a private range

log "overlapping CIDRs: the wider one holds"
over=$(create_sb --network allow --allow "$NF_WEB_B" --allow 198.51.100.0/24 --allow 10.77.0.0/16 \
  --allow 10.77.0.0/24)
remember_id "$over"
nf_probe "$over" "$NF_WEB_B:80" "$NF_WEB_P:80" "$NF_WEB_A:80"
expect_probe "$NF_WEB_B:80" "open B"
expect_probe "$NF_WEB_P:80" "open P"
expect_closed "$NF_WEB_A:80"

log "islet network: a running sandbox's list changed at once"
islet network "$id" --allow 203.0.113.0/24 </dev/null >/dev/null || fail "islet network --allow"
nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_B:80"
expect_probe "$NF_WEB_A:80" "open A"
expect_closed "$NF_WEB_B:80"
islet network "$id" --network none </dev/null >/dev/null || fail "islet network --network none"
expect_eq "mode after none" "$(sb_info "$id" 'j["network"]["mode"]')" none
nf_probe "$id" "$NF_WEB_A:80"
expect_probe "$NF_WEB_A:80" unreachable
xjson "$id" -- cat /proc/net/dev
[[ "$(jget "$OUT" 'j["stdout"]')" != *eth0* ]] || fail "mode none, the sandbox still has an eth0"
islet network "$id" --network all </dev/null >/dev/null || fail "islet network --network all"
nf_probe "$id" "$NF_WEB_B:80"
expect_probe "$NF_WEB_B:80" "open B"
pass
