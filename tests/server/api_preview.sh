#!/usr/bin/env bash
# Preview links (GET /api/sandbox/{id}/ports/{port}/preview-url and
# signed-preview-url): an app started inside a sandbox on its loopback is
# fetched through isletd with the sandbox's token, and refused without it,
# with a wrong one, with another sandbox's, with an expired or altered
# signed URL; a port with nothing on it is a 502 naming it, a stopped
# sandbox a 409.  The body goes both ways as it comes (a 3 s pause in the
# app's answer reaches the client as a pause, a 6 MB upload arrives whole),
# a WebSocket echo works through it, and the sandbox's network is as it
# was: loopback only.  Needs root.  Exit 0 pass, 1 fail.
#   ISLET_BIN=build/islet bash tests/server/api_preview.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

# room for more than a key's 128 proxied connections from this one address
SRV_ARGS=(--max-client-connections 256)
srv_init
command -v python3 >/dev/null || fail "needs python3"

api POST /api/sandbox -d '{}'; expect_code "create A" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
api POST /api/sandbox -d '{}'; expect_code "create B" 200
B=$(jq -r .id <<<"$BODY"); remember_id "$B"
T="/toolbox/$A"

[[ $(stat -c %a "$STATE/preview.key") == 600 ]] || fail "preview.key is not 0600"

log "== the app inside A"
# ifaces: the interfaces of A's network namespace, in IFACES
ifaces () { sh_in 'cat /proc/net/dev'; IFACES=$(tail -n +3 <<<"$OUT" | cut -d: -f1 | tr -d ' '); }
ifaces; [[ "$IFACES" == lo ]] || fail "A's interfaces before: $IFACES"
api POST "$T/files/bulk-upload" -F "files[0].path=/tmp/app.py" -F "files[0].file=@$HERE/preview/app.py;filename=app.py"
expect_code "upload the app" 200
sh_in 'mkdir -p /tmp/www && head -c 3000000 /dev/urandom >/tmp/www/blob && sha256sum </tmp/www/blob'
BLOB_SHA=${OUT%% *}
api POST "$T/process/session" -d '{"sessionId":"app"}'; expect_code "session" 201
api POST "$T/process/session/app/exec" -d '{"command":"python3 /tmp/app.py 8080","runAsync":true}'
expect_code "start the app" 202

api GET "/api/sandbox/$A/ports/8080/preview-url"; expect_code "preview-url" 200
expect_body "preview-url's shape" "(.sandboxId == \"$A\") and (.url == \"$SRV_URL/preview/$A/8080\") and (.token | test(\"^[0-9a-f]{32}$\"))"
URL=$(jq -r .url <<<"$BODY"); TOKEN=$(jq -r .token <<<"$BODY")
api GET "/api/sandbox/$B/ports/8080/preview-url"; expect_code "B's preview-url" 200
TOKEN_B=$(jq -r .token <<<"$BODY")
[[ "$TOKEN_B" != "$TOKEN" ]] || fail "A and B have the same preview token"
api GET "/api/sandbox/$A/ports/0/preview-url"; expect_error "port 0" 400
api GET "/api/sandbox/$A/ports/70000/preview-url"; expect_error "port 70000" 400

# get URL [curl options], post URL [...]: through the proxy, no API key;
# BODY, CODE
get () { local u=$1; shift; SRV_URL="" api -k "" GET "$u" "$@"; }
post () { local u=$1; shift; SRV_URL="" api -k "" POST "$u" "$@"; }

for (( i = 0; i < 100; i++ )); do
  get "$URL/" -H "x-daytona-preview-token: $TOKEN"
  [[ "$CODE" == 200 ]] && break
  sleep 0.1
done
[[ "$CODE" == 200 ]] || fail "the app never answered through the proxy: $CODE $BODY"

log "== with the token"
got=$(curl -s --max-time 30 -H "x-daytona-preview-token: $TOKEN" "$URL/blob?x=1" | sha256sum | cut -d' ' -f1)
[[ "$got" == "$BLOB_SHA" ]] || fail "the file through the proxy differs: $got, want $BLOB_SHA"
head -c 6000000 /dev/urandom >"$STATE.up"
want="6000000 $(sha256sum <"$STATE.up" | cut -d' ' -f1) /echo?q=a%20b"
post "$URL/echo?q=a%20b" -H "x-daytona-preview-token: $TOKEN" --data-binary @"$STATE.up"
expect_code "an upload through the proxy" 200
[[ "$BODY" == "$want" ]] || fail "the app got: $BODY, want $want"
post "$URL/echo" -H "x-daytona-preview-token: $TOKEN" -H 'Transfer-Encoding: chunked' --data-binary @"$STATE.up"
[[ "$BODY" == "${want%%/echo*}/echo" ]] || fail "a chunked upload: the app got $BODY"
prefix=$(curl -s -D - -o /dev/null -H "x-daytona-preview-token: $TOKEN" -d x "$URL/echo" | tr -d '\r' | sed -n 's/^X-App-Prefix: //ip')
[[ "$prefix" == "/preview/$A/8080" ]] || fail "X-Forwarded-Prefix reached the app as '$prefix'"

