#!/usr/bin/env bash
# The batteries-included default image: before it is built, a sandbox that
# names no image is on `host` and `islet image ls` says the default is
# missing; after `islet image build-default` (cached machine-wide, built once
# per machine; another state directory imports the cached tar) such a
# sandbox runs numpy, pandas, scipy, matplotlib and
# scikit-learn, node, npm and tsc; `--image host` still gives the host's
# /usr.  The image is shared read-only: two sandboxes change their own
# copies, the layer on the host is unchanged, and the image's bytes are on
# disk once (the sandboxes' writable layers hold none of them).
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/default_image.sh"
it_init

log "before the build: no image named means host, and ls says the default is missing"
capture islet image ls
[[ "$OUT" == *"not built (islet image build-default); sandboxes that name no image use host"* ]] \
  || fail "image ls does not say the default image is missing: $OUT"
expect_eq "image ls --json: not built" "$(jget "$(islet image ls --json)" 'j["default"]["built"]')" false
before=$(create_sb); remember_id "$before"
expect_eq "a sandbox that names no image is on host" "$(sb_info "$before" 'j["image"]')" host
capture islet create --image default
[[ $RC != 0 && "$ERR" == *"islet image build-default"* ]] \
  || fail "--image default before the build: status $RC, '$ERR'"

islet system warm 1 >/dev/null || fail "islet system warm 1"
wait_until 60 sh -c "[ -n \"\$(ls '$STATE/warm/ready')\" ]" || fail "the warm pool did not fill"

id=$(default_image)
expect_eq "a second build-default finds it up to date, same id" "$(islet image build-default 2>/dev/null)" "$id"
expect_eq "image ls --json: built" "$(jget "$(islet image ls --json)" '[j["default"]["built"], j["default"]["used"]]')" "[true, \"$id\"]"
expect_eq "the image has one layer" "$(ls "$STATE/images/layers" | wc -l)" 1
[[ -z "$(ls -A "$STATE/images/tmp")" ]] || fail "the import left files in images/tmp: $(ls -A "$STATE/images/tmp")"

log "a sandbox that names no image is on the default image, even with a pool filled before the build"
a=$(create_sb); remember_id "$a"
expect_eq "its image" "$(sb_info "$a" 'j["image"]')" "$id"
wait_until 120 sh -c "[ -n \"\$(ls '$STATE/warm/ready')\" ]" || fail "the warm pool did not refill"
p=$(create_sb); remember_id "$p"
expect_eq "a create from the refilled pool" "$(sb_info "$p" 'j["image"]')" "$id"
hp=$(create_sb --image host); remember_id "$hp"
expect_eq "--image host with a pool of the default image" "$(sb_info "$hp" 'j["image"]')" host
islet system warm 0 >/dev/null || fail "islet system warm 0"
expect_eq "the sandbox made before the build stays on host" "$(sb_info "$before" 'j["image"]')" host
xjson "$a" --timeout 300 -- python3 -c '
import numpy as np, pandas as pd, scipy.linalg, sklearn.linear_model, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
x = np.arange(10.0)
df = pd.DataFrame({"x": x, "y": 2 * x + 1})
m = sklearn.linear_model.LinearRegression().fit(df[["x"]], df["y"])
plt.plot(df.x, df.y); plt.savefig("/tmp/p.png")
print(int(x.sum()), df.y.mean(), round(float(m.coef_[0]), 6), round(float(scipy.linalg.det(np.eye(3) * 2)), 6))
print(open("/tmp/p.png", "rb").read(4)[1:].decode())'
expect_eq "python exit" "$(jget "$OUT" 'j["exit_code"]')" 0
expect_eq "numpy, pandas, sklearn, scipy and a matplotlib PNG" "$(jget "$OUT" 'j["stdout"]')" $'45 10.0 2.0 8.0\nPNG'
xjson "$a" --timeout 300 -- sh -c 'node -e "console.log([1,2,3].map(x => x * 2).join())"; tsc --version; npm --version >/dev/null && echo npm; git --version | cut -d" " -f1-2; curl --version | head -c 4'
out=$(jget "$OUT" 'j["stdout"]')
re=$'^2,4,6\nVersion [0-9]+[.][0-9.]+\nnpm\ngit version\ncurl$'
[[ "$out" =~ $re ]] || fail "node, tsc, npm, git, curl: got '$out'"
xjson "$a" --timeout 300 -- sh -c 'printf "let n: number = 41 + 1; console.log(n);\n" > /tmp/t.ts && tsc --outDir /tmp /tmp/t.ts && node /tmp/t.js'
expect_eq "tsc compiles and node runs it" "$(jget "$OUT" 'j["stdout"]')" 42

log "--image host still gives the host's /usr"
h=$(create_sb --image host); remember_id "$h"
# the default image has dpkg's database; the host image's generated skeleton has no /var/lib/dpkg
xjson "$h" --timeout 300 -- sh -c 'test -e /var/lib/dpkg/status && echo dpkg || echo none'
expect_eq "--image host runs on the host skeleton" "$(jget "$OUT" 'j["stdout"]')" none
xjson "$a" --timeout 300 -- sh -c 'test -e /var/lib/dpkg/status && echo dpkg || echo none'
expect_eq "the default image has dpkg's database" "$(jget "$OUT" 'j["stdout"]')" dpkg
expect_eq "--image host is host" "$(sb_info "$h" 'j["image"]')" host

