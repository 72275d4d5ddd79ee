#!/usr/bin/env bash
# `islet create --proxy` and `islet network --proxy`: the proxy variables
# in what the sandbox runs, and a proxy the sandbox could not reach refused
# with the reason and what to give (no network, a private address no CIDR
# of the list opens, loopback, an address of the host); a private proxy
# whose address the list names is reached.  `islet network` keeps the
# proxy it is not given, and refuses a list that would leave it out of
# reach.  Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/netfake.sh"
it_init
nf_trap it_cleanup
nf_up

# web server P (10.77.0.10:80, a private address) is the "proxy": it takes
# the path of an absolute-form GET http://a.test.example/id as
# http:/a.test.example/id under its directory, which only a request sent
# to a proxy asks for
proxy="http://$NF_WEB_P:80"
mkdir -p "$NF_DIR/wwwP/http:/a.test.example"
printf 'proxied by P' >"$NF_DIR/wwwP/http:/a.test.example/id"

log "refused: a proxy the sandbox could not reach"
refused () {
  local want=$1
  shift
  capture islet create "$@"
  [[ $RC != 0 && "$ERR" == *"$want"* ]] || fail "create $*: status $RC, '$ERR', want '$want'"
}
refused "add $NF_WEB_P/32 to --allow" --network all --proxy "$proxy"
refused "add $NF_WEB_P/32 to --allow" --network allow --allow 0.0.0.0/0 --proxy "$proxy"
refused "add $NF_WEB_P/32 to --allow" --network allow --allow 10.0.0.0/7 --proxy "$proxy"
refused "no outbound network (give --network all" --proxy "http://$NF_WEB_B:80"
refused "an address of this host" --network all --proxy "http://10.77.0.1:3128"
refused "an address of this host" --network allow --allow 10.77.0.0/24 --proxy "http://10.77.0.1:3128"
refused "loopback" --network all --proxy "http://127.0.0.1:3128"
refused "loopback" --network all --proxy "http://localhost:3128"
refused "metadata" --network all --proxy "http://169.254.169.254:80"
refused "IPv6" --network all --proxy "http://[2001:db8::1]:3128"
refused "does not name it (add it to --allow)" --allow b.test.example --proxy "http://a.test.example:80"
refused "not an http:// or https:// URL" --network all --proxy "socks5://$NF_WEB_B:1080"
expect_eq "nothing made by the refusals" "$(islet ls --json </dev/null | jq '.sandboxes | length')" 0

log "a private proxy whose address the list names"
id=$(create_sb --allow "$NF_WEB_P/32" --proxy "$proxy")
remember_id "$id"
expect_eq "echoed" "$(sb_info "$id" 'j["network"].get("proxy")')" "$proxy"
fetch () { nf_fetch "$id" "$@"; }
expect_eq "through the proxy" "$(fetch env)" "proxied by P"
expect_eq "without the variables" "$(fetch env -u HTTP_PROXY -u http_proxy)" "failed URLError"

log "islet network keeps the proxy it is not given, checks one it is"
islet network "$id" --allow "$NF_WEB_P/32" --allow 198.51.100.0/24 </dev/null >/dev/null \
  || fail "islet network --allow"
expect_eq "kept" "$(sb_info "$id" 'j["network"].get("proxy")')" "$proxy"
expect_eq "still through the proxy" "$(fetch env)" "proxied by P"
capture islet network "$id" --allow 198.51.100.0/24
[[ $RC != 0 && "$ERR" == *"proxy would be out of its reach"*"add $NF_WEB_P/32 to --allow"* ]] \
  || fail "a list without the kept proxy: $RC '$ERR'"
capture islet network "$id" --proxy "http://10.78.0.1:80"
[[ $RC != 0 && "$ERR" == *"add 10.78.0.1/32 to --allow"* ]] || fail "an unnamed proxy: $RC '$ERR'"
expect_eq "a refused change changes nothing" "$(sb_info "$id" 'j["network"].get("proxy")')" "$proxy"
islet network "$id" --proxy "http://$NF_WEB_B:80" </dev/null >/dev/null || fail "islet network --proxy B"
expect_eq "the proxy alone changed" "$(sb_info "$id" '",".join(j["network"]["allow"])')" \
  "$NF_WEB_P/32,198.51.100.0/24"
islet network "$id" --proxy "" </dev/null >/dev/null || fail "islet network --proxy ''"
xjson "$id" -- sh -c 'echo "${HTTP_PROXY-unset}"'
expect_eq "cleared inside at once" "$(jget "$OUT" 'j["stdout"]')" "unset"
islet network "$id" --network none </dev/null >/dev/null || fail "islet network --network none"
pass
