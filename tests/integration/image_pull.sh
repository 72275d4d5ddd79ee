#!/usr/bin/env bash
# Pull from a real registry on loopback: Debian's docker-registry, started
# here on a free port with a private storage directory, filled with images
# this test writes (tests/lib/mkimage.py) and pushes with skopeo.  Pull by
# tag (gzip layers), through an image index, with zstd layers, and by
# digest; through a front that wants Bearer tokens (tests/lib/token_proxy.py),
# anonymously and with Docker config.json credentials, a private image
# refused without them; a digest the registry does not serve and a blob tampered with in
# the registry's storage are refused and leave nothing in the store; a
# non-loopback registry is never spoken to in plain HTTP unless named.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/registry.sh"
it_init
[[ -x /bin/busybox ]] || fail "needs /bin/busybox (busybox-static)"
MK="$IT_PY $(dirname "$0")/../lib/mkimage.py"
W=$STATE.work
REG_PID= PROXY_PID=
trap 'for p in $REG_PID $PROXY_PID; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; it_cleanup' EXIT
# no credentials unless a step gives some: never root's own Docker config
export DOCKER_CONFIG=$W/no-docker-config

registry_start "$W"
PORT=${R##*:}

push () { # NAME SPEC-EXTRA COMPRESS
  printf '{"format":"oci","compress":"%s","config":{"Labels":{"n":"%s"},"Env":["PATH=/bin","FROM=%s"],"WorkingDir":"/srv","User":"1000:1000"},"layers":[[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493},{"name":"bin/sh","type":"symlink","target":"busybox"},{"name":"bin/cat","type":"symlink","target":"busybox"},{"name":"bin/id","type":"symlink","target":"busybox"},{"name":"srv","type":"dir","uid":1000,"gid":1000}],[{"name":"srv/hello","data":"%s\\n","uid":1000,"gid":1000}]]%s}' \
    "$3" "$1" "$1" "$1" "$2" >"$W/spec.json"
  rm -rf "$W/img"
  $MK "$W/spec.json" "$W/img" >/dev/null || fail "mkimage $1"
  skopeo copy -q --all --dest-tls-verify=false "oci:$W/img" "docker://$R/$1" >"$W/skopeo.log" 2>&1 \
    || fail "skopeo push of $1: $(cat "$W/skopeo.log")"
}

log "pull by tag, gzip layers"
push test/app:1 "" gzip
capture islet image pull "$R/test/app:1"
[[ $RC == 0 ]] || fail "pull by tag: $ERR"
[[ "$ERR" == *"verified"* ]] || fail "no progress on stderr: $ERR"
capture islet run --image "$R/test/app:1" -- sh -c 'id -u; pwd; echo $FROM; cat hello'
expect_eq "a sandbox from the pulled image" "$OUT" $'1000\n/srv\ntest/app:1\ntest/app:1'

log "pull through an image index, zstd layers"
push test/multi:2 ',"index":true' zstd
capture islet image pull --json "$R/test/multi:2"
[[ $RC == 0 ]] || fail "pull of an index with zstd layers: $ERR"
capture islet run --image "$R/test/multi:2" -- cat /srv/hello
expect_eq "the index's image" "$OUT" "test/multi:2"

log "pull by digest"
dg=$(skopeo inspect --raw --tls-verify=false "docker://$R/test/app:1" | sha256sum | cut -d' ' -f1)
capture islet image pull "$R/test/app@sha256:$dg"
[[ $RC == 0 ]] || fail "pull by digest: $ERR"
json=$(islet image inspect --json "$R/test/app@sha256:$dg")
expect_eq "the digest's name is recorded" "$(jget "$json" "\"$R/test/app@sha256:$dg\" in j[\"names\"]")" true
expect_eq "the manifest is the one asked for" "$(jget "$json" 'j["manifest"]')" "sha256:$dg"