log "read-only shared: two sandboxes, each its own copy of a changed file, the layer unchanged"
b=$(create_sb --image default); remember_id "$b"
expect_eq "--image default" "$(sb_info "$b" 'j["image"]')" "$id"
f=/usr/lib/python3/dist-packages/numpy/version.py
layer=$(ls -d "$STATE"/images/layers/*)
sum=$(sha256sum "$layer$f" | cut -d' ' -f1)
xjson "$a" --timeout 300 -- sh -c "echo '# changed in a' >> $f && tail -1 $f"
expect_eq "a changes its copy" "$(jget "$OUT" 'j["stdout"]')" "# changed in a"
xjson "$b" --timeout 300 -- sh -c "tail -c 15 $f | grep -c 'changed in a' || true"
expect_eq "b does not see a's change" "$(jget "$OUT" 'j["stdout"]')" 0
expect_eq "the layer's file is unchanged on the host" "$(sha256sum "$layer$f" | cut -d' ' -f1)" "$sum"
image_kb=$(du -sk "$layer" | cut -f1)
sb_kb=0
for s in "$a" "$b"; do
  vol=$(jget "$(cat "$STATE/sandboxes/$s/config.json")" 'j["volume"]')
  [[ -d "$vol" ]] || fail "no writable layer at '$vol'"
  sb_kb=$(( sb_kb + $(du -sk "$vol" | cut -f1) ))
done
log "image layer ${image_kb} kB on disk, the two sandboxes' writable layers ${sb_kb} kB"
(( image_kb > 200000 )) || fail "the default image's layer is only ${image_kb} kB"
(( sb_kb * 100 < image_kb )) || fail "the sandboxes' writable layers hold ${sb_kb} kB: copies of the image?"

log "the cache, with a stand-in mmdebstrap: a killed or failed build leaves no complete-looking tar"
# the stand-in writes part of its output, then fails, hangs or finishes with a tiny root
fake=$(mktemp -d "$STATE.fake.XXXXXX")
cache=$fake/cache
mkdir -p "$fake/bin" "$fake/root/bin" "$fake/root/etc"
cp /bin/busybox "$fake/root/bin/busybox"
ln -s busybox "$fake/root/bin/sh"
echo "from the stand-in" >"$fake/root/etc/marker"
# a UTF-8 file name, as Debian's packages have: the unpacker must not refuse it
echo "utf-8" >"$fake/root/etc/café"
cat >"$fake/bin/mmdebstrap" <<'SH'
#!/bin/sh
prev=; for a; do [ "$prev" = bookworm ] && t=$a; prev=$a; done
echo "stand-in mmdebstrap: $FAKE_MODE into $t" >&2
echo partial >"$t"
case "$FAKE_MODE" in
  hang) exec sleep 117 ;;
  fail) exit 3 ;;
  ok) exec tar -C "$FAKE_ROOT" -cf "$t" . ;;
esac
SH
chmod +x "$fake/bin/mmdebstrap"
third=$(mktemp -d /tmp/islet-it.XXXXXX)
IT_EXTRA_DIRS+=("$third")
in_third () {
  PATH=$fake/bin:$PATH ISLET_CACHE_DIR=$cache FAKE_ROOT=$fake/root "$ISLET_BIN" --state-dir "$third" "$@" </dev/null
}
FAKE_MODE=fail capture in_third image build-default
[[ $RC != 0 && "$ERR" == *"mmdebstrap failed (status 3)"* ]] || fail "a failed build: status $RC, '$ERR'"
FAKE_MODE=hang in_third image build-default >/dev/null 2>&1 &
cli=$!
wait_until 30 pgrep -f "slee[p] 117" >/dev/null || fail "the stand-in did not start"
standin=$(pgrep -f "slee[p] 117")
helper=$(pgrep -f "^islet-image $third build-default") || fail "no islet-image of the build"
kill -KILL "$helper"
wait "$cli" 2>/dev/null && fail "the CLI succeeded after its islet-image was killed"
wait_until 30 dead "$standin" || fail "the build outlived islet-image"
[[ -z "$(find "$cache" -name 'default-*.tar')" ]] || fail "a killed build left a complete-looking tar: $(ls -la "$cache")"
[[ -n "$(find "$cache" -name '.default-*')" ]] || fail "the killed build's partial tar is not where the test expects it: $(ls -la "$cache")"
expect_eq "no default image after the failures" "$(jget "$(in_third image ls --json)" 'j["default"]["built"]')" false
FAKE_MODE=ok capture in_third image build-default
[[ $RC == 0 && "$OUT" =~ ^sha256: ]] || fail "a finished build: status $RC, '$OUT' '$ERR'"
[[ -z "$(find "$cache" -name '.default-*')" ]] || fail "the next build did not remove the partial tar: $(ls -la "$cache")"
expect_eq "one cached tar" "$(find "$cache" -name 'default-*.tar' | wc -l)" 1
expect_eq "the cached tar is read-only" "$(stat -c %a "$cache"/default-*.tar)" 444
fourth=$(mktemp -d /tmp/islet-it.XXXXXX)
IT_EXTRA_DIRS+=("$fourth")
id3=$(jget "$(in_third image ls --json)" 'j["default"]["used"]')
cached=$(PATH=$fake/bin:$PATH ISLET_CACHE_DIR=$cache FAKE_MODE=fail "$ISLET_BIN" --state-dir "$fourth" image build-default </dev/null) \
  || fail "another state directory did not import the cached build (it ran the failing stand-in)"
expect_eq "another state directory imports the cached build: the same image" "$cached" "$id3"
s3=$("$ISLET_BIN" --state-dir "$third" create </dev/null) || fail "create on the stand-in's image"
remember_id "$s3"
expect_eq "a sandbox that names no image is on it" \
  "$("$ISLET_BIN" --state-dir "$third" exec "$s3" -- sh -c 'read l </etc/marker; read u </etc/café; echo "$l $u"' </dev/null)" "from the stand-in utf-8"

pass "the default image: built once, cached, shared read-only, the default for sandboxes that name none"
