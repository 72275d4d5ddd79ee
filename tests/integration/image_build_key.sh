#!/usr/bin/env bash
# islet image build's cache key: the same inputs again are the image already
# built (`"cached": true`, the same id), and a change of any input that can
# change what a RUN writes is a new build: the network (--network all after
# none), a limit a RUN can read (--memory), a build argument, a COPY
# source's contents, and the base image under the same name.  Each changed
# build is itself reused when asked for again, and the first inputs still
# find the first image.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/image.sh"
it_init
trap it_cleanup EXIT
W=$STATE.work
mkdir -p "$W/ctx"
test_image example.test/keybase:1 >/dev/null

echo one >"$W/ctx/f.txt"
cat >"$W/ctx/Dockerfile" <<'EOF'
FROM example.test/keybase:1
ARG A=1
COPY f.txt /f.txt
RUN cat /f.txt >/g.txt && echo "$A" >/a.txt
EOF

# build WHAT [ARGS...]: islet image build --json ARGS ctx; sets ID and CACHED
build () {
  local what=$1
  shift
  capture islet image build --json "$@" "$W/ctx"
  [[ $RC == 0 ]] || fail "$what: the build failed: $ERR"
  ID=$(jget "$OUT" 'j["ids"][0]')
  CACHED=$(jget "$OUT" 'j["cached"]')
}
# new WHAT ARGS...: a new build, not one already made
new () {
  build "$@"
  expect_eq "$1: built anew" "$CACHED" false
  [[ "$ID" != "$first" ]] || fail "$1: the first build's image $first"
  local id=$ID
  build "$1 again" "${@:2}"
  expect_eq "$1 again: reused" "$CACHED" true
  expect_eq "$1 again: its own image" "$ID" "$id"
}
# same WHAT ARGS...: the first build again
same () {
  build "$@"
  expect_eq "$1: reused" "$CACHED" true
  expect_eq "$1: the first image" "$ID" "$first"
}

log "the first build, then the same inputs: reused"
build "the first build"
expect_eq "the first build: built" "$CACHED" false
first=$ID
same "the same inputs"
same "--network none, said" --network none

log "each input that changes a RUN's result: a new build"
new "--network all" --network all
new "--memory 512" --memory 512
new "--build-arg A=2" --build-arg A=2
echo two >"$W/ctx/f.txt"
new "another f.txt"
echo one >"$W/ctx/f.txt"
same "f.txt as it was"
touch -d '2001-01-01' "$W/ctx/f.txt"
same "f.txt touched, its contents the same"

log "the base image changed under the same name: a new build"
cat >"$W/base.json" <<JSON
{"format":"oci","compress":"gzip","name":"example.test/keybase:1","config":{"Env":["PATH=/bin"]},
 "layers":[[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493},
   {"name":"bin/sh","type":"symlink","target":"busybox"},
   {"name":"bin/cat","type":"symlink","target":"busybox"},
   {"name":"bin/echo","type":"symlink","target":"busybox"},
   {"name":"etc","type":"dir"},{"name":"etc/base-two","data":"2\n"}]]}
JSON
"$IT_PY" "$(dirname "$0")/../lib/mkimage.py" "$W/base.json" "$W/oci" >/dev/null || fail "mkimage"
islet image import "$W/oci" >/dev/null || fail "import the second base"
new "another base image"
sb=$(create_sb --image "$ID")
remember_id "$sb"
xjson "$sb" -- cat /etc/base-two /g.txt
expect_eq "the new build is on the new base" "$(jget "$OUT" 'j["stdout"]')" $'2\none'
pass
