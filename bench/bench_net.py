#!/usr/bin/env python3
"""bench_net: what a sandbox's outbound network costs, against the same
work without it, in the same run.

  bench_net.py --islet ISLET --state DIR --json OUT [-n RUNS]

- create: `islet create` with `--network all` and without, taken in turns
  (each removed untimed), after 3 untimed rounds (the first networked
  sandbox of a host makes islet's nftables table);
- throughput: TCP from a sandbox (mode all) to a server in a network
  namespace this script makes, for 3 s, against the same from the host;
- connection: connect and close to the same server, 200 times, from the
  sandbox and from the host.

The namespace is joined to the host by a veth pair with a test address
(203.0.113.0/24) and forwarding on that device only; both go when the
script ends.  Every loop is bounded in count, every wait in time.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_server import pct, row  # noqa: E402  (the same percentiles and rows)

SERVER_ADDR = "203.0.113.10"
HOST_ADDR = "203.0.113.1"
PORT = 5201
WARMUP = 3
SECONDS = 3

# the server: each connection is read until its end, and closed
SINK = r"""
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(128)
def drain(c):
    while c.recv(1 << 20):
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=drain, args=(c,), daemon=True).start()
"""

# the client: bytes sent for SECONDS, then connect+close times (ms)
SEND = r"""
import json, socket, sys, time
addr, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
buf = b"\0" * (256 << 10)
c = socket.create_connection((addr, port), timeout=5)
sent, t0 = 0, time.monotonic()
while time.monotonic() - t0 < secs:
    c.sendall(buf)
    sent += len(buf)
c.shutdown(socket.SHUT_WR)
c.recv(1)
dt = time.monotonic() - t0
conns = []
for _ in range(200):
    t = time.monotonic()
    k = socket.create_connection((addr, port), timeout=5)
    conns.append((time.monotonic() - t) * 1000)
    k.close()
print(json.dumps({"gbit_s": sent * 8 / dt / 1e9, "connect_ms": conns}))
"""


def target(targets, name, value, op, limit, unit):
    """A target's line (PASS or MISS, as bench/run's summary reads them)."""
    t = {"name": name, "value": value, "op": op, "limit": limit, "unit": unit,
         "pass": value <= limit if op == "<=" else value >= limit}
    targets.append(t)
    print("%s  %-44s %10.2f %s (target %s %.2f %s)" % ("PASS" if t["pass"] else "MISS", name,
                                                      value, unit, op, limit, unit))


def sh(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   timeout=30)


class FakeNet:
    """A network namespace with SERVER_ADDR, the sink listening there."""

    def __init__(self):
        self.ns = "islet-bn-%d" % os.getpid()
        self.dev = "bnh%d" % os.getpid()
        self.sink = None

    def __enter__(self):
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.dev, "type", "veth", "peer", "name", "bn0", "netns", self.ns)
        sh("ip", "addr", "add", HOST_ADDR + "/24", "dev", self.dev)
        sh("sysctl", "-qw", "net.ipv4.conf.%s.forwarding=1" % self.dev)
        sh("ip", "link", "set", self.dev, "up")
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.ns, "addr", "add", SERVER_ADDR + "/24", "dev", "bn0")
        sh("ip", "-n", self.ns, "link", "set", "bn0", "up")
        sh("ip", "-n", self.ns, "route", "add", "default", "via", HOST_ADDR)
        self.sink = subprocess.Popen(["ip", "netns", "exec", self.ns, sys.executable, "-c", SINK,
                                      SERVER_ADDR, str(PORT)])
        for _ in range(100):
            if subprocess.run(["ip", "netns", "exec", self.ns, "ss", "-Hltn",
                               "sport = :%d" % PORT], capture_output=True, text=True,
                              timeout=10).stdout.strip():
                return self
            time.sleep(0.1)
        raise RuntimeError("the sink did not listen within 10 s")

    def __exit__(self, *exc):
        if self.sink:
            self.sink.kill()
            self.sink.wait()
        subprocess.run(["ip", "link", "del", self.dev], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL)


class Islet:
    def __init__(self, cli, state):
        self.cli, self.state = cli, state

    def run(self, *args, timeout=60):
        r = subprocess.run([self.cli, "--state-dir", self.state, *args], capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("islet %s: %s" % (" ".join(args[:2]), r.stderr.strip()))
        return r.stdout.strip()

    def create(self, *args):
        t0 = time.monotonic()
        sid = self.run("create", *args)
        return sid, (time.monotonic() - t0) * 1000


def bench_create(islet, n):
    none, net = [], []
    for i in range(n + WARMUP):
        a, ms_none = islet.create()
        b, ms_net = islet.create("--network", "all")
        islet.run("rm", "-f", a, b)
        if i >= WARMUP:
            none.append(ms_none)
            net.append(ms_net)
    return none, net


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--islet", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("-n", type=int, default=50)
    o = ap.parse_args()
    islet = Islet(o.islet, o.state)
    out, targets = {}, []

    print("outbound network (islet CLI, in turns; %d timed runs)" % o.n)
    print("                                                   n   p50 ms   p90 ms   p99 ms")
    none, net = bench_create(islet, o.n)
    out["create_none"] = row("islet create (no network)", none)
    out["create_all"] = row("islet create --network all", net)
    diffs = [b - a for a, b in zip(none, net)]
    out["create_added"] = row("  added by the network (same round)", diffs)
    ratio = pct(net, 50) / pct(none, 50)
    out["create_ratio"] = ratio
    print("  networked create / create without a network (p50): %.2fx" % ratio)

    with FakeNet():
        sid, _ = islet.create("--network", "all")
        try:
            inside = json.loads(islet.run("exec", sid, "--", "python3", "-c", SEND, SERVER_ADDR,
                                          str(PORT), str(SECONDS), timeout=120))
        finally:
            islet.run("rm", "-f", sid)
        host = json.loads(subprocess.run([sys.executable, "-c", SEND, SERVER_ADDR, str(PORT),
                                          str(SECONDS)], capture_output=True, text=True,
                                         check=True, timeout=120).stdout)
    print("  %-44s %8.2f Gbit/s" % ("TCP from the host to a test namespace", host["gbit_s"]))
    print("  %-44s %8.2f Gbit/s (%.2fx)" % ("TCP from a sandbox, the same", inside["gbit_s"],
                                            inside["gbit_s"] / host["gbit_s"]))
    out["throughput"] = {"host_gbit_s": host["gbit_s"], "sandbox_gbit_s": inside["gbit_s"]}
    out["connect_host"] = row("connect+close from the host", host["connect_ms"])
    out["connect_sandbox"] = row("connect+close from a sandbox", inside["connect_ms"])
    added = pct(inside["connect_ms"], 50) - pct(host["connect_ms"], 50)

    print("\ntargets")
    target(targets, "networked create: added p50", pct(diffs, 50), "<=", 3, "ms")
    target(targets, "throughput from a sandbox", inside["gbit_s"], ">=", 1, "Gbit/s")
    target(targets, "connection: added p50", added, "<=", 1, "ms")
    out["targets"] = targets
    with open(o.json, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
