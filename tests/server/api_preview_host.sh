#!/usr/bin/env bash
# Preview links in the host form (isletd --preview-domain): the Host
# <port>-<id>.<domain> picks the sandbox and the port and the path reaches
# the app unchanged; getPreviewLink answers that form.  A browser's way in:
# the signed URL's token, taken once from the query
# (DAYTONA_SANDBOX_AUTH_KEY), comes back as a cookie of that host only, with
# which the page's own requests pass; neither the parameter nor the cookie
# reaches the app; the cookie opens no other sandbox and stops with the
# signed URL's expiry.  The path form and the API are as they were.  Each
# proxied request is in /metrics, and in the owner's audit log unless it was
# refused for its token.
# Needs root.  Exit 0 pass, 1 fail.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

DOMAIN=preview.test
SRV_ARGS=(--preview-domain "$DOMAIN")
srv_init
port=${SRV_URL##*:}

api POST /api/sandbox -d '{}'; expect_code "create A" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
api POST /api/sandbox -d '{}'; expect_code "create B" 200
B=$(jq -r .id <<<"$BODY"); remember_id "$B"
T="/toolbox/$A"
api POST "$T/files/bulk-upload" -F "files[0].path=/tmp/app.py" \
  -F "files[0].file=@$HERE/preview/head_app.py;filename=app.py"
expect_code "upload the app" 200
api POST "$T/process/session" -d '{"sessionId":"app"}'; expect_code "session" 201
api POST "$T/process/session/app/exec" -d '{"command":"python3 /tmp/app.py 8080","runAsync":true}'
expect_code "start the app" 202

HA="8080-$A.$DOMAIN"
HB="8080-$B.$DOMAIN"
api GET "/api/sandbox/$A/ports/8080/preview-url"; expect_code "preview-url" 200
expect_body "the host form" ".url == \"http://$HA:$port\""
TOKEN=$(jq -r .token <<<"$BODY")

JAR="$STATE.jar"
# hget HOST PATH [curl options]: through the proxy by that Host (resolved to
# isletd), no API key; BODY, CODE, and the answer's headers in HDRS
hget () {
  local h=$1 path=$2
  shift 2
  HDRS=$(mktemp "$STATE.h.XXXXXX")
  BODY=$(curl -s -m 20 -D "$HDRS" --resolve "$h:$port:127.0.0.1" -w '\n%{http_code}' \
    "$@" "http://$h:$port$path")
  CODE=${BODY##*$'\n'}
  BODY=${BODY%$'\n'*}
}

for (( i = 0; i < 100; i++ )); do
  hget "$HA" / -H "x-daytona-preview-token: $TOKEN"
  [[ "$CODE" == 200 ]] && break
  sleep 0.1
done
expect_code "the app through the host form" 200

log "the path goes on unchanged, with no prefix"
hget "$HA" '/static/app.js?v=1&x=%2F' -H "x-daytona-preview-token: $TOKEN"
expect_code "an absolute path" 200
expect_body "as the app sees it" '.path == "/static/app.js?v=1&x=%2F" and .prefix == null'
hget "$HA" "/x?v=1&DAYTONA_SANDBOX_AUTH_KEY=$TOKEN" -H "x-daytona-preview-token: $TOKEN"
expect_code "a token in the query beside the header" 200
expect_body "never passed on" '.path == "/x?v=1"'

log "refused: no token, another sandbox's, another sandbox's host"
hget "$HA" /
expect_error "no token" 401
api GET "/api/sandbox/$B/ports/8080/preview-url"
TOKEN_B=$(jq -r .token <<<"$BODY")
hget "$HA" / -H "x-daytona-preview-token: $TOKEN_B"
expect_error "B's token on A" 403
hget "$HB" / -H "x-daytona-preview-token: $TOKEN"
expect_error "A's token on B" 403

log "a browser: the signed URL's token once in the query, then a cookie of that host"
api GET "/api/sandbox/$A/ports/8080/signed-preview-url?expiresInSeconds=120"
expect_code "signed-preview-url" 200
SIGNED=$(jq -r .token <<<"$BODY")
expect_body "its URL" ".url == \"http://$HA:$port/?DAYTONA_SANDBOX_AUTH_KEY=$SIGNED\""
hget "$HA" "/page?DAYTONA_SANDBOX_AUTH_KEY=$SIGNED&q=1" -c "$JAR" -H 'Cookie: mine=2'
expect_code "the signed URL" 200
expect_body "the app gets neither the parameter nor the cookie" '.path == "/page?q=1" and .cookie == "mine=2"'
grep -i '^set-cookie: islet_preview=' "$HDRS" | grep -q 'HttpOnly' || fail "no HttpOnly preview cookie: $(cat "$HDRS")"
grep -i '^set-cookie: islet_preview=' "$HDRS" | grep -qi 'Max-Age=1[0-2][0-9]' \
  || fail "the cookie does not end with the URL: $(cat "$HDRS")"
grep -qi '^set-cookie: app=1' "$HDRS" || fail "the app's own cookie was lost: $(cat "$HDRS")"
grep -i '^set-cookie: islet_preview=' "$HDRS" | grep -qi 'domain=' && fail "the cookie is not the host's only"
hget "$HA" "/?DAYTONA_SANDBOX_AUTH_KEY=$SIGNED" 
expect_code "first parameter alone" 200
expect_body "no query left" '.path == "/"'
hget "$HA" /app.js -b "$JAR"
expect_code "the page's own request, by the cookie" 200
expect_body "its path" '.path == "/app.js" and (.cookie // "" | contains("islet_preview") | not)'
cookie=$(awk '$6 == "islet_preview" {print $7}' "$JAR")
[[ -n "$cookie" ]] || fail "no islet_preview in the jar: $(cat "$JAR")"
hget "$HB" / -H "Cookie: islet_preview=$cookie"
expect_error "A's cookie on B's host" 401
# the last hex digit changed (a token that ends in 0 gets a 1)
alt=${SIGNED%?}0; [[ "$alt" != "$SIGNED" ]] || alt=${SIGNED%?}1
hget "$HA" "/?DAYTONA_SANDBOX_AUTH_KEY=$alt"
expect_error "an altered token in the query" 403
hget "$HA" / -H "Cookie: islet_preview=$alt"
expect_error "an altered cookie" 401
api POST "/api/sandbox/$A/ports/8080/signed-preview-url/$SIGNED/expire"
expect_code "expire the signed URL" 200
hget "$HA" / -b "$JAR"
expect_error "the cookie after the URL's expiry" 401

log "a WebSocket in the host form, its token in the query as a browser's SDK sends it"
api POST "$T/files/bulk-upload" -F "files[0].path=/tmp/ws.py" -F "files[0].file=@$HERE/preview/app.py;filename=ws.py"
expect_code "upload the WebSocket app" 200
api POST "$T/process/session" -d '{"sessionId":"ws"}'; expect_code "session" 201
api POST "$T/process/session/ws/exec" -d '{"command":"mkdir -p /tmp/www && python3 /tmp/ws.py 8081","runAsync":true}'
expect_code "start the WebSocket app" 202
api GET "/api/sandbox/$A/ports/8081/signed-preview-url?expiresInSeconds=60"
SIGNED_WS=$(jq -r .token <<<"$BODY")
for (( i = 0; i < 100; i++ )); do
  out=$(WS_HOST="8081-$A.$DOMAIN:$port" python3 "$HERE/preview/wsclient.py" 127.0.0.1 "$port"     "/ws?DAYTONA_SANDBOX_AUTH_KEY=$SIGNED_WS" "") && break
  sleep 0.1
done
[[ "$out" == ok ]] || fail "the WebSocket with the token in the query: $out"
out=$(WS_HOST="8081-$A.$DOMAIN:$port" python3 "$HERE/preview/wsclient.py" 127.0.0.1 "$port" /ws "") \
  && fail "a WebSocket without a token was let through"
[[ "$out" == *401* ]] || fail "a WebSocket without a token: $out"

log "the path form and the API are as they were"
SRV_URL="" api -k "" GET "$SRV_URL/preview/$A/8080/x" -H "x-daytona-preview-token: $TOKEN"
expect_code "the path form" 200
expect_body "its prefix" ".path == \"/x\" and .prefix == \"/preview/$A/8080\""
api GET "/api/sandbox/$A"
expect_code "the API on isletd's own host" 200
hget "8080-$A.other.test" /api/sandbox
expect_error "a host outside the domain is the API's" 401

log "audit and metrics"
api GET "/api/audit?sandbox=$A&limit=1000"
expect_code "the audit log" 200
ok=$(jq '[.items[] | select(.action == "preview.proxy" and .status == 200)] | length' <<<"$BODY")
(( ok >= 6 )) || fail "$ok proxied requests of A audited, want 6 or more: ${BODY:0:600}"
expect_body "no record of a refused token" '[.items[] | select(.action == "preview.proxy" and (.status == 401 or .status == 403))] | length == 0'
api GET /metrics
expect_code "metrics" 200
for st in 200 401 403; do
  grep -q "^isletd_http_requests_total{route=\"ANY /preview/{}/{} and <port>-<id> hosts\",status=\"$st\"} [1-9]" <<<"$BODY" \
    || fail "no proxied requests of status $st in /metrics: $(grep preview <<<"$BODY" | head -5)"
done
pass
