#!/bin/bash
# bench_pull: images against their peers, on a registry on loopback
# (Debian's docker-registry) holding a five-layer image this script makes
# with umoci (busybox, Python's library, Perl's, 8 MiB of random bytes, a
# config), pushed with skopeo.
#
#   bench/bench_pull.sh ISLET BENCH_DENSITY ISLET_RUN JSON [TURNS] [SANDBOXES]
#
#   - a cold pull + unpack: `islet image pull` into an empty state directory
#     against `skopeo copy` to an OCI layout + `umoci unpack`, in turns;
#   - SANDBOXES (default 200) sandboxes from the image at once
#     (bench_density --image): the image's bytes on disk before and after
#     (once: unchanged), the pool's growth and the memory per sandbox;
#   - `islet snapshot` of a sandbox with 200 MiB just written, and `islet
#     fork` of it, against the same once the data is on disk (`sync`).
# Prints PASS/MISS lines for the targets; writes JSON.
set -uo pipefail
islet=$1 density=$2 runtime=$3 json=$4 turns=${5:-5} sandboxes=${6:-200}

for tool in docker-registry skopeo umoci python3 /bin/busybox; do
  command -v "$tool" >/dev/null || { echo "bench_pull: needs $tool (scripts/install-deps --bench)" >&2; exit 1; }
done
w=$(mktemp -d /tmp/islet-pull-bench.XXXXXX)
reg_pid=
cleanup () {
  [[ -n "$reg_pid" ]] && kill "$reg_pid" 2>/dev/null
  for s in "$w"/state*; do
    [[ -d "$s" ]] && "$islet" --state-dir "$s" system reset -f >/dev/null 2>&1
  done
  rm -rf "$w"
}
trap cleanup EXIT

