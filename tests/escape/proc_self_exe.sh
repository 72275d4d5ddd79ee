#!/usr/bin/env bash
# Escape class: overwriting the runtime through /proc/<pid>/exe
# (CVE-2019-5736 in runc).  Pid 1 inside is a fork of islet-run, and every exec
# briefly runs as islet-run inside the sandbox before its execve: code inside
# tries to open those binaries for writing, directly, through an O_PATH fd
# reopened via /proc/self/fd, and in a race against new execs.  Afterwards
# islet, islet-run and the interpreter must be byte for byte unchanged.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init

[[ -x $ISLET_RUN_BIN ]] || esc_fail "no islet-run beside $ISLET_BIN"
PY_REAL=$(readlink -f /usr/bin/python3)
watched=("$ISLET_BIN" "$ISLET_RUN_BIN" "$PY_REAL")
before=$(esc_fingerprint "${watched[@]}")

ID=$(esc_create)

# 1. Direct attempts on every exe link that can be seen.
out=$(esc_py "$ID" '
me = os.getpid()
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print("pids inside:", pids, flush=True)
targets = ["/proc/self/exe", "/proc/1/exe"] + ["/proc/%d/exe" % p for p in pids if p not in (1, me)]
for t in targets:
    for flags, name in ((os.O_WRONLY, "O_WRONLY"), (os.O_RDWR, "O_RDWR"),
                        (os.O_WRONLY | os.O_APPEND, "O_APPEND")):
        fd = must_raise("open %s %s" % (t, name), os.open, t, flags)
        if fd is not None:
            os.close(fd)
    # runc-style: hold an O_PATH fd, then reopen it for writing through /proc/self/fd
    try:
        pfd = os.open(t, os.O_PATH)
    except OSError as x:
        held("open %s O_PATH: %s" % (t, ename(x.errno)))
        continue
    fd = must_raise("reopen O_PATH fd of %s for writing" % t, os.open,
                    "/proc/self/fd/%d" % pfd, os.O_WRONLY)
    if fd is not None:
        os.close(fd)
    os.close(pfd)
# the exe of a process that has exec-ed away: no longer busy, still not writable
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    keep = os.open("/proc/self/exe", os.O_PATH)
    os.set_inheritable(keep, True)
    os.dup2(w, 1)
    # append, never truncate: a broken sandbox must not cost the host its python3
    os.execv("/bin/sh", ["sh", "-c", "true 2>/dev/null >>/proc/self/fd/%d && echo WROTE || echo refused" % keep])
os.close(w)
os.waitpid(pid, 0)
res = os.read(r, 100).decode().strip()
if res == "refused":
    held("old exe reopened for writing after exec: refused")
else:
    escaped("old exe reopened for writing after exec: %r" % res)
done()
')
esc_attack_verdict "$out" "direct /proc/*/exe writes"

# 2. The race: a watcher inside opens the exe of every new process, while the
# host starts execs whose first instants inside are islet-run itself.
racer='
deadline = time.time() + 40
seen, opened, tried, kinds = set(os.listdir("/proc")), 0, 0, set()
while time.time() < deadline and not os.path.exists("/workspace/stop-race"):
    for p in os.listdir("/proc"):
        if not p.isdigit() or p in seen:
            continue
        seen.add(p)
        t = "/proc/%s/exe" % p
        tried += 1
        for flags in (os.O_WRONLY, os.O_RDWR):
            try:
                fd = os.open(t, flags)
            except OSError:
                continue
            escaped("opened %s (%s) for writing" % (t, os.readlink("/proc/self/fd/%d" % fd)))
            os.close(fd)
        try:
            pfd = os.open(t, os.O_PATH)
        except OSError:
            continue
        opened += 1
        try:
            kinds.add(os.readlink("/proc/self/fd/%d" % pfd))
        except OSError:
            pass
        try:
            fd = os.open("/proc/self/fd/%d" % pfd, os.O_WRONLY)
            escaped("reopened exe of pid %s for writing" % p)
            os.close(fd)
        except OSError:
            pass
        os.close(pfd)
print("race: new pids tried %d, exe handles held %d: %s" % (tried, opened, sorted(kinds)), flush=True)
done()
'
racelog=$(mktemp "$S/race.XXXXXX")
esc_py "$ID" "$racer" >"$racelog" &
racepid=$!
esc_defer "kill $racepid"
sleep 1
# a command that is not found never execs: its process stays islet-run until it exits
for _ in $(seq 1 30); do
  isl exec "$ID" -- true </dev/null >/dev/null 2>&1 || esc_fail "exec of true failed during the race"
  rc=0
  isl exec "$ID" -- /no/such/command </dev/null >/dev/null 2>&1 || rc=$?
  [[ $rc == 127 ]] || esc_fail "exec of a missing command returned $rc, not 127"
done
isl fs "$ID" write /workspace/stop-race --content stop </dev/null >/dev/null
wait "$racepid" || true
out=$(cat "$racelog")
esc_attack_verdict "$out" "exe race"
grep -Eq 'new pids tried [1-9]' <<<"$out" || esc_fail "the racer saw none of the 60 execs"

esc_same_fingerprint "$before" "${watched[@]}"
isl exec "$ID" -- true </dev/null || esc_fail "the sandbox no longer runs commands"
esc_pass "islet, islet-run and python3 unchanged; no exe writable from inside"
