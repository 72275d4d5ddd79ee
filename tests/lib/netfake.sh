# shellcheck shell=bash
# A fake internet for the network tests, sourced after integration.sh: a
# network namespace of the test's own, joined to the host by a veth pair,
# with web servers on two public test addresses and one private address,
# and a DNS server (dnsmasq) that logs every query it gets.  Nothing else
# of the host changes: the routes to the fake addresses are the veth's own
# connected routes, and IPv4 forwarding is turned on for that device only
# (a reply is forwarded according to the device it comes in on); all of it
# goes with the namespace and the device at exit.
#
#   NF_WEB_A 203.0.113.10:80    serves /id = "A"
#   NF_WEB_B 198.51.100.10:80   serves /id = "B"
#   NF_WEB_P 10.77.0.10:80      serves /id = "P" (a private address)
#   NF_DNS   203.0.113.53       names: a.test.example, b.test.example,
#                               p.test.example (10.77.0.10), x.b.test.example
#   NF_DNS_LOG                  one line per query dnsmasq received

NF_WEB_A=203.0.113.10
NF_WEB_B=198.51.100.10
NF_WEB_P=10.77.0.10
NF_DNS=203.0.113.53
NF_NS=
NF_IF=
NF_DIR=

nf_cleanup () {
  local p
  set +e
  if [[ -n "$NF_DIR" ]]; then
    for p in "$NF_DIR"/*.pid; do
      [[ -f "$p" ]] && kill "$(cat "$p")" 2>/dev/null
    done
  fi
  [[ -n "$NF_NS" ]] && ip netns pids "$NF_NS" 2>/dev/null | xargs -r kill -9 2>/dev/null
  [[ -n "$NF_IF" ]] && ip link del "$NF_IF" 2>/dev/null
  [[ -n "$NF_NS" ]] && ip netns del "$NF_NS" 2>/dev/null
  [[ -n "$NF_DIR" ]] && rm -rf "$NF_DIR"
  return 0
}

# The exit trap of a test with a fake internet: its clean-up, then the
# test's own (it_cleanup, or srv_cleanup with isletd), with the test's status.
nf_trap () {
  trap 'nf_rc=$?; nf_cleanup; (exit $nf_rc); '"$1" EXIT
}

nf_up () {
  command -v dnsmasq >/dev/null || skip "no dnsmasq (scripts/install-deps installs dnsmasq-base)"
  NF_NS="islet-nf-$$"
  NF_IF="nfh$$"
  NF_DIR=$(mktemp -d /tmp/islet-nf.XXXXXX)
  ip netns add "$NF_NS" || fail "ip netns add $NF_NS"
  ip link add "$NF_IF" type veth peer name nf0 netns "$NF_NS" || fail "veth into $NF_NS"
  ip addr add 203.0.113.1/24 dev "$NF_IF"
  ip addr add 198.51.100.1/24 dev "$NF_IF"
  ip addr add 10.77.0.1/24 dev "$NF_IF"
  sysctl -qw "net.ipv4.conf.$NF_IF.forwarding=1" || fail "forwarding on $NF_IF"
  ip link set "$NF_IF" up
  ip -n "$NF_NS" link set lo up
  local a
  for a in "$NF_WEB_A/24" "$NF_WEB_B/24" "$NF_WEB_P/24" "$NF_DNS/24"; do
    ip -n "$NF_NS" addr add "$a" dev nf0
  done
  ip -n "$NF_NS" link set nf0 up
  ip -n "$NF_NS" route add default via 203.0.113.1
  local name ip
  for name in A B P; do
    case $name in A) ip=$NF_WEB_A ;; B) ip=$NF_WEB_B ;; P) ip=$NF_WEB_P ;; esac
    mkdir -p "$NF_DIR/www$name"
    printf '%s' "$name" >"$NF_DIR/www$name/id"
    ip netns exec "$NF_NS" "$IT_PY" -m http.server 80 --bind "$ip" --directory "$NF_DIR/www$name" \
      >/dev/null 2>&1 &
    echo $! >"$NF_DIR/web$name.pid"
  done
  NF_DNS_LOG="$NF_DIR/dns.log"
  ip netns exec "$NF_NS" dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
    --listen-address="$NF_DNS" --port=53 --log-queries --log-facility="$NF_DNS_LOG" \
    --pid-file="$NF_DIR/dnsmasq.pid.file" --user=root \
    --address=/a.test.example/"$NF_WEB_A" --address=/b.test.example/"$NF_WEB_B" \
    --address=/p.test.example/"$NF_WEB_P" --address=/x.b.test.example/"$NF_WEB_B" \
    --address=/other.example/"$NF_WEB_A" >/dev/null 2>&1 &
  echo $! >"$NF_DIR/dnsmasq.pid"
  wait_until 10 nf_ready || fail "the fake internet did not come up"
  log "fake internet in $NF_NS via $NF_IF"
}

# nf_srv_init: it_init, the fake internet, then isletd resolving through its
# DNS server, and a trap that undoes both (after server.sh).
nf_srv_init () {
  it_init
  nf_up
  SRV_ARGS=(--dns "$NF_DNS")
  srv_start
  nf_trap srv_cleanup
}

nf_ready () {
  curl -s -m 1 "http://$NF_WEB_A/id" >/dev/null && curl -s -m 1 "http://$NF_WEB_B/id" >/dev/null \
    && curl -s -m 1 "http://$NF_WEB_P/id" >/dev/null && [[ -f "$NF_DNS_LOG" ]] \
    && timeout 1 bash -c "</dev/tcp/$NF_DNS/53" 2>/dev/null
}

# What a sandbox reaches: nf_probe ID TARGET... where a target is
# ADDR:PORT (TCP, an HTTP GET of /id), [V6ADDR]:PORT, or dns:NAME (UDP query
# to the sandbox's resolver), udpdns:SERVER:NAME (UDP to that server),
# tcpdns:SERVER:NAME (DNS over TCP).  Prints
# one line per target: "TARGET open BODY", "TARGET refused", "TARGET
# timeout", "TARGET unreachable", "TARGET resolved ADDR", "TARGET nxdomain".
NF_PROBE='
import socket, sys, struct, threading
out = {}
def http(t):
    host, port = t.rsplit(":", 1)
    fam = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
    host = host.strip("[]")
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(1.5)
    try:
        s.connect((host, int(port)))
        s.sendall(b"GET /id HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b: break
            data += b
        return "open " + data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")
    except ConnectionRefusedError: return "refused"
    except socket.timeout: return "timeout"
    except OSError as e: return "unreachable" if e.errno in (101, 113, 97, 99) else "error %d" % e.errno
def query(name):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for l in name.split("."): q += bytes([len(l)]) + l.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)
def answer(r):
    rcode = r[3] & 15
    if rcode == 3: return "nxdomain"
    if rcode: return "rcode %d" % rcode
    an = struct.unpack(">H", r[6:8])[0]
    i = 12
    while r[i]: i += r[i] + 1
    i += 5
    for _ in range(an):
        if r[i] & 0xc0 == 0xc0: i += 2
        else:
            while r[i]: i += r[i] + 1
            i += 1
        t, c, ttl, n = struct.unpack(">HHIH", r[i:i+10]); i += 10
        if t == 1: return "resolved " + socket.inet_ntoa(r[i:i+4])
        i += n
    return "empty"
def dns(name, ns=None):
    if ns is None:
        ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
    try:
        s.sendto(query(name), (ns, 53)); return answer(s.recv(4096))
    except socket.timeout: return "timeout"
    except OSError as e: return "unreachable" if e.errno in (101, 113) else "error %d" % e.errno
def tcpdns(server, name):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(1.5)
    try:
        s.connect((server, 53)); q = query(name); s.sendall(struct.pack(">H", len(q)) + q)
        n = struct.unpack(">H", s.recv(2))[0]; return answer(s.recv(n))
    except ConnectionRefusedError: return "refused"
    except socket.timeout: return "timeout"
    except OSError as e: return "unreachable" if e.errno in (101, 113) else "error %d" % e.errno
def run(t):
    if t.startswith("dns:"): out[t] = dns(t[4:])
    elif t.startswith("tcpdns:"): out[t] = tcpdns(*t[7:].split(":", 1))
    elif t.startswith("udpdns:"): out[t] = dns(t[7:].split(":", 1)[1], t[7:].split(":", 1)[0])
    else: out[t] = http(t)
ts = [threading.Thread(target=run, args=(t,)) for t in sys.argv[1:]]
for t in ts: t.start()
for t in ts: t.join()
for t in sys.argv[1:]: print(t, out[t])
'

# nf_host_listener: an HTTP listener on the host, on every address, IPv4
# and IPv6, port HOST_PORT; host_addr and host_addr6 are addresses of the
# host off the fake internet's link (host_addr6 empty without IPv6)
nf_host_listener () {
  HOST_PORT=$(( 20000 + $$ % 20000 ))
  "$IT_PY" -m http.server "$HOST_PORT" --bind 0.0.0.0 --directory "$NF_DIR" >/dev/null 2>&1 &
  echo $! >"$NF_DIR/hostweb.pid"
  "$IT_PY" -m http.server "$HOST_PORT" --bind :: --directory "$NF_DIR" >/dev/null 2>&1 &
  echo $! >"$NF_DIR/hostweb6.pid"
  host_addr=$(ip -4 -o addr show scope global | awk '$2 != "'"$NF_IF"'" {print $4}' | cut -d/ -f1 | head -1)
  host_addr6=$(ip -6 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
  log "host listener on port $HOST_PORT; host addresses $host_addr ${host_addr6:-(no IPv6)}"
}

# nf_fetch ID [CMD...]: what python's urllib in the sandbox gets from
# http://a.test.example/id (through a proxy, when the environment names
# one; CMD... before python3, e.g. env -u HTTP_PROXY), or "failed ERROR"
NF_FETCH='
import sys, urllib.request
try:
    print(urllib.request.urlopen("http://a.test.example/id", timeout=3).read().decode())
except Exception as e:
    print("failed", type(e).__name__)
'
nf_fetch () {
  local id=$1
  shift
  xjson "$id" --timeout 20 -- "$@" python3 -c "$NF_FETCH"
  jget "$OUT" 'j["stdout"]'
}

# nf_probe ID TARGET...: the probe's lines in PROBE
nf_probe () {
  local id=$1
  shift
  xjson "$id" --timeout 20 -- python3 -c "$NF_PROBE" "$@"
  PROBE=$(jget "$OUT" 'j["stdout"]')
  log "probe from $id: $(echo "$PROBE" | tr '\n' ';')"
}

# expect_probe TARGET RESULT: the line of TARGET in PROBE is "TARGET RESULT"
expect_probe () {
  local line
  line=$(grep -F -- "$1 " <<<"$PROBE" | head -1)
  [[ "$line" == "$1 $2" ]] || fail "$1: got '${line#"$1 "}', want '$2'"
}

# expect_closed TARGET: neither open nor refused (a refusal means the
# packet reached a stack behind the filter)
expect_closed () {
  local line
  line=$(grep -F -- "$1 " <<<"$PROBE" | head -1)
  case "${line#"$1 "}" in
  timeout | unreachable) ;;
  *) fail "$1 reached: '${line#"$1 "}'" ;;
  esac
}