len=$(curl -s -I --max-time 10 -H "x-daytona-preview-token: $TOKEN" "$URL/blob" | tr -d '\r' | sed -n 's/^Content-Length: //ip')
[[ "$len" == 3000000 ]] || fail "HEAD through the proxy: Content-Length '$len', want the app's 3000000"

log "== streamed, not held"
# the app sends its second piece 3 s after its first: a client that gives
# up after 2 s has the first already, unless the proxy held it back
first=$(curl -s -N --max-time 2 -H "x-daytona-preview-token: $TOKEN" "$URL/stream" || true)
[[ "$first" == first ]] || fail "the stream's first piece within 2 s: '$first' (held until the end?)"
all=$(curl -s --max-time 20 -H "x-daytona-preview-token: $TOKEN" "$URL/stream")
[[ "$all" == $'first\nsecond' ]] || fail "the whole stream: '$all'"

log "== refused"
get "$URL/blob"; expect_error "no token" 401
expect_body "it names the header" '.message | test("x-daytona-preview-token")'
get "$URL/blob" -H "x-daytona-preview-token: 0123456789abcdef0123456789abcdef"; expect_error "a wrong token" 403
get "$URL/blob" -H "x-daytona-preview-token: $TOKEN_B"; expect_error "B's token on A" 403
get "$URL/blob" -H "Authorization: Bearer $SRV_KEY"; expect_error "an API key is no preview token" 401
get "$SRV_URL/preview/000000000000/8080/" -H "x-daytona-preview-token: $TOKEN"; expect_error "no such sandbox" 403
get "$SRV_URL/preview/$A/9/" -H "x-daytona-preview-token: $TOKEN"; expect_error "a closed port" 502
expect_body "it names the port" '.message | test("port 9 ")'

log "== signed"
api GET "/api/sandbox/$A/ports/8080/signed-preview-url?expiresInSeconds=3"; expect_code "signed" 200
expect_body "signed's shape" "(.sandboxId == \"$A\") and .port == 8080 and (.url | startswith(\"$SRV_URL/preview/$A/8080.\")) and (.token as \$t | .url | endswith(\$t))"
SURL=$(jq -r .url <<<"$BODY")
got=$(curl -s --max-time 30 "$SURL/blob" | sha256sum | cut -d' ' -f1)
[[ "$got" == "$BLOB_SHA" ]] || fail "the file through the signed URL differs"
bad=$(sed 's/.$/0/' <<<"$SURL"); [[ "$bad" != "$SURL" ]] || bad=$(sed 's/.$/1/' <<<"$SURL")
get "$bad/blob"; expect_error "an altered signature" 403
expect_body "it says altered" '.message | test("altered")'
later=$(sed -E "s|/8080\.([0-9]+)\.|/8080.9\1.|" <<<"$SURL")
get "$later/blob"; expect_error "a later expiry with the old signature" 403
get "${SURL/\/8080./\/8081.}/blob"; expect_error "the signature on another port" 403
api GET "/api/sandbox/$A/ports/8080/signed-preview-url?expiresInSeconds=0"; expect_error "0 s" 400
api GET "/api/sandbox/$A/ports/8080/signed-preview-url?expiresInSeconds=600"; expect_code "signed for 600 s" 200
S2URL=$(jq -r .url <<<"$BODY"); S2TOK=$(jq -r .token <<<"$BODY")
get "$S2URL/"; expect_code "the 600 s URL" 200
alt=${S2TOK%?}0; [[ "$alt" != "$S2TOK" ]] || alt=${S2TOK%?}1
api POST "/api/sandbox/$A/ports/8080/signed-preview-url/$alt/expire"; expect_error "expire an altered token" 400
api POST "/api/sandbox/$A/ports/8081/signed-preview-url/$S2TOK/expire"; expect_error "expire on another port" 400
api POST "/api/sandbox/$B/ports/8080/signed-preview-url/$S2TOK/expire"; expect_error "expire on another sandbox" 400
get "$S2URL/"; expect_code "the 600 s URL, still" 200
api POST "/api/sandbox/$A/ports/8080/signed-preview-url/$S2TOK/expire"; expect_code "expire it" 200
get "$S2URL/"; expect_error "an URL expired by its owner" 403
expect_body "it says so" '.message | test("expired by its owner")'
api GET "/api/audit?limit=5"
expect_body "the expiry is in the audit log" '[.items[] | .action] | index("sandbox.preview.expire") != null'
sleep 4
get "$SURL/blob"; expect_error "an expired signed URL" 403
expect_body "it says expired" '.message | test("expired")'

