#!/usr/bin/env bash
# islet image build's RUN under the same network rules as any sandbox:
# with --network all a RUN fetches from the (fake) internet and reaches
# neither a private address nor the host (a listener on its own address);
# without --network (none) it reaches nothing, the same Dockerfile built
# anew rather than taken from the build with a network.  What each RUN got
# is kept in the image and read from a sandbox of it.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/netfake.sh"
it_init
nf_trap it_cleanup
nf_up
nf_host_listener
MK="$IT_PY $(dirname "$0")/../lib/mkimage.py"
W=$STATE.work
mkdir -p "$W/ctx"
[[ -x /bin/busybox ]] && file -L /bin/busybox | grep -q 'statically linked' \
  || fail "needs a static /bin/busybox (busybox-static; scripts/install-deps installs it)"

layer='[{"name":"bin","type":"dir"},{"name":"bin/busybox","src":"/bin/busybox","mode":493}'
for a in sh nc printf tail echo cat awk; do
  layer+=",{\"name\":\"bin/$a\",\"type\":\"symlink\",\"target\":\"busybox\"}"
done
layer+=',{"name":"tmp","type":"dir","mode":1023}]'
printf '{"format":"oci","compress":"gzip","name":"example.test/netbase:1","config":{"Env":["PATH=/bin"]},"layers":[%s]}' \
  "$layer" >"$W/spec.json"
$MK "$W/spec.json" "$W/oci" >/dev/null || fail "mkimage"
islet image import "$W/oci" >/dev/null </dev/null || fail "import the base image"

# each RUN keeps the last byte of the answer it got (the body of /id is
# one letter), then nc's status, in a file (busybox's wget crashes)
get () { echo "printf 'GET /id HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $1 >/tmp/r; echo \" \$?\" >/tmp/s; tail -c 1 /tmp/r | cat - /tmp/s >/$2"; }
cat >"$W/ctx/Dockerfile" <<EOF
FROM example.test/netbase:1
RUN $(get "$NF_WEB_A 80" public)
RUN $(get "$NF_WEB_P 80" private)
RUN $(get "$host_addr $HOST_PORT" host)
RUN awk '\$2 == "00000000" {print \$3}' /proc/net/route >/gw
EOF

got () { xjson "$1" -- cat "/$2"; jget "$OUT" 'j["stdout"]' | tr -d '\n'; }
# failed ID FILE: the RUN got nothing (an empty body, a status other than 0)
failed () {
  local v
  v=$(got "$1" "$2")
  [[ "$v" =~ ^\ [1-9][0-9]*$ ]] || fail "$2: the RUN got '$v', want nothing"
}

log "--network all: the internet, not a private address, not the host"
islet image build -t example.test/netall:1 --network all "$W/ctx" </dev/null >/dev/null \
  || fail "the build with --network all failed"
id=$(create_sb --image example.test/netall:1)
remember_id "$id"
expect_eq "a public address" "$(got "$id" public)" "A 0"
failed "$id" private
failed "$id" host
[[ "$(got "$id" gw)" =~ ^[0-9A-F]{8}$ ]] || fail "the RUN had no default route: '$(got "$id" gw)'"

log "no --network: loopback only"
# the same Dockerfile: the network is part of the build's cache key, so the
# build above is not this one's answer
capture islet image build --json -t example.test/netnone:1 "$W/ctx"
[[ $RC == 0 ]] || fail "the build without a network failed: $ERR"
expect_eq "the build without a network is not the one with it" "$(jget "$OUT" 'j["cached"]')" false
none=$(create_sb --image example.test/netnone:1)
remember_id "$none"
failed "$none" public
failed "$none" private
expect_eq "no default route" "$(got "$none" gw)" ""
pass
