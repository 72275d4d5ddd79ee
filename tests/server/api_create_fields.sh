#!/usr/bin/env bash
# A create body's fields are honoured or refused, never dropped: network
# lists islet cannot honour (a name among the CIDRs, an IPv6 range, an
# allow-list with networkBlockAll: true), an outbound proxy, a public that
# is not a boolean, GPUs,
# volumes, an image whose pull fails, secrets, auto-pause beside auto-stop, a negative TTL, another user, and any field islet
# does not know get a 400 that names the field and says why, and no sandbox
# is made; networkBlockAll: true and the SDK's defaults are taken.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_create_fields.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

# refused BODY FIELD WORDS: a 400 naming FIELD, its message matching WORDS
refused () {
  api POST /api/sandbox -H 'Content-Type: application/json' -d "$1"
  expect_error "create $1" 400
  expect_body "create $1: the message names $2" ".message | startswith(\"$2 \") and test(\"$3\")"
}

log "== refused"
refused '{"networkAllowList":"example.com"}' networkAllowList 'a domain name: give it in domainAllowList'
refused '{"domainAllowList":"10.0.0.0/8"}' domainAllowList 'an address'
refused '{"networkAllowList":"fd00::/8"}' networkAllowList 'IPv6'
refused '{"networkAllowList":"10.0.0.0/33"}' networkAllowList 'neither an IPv4 CIDR'
refused '{"networkBlockAll":"no"}' networkBlockAll 'true or false'
refused '{"networkBlockAll":true,"networkAllowList":"1.2.3.4/32"}' networkBlockAll 'give one or the other'
refused '{"outboundProxyUrl":"http://127.0.0.1:3128"}' outboundProxyUrl 'no outbound network'
refused '{"network":{"mode":"all"},"networkAllowList":"1.2.3.4/32"}' network 'give one'
refused '{"network":{"mode":"none","allow":["example.com"]}}' network 'needs network mode allow'
refused '{"network":{"mode":"allow","cidrs":["1.2.3.4"]}}' network.cidrs 'not a field'
refused '{"network":"all"}' network 'must be an object'
refused '{"linkedSandbox":"web"}' linkedSandbox 'never reach one another'
refused '{"public":"yes"}' public 'preview'
refused '{"gpu":1}' gpu 'GPU'
refused '{"gpuType":["H100"]}' gpuType 'GPU'
refused '{"spot":true}' spot 'GPU'
refused '{"kvm":true}' kvm 'kvm'
refused '{"volumes":[{"volumeId":"v","mountPath":"/data"}]}' volumes 'volumes'
# an image not on the machine is pulled: from a registry that is not there,
# the sandbox (answered at once, pulling_snapshot) ends in error with the
# pull's failure
api POST /api/sandbox -d '{"buildInfo":{"dockerfileContent":"FROM 127.0.0.1:9/none:1\n"}}'
expect_code "create from an image not here" 200
expect_body "pulling_snapshot" '.state == "pulling_snapshot"'
pulled=$(jq -r .id <<<"$BODY")
wait_sandbox "$pulled" error
expect_body "error with the pull's failure" '.state == "error" and (.errorReason | test("127.0.0.1:9/none:1.* its pull failed"))'
api DELETE "/api/sandbox/$pulled"
expect_code "delete the sandbox whose pull failed" 200
refused '{"secrets":[{"TOKEN":"gh"}]}' secrets 'secrets'
refused '{"autoPauseInterval":5,"autoStopInterval":5}' autoPauseInterval 'at most one of them'
refused '{"ttlMinutes":-1}' ttlMinutes 'at least 0 minutes'
refused '{"otelEndpointOverride":"http://127.0.0.1:4318"}' otelEndpointOverride 'OpenTelemetry'
refused '{"user":"daytona"}' user 'root'
refused '{"resources":{"cpu":2}}' resources 'not a field'
refused '{"imagee":"x"}' imagee 'not a field'
[[ $(islet ls --json | jq '.sandboxes | length') == 0 ]] || fail "a refused create left a sandbox: $(islet ls)"

log "== taken"
# what the SDK sends for a plain daytona.create(), and the same with every
# field at the value that matches what islet does
api POST /api/sandbox -H 'Content-Type: application/json' -d '{"env":{},"labels":{"code-toolbox-language":"python"}}'
expect_code "the SDK's default create" 200; remember_id "$(jq -r .id <<<"$BODY")"
expect_body "the SDK's default create" '.state == "started" and .networkBlockAll == true'
api POST /api/sandbox -H 'Content-Type: application/json' -d '{"env":{},"labels":{},"target":"local",
  "networkBlockAll":true,"networkAllowList":"","domainAllowList":null,"public":false,"gpu":0,
  "gpuType":[],"spot":false,"kvm":false,"volumes":[],"secrets":[],"autoPauseInterval":0,
  "ttlMinutes":0,"user":"root","autoStopInterval":0,"autoArchiveInterval":0,"autoDeleteInterval":-1}'
expect_code "every field at islet's value" 200; remember_id "$(jq -r .id <<<"$BODY")"
expect_body "ttlMinutes 0: no autoDestroyAt" 'has("autoDestroyAt") | not'
t0=$(date +%s)
api POST /api/sandbox -H 'Content-Type: application/json' -d '{"ttlMinutes":30}'
expect_code "a time to live" 200; remember_id "$(jq -r .id <<<"$BODY")"
expect_body "autoDestroyAt 30 minutes on" "(.autoDestroyAt | sub(\"\\\\.000Z\$\"; \"Z\") | fromdate) - $t0 | . >= 1795 and . <= 1805"
api POST /api/sandbox -H 'Content-Type: application/json' -d '{"network":{"allow":["1.2.3.0/24","example.com"]}}'
expect_code "islet's own network field" 200; remember_id "$(jq -r .id <<<"$BODY")"
expect_body "its echo" '.networkAllowList == "1.2.3.0/24" and .domainAllowList == "example.com" and .islet.network.mode == "allow"'
[[ $(islet ls --json | jq '.sandboxes | length') == 4 ]] || fail "islet ls: $(islet ls)"

pass
