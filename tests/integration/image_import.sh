#!/usr/bin/env bash
# Images without a registry: an OCI layout (directory and tar, gzip and zstd
# layers) and a docker save archive are imported, every blob checked against
# its digest (a tampered layer is refused and nothing of it stays); a sandbox
# from the image gets its layers (a whiteout, an opaque directory, hard
# links, symlinks, user xattrs), its config (Env, WorkingDir, User, Cmd) and
# its owners whatever the sandbox's uid range; 120 layers mount; layers are
# shared on disk;
# `image rm` is refused while a sandbox uses the image; prune frees the rest.
source "$(dirname "$0")/../lib/integration.sh"
it_init
MK="$IT_PY $(dirname "$0")/../lib/mkimage.py"
W=$STATE.work
mkdir -p "$W"
[[ -x /bin/busybox ]] && file -L /bin/busybox | grep -q 'statically linked' \
  || fail "needs a static /bin/busybox (busybox-static; scripts/install-deps installs it)"

# the base layer: a static busybox, users, a file owned by uid 1000
base_layer='[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493},
  {"name":"bin/sh","type":"hardlink","target":"bin/busybox"},
  {"name":"bin/cat","type":"symlink","target":"busybox"},
  {"name":"bin/ls","type":"symlink","target":"busybox"},
  {"name":"bin/stat","type":"symlink","target":"busybox"},
  {"name":"bin/id","type":"symlink","target":"busybox"},
  {"name":"etc","type":"dir"},
  {"name":"etc/passwd","data":"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/srv/app:/bin/sh\n"},
  {"name":"etc/group","data":"root:x:0:\napp:x:1000:\n"},
  {"name":"srv","type":"dir"},{"name":"srv/app","type":"dir","uid":1000,"gid":1000},
  {"name":"srv/app/owned","data":"mine\n","uid":1000,"gid":1000,"mode":384},
  {"name":"srv/app/twin","type":"hardlink","target":"srv/app/owned"},
  {"name":"attr","data":"x","xattrs":{"user.islet":"kept","trusted.overlay.redirect":"/bin"}},
  {"name":"gone","data":"x"},{"name":"opq","type":"dir"},{"name":"opq/old","data":"old"}]'
top_layer='[{"name":".wh.gone"},{"name":"opq","type":"dir"},{"name":"opq/.wh..wh..opq"},
  {"name":"opq/new","data":"new"}]'
config='{"Labels":{"name":"NAME"},"Env":["PATH=/bin","GREETING=hello image"],"WorkingDir":"/srv/app","User":"app",
  "Cmd":["sh","-c","echo cmd ran as $(id -u)"]}'

mkspec () { # FORMAT COMPRESS NAME [extra json]
  printf '{"format":"%s","compress":"%s","name":"%s","config":%s,"layers":[%s,%s]%s}' \
    "$1" "$2" "$3" "${config/NAME/$3}" "$base_layer" "$top_layer" "${4:-}" >"$W/spec.json"
}

log "an OCI layout directory, gzip layers"
mkspec oci gzip example.test/base:1
want=$($MK "$W/spec.json" "$W/oci") || fail "mkimage"
capture islet image import "$W/oci"
[[ $RC == 0 ]] || fail "import of an OCI layout: $ERR"
expect_eq "import prints the image id" "$OUT" "$want"

log "a sandbox from it: config, layers, owners"
id=$(create_sb --image example.test/base:1); remember_id "$id"
xjson "$id" -- sh -c 'id -u; id -g; pwd; echo "$GREETING"'
expect_eq "User, WorkingDir and Env applied" "$(jget "$OUT" 'j["stdout"]')" $'1000\n1000\n/srv/app\nhello image'
xjson "$id" -- stat -c '%u:%g %a %h' /srv/app/owned
expect_eq "a file keeps its owner and mode; the hard link is one inode" "$(jget "$OUT" 'j["stdout"].strip()')" "1000:1000 600 2"
xjson "$id" -- sh -c 'cat /srv/app/owned; ls /opq; ls /gone 2>&1 || echo whited-out'
expect_eq "whiteout and opaque directory" "$(jget "$OUT" 'j["stdout"]')" $'mine\nnew\nls: /gone: No such file or directory\nwhited-out'
# the user namespace of the idmap is made by the supervisor, whose child
# that held it is reaped once the sandbox runs: no zombie is left under it
zombies () {
  local p
  for p in $(supervisors); do ps -o stat= --ppid "$p"; done | grep -c '^Z' || true
}
no_zombies () { [[ "$(zombies)" == 0 ]]; }
wait_until 10 no_zombies || fail "a supervisor keeps a dead child: $(zombies) zombies"
xjson "$id" -- sh -c 'echo more >>/srv/app/owned && cat /srv/app/owned && stat -c %u /srv/app/owned'
expect_eq "the image's user writes its own file (copy-up keeps the owner)" \
  "$(jget "$OUT" 'j["stdout"]')" $'mine\nmore\n1000'