log "a digest the registry does not have is refused"
before=$(islet image ls --json)
capture islet image pull "$R/test/app@sha256:$(printf x | sha256sum | cut -d' ' -f1)"
[[ $RC != 0 ]] || fail "a pull of an unknown digest succeeded"
log "refused: $ERR"

log "a blob tampered with in the registry is refused"
push test/bad:1 "" gzip
# the top layer's data file in the registry's storage: append a byte
man=$(skopeo inspect --raw --tls-verify=false "docker://$R/test/bad:1")
top=$(jget "$man" 'j["layers"][-1]["digest"][7:]')
data=$W/reg/docker/registry/v2/blobs/sha256/${top:0:2}/$top/data
[[ -f "$data" ]] || fail "no blob at $data"
printf 'x' >>"$data"
layers_before=$(ls "$STATE/images/layers" | wc -l)
capture islet image pull "$R/test/bad:1"
[[ $RC != 0 ]] || fail "a tampered blob was pulled"
[[ "$ERR" == *"has the digest"*"refused"* ]] || fail "the refusal does not say why: $ERR"
[[ ! -e "$STATE/images/blobs/sha256/$top" ]] || fail "the tampered blob is in the store"
expect_eq "no layer added" "$(ls "$STATE/images/layers" | wc -l)" "$layers_before"
capture islet image inspect "$R/test/bad:1"
[[ $RC != 0 ]] || fail "the tampered image is recorded"
[[ -z "$(ls -A "$STATE/images/tmp")" ]] || fail "temporaries left: $(ls -A "$STATE/images/tmp")"

log "the Bearer token flow: anonymous, and with Docker config.json credentials"
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$R/test/app:1" "docker://$R/private/app:1" \
  >"$W/skopeo.log" 2>&1 || fail "skopeo copy to private/: $(cat "$W/skopeo.log")"
"$IT_PY" "$(dirname "$0")/../lib/token_proxy.py" "$W/proxy.port" "$R" islet-user 's3cret pass' &
PROXY_PID=$!
wait_until 20 test -s "$W/proxy.port" || fail "the token proxy did not start"
P=127.0.0.1:$(cat "$W/proxy.port")
capture islet image pull "$P/test/app:1"
[[ $RC == 0 ]] || fail "an anonymous Bearer pull: $ERR"
capture islet image pull "$P/private/app:1"
[[ $RC != 0 && "$ERR" == *"no credentials"* ]] || fail "a private image without credentials ($RC): $ERR"
mkdir -p "$W/docker-config"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$P" "$(printf 'islet-user:s3cret pass' | base64 -w0)" \
  >"$W/docker-config/config.json"
DOCKER_CONFIG=$W/docker-config capture islet image pull "$P/private/app:1"
[[ $RC == 0 ]] || fail "a private image with credentials: $ERR"
capture islet run --image "$P/private/app:1" -- cat /srv/hello
expect_eq "the private image's file" "$OUT" "test/app:1"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$P" "$(printf 'islet-user:wrong' | base64 -w0)" \
  >"$W/docker-config/config.json"
DOCKER_CONFIG=$W/docker-config capture islet image pull "$P/private/app:1"
[[ $RC != 0 ]] || fail "a private image pulled with wrong credentials"

log "plain HTTP only to loopback or a named insecure registry"
# this machine's own non-loopback address: packets to it stay in the host
own=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')
if [[ -n "$own" ]]; then
  capture islet image pull "$own:$PORT/test/app:1"
  [[ $RC != 0 && "$ERR" == *"https://$own:$PORT"* ]] \
    || fail "a non-loopback registry was not asked over https ($RC): $ERR"
  capture islet image pull --insecure-registry "$own:$PORT" "$own:$PORT/test/app:1"
  [[ "$ERR" == *"http://$own:$PORT"* ]] || fail "--insecure-registry did not allow http: $ERR"
else
  log "no non-loopback address here: the https check is left out"
fi
pass "pulled by tag, index and digest; wrong digests refused; http only where allowed"