ms () { echo $(( $(date +%s%N) / 1000000 )); }
join () { local IFS=,; echo "$*"; }
p50 () { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# the registry, on a free loopback port
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$w/reg"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/reg\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$w" "$port" >"$w/reg.yml"
docker-registry serve "$w/reg.yml" >"$w/reg.log" 2>&1 &
reg_pid=$!
for (( i = 0; i < 100; i++ )); do
  curl -sf "http://127.0.0.1:$port/v2/" -o /dev/null && break
  sleep 0.1
done
ref=127.0.0.1:$port/bench/five:1

# the image: one layer per directory, as a Dockerfile's steps would make
umoci init --layout "$w/oci" && umoci new --image "$w/oci:five" || exit 1
head -c $((8 << 20)) /dev/urandom >"$w/random"
layer () { # SRC DEST-IN-ROOTFS
  rm -rf "$w/bundle"
  umoci unpack --image "$w/oci:five" "$w/bundle" >/dev/null || exit 1
  mkdir -p "$(dirname "$w/bundle/rootfs/$2")"
  cp -a "$1" "$w/bundle/rootfs/$2" || exit 1
  [[ "$2" != bin/busybox ]] || for a in sh head rm; do ln -s busybox "$w/bundle/rootfs/bin/$a"; done
  umoci repack --image "$w/oci:five" "$w/bundle" >/dev/null || exit 1
}
layer /bin/busybox bin/busybox
layer /usr/lib/python3.11 usr/lib/python3.11
layer /usr/share/perl usr/share/perl
layer "$w/random" srv/random
umoci config --image "$w/oci:five" --config.env PATH=/bin --config.workingdir /srv || exit 1
skopeo copy -q --dest-tls-verify=false "oci:$w/oci:five" "docker://$ref" || exit 1
bytes=$(skopeo inspect --raw --tls-verify=false "docker://$ref" \
  | python3 -c 'import json,sys; m=json.load(sys.stdin); print(sum(l["size"] for l in m["layers"]))')
echo "image: $ref, $(( bytes >> 20 )) MiB in 4 compressed layers"

# a cold pull, in turns with its peer; the registry's files are in the page
# cache for both after the first turn
islet_t=() peer_t=()
for (( t = 0; t < turns; t++ )); do
  rm -rf "$w/state" "$w/peer"
  mkdir -p "$w/state"
  t0=$(ms)
  "$islet" --state-dir "$w/state" image pull "$ref" >/dev/null 2>"$w/pull.err" \
    || { echo "bench_pull: islet image pull: $(cat "$w/pull.err")" >&2; exit 1; }
  islet_t+=($(( $(ms) - t0 )))
  t0=$(ms)
  skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$w/peer:five" >/dev/null \
    && umoci unpack --image "$w/peer:five" "$w/peer/bundle" >/dev/null \
    || { echo "bench_pull: skopeo + umoci failed" >&2; exit 1; }
  peer_t+=($(( $(ms) - t0 )))
done
ip=$(p50 <<<"${islet_t[*]}") pp=$(p50 <<<"${peer_t[*]}")
echo "cold pull + unpack, $turns turns: islet image pull p50 $ip ms (${islet_t[*]}); skopeo copy + umoci unpack p50 $pp ms (${peer_t[*]})"
if (( ip <= pp )); then echo "PASS cold pull + unpack no slower than skopeo + umoci ($ip ms vs $pp ms)"
else echo "MISS cold pull + unpack no slower than skopeo + umoci ($ip ms vs $pp ms)"; fi

# many sandboxes from the image
img_before=$(du -sb "$w/state/images" | cut -f1)
"$density" --state "$w/state" --runtime "$runtime" --json "$w/density.json" -n "$sandboxes" \
  --image "$ref" >"$w/density.out" 2>&1 || { cat "$w/density.out" >&2; exit 1; }
img_after=$(du -sb "$w/state/images" | cut -f1)
sed 's/^/  /' "$w/density.out" | grep -v '^  \(PASS\|MISS\|SKIP\) '
echo "image store: $img_before bytes before $sandboxes sandboxes, $img_after after"
if (( img_after <= img_before + (1 << 20) )); then
  echo "PASS $sandboxes sandboxes from one image hold its bytes on disk once"
else
  echo "MISS $sandboxes sandboxes from one image hold its bytes on disk once ($img_before -> $img_after)"
fi

# createSnapshot and fork of 200 MiB just written, and once on disk
snap_t=() fork_t=() snap_synced=() fork_synced=()
id=$("$islet" --state-dir "$w/state" create --image "$ref" 2>/dev/null) || { echo "bench_pull: create failed" >&2; exit 1; }
for (( t = 0; t < 3; t++ )); do
  for synced in 0 1; do
    "$islet" --state-dir "$w/state" exec "$id" -- sh -c "head -c 209715200 /dev/urandom >/srv/big$t$synced" </dev/null || exit 1
    (( synced )) && sync
    t0=$(ms)
    "$islet" --state-dir "$w/state" snapshot "$id" "s$t$synced" >/dev/null || exit 1
    t1=$(ms)
    f=$("$islet" --state-dir "$w/state" create --from "s$t$synced" 2>/dev/null) || exit 1
    t2=$(ms)
    if (( synced )); then snap_synced+=($(( t1 - t0 ))); fork_synced+=($(( t2 - t1 )))
    else snap_t+=($(( t1 - t0 ))); fork_t+=($(( t2 - t1 ))); fi
    "$islet" --state-dir "$w/state" rm -f "$f" >/dev/null 2>&1
    "$islet" --state-dir "$w/state" snapshot rm "s$t$synced" >/dev/null 2>&1
    "$islet" --state-dir "$w/state" exec "$id" -- rm -f "/srv/big$t$synced" </dev/null
  done
done
sp=$(p50 <<<"${snap_t[*]}") fp=$(p50 <<<"${fork_t[*]}")
echo "snapshot of 200 MiB just written: p50 $sp ms (${snap_t[*]}); create --from it: p50 $fp ms (${fork_t[*]})"
echo "the same once synced: snapshot p50 $(p50 <<<"${snap_synced[*]}") ms (${snap_synced[*]}); create --from p50 $(p50 <<<"${fork_synced[*]}") ms (${fork_synced[*]})"
for pair in "snapshot:$sp" "fork:$fp"; do
  if (( ${pair#*:} < 100 )); then echo "PASS ${pair%%:*} of a sandbox with 200 MiB just written under 100 ms (${pair#*:} ms)"
  else echo "MISS ${pair%%:*} of a sandbox with 200 MiB just written under 100 ms (${pair#*:} ms)"; fi
done

python3 - "$json" "$w/density.json" <<PY
import json, sys
d = None
try:
    d = json.load(open(sys.argv[2]))
except (OSError, ValueError):
    pass
json.dump({"image_bytes": $bytes, "pull_ms": [$(join "${islet_t[@]}")], "peer_ms": [$(join "${peer_t[@]}")],
           "store_before": $img_before, "store_after": $img_after, "density": d,
           "snapshot_dirty_ms": [$(join "${snap_t[@]}")], "fork_dirty_ms": [$(join "${fork_t[@]}")],
           "snapshot_synced_ms": [$(join "${snap_synced[@]}")], "fork_synced_ms": [$(join "${fork_synced[@]}")]},
          open(sys.argv[1], "w"), indent=2)
PY
