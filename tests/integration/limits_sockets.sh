#!/usr/bin/env bash
# Socket buffers are the sandbox's memory, not the host's.  On cgroup v1 a
# group's TCP and UDP buffers are charged only once memory.kmem.tcp is
# limited: before that, a sandbox limited to 64 MiB held 1 GiB of host memory
# in loopback connections nobody read.  A sandbox with --memory 32 fills TCP
# connections and UDP sockets inside its own network namespace (bounded: 32
# connections, 300 receivers, 8 s) and the bytes its sockets hold, as its
# own /proc/net shows them, must stay within the limit; so must the group's
# socket counter on the host.
source "$(dirname "$0")/../lib/integration.sh"
it_init

MIB=$((1 << 20))
LIMIT_MB=32
id=$(create_sb --memory "$LIMIT_MB")
remember_id "$id"
mem=$(cg_dir "$id" memory)
[[ -n "$mem" ]] || fail "no memory cgroup for $id"
if [[ $(cg_version) == 1 ]]; then
  [[ -f "$mem/memory.kmem.tcp.limit_in_bytes" ]] || skip "no memory.kmem.tcp on this kernel: v1 cannot charge sockets"
  expect_eq "host: memory.kmem.tcp.limit_in_bytes" "$(cat "$mem/memory.kmem.tcp.limit_in_bytes")" $((LIMIT_MB * MIB))
fi

FILL='
import os, socket, time
deadline = time.time() + 8
def queued(table, cols):
    total = 0
    for line in open("/proc/net/" + table).readlines()[1:]:
        tx, rx = line.split()[4].split(":")
        total += (int(tx, 16) if "tx" in cols else 0) + int(rx, 16)
    return total
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(64)
conns, chunk = [], b"x" * 65536
for _ in range(32):
    c = socket.create_connection(srv.getsockname()); c.setblocking(False)
    conns.append((c, srv.accept()[0]))
for c, _ in conns:
    while time.time() < deadline:
        try:
            c.send(chunk)
        except (BlockingIOError, OSError):
            break
recv = []
for _ in range(300):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 0)); recv.append(r)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setblocking(False)
for r in recv:
    for _ in range(8):
        if time.time() >= deadline:
            break
        try:
            s.sendto(chunk[:60000], r.getsockname())
        except (BlockingIOError, OSError):
            pass
print(queued("tcp", "tx rx"), queued("udp", "rx"), flush=True)
'
xjson "$id" --timeout 30 -- python3 -c "$FILL"
expect_eq "fill: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 0
read -r tcp udp <<<"$(jget "$OUT" 'j["stdout"]')"
log "held in socket buffers: TCP $((tcp / MIB)) MiB, UDP $((udp / MIB)) MiB (limit $LIMIT_MB MiB)"
# the kernel lets each socket charge one buffer past the bound (a forced
# charge, so that a connection can always make progress): a little over
SLACK=$((LIMIT_MB * MIB / 2))
expect_range "TCP bytes held" "$tcp" 1 $((LIMIT_MB * MIB + SLACK))
expect_range "TCP and UDP bytes held" $((tcp + udp)) 1 $((LIMIT_MB * MIB + SLACK))
if [[ $(cg_version) == 1 ]]; then
  expect_range "host: memory.kmem.tcp.max_usage_in_bytes" "$(cat "$mem/memory.kmem.tcp.max_usage_in_bytes")" 1 $((LIMIT_MB * MIB + SLACK))
else
  expect_range "host: memory.peak" "$(cat "$mem/memory.peak")" 1 $((LIMIT_MB * MIB + SLACK))
fi
xjson "$id" -- echo ok
expect_eq "an exec after the fill" "$(jget "$OUT" 'j["stdout"]')" ok
pass
