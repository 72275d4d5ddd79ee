#!/usr/bin/env bash
# Outbound network, mode allow with a name: an address the name resolved
# to opens new connections for the answer's TTL, at least 30 s (the fake
# internet's dnsmasq answers with TTL 0, so the floor holds); a connection
# opened meanwhile goes on after that; resolving the name again opens the
# address again.  A change of the list ends at once the connections the
# old list opened, and its names' addresses (dns4) go with it.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/netfake.sh"
it_init
nf_trap it_cleanup
nf_up
export ISLET_DNS=$NF_DNS

# a TCP echo server in the fake internet, on web A's address
ip netns exec "$NF_NS" "$IT_PY" -c '
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7000))
s.listen(16)
def serve(c):
    while True:
        b = c.recv(100)
        if not b:
            break
        c.sendall(b)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$NF_WEB_A" >/dev/null 2>&1 &
echo $! >"$NF_DIR/echo.pid"

# run in the sandbox: resolve a.test.example with its resolver, echo over
# connections to port 7000 of the answer
COMMON='
import socket, struct, sys, time, os
def resolve(name):
    ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
    q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
    for l in name.split("."): q += bytes([len(l)]) + l.encode()
    q += b"\0" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
    s.sendto(q, (ns, 53)); r = s.recv(4096)
    return socket.inet_ntoa(r[-4:])
def connect(addr):
    c = socket.socket(); c.settimeout(2)
    try:
        c.connect((addr, 7000)); return c
    except OSError:
        return None
def echo(c, b):
    try:
        c.sendall(b); return c.recv(100) == b
    except OSError:
        return False
def say(*a):
    print(*a, flush=True)
'
TTL_SCRIPT=$COMMON'
a = resolve("a.test.example")
c = connect(a)
say("first", c is not None and echo(c, b"1"))
time.sleep(34)
say("established after the TTL", echo(c, b"2"))
say("new after the TTL", connect(a) is not None)
a = resolve("a.test.example")
c2 = connect(a)
say("new after resolving again", c2 is not None and echo(c2, b"3"))
'
CUT_SCRIPT=$COMMON'
a = resolve("a.test.example")
c = connect(a)
say("connected", c is not None and echo(c, b"1"))
for i in range(60):
    time.sleep(0.5)
    if not echo(c, b"x"):
        say("cut")
        break
else:
    say("never cut")
'

id=$(create_sb --network allow --allow a.test.example)
remember_id "$id"
slot=$(grep -oE 'on islet[0-9]+' "$STATE/sandboxes/$id/supervisor.log" | tail -1 | grep -oE '[0-9]+')

log "a name's address: new connections for 30 s, connections made go on"
xjson "$id" --timeout 60 -- python3 -c "$TTL_SCRIPT"
got=$(jget "$OUT" 'j["stdout"]')
log "$(tr '\n' ';' <<<"$got") $(jget "$OUT" 'j["stderr"]' | tail -3)"
grep -qx 'first True' <<<"$got" || fail "the first connection failed: $got"
grep -qx 'established after the TTL True' <<<"$got" || fail "an established connection ended with its address's TTL: $got"
grep -qx 'new after the TTL False' <<<"$got" || fail "a new connection opened after the address's TTL: $got"
grep -qx 'new after resolving again True' <<<"$got" || fail "resolving again did not open the address: $got"
grep -q -- <<<"$(nft list set inet islet dns4)" "\"islet$slot\" . 0x[0-9a-f]* . $NF_WEB_A timeout 30s" \
  || fail "no element of islet$slot for $NF_WEB_A with the 30 s floor: $(nft list set inet islet dns4)"

log "a change of the list ends the connections the old one opened"
islet exec "$id" --timeout 60 -- python3 -c "$CUT_SCRIPT" >"$NF_DIR/cut.out" 2>&1 </dev/null &
cut_pid=$!
connected () { grep -q '^connected' "$NF_DIR/cut.out"; }
wait_until 20 connected || fail "the connection was not made: $(cat "$NF_DIR/cut.out")"
grep -qx 'connected True' "$NF_DIR/cut.out" || fail "the connection failed: $(cat "$NF_DIR/cut.out")"
sleep 1
grep -q 'cut' "$NF_DIR/cut.out" && fail "the connection ended before the change: $(cat "$NF_DIR/cut.out")"
grep -q -- <<<"$(nft list set inet islet dns4)" "\"islet$slot\" . 0x[0-9a-f]* . $NF_WEB_A" \
  || fail "no element of islet$slot for $NF_WEB_A before the change: $(nft list set inet islet dns4)"
islet network "$id" --network allow --allow 198.51.100.0/24 </dev/null >/dev/null || fail "islet network"
wait "$cut_pid"
grep -qx 'cut' "$NF_DIR/cut.out" || fail "the connection went on after the change: $(cat "$NF_DIR/cut.out")"
log "the old list's names' addresses went with it, not at their TTL"
grep -q -- <<<"$(nft list set inet islet dns4)" "\"islet$slot\"" \
  && fail "islet$slot's dns4 elements of the old list are left: $(nft list set inet islet dns4)"
pass