log "== WebSocket"
port=${SRV_URL##*:}
out=$(python3 "$HERE/preview/wsclient.py" 127.0.0.1 "$port" "/preview/$A/8080/ws" "$TOKEN") \
  || fail "WebSocket echo through the proxy: $out"
out=$(python3 "$HERE/preview/wsclient.py" 127.0.0.1 "$port" "/preview/$A/8080/ws" "") && fail "a WebSocket without the token was let through"
[[ "$out" == *" 401 "* ]] || fail "a WebSocket without the token: '$out', want 401"

log "== proxied connections count under the key"
out=$(python3 "$HERE/preview/wsclient.py" 127.0.0.1 "$port" "/preview/$A/8080/ws" "$TOKEN" 128) \
  || fail "128 WebSockets at once: $out"
[[ $(sed -n 1p <<<"$out") == *" 429 "* ]] || fail "the 129th proxied connection of a key: '$(sed -n 1p <<<"$out")', want 429"
[[ $(sed -n 2p <<<"$out") == *" 101 "* ]] || fail "once one closed: '$(sed -n 2p <<<"$out")', want 101"

log "== the sandbox's network is as it was"
ifaces; [[ "$IFACES" == lo ]] || fail "A's interfaces after: $IFACES"
sh_in "python3 /tmp/app.py probe $port"
[[ "$OUT" == ConnectionRefusedError ]] || fail "isletd's port from inside A: $OUT"

log "== public"
api POST /api/sandbox -d '{"public":"yes"}'; expect_error "public not a boolean" 400
api POST /api/sandbox -d '{"public":true}'; expect_code "create C public" 200
C=$(jq -r .id <<<"$BODY"); remember_id "$C"
expect_body "C says it is public" '.public == true'
api GET "/api/sandbox/$A"; expect_body "A says it is not" '.public == false'
api GET "/api/sandbox?isPublic=true"; expect_code "list public" 200
expect_body "only C is listed public" "[.items[].id] == [\"$C\"]"
api POST "/toolbox/$C/files/bulk-upload" -F "files[0].path=/tmp/app.py" -F "files[0].file=@$HERE/preview/app.py;filename=app.py"
expect_code "upload the app to C" 200
api POST "/toolbox/$C/process/session" -d '{"sessionId":"app"}'; expect_code "C's session" 201
api POST "/toolbox/$C/process/session/app/exec" -d '{"command":"sh -c \"mkdir -p /tmp/www && echo public >/tmp/www/p && exec python3 /tmp/app.py 8080\"","runAsync":true}'
expect_code "start C's app" 202
for (( i = 0; i < 100; i++ )); do
  get "$SRV_URL/preview/$C/8080/p"
  [[ "$CODE" == 200 ]] && break
  sleep 0.1
done
[[ "$CODE" == 200 && "$BODY" == public ]] || fail "C's preview without a token: $CODE $BODY"
get "$SRV_URL/preview/$C/8080/p" -H "x-daytona-preview-token: $TOKEN"; expect_code "a public preview ignores a wrong token" 200
api POST "/api/sandbox/$C/public/false"; expect_code "C made private" 200
expect_body "C says it is private" '.public == false'
get "$SRV_URL/preview/$C/8080/p"; expect_error "C private, no token" 401
api POST "/api/sandbox/$C/public/maybe"; expect_error "isPublic maybe" 400
api POST "/api/sandbox/$C/public/true"; expect_code "C public again" 200
get "$SRV_URL/preview/$C/8080/p"; expect_code "C public again, no token" 200
api -k "$(new_key other)" POST "/api/sandbox/$C/public/false"; expect_error "another key cannot change it" 404
get "$SRV_URL/preview/$C/8080/p"; expect_code "still public" 200

log "== a stopped sandbox"
api POST "/api/sandbox/$B/stop"; expect_code "stop B" 200
get "$SRV_URL/preview/$B/8080/" -H "x-daytona-preview-token: $TOKEN_B"; expect_error "B stopped" 409
expect_body "it says why" '.message | test("not running")'
pass
