#!/usr/bin/env bash
# Escape class: reaching host services over the network.  The host listens on
# 127.0.0.1 (a TCP server that logs every connection), on every address of
# the host (0.0.0.0 and ::), and on an abstract unix socket; the sandbox has
# its own network namespace with only `lo`, so none of them may answer, and
# the servers must have seen no connection.  A server inside the sandbox on
# its own loopback shows that the network code ran and that lo is up.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init

LOG=$(mktemp "$S/conn.XXXXXX")
PORTS=$(mktemp "$S/ports.XXXXXX")
ABSTRACT=islet-esc-$(esc_token)
python3 -u -c '
import os, socket, sys, threading
log, ports_file, abstract = sys.argv[1:4]
def serve(family, addr, kind):
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(addr)
    if kind == socket.SOCK_STREAM:
        s.listen(64)
    def loop():
        while True:
            if kind == socket.SOCK_STREAM:
                c, peer = s.accept()
                c.close()
            else:
                _, peer = s.recvfrom(100)
            with open(log, "a") as f:
                f.write("connection on %r from %r\n" % (addr, peer))
    threading.Thread(target=loop, daemon=True).start()
    return s.getsockname()[1] if family != socket.AF_UNIX else 0
lo = serve(socket.AF_INET, ("127.0.0.1", 0), socket.SOCK_STREAM)
any4 = serve(socket.AF_INET, ("0.0.0.0", 0), socket.SOCK_STREAM)
udp = serve(socket.AF_INET, ("0.0.0.0", 0), socket.SOCK_DGRAM)
try:
    any6 = serve(socket.AF_INET6, ("::", 0), socket.SOCK_STREAM)
except OSError:
    any6 = 0
serve(socket.AF_UNIX, "\0" + abstract, socket.SOCK_STREAM)
with open(ports_file, "w") as f:
    f.write("%d %d %d %d\n" % (lo, any4, udp, any6))
threading.Event().wait()
' "$LOG" "$PORTS" "$ABSTRACT" &
server=$!
esc_defer "kill $server"
for _ in $(seq 1 50); do
  [[ -s $PORTS ]] && break
  sleep 0.1
done
read -r P_LO P_ANY P_UDP P_ANY6 <"$PORTS" || esc_fail "the host servers did not start"

# the host can reach its own servers: the control
python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2).close()' "$P_LO" ||
  esc_fail "the host cannot reach its own server"
for _ in $(seq 1 20); do [[ -s $LOG ]] && break; sleep 0.1; done
[[ -s $LOG ]] || esc_fail "the host server logs no connection, even the host's own"
: >"$LOG"

addrs4=$(ip -o -4 addr show | awk '{print $4}' | cut -d/ -f1 | tr '\n' ' ')
addrs6=$(ip -o -6 addr show | awk '{print $4}' | cut -d/ -f1 | grep -v '^fe80' | tr '\n' ' ' || true)
esc_log "host addresses: $addrs4 $addrs6"

ID=$(esc_create)
out=$(esc_py "$ID" "
lo, any4, udp, any6 = $P_LO, $P_ANY, $P_UDP, $P_ANY6
addrs4, addrs6 = '$addrs4'.split(), '$addrs6'.split()
# the control: a server of our own on our own loopback
mine = socket.socket()
mine.bind(('127.0.0.1', 0))
mine.listen(1)
socket.create_connection(mine.getsockname(), 2).close()
held('own loopback server reachable on port %d' % mine.getsockname()[1])

def tcp(host, port, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, port))
        escaped('connected to %s port %d' % (host, port))
    except OSError as x:
        held('connect %s port %d: %s' % (host, port, ename(x.errno) if x.errno else x))
    finally:
        s.close()
tcp('127.0.0.1', lo)
tcp('127.0.0.1', any4)
for a in addrs4:
    tcp(a, any4)
    tcp(a, lo)
for a in addrs6 + ['::1']:
    if any6:
        tcp(a, any6, socket.AF_INET6)
for a in addrs4 + ['255.255.255.255']:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    try:
        u.sendto(b'hello', (a, udp))
        held('udp to %s port %d sent (the host must not see it)' % (a, udp))
    except OSError as x:
        held('udp to %s: %s' % (a, ename(x.errno)))
    u.close()
ux = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    ux.connect('\0$ABSTRACT')
    escaped('connected to the host abstract socket @$ABSTRACT')
except OSError as x:
    held('abstract unix socket: %s' % ename(x.errno))
ux.close()
try:
    sk = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sk.connect('$S/sandboxes/$ID/ctl.sock')
    escaped('connected to the supervisor control socket')
except OSError as x:
    held('control socket by host path: %s' % ename(x.errno))
links = [l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]]
if links != ['lo']:
    escaped('network interfaces inside: %s' % links)
else:
    held('interfaces: %s' % links)
routes = open('/proc/net/route').read().splitlines()[1:]
if routes:
    escaped('routes inside: %s' % routes)
done()
")
esc_attack_verdict "$out" "network probes"
sleep 0.5
if [[ -s $LOG ]]; then
  esc_fail "the host servers saw connections from the sandbox: $(cat "$LOG")"
fi
kill -0 "$server" 2>/dev/null || esc_fail "the host server died"
esc_pass "no host address, port or abstract socket reachable; only lo inside"