fid=$(islet fork "$id") || fail "fork of $id"
remember_id "$fid"
xjson "$fid" -- sh -c 'cat /srv/app/owned; stat -c %u:%g /srv/app/owned; id -u; echo again >>/srv/app/owned'
expect_eq "a fork: the copied-up file, its owner, the image's user" \
  "$(jget "$OUT" 'j["stdout"]')" $'mine\nmore\n1000:1000\n1000'
expect_eq "the fork's copy on the host belongs to its own uid range" \
  "$(stat -c %u "$STATE/pool/$fid/upper/srv/app/owned")" $(( $(sb_info "$fid" 'j["uid_base"]') + 1000 ))
islet rm -f "$fid" >/dev/null || fail "rm the fork"
layer=$(ls -d "$STATE"/images/layers/* | head -1)
for l in "$STATE"/images/layers/*; do [[ -e "$l/attr" ]] && layer=$l; done
expect_eq "the shared layer is unchanged on the host" "$(cat "$(dirname "$layer")"/*/srv/app/owned 2>/dev/null)" "mine"
expect_eq "on the host the layer's file has the image's uid" "$(stat -c %u "$layer/srv/app/owned")" 1000
expect_eq "a user.* xattr is kept" "$("$IT_PY" -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.islet").decode())' "$layer/attr")" kept
"$IT_PY" -c 'import os,sys; sys.exit("trusted.overlay.redirect" in os.listxattr(sys.argv[1]))' "$layer/attr" \
  || fail "a layer's trusted.overlay.* xattr reached the disk"

xjson "$id" -- cat /proc/self/mountinfo
[[ "$(jget "$OUT" 'j["stdout"]')" != *"$STATE"* ]] || fail "mountinfo shows the host's state directory"
expect_eq "the root overlay's lower layers, by neutral names" \
  "$(jget "$OUT" '[l for l in j["stdout"].splitlines() if l.split()[4] == "/"][0].count("lowerdir+=l")')" 2

log "run --image: the image's Cmd when no command is given"
capture islet run --image example.test/base:1
expect_eq "run with the image's Cmd" "$OUT" "cmd ran as 1000"

log "a tampered layer is refused, and nothing of it is kept"
mkspec oci gzip example.test/bad:1 ',"corrupt_layer":true,"layers":[[{"name":"unique","data":"only here"}]]'
$MK "$W/spec.json" "$W/bad" >/dev/null
blobs_before=$(ls "$STATE/images/blobs/sha256" | wc -l)
capture islet image import "$W/bad"
[[ $RC != 0 ]] || fail "a layer whose digest does not match was imported"
[[ "$ERR" == *"has the digest"*"refused"* ]] || fail "the refusal does not say why: $ERR"
capture islet image inspect example.test/bad:1
[[ $RC != 0 ]] || fail "the tampered image is listed"
[[ -z "$(ls -A "$STATE/images/tmp")" ]] || fail "temporaries left: $(ls -A "$STATE/images/tmp")"

log "an OCI layout as a tar, zstd layers, the same layers shared"
mkspec oci zstd example.test/zstd:1
$MK "$W/spec.json" "$W/z.tar" >/dev/null
capture islet image import "$W/z.tar"
[[ $RC == 0 ]] || fail "import of a zstd OCI tar: $ERR"
id2=$(create_sb --image example.test/zstd:1); remember_id "$id2"
xjson "$id2" -- cat /opq/new
expect_eq "a zstd image's file" "$(jget "$OUT" 'j["stdout"]')" new

log "a docker save archive"
mkspec docker none example.test/docker:7
$MK "$W/spec.json" "$W/d.tar" >/dev/null
capture islet image import "$W/d.tar"
[[ $RC == 0 ]] || fail "import of a docker save archive: $ERR"
capture islet run --image example.test/docker:7 -- sh -c 'cat /srv/app/owned'
expect_eq "a docker image's file" "$OUT" mine

log "an image of 120 layers mounts (no mount-option string to overflow)"
"$IT_PY" - "$W/many.json" <<'EOF2'
import json, sys
layers = [[{"name": "bin", "type": "dir"}, {"name": "bin/busybox", "src": "/bin/busybox", "mode": 493},
           {"name": "bin/cat", "type": "symlink", "target": "busybox"},
           {"name": "bin/sh", "type": "symlink", "target": "busybox"}]]
