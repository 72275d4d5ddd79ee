#!/usr/bin/env bash
# Pulls the other lines of the image list ask for, from a real registry on
# loopback (Debian's docker-registry, started here with htpasswd auth, so
# the registry itself answers 401 with a Basic challenge): without
# credentials the pull is refused, naming them, and nothing is stored;
# with wrong ones in Docker's config.json it is refused too; with the right
# ones it is pulled.  The image is pushed as Docker schema 2 (skopeo
# --format v2s2, a Docker manifest list in front of the manifest), and the
# registry is checked to serve those media types.  Its config's Entrypoint
# and Cmd are applied by `islet run --image` (Entrypoint then Cmd, or
# Entrypoint then the command given).
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/registry.sh"
it_init
[[ -x /bin/busybox ]] || fail "needs /bin/busybox (busybox-static)"
MK="$IT_PY $(dirname "$0")/../lib/mkimage.py"
W=$STATE.work
REG_PID=
trap 'rc=$?; set +e; kill $REG_PID 2>/dev/null; wait 2>/dev/null; (exit $rc); it_cleanup' EXIT
mkdir -p "$W/good" "$W/bad"
export DOCKER_CONFIG=$W/no-docker-config

"$IT_PY" -c 'import crypt; print("tester:" + crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH)))' \
  >"$W/htpasswd" 2>/dev/null || fail "a bcrypt htpasswd entry"
registry_start "$W" "$W/htpasswd"
expect_eq "the registry's challenge" \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://$R/v2/")" 401

cat >"$W/spec.json" <<EOF2
{"format":"oci","compress":"gzip","index":true,
 "config":{"Env":["PATH=/bin"],"Entrypoint":["/bin/echo","ep"],"Cmd":["from-cmd"]},
 "layers":[[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493},
   {"name":"bin/sh","type":"symlink","target":"busybox"},{"name":"bin/echo","type":"symlink","target":"busybox"},
   {"name":"bin/cat","type":"symlink","target":"busybox"},{"name":"srv","type":"dir"},
   {"name":"srv/hello","data":"basic\n"}]]}
EOF2
$MK "$W/spec.json" "$W/img" >/dev/null || fail "mkimage"
skopeo copy -q --all --format v2s2 --dest-tls-verify=false --dest-creds tester:s3cret \
  "oci:$W/img" "docker://$R/private/app:1" >"$W/skopeo.log" 2>&1 \
  || fail "skopeo push: $(cat "$W/skopeo.log")"
REF=$R/private/app:1

# the registry serves Docker's media types: a manifest list, then schema 2
accept='application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json'
top=$(curl -s -u tester:s3cret -H "Accept: $accept" "http://$R/v2/private/app/manifests/1")
expect_eq "the tag's media type" "$(jq -r .mediaType <<<"$top")" \
  application/vnd.docker.distribution.manifest.list.v2+json
sub=$(jq -r '.manifests[0].digest' <<<"$top")
expect_eq "the list's manifest" "$(curl -s -u tester:s3cret -H "Accept: $accept" \
  "http://$R/v2/private/app/manifests/$sub" | jq -r .mediaType)" \
  application/vnd.docker.distribution.manifest.v2+json

log "no credentials: refused, nothing stored"
capture islet image pull "$REF"
[[ $RC != 0 ]] || fail "a pull without credentials succeeded"
[[ "$ERR" == *"wants credentials"* ]] || fail "the refusal does not say why: $ERR"
islet image ls | grep -q private/app && fail "the refused image is listed"

log "wrong credentials: refused"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R" "$(printf tester:wrong | base64)" >"$W/bad/config.json"
DOCKER_CONFIG=$W/bad capture islet image pull "$REF"
[[ $RC != 0 ]] || fail "a pull with wrong credentials succeeded"
[[ "$ERR" == *"access denied"* ]] || fail "the refusal does not say why: $ERR"
islet image ls | grep -q private/app && fail "the refused image is listed"

log "the right credentials: pulled"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R" "$(printf tester:s3cret | base64)" >"$W/good/config.json"
DOCKER_CONFIG=$W/good capture islet image pull "$REF"
[[ $RC == 0 ]] || fail "a pull with credentials: $ERR"
islet image ls | grep -q private/app || fail "the pulled image is not listed"

log "Entrypoint and Cmd"
capture islet run --image "$REF"
expect_eq "Entrypoint then Cmd" "$OUT" "ep from-cmd"
capture islet run --image "$REF" -- given
expect_eq "Entrypoint then the command given" "$OUT" "ep given"
pass "Basic auth at the registry, Docker schema 2 and manifest lists, Entrypoint and Cmd"
