# shellcheck shell=bash disable=SC2034
# registry_start DIR [HTPASSWD]: Debian's docker-registry on a free
# loopback port, its storage and logs under DIR; sets REG_PID and R
# (host:port).  With HTPASSWD (a file of bcrypt entries) it asks for Basic
# credentials itself.  The caller's exit trap kills REG_PID.  Sourced after
# tests/lib/integration.sh.
registry_start () {
  local dir=$1 htpasswd=${2:-} port tool auth=()
  for tool in docker-registry skopeo; do
    command -v $tool >/dev/null || fail "needs $tool (scripts/install-deps installs it)"
  done
  mkdir -p "$dir/reg"
  port=$("$IT_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  [[ -n "$htpasswd" ]] \
    && auth=("auth:" "  htpasswd:" "    realm: islet-test" "    path: $htpasswd")
  cat >"$dir/reg.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/reg
http:
  addr: 127.0.0.1:$port
EOF
  printf '%s\n' "${auth[@]}" >>"$dir/reg.yml"
  docker-registry serve "$dir/reg.yml" >"$dir/reg.log" 2>&1 &
  REG_PID=$!
  wait_until 20 curl -s "http://127.0.0.1:$port/v2/" -o /dev/null \
    || fail "the registry did not start: $(cat "$dir/reg.log")"
  R=127.0.0.1:$port
}

# registry_push_test_image DIR NAME: a small image (a static busybox; Env
# PATH=/bin; /srv/hello holding NAME, WorkingDir /srv) pushed to the
# registry of registry_start as NAME, made under DIR.
registry_push_test_image () {
  local dir=$1 name=$2
  cat >"$dir/push.json" <<EOF
{"format":"oci","compress":"gzip","config":{"Env":["PATH=/bin"],"WorkingDir":"/srv"},
 "layers":[[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493},
   {"name":"bin/sh","type":"symlink","target":"busybox"},{"name":"bin/cat","type":"symlink","target":"busybox"}],
  [{"name":"srv","type":"dir"},{"name":"srv/hello","data":"$name\\n"}]]}
EOF
  rm -rf "$dir/push.oci"
  "$IT_PY" "$(dirname "${BASH_SOURCE[0]}")/mkimage.py" "$dir/push.json" "$dir/push.oci" >/dev/null \
    || fail "mkimage $name"
  skopeo copy -q --dest-tls-verify=false "oci:$dir/push.oci" "docker://$R/$name" >"$dir/push.log" 2>&1 \
    || fail "skopeo push of $name: $(cat "$dir/push.log")"
}

# registry_srv_init: a server test with a registry: isletd started
# (srv_init), no Docker credentials of root's, the registry of
# registry_start under W=$STATE.work; MK makes images; the exit trap kills
# the registry and a front whose pid is in PROXY_PID.  Sourced after
# tests/lib/server.sh.
registry_srv_init () {
  [[ -x /bin/busybox ]] || fail "needs /bin/busybox (busybox-static)"
  MK="$IT_PY $(dirname "${BASH_SOURCE[0]}")/mkimage.py"
  REG_PID= PROXY_PID=
  export DOCKER_CONFIG=/nonexistent/docker-config
  srv_init
  trap 'rc=$?; set +e; for p in $REG_PID $PROXY_PID; do kill "$p" 2>/dev/null; done; (exit $rc); srv_cleanup' EXIT
  W=$STATE.work
  mkdir -p "$W"
  registry_start "$W"
}

# snapshot_wait NAME WANT [KEY]: poll the snapshot (at most 60 s) until its
# state is WANT or terminal (active, error); the states seen in SEEN.
snapshot_wait () {
  local i st k=${3:-$SRV_KEY}
  SEEN=
  for (( i = 0; i < 600; i++ )); do
    api -k "$k" GET "/api/snapshots/$1"
    st=$(jq -r .state <<<"$BODY")
    [[ " $SEEN " == *" $st "* ]] || SEEN="$SEEN $st"
    [[ "$st" == "$2" || "$st" == active || "$st" == error ]] && break
    sleep 0.1
  done
  [[ "$st" == "$2" ]] || fail "snapshot $1 is $st (seen:$SEEN), want $2: $BODY"
}

# registry_slow_image DIR: an image of two 4 MiB layers of random data
# (they do not compress) behind busybox's, pushed to the registry of
# registry_start as test/slow:1, behind a front (hold_proxy.py) that sends
# blobs at 512 KiB/s a transfer (a layer takes 8 s) and logs each transfer
# to DIR/xfer.log.  Sets PROXY_PID (for the caller's exit trap), SLOW_REF
# (the image through the front) and SLOW_R1 (the sha256 of /r1 in it).
registry_slow_image () {
  local dir=$1
  head -c $((4 << 20)) /dev/urandom >"$dir/r1"
  head -c $((4 << 20)) /dev/urandom >"$dir/r2"
  cat >"$dir/slow.json" <<EOF2
{"format":"oci","compress":"gzip","config":{"Env":["PATH=/bin"]},
 "layers":[[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493},
   {"name":"bin/sh","type":"symlink","target":"busybox"},{"name":"bin/cat","type":"symlink","target":"busybox"}],
  [{"name":"r1","src":"$dir/r1"}],[{"name":"r2","src":"$dir/r2"}]]}
EOF2
  "$IT_PY" "$(dirname "${BASH_SOURCE[0]}")/mkimage.py" "$dir/slow.json" "$dir/slow.oci" >/dev/null \
    || fail "mkimage test/slow:1"
  skopeo copy -q --dest-tls-verify=false "oci:$dir/slow.oci" "docker://$R/test/slow:1" \
    >"$dir/push.log" 2>&1 || fail "skopeo push of test/slow:1: $(cat "$dir/push.log")"
  SLOW_R1=$(sha256sum "$dir/r1" | cut -d' ' -f1)
  "$IT_PY" "$(dirname "${BASH_SOURCE[0]}")/hold_proxy.py" "$dir/proxy.port" "$R" "$dir/no-hold" \
    $((512 << 10)) "$dir/xfer.log" &
  PROXY_PID=$!
  wait_until 10 test -s "$dir/proxy.port" || fail "the slow front did not start"
  SLOW_REF=127.0.0.1:$(cat "$dir/proxy.port")/test/slow:1
  XFER_LOG=$dir/xfer.log
}

# open_xfers: the blob transfers of registry_slow_image's front begun and
# neither done nor cut; mid_transfer: there is one.
open_xfers () {
  awk '$1 == "start" { n[$2]++ } $1 == "done" || $1 == "cut" { n[$2]-- }
       END { for (d in n) if (n[d] > 0) print d }' "$XFER_LOG" 2>/dev/null
}
mid_transfer () { [[ -n "$(open_xfers)" ]]; }

# store_list: the blobs and unpacked layers of the image store of $STATE.
store_list () {
  local d
  for d in blobs/sha256 layers; do ls "$STATE/images/$d" 2>/dev/null || true; done | sort
}
