#!/usr/bin/env bash
# Hostile layers: `../` names, absolute names, a symlink then a write
# through it (absolute and relative), a hard link out of the layer, a device
# node, a whiteout naming `..`, and an archive whose own entries climb out.
# Each is refused (or, for an absolute name, confined to the layer), and the
# host is checked afterwards: nothing written outside, no layer left
# half-unpacked, no temporary left.
source "$(dirname "$0")/../lib/integration.sh"
it_init
MK="$IT_PY $(dirname "$0")/../lib/mkimage.py"
W=$STATE.work
T=hostile-$$-$RANDOM
TARGET=/tmp/islet-$T.dir # a host directory a layer tries to write into
mkdir -p "$W" "$TARGET"
trap 'rm -rf "$TARGET" /tmp/"$T"* "/$T"; it_cleanup' EXIT
passwd_links=$(stat -c %h /etc/passwd)

try_layer () { # WHAT WANT(ok|refused) LAYER-JSON [FORMAT]
  local what=$1 want=$2
  printf '{"format":"%s","compress":"gzip","config":{"Labels":{"t":"%s"}},"layers":[%s]}' \
    "${4:-oci}" "$what" "$3" >"$W/spec.json"
  rm -rf "$W/img" "$W/img.tar" "$W/img.d"
  $MK "$W/spec.json" "$W/img" >/dev/null || fail "$what: mkimage"
  capture islet image import "$W/img"
  if [[ $want == ok ]]; then
    [[ $RC == 0 ]] || fail "$what: refused: $ERR"
  else
    [[ $RC != 0 ]] || fail "$what: imported"
    log "$what: refused: $ERR"
  fi
  [[ -z "$(ls -A "$STATE/images/tmp")" ]] || fail "$what: temporaries left: $(ls -A "$STATE/images/tmp")"
  [[ -z "$(ls -A "$TARGET")" ]] || fail "$what: written on the host: $(ls -A "$TARGET")"
}

try_layer "dot-dot name" refused "[{\"name\":\"../../../../../../tmp/$T.dotdot\",\"data\":\"x\"}]"
[[ ! -e /tmp/$T.dotdot && ! -e $STATE/images/$T.dotdot && ! -e $STATE/$T.dotdot ]] || fail "a ../ name reached the host"
try_layer "dot-dot inside a name" refused "[{\"name\":\"a/../../$T.mid\",\"data\":\"x\"}]"
[[ ! -e $STATE/images/$T.mid && ! -e $STATE/images/layers/$T.mid ]] || fail "a/../../ reached the host"

try_layer "absolute name" ok "[{\"name\":\"/tmp/$T.abs\",\"data\":\"confined\"}]"
[[ ! -e /tmp/$T.abs ]] || fail "an absolute name was written on the host"
[[ $(cat "$STATE"/images/layers/*/tmp/"$T".abs) == confined ]] || fail "the absolute name is not inside its layer"

try_layer "absolute symlink, then a write through it" refused \
  "[{\"name\":\"link\",\"type\":\"symlink\",\"target\":\"$TARGET\"},{\"name\":\"link/pwned\",\"data\":\"x\"}]"
try_layer "relative symlink out, then a write through it" refused \
  "[{\"name\":\"up\",\"type\":\"symlink\",\"target\":\"../../../../../../../..$TARGET\"},{\"name\":\"up/pwned\",\"data\":\"x\"}]"
try_layer "a symlink to a directory, then a directory through it" refused \
  "[{\"name\":\"d\",\"type\":\"symlink\",\"target\":\"$TARGET\"},{\"name\":\"d/sub\",\"type\":\"dir\"},{\"name\":\"d/sub/f\",\"data\":\"x\"}]"

try_layer "hard link out of the layer" refused \
  "[{\"name\":\"pw\",\"type\":\"hardlink\",\"target\":\"../../../../../../etc/passwd\"}]"
try_layer "hard link by absolute name" refused "[{\"name\":\"pw\",\"type\":\"hardlink\",\"target\":\"/etc/passwd\"}]"
expect_eq "/etc/passwd's link count" "$(stat -c %h /etc/passwd)" "$passwd_links"

try_layer "a device node" refused "[{\"name\":\"mem\",\"type\":\"chr\",\"major\":1,\"minor\":1}]"
[[ -z "$(find "$STATE/images/layers" -type c -exec stat -c '%t:%T %n' {} + | grep -v '^0:0 ')" ]] \
  || fail "a device node other than a whiteout is in a layer"

try_layer "a whiteout naming .." refused "[{\"name\":\"d/.wh...\",\"data\":\"\"}]"

log "an archive whose own entries climb out"
mkdir -p "$W/evil"
"$IT_PY" - "$W/evil.tar" "$T" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for name in ("index.json", "../../../../../../tmp/%s.outer" % sys.argv[2]):
        ti = tarfile.TarInfo(name); data = b"{}"; ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
EOF
capture islet image import "$W/evil.tar"
[[ $RC != 0 ]] || fail "an archive with a ../ entry was imported"
[[ ! -e /tmp/$T.outer ]] || fail "the archive's ../ entry reached the host"
[[ -z "$(ls -A "$STATE/images/tmp")" ]] || fail "temporaries left after the archive"

log "the layers that stayed are whole and the only ones"
expect_eq "layers in the store" "$(ls "$STATE/images/layers" | wc -l)" 1
pass "hostile layers refused or confined; nothing reached the host"
