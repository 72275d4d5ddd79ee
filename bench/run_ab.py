#!/usr/bin/python3
"""`islet run -- /bin/true` of two builds in turns: cold (a one-shot sandbox) and from a warm pool of 4
(`system warm 4` on a state directory of its own), with bubblewrap's run of /bin/true (bench_core's
command line) in the same rounds.  Each round takes every line once, in an order that reverses from
round to round, with GAP seconds between two lines (default 0.02); p50 and p90 over ROUNDS rounds
after 3 untimed ones.  The state directories go under BENCH_DIR (default /tmp) and are reset and
removed at the end.

Usage: bench/run_ab.py BASE_ISLET NEW_ISLET [ROUNDS]   (as root; BASE is e.g. a build of main)"""
import atexit, os, statistics, subprocess, sys, tempfile, time

base, new = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 40
gap = float(os.environ.get("GAP", "0.02"))


def run(argv):
    return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


states = {k: tempfile.mkdtemp(prefix="islet-ab-" + k + ".", dir=os.environ.get("BENCH_DIR", "/tmp"))
          for k in ("base-cold", "new-cold", "base-warm", "new-warm")}


def clean():
    for k, d in states.items():
        run([base if k.startswith("base") else new, "--state-dir", d, "system", "reset", "-f"])
        run(["rm", "-rf", d])


atexit.register(clean)
for cli, k in ((base, "base-warm"), (new, "new-warm")):
    run([cli, "--state-dir", states[k], "system", "warm", "4"])
bwrap = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin",
         "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev",
         "/dev", "--tmpfs", "/tmp", "/bin/true"]
lines = {
    "bwrap": bwrap,
    "base cold": [base, "--state-dir", states["base-cold"], "run", "--", "/bin/true"],
    "new cold": [new, "--state-dir", states["new-cold"], "run", "--", "/bin/true"],
    "base warm": [base, "--state-dir", states["base-warm"], "run", "--", "/bin/true"],
    "new warm": [new, "--state-dir", states["new-warm"], "run", "--", "/bin/true"],
}
times = {k: [] for k in lines}
load0 = os.getloadavg()[0]
for i in range(-3, rounds):
    for k in (list(lines) if i % 2 == 0 else list(reversed(lines))):
        t0 = time.perf_counter()
        if run(lines[k]).returncode != 0:
            raise SystemExit(f"{k}: failed")
        dt = (time.perf_counter() - t0) * 1e3
        if i >= 0:
            times[k].append(dt)
        time.sleep(gap)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]


print(f"{rounds} rounds, gap {gap} s, load average {load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
for k, v in times.items():
    print(f"{k:10s} p50 {statistics.median(v):7.2f} ms  p90 {pct(v, 0.9):7.2f} ms  "
          f"p50/bwrap {statistics.median(v) / statistics.median(times['bwrap']):.2f}")
for kind in ("cold", "warm"):
    print(f"{kind}: new/base p50 {statistics.median(times['new ' + kind]) / statistics.median(times['base ' + kind]):.3f}")
