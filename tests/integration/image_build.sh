#!/usr/bin/env bash
# islet image build: a Dockerfile on a base image the test makes.  Each RUN
# runs in an islet sandbox (its hostname is the build sandbox's, nothing of
# it reaches the host), and what it changed becomes a layer: a new file, a
# deleted base file (a whiteout), a directory replaced (opaque); ARG with
# --build-arg, ENV, WORKDIR (made), USER, CMD, LABEL and COPY (--chown) are
# applied in a sandbox from the result.  The same build again is a cache
# hit; a failing RUN leaves no image, record, sandbox or temporary, nor
# does kill -9 of a build once the next build has run; a sparse file past
# the disk limit is refused before it is written out; a COPY
# out of the context (`..`, a symlink) and an instruction islet does not
# build are refused, naming what.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/image.sh"
it_init
MK="$IT_PY $(dirname "$0")/../lib/mkimage.py"
W=$STATE.work
mkdir -p "$W/ctx/files/sub"
[[ -x /bin/busybox ]] && file -L /bin/busybox | grep -q 'statically linked' \
  || fail "needs a static /bin/busybox (busybox-static; scripts/install-deps installs it)"

applets='sh cat ls rm id pwd echo mkdir stat hostname chown truncate'
layer='[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493}'
for a in $applets; do layer+=",{\"name\":\"bin/$a\",\"type\":\"symlink\",\"target\":\"busybox\"}"; done
layer+=',{"name":"etc","type":"dir"},
  {"name":"etc/passwd","data":"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/srv/app:/bin/sh\n"},
  {"name":"etc/group","data":"root:x:0:\napp:x:1000:\n"},{"name":"etc/doomed","data":"x\n"},
  {"name":"data","type":"dir"},{"name":"data/old","data":"old\n"},
  {"name":"home","type":"dir"},{"name":"home/app","type":"dir","uid":1000,"gid":1000,"mode":448},
  {"name":"tmp","type":"dir","mode":1023}]'
printf '{"format":"oci","compress":"gzip","name":"example.test/base:1","config":{"Env":["PATH=/bin"],"Labels":{"from":"base"}},"layers":[%s]}' \
  "$layer" >"$W/spec.json"
$MK "$W/spec.json" "$W/oci" >/dev/null || fail "mkimage"
islet image import "$W/oci" >/dev/null || fail "import the base image"

echo one >"$W/ctx/one.txt"
echo a >"$W/ctx/files/a"
echo b >"$W/ctx/files/sub/b"
cat >"$W/ctx/Dockerfile" <<'EOF'
# a comment
ARG BASE=example.test/base:1
FROM $BASE
ARG WHO=nobody
ENV APP_HOME=/srv/app GREETING="hello build"
RUN echo "$WHO" >/built-by && hostname >/built-host \
 && rm /etc/doomed && rm -rf /data && mkdir /data && echo new >/data/new
WORKDIR $APP_HOME/work
RUN echo made-in-workdir >here
COPY files/ ./copied/
COPY --chown=1000:1000 one.txt /home/app/
USER app
RUN id -u >/home/app/ran-as
CMD ["sh", "-c", "echo cmd as $(id -u)"]
LABEL purpose=test
EOF

