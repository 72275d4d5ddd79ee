#!/usr/bin/env bash
# islet image build's COPY with wildcards, as Docker reads them: `*`, `?` and
# `[...]` per path component (`*` takes a leading dot, never a `/`), each
# directory's matches in order, a directory matched copied by its contents,
# the JSON form; several matches need a destination ending in `/`; a pattern
# that matches nothing is an error naming it; a pattern cannot reach out of
# the context, through `..` or through a symlink (the host's file is not in
# any layer after).
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/image.sh"
it_init
trap it_cleanup EXIT
W=$STATE.work
C=$W/ctx
mkdir -p "$C/src/sub" "$C/d1" "$W/outside"
test_image example.test/copybase:1 >/dev/null

for f in a.py b.py .hidden.py c.txt src/x.txt src/y.txt src/z.md src/sub/w.txt d1/f; do
  echo "$f" >"$C/$f"
done
token=outside-$$-$RANDOM
echo "$token" >"$W/outside/secret.py"
ln -s "$W/outside" "$C/link_out"
ln -s / "$C/root_link"

# build NAME LINES...: a Dockerfile of FROM and LINES in the context; RC, OUT, ERR
build () {
  local name=$1
  shift
  { echo 'FROM example.test/copybase:1'; printf '%s\n' "$@"; } >"$C/Dockerfile"
  capture islet image build -t "example.test/$name:1" "$C"
}

log "wildcards: matches in order, dotfiles, ?, [...], directories by contents, the JSON form"
build good 'COPY *.py /app/' 'COPY src/*.txt dst/' 'COPY ?.txt /q/' 'COPY src/[xz].* /br/' \
  'COPY ["src/s?b/w.txt", "/lit/"]' 'COPY d* /dirs/' 'COPY c.t?t /one.txt'
[[ $RC == 0 ]] || fail "the build with wildcards: $ERR"
sb=$(create_sb --image example.test/good:1)
remember_id "$sb"
xjson "$sb" -- sh -c 'cd / && for d in /app /srv/app/dst /q /br /lit /dirs; do echo "$d:" $(busybox ls -A $d); done; cat /app/a.py /one.txt /dirs/f'
expect_eq "what each COPY put where" "$(jget "$OUT" 'j["stdout"]')" "/app: .hidden.py a.py b.py
/srv/app/dst: x.txt y.txt
/q: c.txt
/br: x.txt z.md
/lit: w.txt
/dirs: f
a.py
c.txt
d1/f"
islet rm -f "$sb" >/dev/null

log "several matches need a destination ending in /"
build several 'COPY *.py /app'
[[ $RC != 0 && "$ERR" == *"line 2"*"COPY of 3 sources (\`.hidden.py\`, \`a.py\`, ...) needs a destination ending in \`/\`"* ]] \
  || fail "several matches into /app: $RC $ERR"

log "a pattern that matches nothing names itself"
build none 'COPY *.nope /x/'
[[ $RC != 0 && "$ERR" == *"line 2"*"COPY source \`*.nope\` matches no file in the build context"* ]] \
  || fail "no match: $RC $ERR"
build none2 'COPY src/nodir/*.txt /x/'
[[ $RC != 0 && "$ERR" == *"\`src/nodir/*.txt\` matches no file"* ]] || fail "no match below a missing dir: $RC $ERR"

log "no way out of the context: .., a symlink matched, a symlink on the way"
for src in '../*' '../outside/*.py' 'link*/*.py' 'link_out/*.py' 'root_*/etc/passw?' 'src/../../*'; do
  build out "COPY $src /x/"
  [[ $RC != 0 && "$ERR" == *"outside the build context"* ]] || fail "COPY $src: not refused as outside: $RC $ERR"
done
for img in $(islet image ls --json | jq -r '.images[].id'); do
  capture islet image inspect "$img"
  [[ "$OUT" != *"example.test/out:1"* ]] || fail "a build that reached out left an image"
done
if grep -rlF "$token" "$STATE/images/layers" 2>/dev/null | grep -q .; then
  fail "the file outside the context is in a layer"
fi
pass