layers += [[{"name": "layer-%03d" % i, "data": "%d\n" % i}] for i in range(1, 120)]
json.dump({"format": "oci", "compress": "gzip", "config": {"Labels": {"n": "many"}},
           "layers": layers}, open(sys.argv[1], "w"))
EOF2
$MK "$W/many.json" "$W/many" >/dev/null || fail "mkimage many"
capture islet image import --name example.test/many:1 "$W/many"
[[ $RC == 0 ]] || fail "import of 120 layers: $ERR"
capture islet run --image example.test/many:1 -- sh -c 'cat /layer-001 /layer-119; ls / | grep -c ^layer-'
expect_eq "files of the bottom, top and every layer" "$OUT" $'1\n119\n119'
islet image rm example.test/many:1 >/dev/null || fail "rm many"

log "ls: sizes per image and per layer, shared layers once"
json=$(islet image ls --json)
expect_eq "three images" "$(jget "$json" 'len(j["images"])')" 3
# (configs differ by a label.)  The docker image's uncompressed layers are
# the same trees as the OCI ones but other blobs, and gzip and zstd blobs
# differ too: 6 layers, no sharing yet
expect_eq "layers on disk" "$(jget "$json" 'j["layers_count"]')" 6
expect_eq "the total is the sum over distinct layers" \
  "$(jget "$json" 'j["layers_bytes_total"] == sum(l["bytes"] for i in j["images"] for l in i["layers"])')" true
islet image import --name example.test/again:2 "$W/oci" >/dev/null || fail "a second name"
json=$(islet image ls --json)
expect_eq "a re-import under another name adds no layer" "$(jget "$json" 'j["layers_count"]')" 6

log "a create and an rm of images exclude each other (images/.use)"
ms () { echo $(( $(date +%s%N) / 1000000 )); }
flock -x "$STATE/images/.use" sleep 3 &
holder=$!
sleep 0.5
t0=$(ms); idw=$(create_sb --image example.test/zstd:1); t1=$(ms)
wait "$holder"
remember_id "$idw"
(( t1 - t0 >= 2000 )) || fail "a create from an image did not wait for rm's lock ($((t1 - t0)) ms)"
islet rm -f "$idw" >/dev/null
islet image import --name example.test/victim:1 "$W/oci" >/dev/null || fail "import victim"
flock -s "$STATE/images/.use" sleep 3 &
holder=$!
sleep 0.5
t0=$(ms); islet image rm example.test/victim:1 >/dev/null || fail "rm victim"; t1=$(ms)
wait "$holder"
(( t1 - t0 >= 2000 )) || fail "image rm did not wait for a create's hold ($((t1 - t0)) ms)"
capture islet image inspect example.test/victim:1
[[ $RC != 0 ]] || fail "rm of one of an image's names left the name"
expect_eq "the image stays under its other names" \
  "$(jget "$(islet image inspect --json example.test/base:1)" '"example.test/victim:1" in j["names"]')" false

log "rm is refused while a sandbox uses the image; prune frees the rest"
capture islet image rm example.test/zstd:1
[[ $RC != 0 && "$ERR" == *"in use by sandbox"* ]] || fail "rm of an image in use: $RC $ERR"
xjson "$id2" -- sh -c 'echo saved >/tmp/s'
expect_eq "a file written to keep" "$(jget "$OUT" 'j["exit_code"]')" 0
islet snapshot "$id2" keep >/dev/null || fail "snapshot of $id2"
islet rm -f "$id2" >/dev/null || fail "rm $id2"
capture islet image rm example.test/zstd:1
[[ $RC != 0 && "$ERR" == *"in use by snapshot \`keep\`"* ]] || fail "rm of an image a snapshot uses: $RC $ERR"
id3=$(create_sb --from keep); remember_id "$id3"
xjson "$id3" -- cat /opq/new /tmp/s
expect_eq "a sandbox from the snapshot: the image's file and the saved one" "$(jget "$OUT" 'j["stdout"]')" "newsaved"
islet rm -f "$id3" >/dev/null && islet snapshot rm keep >/dev/null || fail "rm of the snapshot"
capture islet image rm example.test/zstd:1
[[ $RC == 0 ]] || fail "rm of an unused image: $ERR"
expect_eq "its two layers are gone" "$(jget "$(islet image ls --json)" 'j["layers_count"]')" 4
islet rm -f "$id" >/dev/null
islet image rm example.test/docker:7 >/dev/null || fail "rm docker:7"
capture islet image prune --json
[[ $RC == 0 ]] || fail "prune: $ERR"
expect_eq "the OCI image is still there, by both names" "$(jget "$(islet image inspect example.test/again:2 --json)" 'len(j["names"])')" 2
pass "images imported, verified, run with their config and owners, shared, removed"
