#!/usr/bin/env bash
# An image in the store (here imported with `islet image import`) is what a
# Daytona create asks for, as the SDK sends it: snapshot NAME, or
# create({image: NAME}) as the Dockerfile "FROM NAME" alone.  The sandbox
# has the image's files and its Env and WorkingDir; the object names the
# image.  An image not on this machine that cannot be pulled, and any real
# build, are a 400 that says why, and nothing is made.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_image.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/image.sh"

srv_init

log "== an image, imported"
want=$(test_image example.test/api:1)
[[ "$want" == sha256:* ]] || fail "test_image printed '$want', not an image id"

# in_image WHAT ID: the sandbox runs on the image: its file, Env, WorkingDir
in_image () {
  api POST "/toolbox/$2/process/execute" \
    -d '{"command":"sh -c \"cat /srv/app/only-in-the-image; echo $GREETING; pwd\""}'
  expect_code "$1: execute" 200
  expect_body "$1: the image's file, Env and WorkingDir" \
    '.exitCode == 0 and .result == "image file\nhello from the image\n/srv/app\n"'
}

log "== snapshot: the image's name"
api POST /api/sandbox -d '{"snapshot":"example.test/api:1","env":{},"labels":{}}'
expect_code "create with snapshot" 200; A=$(jq -r .id <<<"$BODY"); remember_id "$A"
expect_body "the object names the image" ".snapshot == \"$want\""
in_image "snapshot" "$A"
api GET "/api/sandbox/$A"; expect_body "get names the image" ".snapshot == \"$want\""

log "== buildInfo FROM the image (the SDK's create({image}))"
api POST /api/sandbox -d '{"buildInfo":{"dockerfileContent":"FROM example.test/api:1\n"},"env":{},"labels":{}}'
expect_code "create with buildInfo FROM" 200; B=$(jq -r .id <<<"$BODY"); remember_id "$B"
expect_body "the object names the image" ".snapshot == \"$want\""
in_image "buildInfo FROM" "$B"

log "== buildInfo with more than FROM: built, each RUN in a sandbox, then the image"
api POST /api/sandbox -d '{"buildInfo":{"dockerfileContent":"FROM example.test/api:1\nENV BUILT=\"yes it is\"\nRUN echo built >/srv/app/built\n"},"env":{},"labels":{}}'
expect_code "create with a Dockerfile" 200; D=$(jq -r .id <<<"$BODY"); remember_id "$D"
expect_body "the object names the built image" '.snapshot | test("^sha256:") and . != "'"$want"'"'
api POST "/toolbox/$D/process/execute" -d '{"command":"sh -c \"cat /srv/app/built /srv/app/only-in-the-image; echo $BUILT\""}'
expect_body "the RUN's file, the base's file, ENV" '.result == "built\nimage file\nyes it is\n"'

log "== the default image is untouched"
api POST /api/sandbox -d '{"env":{},"labels":{}}'
expect_code "create without an image" 200; C=$(jq -r .id <<<"$BODY"); remember_id "$C"
api POST "/toolbox/$C/process/execute" -d '{"command":"test -e /srv/app/only-in-the-image"}'
expect_body "a default sandbox has not the image's file" '.exitCode != 0'

log "== refused, and nothing made"
n_before=$(islet ls --json | jq '.sandboxes | length')
# refused BODY WORDS: a 400 whose message matches WORDS
refused () {
  api POST /api/sandbox -d "$1"
  expect_error "create $1" 400
  expect_body "create $1: the message says why" ".message | test(\"$2\")"
}
refused '{"snapshot":"example.test/none:1"}' 'image `example.test/none:1` is not on this machine.*islet image pull example.test/none:1'
# (isletd tries to pull it: the registry example.test cannot be reached)
refused '{"buildInfo":{"dockerfileContent":"FROM example.test/none:1\n"}}' \
  '^image `example.test/none:1` is not on this machine and its pull failed: '
# a Dockerfile is built: a RUN that fails says which step and why
refused '{"buildInfo":{"dockerfileContent":"FROM example.test/api:1\nRUN echo about to fail; exit 3\n"}}' \
  '^buildInfo: the image build failed: step 2/2 .*exited with status 3: about to fail'
refused '{"buildInfo":{"dockerfileContent":"FROM --platform=linux/arm64 example.test/api:1\n"}}' \
  '^buildInfo: the image build failed: line 1: FROM .*flags are not supported'
refused '{"buildInfo":{"dockerfileContent":"FROM example.test/api:1\n","contextHashes":["abc"]}}' \
  '^buildInfo.contextHashes: no context abc was uploaded by this key'
refused '{"snapshot":"example.test/api:1","buildInfo":{"dockerfileContent":"FROM example.test/api:1\n"}}' \
  'both name an image'
[[ $(islet ls --json | jq '.sandboxes | length') == "$n_before" ]] || fail "a refused create left a sandbox: $(islet ls)"

log "== a build's new layers are bounded by the key's disk quota"
capture isletd_cmd key create --name tiny --max-disk 1
expect_eq "key create with 1 MiB of disk" "$RC" 0
api -k "$OUT" POST /api/sandbox -d '{"buildInfo":{"dockerfileContent":"FROM example.test/api:1\nRUN head -c 3000000 /dev/zero >/srv/big\n"}}'
expect_error "a build past the key's disk quota" 429
expect_body "it says so" '.message | test("new layers come to more than 1 MB")'
[[ $(islet ls --json | jq '.sandboxes | length') == "$n_before" ]] || fail "a refused build left a sandbox: $(islet ls)"

pass
