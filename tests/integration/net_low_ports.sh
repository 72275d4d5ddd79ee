#!/usr/bin/env bash
# The ports below 1024 of a sandbox's own network namespace are open to its
# processes, as in a Docker container: a web app in a sandbox serves on
# port 80 without a capability, with or without a network.  The setting is
# the sandbox's namespace's alone (the host's stays as it was) and the
# sandbox cannot change it.  Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/netfake.sh"
it_init
nf_trap it_cleanup
nf_up
export ISLET_DNS=$NF_DNS

host_before=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
probe='
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80))
s.listen(1)
c = socket.create_connection(("127.0.0.1", 80), 2)
a, _ = s.accept()
c.sendall(b"hi")
print("served", a.recv(2).decode(), "on", s.getsockname()[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", 53))
print("udp on", u.getsockname()[1])
try:
    open("/proc/sys/net/ipv4/ip_unprivileged_port_start", "w").write("1024")
    print("changed")
except OSError as e:
    print("unchanged:", e.strerror)
print("start", open("/proc/sys/net/ipv4/ip_unprivileged_port_start").read().strip())
'
for mode in none all; do
  log "network $mode: a server on port 80 and a UDP socket on 53 from inside"
  id=$(create_sb --network "$mode")
  remember_id "$id"
  capture islet exec "$id" -- python3 -c "$probe" </dev/null
  [[ $RC == 0 ]] || fail "$mode: the probe failed ($RC): $OUT $ERR"
  grep -qx 'served hi on 80' <<<"$OUT" || fail "$mode: no server on port 80: $OUT $ERR"
  grep -qx 'udp on 53' <<<"$OUT" || fail "$mode: no UDP socket on port 53: $OUT $ERR"
  grep -q '^unchanged: ' <<<"$OUT" || fail "$mode: the sandbox changed its low-port start: $OUT"
  grep -qx 'start 0' <<<"$OUT" || fail "$mode: the low-port start inside is not 0: $OUT"
  islet rm -f "$id" </dev/null >/dev/null || fail "rm $id"
done

host_after=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
[[ $host_after == "$host_before" ]] || fail "the host's low-port start moved: $host_before -> $host_after"
pass