log "a build: steps and each RUN's output on stderr"
capture islet image build -t example.test/built:1 --build-arg WHO=tester "$W/ctx"
[[ $RC == 0 ]] || fail "build: $ERR"
id=$OUT
[[ "$id" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "build printed '$id', not an image id"
[[ "$ERR" == *"step 1/13: ARG"* && "$ERR" == *"step 5/13: RUN"* ]] || fail "no step lines: $ERR"

log "a sandbox from it"
sb=$(create_sb --image example.test/built:1); remember_id "$sb"
xjson "$sb" -- sh -c 'cat /built-by; ls /etc/doomed 2>/dev/null || echo whited-out; ls /data; pwd; id -u; echo "$GREETING"; cat here'
expect_eq "RUN's files, a whiteout, an opaque directory, WORKDIR, USER, ENV" "$(jget "$OUT" 'j["stdout"]')" \
  $'tester\nwhited-out\nnew\n/srv/app/work\n1000\nhello build\nmade-in-workdir'
xjson "$sb" -- cat /built-host
[[ "$(jget "$OUT" 'j["stdout"]')" == islet-build-* ]] || fail "the RUN did not run in a build sandbox: $OUT"
[[ ! -e /built-by && ! -e /built-host ]] || fail "a RUN wrote on the host"
xjson "$sb" -- sh -c 'cat copied/a copied/sub/b /home/app/ran-as; stat -c "%u:%g %a" /home/app/one.txt /home/app /srv/app/work/here /home/app/ran-as'
expect_eq "COPY of a directory's contents, --chown, owners kept, a RUN as USER" "$(jget "$OUT" 'j["stdout"]')" \
  $'a\nb\n1000\n1000:1000 644\n1000:1000 700\n0:0 644\n1000:1000 644'
capture islet run --image example.test/built:1
expect_eq "CMD" "$OUT" "cmd as 1000"
capture islet image inspect --json example.test/built:1
expect_eq "LABEL" "$(jget "$OUT" 'j["config"]["Labels"]["purpose"]')" test
expect_eq "the base's label is inherited" "$(jget "$OUT" 'j["config"]["Labels"]["from"]')" base
expect_eq "layers: the base's and one per RUN, WORKDIR (made) and COPY" "$(jget "$OUT" 'len(j["layers"])')" 7
islet rm -f "$sb" >/dev/null
store_ok "after the build"
expect_eq "sandboxes left" "$(jget "$(islet ls --json)" 'len(j["sandboxes"])')" 0

log "the same build again: the image already built, at once"
t0=$(date +%s%N)
capture islet image build --json -t example.test/again:1 --build-arg WHO=tester "$W/ctx"
t1=$(( ($(date +%s%N) - t0) / 1000000 ))
[[ $RC == 0 ]] || fail "second build: $ERR"
expect_eq "a cache hit" "$(jget "$OUT" 'j["cached"]')" true
expect_eq "the same image" "$(jget "$OUT" 'j["ids"][0]')" "$id"
expect_range "a cache hit's time (ms)" "$t1" 0 5000
capture islet image build --build-arg WHO=other "$W/ctx"
[[ $RC == 0 && "$OUT" != "$id" ]] || fail "another build argument is another image: $OUT $ERR"

log "a failing RUN: an error naming the step and its output, nothing left"
records=$(ls "$STATE/images/meta" | wc -l)
printf 'FROM example.test/base:1\nRUN echo first >/f\nRUN echo about to fail && exit 3\n' >"$W/fail"
capture islet image build -t example.test/failed:1 -f "$W/fail"
[[ $RC != 0 ]] || fail "a failing RUN built"
[[ "$ERR" == *"step 3/3"*"status 3"*"about to fail"* ]] || fail "the error does not say which step failed and why: $ERR"
capture islet image inspect example.test/failed:1
[[ $RC != 0 ]] || fail "a failed build left an image"
expect_eq "no image record left" "$(ls "$STATE/images/meta" | wc -l)" "$records"
[[ -z "$(ls -A "$STATE/images/build")" ]] || fail "temporaries left: $(ls "$STATE/images/build")"
expect_eq "build sandboxes left" "$(jget "$(islet ls --json)" 'len(j["sandboxes"])')" 0
store_ok "after a failed build"

log "kill -9 of a build in its RUN: no image that looks complete; the next build removes what it left"
records=$(ls "$STATE/images/meta" | wc -l)
printf 'FROM example.test/base:1\nRUN echo started && sleep 60\n' >"$W/slow"
"$ISLET_BIN" --state-dir "$STATE" image build -t example.test/killed:1 -f "$W/slow" >/dev/null 2>"$W/slow.err" </dev/null &
cli=$!
wait_until 60 grep -q '^started' "$W/slow.err" || fail "the slow RUN did not start: $(cat "$W/slow.err")"
pkill -9 -P "$cli" -x islet-image 2>/dev/null || true
kill -9 "$cli" 2>/dev/null || true
wait "$cli" 2>/dev/null || true
capture islet image inspect example.test/killed:1
[[ $RC != 0 ]] || fail "a killed build left a named image"
expect_eq "the killed build's sandbox is still there until the next build" \
  "$(jget "$(islet ls --json)" 'len([s for s in j["sandboxes"] if s["name"].startswith("islet-build-")])')" 1
printf 'FROM example.test/base:1\nRUN echo quick >/q\n' >"$W/quick"
capture islet image build -f "$W/quick"
[[ $RC == 0 ]] || fail "a build after a killed one: $ERR"
expect_eq "the killed build's sandbox is gone" "$(jget "$(islet ls --json)" 'len(j["sandboxes"])')" 0
expect_eq "its partial records are gone (one new image)" "$(ls "$STATE/images/meta" | wc -l)" $(( records + 1 ))
[[ -z "$(ls -A "$STATE/images/build")" ]] || fail "the killed build's temporaries are left: $(ls "$STATE/images/build")"
store_ok "after a killed build"

log "a sparse file past the disk limit: refused, not written out on the host"
avail0=$(df --output=avail -k "$STATE" | tail -1)
printf 'FROM example.test/base:1\nRUN truncate -s 5G /big\n' >"$W/sparse"
capture islet image build -t example.test/sparse:1 -f "$W/sparse"
[[ $RC != 0 && "$ERR" == *"more than 3072 MB"*"/big"* ]] || fail "a 5 GB sparse file: $RC $ERR"
avail1=$(df --output=avail -k "$STATE" | tail -1)
(( avail0 - avail1 < 1048576 )) || fail "the host lost $(( (avail0 - avail1) / 1024 )) MB to the sparse file"
capture islet image inspect example.test/sparse:1
[[ $RC != 0 ]] || fail "the sparse build left an image"
[[ -z "$(ls -A "$STATE/images/build")" ]] || fail "temporaries left: $(ls "$STATE/images/build")"
expect_eq "its sandbox is gone" "$(jget "$(islet ls --json)" 'len(j["sandboxes"])')" 0

log "COPY never leaves the context"
mkdir -p "$W/c2"
echo secret >"$W/outside"
ln -s /etc "$W/c2/etc-link"
for src in ../outside /../outside etc-link/passwd; do
  printf 'FROM example.test/base:1\nCOPY %s /x\n' "$src" >"$W/c2/Dockerfile"
  capture islet image build "$W/c2"
  [[ $RC != 0 ]] || fail "COPY $src was built"
  [[ "$ERR" == *"outside the build context"* ]] || fail "COPY $src: not refused as outside: $ERR"
done

log "a .dockerignore is refused, not ignored"
printf 'secret\n' >"$W/c2/.dockerignore"
printf 'FROM example.test/base:1\nCOPY . /app\n' >"$W/c2/Dockerfile"
capture islet image build "$W/c2"
[[ $RC != 0 && "$ERR" == *".dockerignore"* ]] || fail "a context with a .dockerignore: $RC $ERR"
rm "$W/c2/.dockerignore"

log "what islet does not build is refused, naming the line"
printf 'FROM example.test/base:1\nADD x /x\n' >"$W/c2/Dockerfile"
capture islet image build "$W/c2"
[[ $RC != 0 && "$ERR" == *"line 2"*"ADD"* ]] || fail "ADD: $ERR"
printf 'FROM example.test/base:1\nRUN <<EOF\necho hi >/x\nEOF\n' >"$W/c2/Dockerfile"
capture islet image build "$W/c2"
[[ $RC != 0 && "$ERR" == *"line 2: RUN <<EOF"*"heredocs are not supported"* ]] || fail "a heredoc: $ERR"
[[ "$ERR" != *"step 1/"* ]] || fail "a Dockerfile islet cannot read started a build: $ERR"
printf 'FROM host\nRUN true\n' >"$W/c2/Dockerfile"
capture islet image build "$W/c2"
[[ $RC != 0 && "$ERR" == *"FROM host"* ]] || fail "FROM host: $ERR"
printf 'FROM example.test/nope:1\n' >"$W/c2/Dockerfile"
capture islet image build "$W/c2"
[[ $RC != 0 && "$ERR" == *"islet image pull"* ]] || fail "FROM a missing image: $ERR"
pass
