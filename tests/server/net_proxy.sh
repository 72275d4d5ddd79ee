#!/usr/bin/env bash
# outboundProxyUrl through isletd's Daytona API: the proxy variables in the
# environment of what the sandbox runs, so that a program that honours them
# reaches a name outside the sandbox's list through the proxy, while the
# same program without them does not; the URL is echoed and kept across a
# restart of isletd; a URL that is not http(s) and a proxy the sandbox
# could not reach (no network, a private address no CIDR of the list
# opens, the host, loopback, metadata) are refused at create and at
# updateNetworkSettings (a kept one too, unless the update closes the
# network); a private proxy whose address the list names is reached.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/netfake.sh"

nf_srv_init

create () {
  api POST /api/sandbox -H 'Content-Type: application/json' -d "$1"
}

# web server B (198.51.100.10:80, python's http.server) is the "proxy": it
# takes the path of an absolute-form GET http://a.test.example/id as
# http:/a.test.example/id under its directory, which only a request sent
# to a proxy asks for
proxy="http://$NF_WEB_B:80"
mkdir -p "$NF_DIR/wwwB/http:/a.test.example"
printf 'proxied by B' >"$NF_DIR/wwwB/http:/a.test.example/id"
log "create with B's network allowed and B as the proxy"
create '{"networkAllowList":"198.51.100.0/24","outboundProxyUrl":"'"$proxy"'"}'
expect_code "create" 200
id=$(jq -r .id <<<"$BODY")
remember_id "$id"
expect_body "echo" '.outboundProxyUrl == "'"$proxy"'" and .networkAllowList == "198.51.100.0/24"'

fetch () { nf_fetch "$id" "$@"; }

expect_eq "through the proxy" "$(fetch env)" "proxied by B"
expect_eq "without the variables" "$(fetch env -u HTTP_PROXY -u http_proxy)" "failed URLError"
xjson "$id" -- sh -c 'echo "$HTTPS_PROXY|$https_proxy|$NO_PROXY|$no_proxy"'
expect_eq "the other variables" "$(jget "$OUT" 'j["stdout"]')" \
  "$proxy|$proxy|localhost,127.0.0.1,::1|localhost,127.0.0.1,::1"

log "a caller's own value wins over the proxy's"
api POST "/toolbox/$id/process/execute" -H 'Content-Type: application/json' \
  -d '{"command":"sh -c \"echo $HTTP_PROXY\"","envs":{"HTTP_PROXY":"http://mine.example:1"}}'
expect_code "execute" 200
expect_body "envs" '.result == "http://mine.example:1\n"'

log "kept across a restart of isletd, and by an update that does not name it"
srv_stop
srv_start
api GET "/api/sandbox/$id"
expect_body "after a restart" '.outboundProxyUrl == "'"$proxy"'"'
api POST "/api/sandbox/$id/network-settings" -H 'Content-Type: application/json' \
  -d '{"domainAllowList":"a.test.example"}'
expect_code "update" 200
expect_body "kept" '.outboundProxyUrl == "'"$proxy"'" and .domainAllowList == "a.test.example"'
api POST "/api/sandbox/$id/network-settings" -H 'Content-Type: application/json' \
  -d '{"networkBlockAll":false,"outboundProxyUrl":""}'
expect_code "clear" 200
expect_body "cleared" '(.outboundProxyUrl // "") == ""'
xjson "$id" -- sh -c 'echo "${HTTP_PROXY-unset}"'
expect_eq "cleared inside at once" "$(jget "$OUT" 'j["stdout"]')" "unset"

log "refused: not http(s), unreachable, a filter it is not"
for body in '{"networkBlockAll":false,"outboundProxyUrl":"socks5://198.51.100.10:1080"}' \
  '{"networkBlockAll":false,"outboundProxyUrl":"http://198.51.100.10:80/ x"}' \
  '{"outboundProxyUrl":"http://198.51.100.10:80"}' \
  '{"domainAllowList":"a.test.example","outboundProxyUrl":"http://198.51.100.10:80"}' \
  '{"networkBlockAll":true,"outboundProxyUrl":"http://198.51.100.10:80"}' \
  '{"networkBlockAll":false,"outboundProxyUrl":7}'; do
  create "$body"
  expect_code "create $body" 400
