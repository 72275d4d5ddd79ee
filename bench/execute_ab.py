#!/usr/bin/python3
"""Toolbox execute of two isletd builds in turns, with a posix_spawn of /bin/true in the same rounds.

Each isletd runs on a state directory and port of its own, without pools (`--create-pool 0
--v1-pool 0`, as bench_server.py's no-pool lines), with one sandbox; each round takes
`POST /toolbox/{id}/process/execute` of COMMAND (default `true`) on each server's kept-alive
connection and a spawn of /bin/true, in an order that rotates from round to round (each line
takes each place as often, and no line follows itself: an exec leaves its sandbox's handler
making the next command's process), with GAP seconds (default 0.02) before each; p50 and p90
over ROUNDS rounds after 5 untimed ones, each line against the spawn, and new against base, and
each isletd's CPU time per execute (read around the request, outside its timing).  The
state directories go under BENCH_DIR (default /tmp) and are reset and removed at the end.

Usage: bench/execute_ab.py BASE_ISLETD NEW_ISLETD [ROUNDS] [COMMAND]   (as root; BASE e.g. main's)"""
import json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_server import Server, call, pct, spawn  # noqa: E402

builds = {"base": sys.argv[1], "new": sys.argv[2]}
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 200
command = sys.argv[4] if len(sys.argv) > 4 else "true"
gap = float(os.environ.get("GAP", "0.02"))
servers = {}


def cpu_ns(pid):
    """The CPU time of all of pid's threads so far (their schedstat), in ns."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError):
            pass
    return total


def execute(name):
    srv, conn, path = servers[name]
    r = json.loads(call(conn, srv.key, "POST", path, {"command": command}))
    if r.get("exitCode") != 0:
        sys.exit("execute on %s: %r" % (name, r))


try:
    for name, isletd in builds.items():
        state = tempfile.mkdtemp(prefix="islet-execute-ab-" + name + ".", dir=os.environ.get("BENCH_DIR", "/tmp"))
        srv = Server(isletd, state, ["--create-pool", "0", "--v1-pool", "0"])
        conn = srv.conn()
        servers[name] = (srv, conn, None)
        sid = json.loads(call(conn, srv.key, "POST", "/api/sandbox", {"env": {}}))["id"]
        servers[name] = (srv, conn, "/toolbox/%s/process/execute" % sid)
    lines = [("base", lambda: execute("base")), ("new", lambda: execute("new")),
             ("spawn", lambda: spawn(["/bin/true"]))]
    got = {name: [] for name, _ in lines}
    cpu = {"base": [], "new": []}
    for i in range(rounds + 5):
        for name, fn in lines[i % 3:] + lines[:i % 3]:
            time.sleep(gap)
            pid = servers[name][0].proc.pid if name in servers else None
            c0 = cpu_ns(pid) if pid else 0
            t0 = time.perf_counter()
            fn()
            ms = (time.perf_counter() - t0) * 1000.0
            if i >= 5:
                got[name].append(ms)
                if pid:
                    cpu[name].append((cpu_ns(pid) - c0) / 1e6)
    load = open("/proc/loadavg").read().split()[0]
    print("%d rounds, load %s at the end          p50 ms   p90 ms   p50 / spawn" % (rounds, load))
    for name in got:
        print("  %-6s %30.3f %8.3f %8.2fx" % (name, pct(got[name], 50), pct(got[name], 90),
                                            pct(got[name], 50) / pct(got["spawn"], 50)))
    print("  new / base: p50 %.3f, p90 %.3f" % (pct(got["new"], 50) / pct(got["base"], 50),
                                                pct(got["new"], 90) / pct(got["base"], 90)))
    print("  isletd's CPU time per execute (its threads' schedstat), p50 ms: base %.3f, new %.3f" %
          (pct(cpu["base"], 50), pct(cpu["new"], 50)))
finally:
    for name, (srv, conn, _) in servers.items():
        srv.stop()
        subprocess.run([os.path.join(os.path.dirname(builds[name]), "islet"), "--state-dir", srv.state,
                        "system", "reset", "-f"], capture_output=True, timeout=120)
        shutil.rmtree(srv.state, ignore_errors=True)
        try:
            os.unlink(os.path.normpath(srv.out.name))
        except OSError:
            pass
