# shellcheck shell=bash
# test_image NAME: build a small OCI image (a static busybox; a file only
# it has, /srv/app/only-in-the-image, "image file"; Env PATH=/bin and
# GREETING="hello from the image"; WorkingDir /srv/app), import it into the
# test's state directory as NAME, and print its id.  Sourced after
# tests/lib/integration.sh.
test_image () {
  local w id
  w=$(mktemp -d "$STATE.image.XXXXXX") || fail "mktemp"
  [[ -x /bin/busybox ]] && file -L /bin/busybox | grep -q 'statically linked' \
    || fail "needs a static /bin/busybox (busybox-static; scripts/install-deps installs it)"
  cat >"$w/spec.json" <<JSON
{"format":"oci","compress":"gzip","name":"$1",
 "config":{"Env":["PATH=/bin","GREETING=hello from the image"],"WorkingDir":"/srv/app"},
 "layers":[[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493},
   {"name":"bin/sh","type":"symlink","target":"busybox"},
   {"name":"bin/cat","type":"symlink","target":"busybox"},
   {"name":"bin/pwd","type":"symlink","target":"busybox"},
   {"name":"srv","type":"dir"},{"name":"srv/app","type":"dir"},
   {"name":"srv/app/only-in-the-image","data":"image file\n"}]]}
JSON
  id=$("$IT_PY" "$(dirname "${BASH_SOURCE[0]}")/mkimage.py" "$w/spec.json" "$w/oci") || fail "mkimage"
  islet image import "$w/oci" >/dev/null || fail "islet image import of $1"
  rm -rf "$w"
  printf '%s' "$id"
}

# store_ok WHAT: every blob hashes to its name; every image record's layers
# and config are in the store.
store_ok () {
  local f b
  for b in "$STATE"/images/blobs/sha256/*; do
    [[ -e "$b" ]] || continue
    [[ "$(sha256sum "$b" | cut -d' ' -f1)" == "$(basename "$b")" ]] || fail "$1: blob $b is not its digest"
  done
  for f in "$STATE"/images/meta/*.json; do
    [[ -e "$f" ]] || continue
    "$IT_PY" - "$f" "$STATE/images" <<'EOF' || fail "$1: a record names what is not there"
import json, os, sys
r = json.load(open(sys.argv[1])); d = sys.argv[2]
for dg in r["layers"]:
    assert os.path.isdir(f"{d}/layers/{dg[7:]}"), dg
assert os.path.exists(f"{d}/blobs/sha256/{r['config'][7:]}")
EOF
  done
}