done
expect_eq "nothing made by the refusals" "$(islet ls --json </dev/null | jq '.sandboxes | length')" 1

log "a private proxy: refused in mode all and through a list that does not open it, with what to do"
P="http://$NF_WEB_P:80"
for body in '{"networkBlockAll":false,"outboundProxyUrl":"'"$P"'"}' \
  '{"networkAllowList":"0.0.0.0/0","outboundProxyUrl":"'"$P"'"}'; do
  create "$body"
  expect_code "create $body" 400
  expect_body "the reason" '.message | test("private address.*add 10.77.0.10/32 to networkAllowList")'
done
for host in 10.77.0.1 127.0.0.1 169.254.169.254; do
  create '{"networkBlockAll":false,"outboundProxyUrl":"http://'"$host"':3128"}'
  expect_code "create with a proxy at $host" 400
  expect_body "the reason" '.message | test("this host|loopback|metadata")'
done
mkdir -p "$NF_DIR/wwwP/http:/a.test.example"
printf 'proxied by P' >"$NF_DIR/wwwP/http:/a.test.example/id"
create '{"networkAllowList":"10.77.0.10/32","outboundProxyUrl":"'"$P"'"}'
expect_code "create with the private proxy's address named" 200
pid=$(jq -r .id <<<"$BODY")
remember_id "$pid"
expect_eq "through the private proxy" "$(nf_fetch "$pid")" "proxied by P"
api POST "/api/sandbox/$pid/network-settings" -H 'Content-Type: application/json' \
  -d '{"networkAllowList":"198.51.100.0/24"}'
expect_code "an update whose list leaves the kept proxy out of reach" 400
expect_body "the reason" '.message | test("would be out of its reach.*add 10.77.0.10/32 to networkAllowList.*outboundProxyUrl \"\" to drop it")'
api POST "/api/sandbox/$pid/network-settings" -H 'Content-Type: application/json' \
  -d '{"networkAllowList":"198.51.100.0/24","outboundProxyUrl":""}'
expect_code "the same, dropping the proxy" 200
expect_body "dropped" '(.outboundProxyUrl // "") == "" and .networkAllowList == "198.51.100.0/24"'

log "updateNetworkSettings checks a proxy it names against the settings it makes"
api POST "/api/sandbox/$id/network-settings" -H 'Content-Type: application/json' \
  -d '{"networkBlockAll":false,"outboundProxyUrl":"'"$P"'"}'
expect_code "update to mode all with a private proxy" 400
expect_body "the reason" '.message | test("add 10.77.0.10/32 to networkAllowList")'
api GET "/api/sandbox/$id"
expect_body "unchanged" '(.outboundProxyUrl // "") == "" and .networkBlockAll == false'
api POST "/api/sandbox/$id/network-settings" -H 'Content-Type: application/json' \
  -d '{"domainAllowList":"b.test.example","outboundProxyUrl":"http://a.test.example:80"}'
expect_code "update with a name the list leaves out" 400
api POST "/api/sandbox/$id/network-settings" -H 'Content-Type: application/json' \
  -d '{"networkAllowList":"10.77.0.10/32","outboundProxyUrl":"'"$P"'"}'
expect_code "update naming the proxy's address" 200
expect_body "echo" '.outboundProxyUrl == "'"$P"'" and .networkAllowList == "10.77.0.10/32"'
expect_eq "the updated sandbox through the private proxy" "$(nf_fetch "$id")" "proxied by P"
api POST "/api/sandbox/$id/network-settings" -H 'Content-Type: application/json' \
  -d '{"networkBlockAll":true}'
expect_code "closing the network keeps working with a proxy set" 200
pass
