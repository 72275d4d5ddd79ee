#!/usr/bin/env bash
# An image in the store (here imported with `islet image import`) is what a
# Daytona create asks for, as the SDK sends it: snapshot NAME, or
# create({image: NAME}) as the Dockerfile "FROM NAME" alone.  The sandbox
# has the image's files and its Env and WorkingDir; the object names the
# image.  A real build answers at once (pending_build), then the sandbox
# starts on the built image.  An image not on this machine that cannot be
# pulled, and a build that fails, leave the sandbox in error or
# build_failed with the reason (and the core has nothing of it); a
# Dockerfile with context files, or two images named, are a 400.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_image.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/image.sh"

srv_init

log "== an image, imported"
want=$(test_image example.test/api:1)
[[ "$want" == sha256:* ]] || fail "test_image printed '$want', not an image id"


# failed BODY STATE WORDS: the create answers at once, then the sandbox is
# STATE with an errorReason that matches WORDS; deleted after
failed () {
  local id
  api POST /api/sandbox -d "$1"
  expect_code "create $1" 200
  id=$(jq -r .id <<<"$BODY")
  wait_sandbox "$id" "$2"
  expect_body "create $1: the reason says why" ".errorReason | test(\"$3\")"
  api DELETE "/api/sandbox/$id"
  expect_code "delete the $2 sandbox" 200
}

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
expect_body "pending_build at once" '.state == "pending_build"'
wait_sandbox "$D" started
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
failed '{"buildInfo":{"dockerfileContent":"FROM example.test/none:1\n"}}' error \
  '^image `example.test/none:1` is not on this machine and its pull failed: '
# a Dockerfile is built: a RUN that fails says which step and why
failed '{"buildInfo":{"dockerfileContent":"FROM example.test/api:1\nRUN echo about to fail; exit 3\n"}}' \
  build_failed '^buildInfo: the image build failed: step 2/2 .*exited with status 3: about to fail'
# a Dockerfile the build cannot read is refused at once, naming its line
refused '{"buildInfo":{"dockerfileContent":"FROM --platform=linux/arm64 example.test/api:1\n"}}' \
  '^buildInfo.dockerfileContent: line 1: FROM .*flags are not supported'
refused '{"buildInfo":{"dockerfileContent":"FROM example.test/api:1\nRUN true\nRUN --network=none true\n"}}' \
  '^buildInfo.dockerfileContent: line 3: RUN flags .--network=none. are not supported'
refused '{"buildInfo":{"dockerfileContent":"FROM example.test/api:1\n","contextHashes":["abc"]}}' \
  '^buildInfo.contextHashes: no context abc was uploaded by this key'
refused '{"snapshot":"example.test/api:1","buildInfo":{"dockerfileContent":"FROM example.test/api:1\n"}}' \
  'both name an image'
[[ $(islet ls --json | jq '.sandboxes | length') == "$n_before" ]] || fail "a refused create left a sandbox: $(islet ls)"

log "== a build's new layers are bounded by the key's disk quota"
capture isletd_cmd key create --name tiny --max-disk 2
expect_eq "key create with 2 MiB of disk" "$RC" 0
tiny=$OUT
# the sandbox's own disk (0.001 GiB: 2 MiB) fits the quota: the row is
# taken, the build runs, and its layers are what is over it
api -k "$tiny" POST /api/sandbox -d '{"disk":0.001,"buildInfo":{"dockerfileContent":"FROM example.test/api:1\nRUN head -c 3000000 /dev/zero >/srv/big\n"}}'
expect_code "a build past the key's disk quota" 200
big=$(jq -r .id <<<"$BODY")
for (( i = 0; i < 600; i++ )); do
  api -k "$tiny" GET "/api/sandbox/$big"
  [[ $(jq -r .state <<<"$BODY") == build_failed ]] && break
  sleep 0.1
done
expect_body "it says so" '.state == "build_failed" and (.errorReason | test("new layers come to more than 2 MB"))'
api -k "$tiny" DELETE "/api/sandbox/$big"
expect_code "delete the build past the quota" 200
[[ $(islet ls --json | jq '.sandboxes | length') == "$n_before" ]] || fail "a refused build left a sandbox: $(islet ls)"

pass
