#!/usr/bin/env bash
# Escape class: a host file descriptor or working directory leaking into the
# sandbox.  One open directory fd, or a cwd outside the new root, is a whole
# escape (openat(fd, "..")).  The host shell opens a directory and files on
# fds 7-9 before it creates sandboxes, so anything islet fails to close ends up
# inside.  Inside: only fds 0-2, cwd /workspace, /proc/1/{cwd,root} are the
# sandbox's, and no path named in mountinfo reaches the host's files.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init

TOKEN=$(esc_token)
CDIR=$(mktemp -d /tmp/islet-esc-cv.XXXXXX)
esc_defer "rm -rf '$CDIR'"
CANARY=$CDIR/canary
printf '%s\n' "$TOKEN" >"$CANARY"
printf '%s\n' "$TOKEN" >"$S/canary"

inside='
token, canary, state = os.environ["ESC_TOKEN"], os.environ["ESC_CANARY"], os.environ["ESC_STATE"]
me = os.getpid()

def harmless(target):
    return target.split(":")[0] in ("pipe", "socket", "anon_inode") or \
        target == "/dev/null" or target.startswith("/dev/pts/")

# 1. my own descriptors
fds = {}
for n in os.listdir("/proc/self/fd"):
    try:
        fds[int(n)] = os.readlink("/proc/self/fd/" + n)
    except OSError:
        pass  # the descriptor listdir used, closed by now
print("my fds:", fds, flush=True)
for n, t in sorted(fds.items()):
    if n > 2:
        escaped("fd %d is open: %s" % (n, t))
    elif not harmless(t):
        escaped("fd %d points at %s" % (n, t))

# 2. descriptors of every other process we can see (pid 1 is islet-run forked)
for p in sorted(int(x) for x in os.listdir("/proc") if x.isdigit()):
    if p == me:
        continue
    try:
        names = os.listdir("/proc/%d/fd" % p)
    except OSError as x:
        held("list /proc/%d/fd: %s" % (p, ename(x.errno)))
        continue
    for n in names:
        try:
            t = os.readlink("/proc/%d/fd/%s" % (p, n))
        except OSError:
            continue
        if harmless(t):
            continue
        try:
            st = os.stat("/proc/%d/fd/%s" % (p, n))
        except OSError as x:
            held("pid %d fd %s -> %s: not reachable (%s)" % (p, n, t, ename(x.errno)))
            continue
        escaped("pid %d fd %s -> %s is reachable (mode %o)" % (p, n, t, st.st_mode))

# 3. working directories and roots
cwd = os.getcwd()
if cwd != "/workspace":
    escaped("cwd is %r, not /workspace" % cwd)
elif os.stat(".") != os.stat("/workspace"):
    escaped("cwd is named /workspace but is another directory")
else:
    held("cwd is /workspace")
root = os.stat("/")
for p in ["self", "1"]:
    for what in ("root", "cwd"):
        link = "/proc/%s/%s" % (p, what)
        try:
            st = os.stat(link)
        except OSError as x:
            held("%s: %s" % (link, ename(x.errno)))
            continue
        if what == "root" and (st.st_dev, st.st_ino) != (root.st_dev, root.st_ino):
            escaped("%s is not the sandbox root (%s)" % (link, os.readlink(link)))
        if what == "root" and sorted(os.listdir(link)) != sorted(os.listdir("/")):
            escaped("%s lists differently from /" % link)
        if os.path.exists(link + "/sandboxes") or os.path.exists(link + canary):
            escaped("%s reaches the host" % link)
        held("%s -> %s stays inside" % (link, os.readlink(link)))

# 4. the host canaries by their host paths, directly and through /proc
for base in ["", "/proc/self/root", "/proc/1/root", "/proc/1/cwd/../../../.."]:
    for path in (canary, state + "/canary"):
        try:
            with open(base + path) as f:
                data = f.read()
        except OSError as x:
            held("open %s: %s" % (base + path, ename(x.errno)))
            continue
        if token in data:
            escaped("read the host canary at %s" % (base + path))

# 5. host paths named in mountinfo must lead nowhere
named = set()
for line in open("/proc/self/mountinfo"):
    pre, post = line.rstrip("\n").split(" - ", 1)
    f, g = pre.split(), post.split()
    if f[3] != "/":
        named.add(f[3])
    for opt in (g[2] if len(g) > 2 else "").split(","):
        k, _, v = opt.partition("=")
        if k in ("lowerdir", "upperdir", "workdir", "lowerdir+", "datadir+"):
            named.update(x for x in v.split(":") if x.startswith("/"))
for path in sorted(named):
    if path.startswith(state):
        print("note: mountinfo names the host state dir path %s" % path, flush=True)
    for probe in (path, path + "/canary", os.path.dirname(path) + "/canary"):
        try:
            data = open(probe).read()
        except OSError:
            continue
        if token in data:
            escaped("the host canary is reachable at %s (named in mountinfo)" % probe)
    try:
        entries = os.listdir(path)
    except OSError:
        continue
    if "sandboxes" in entries or "canary" in entries or "upper" in entries:
        escaped("%s, named in mountinfo, is a host directory: %s" % (path, entries[:10]))
print("mountinfo named %d paths" % len(named), flush=True)
done()
'
envs=(-e "ESC_TOKEN=$TOKEN" -e "ESC_CANARY=$CANARY" -e "ESC_STATE=$S")

# islet create, islet exec and islet run all start with these open
exec 7<"$CDIR" 8<"$CANARY" 9<>"$S/canary"
ID=$(esc_create)
out=$(isl exec "$ID" --timeout 60 "${envs[@]}" -- python3 -c "$ESC_PY_PRELUDE"$'\n'"$inside" </dev/null 2>&1) || true
esc_attack_verdict "$out" "exec in a created sandbox"

out=$(isl run --timeout 60 "${envs[@]}" -- python3 -c "$ESC_PY_PRELUDE"$'\n'"$inside" </dev/null 2>&1) || true
esc_attack_verdict "$out" "islet run"

# the shell tools see the same: ls of the fd directory lists 0-2 and its own 3
out=$(isl exec "$ID" -- sh -c 'ls /proc/self/fd | tr "\n" " "; echo; pwd' </dev/null 2>&1) ||
  esc_fail "exec of ls failed: $out"
# From the host: no process of the sandbox holds what the shell had open.
# (Inside, /proc/1/fd is closed to the sandbox; a descriptor held there would
# still be one ptrace-able init away from an escape.)
BASE=$(esc_info "$ID" 'j["uid_base"]')
isl exec "$ID" -- sh -c 'sleep 300 >/dev/null 2>&1 &' </dev/null >/dev/null || esc_fail "cannot start a background process"
SUP=$(esc_info "$ID" 'j["supervisor"]')
held_fds() { # PID: the fd targets that lead to the canaries
  local fd
  for fd in /proc/"$1"/fd/*; do
    readlink "$fd" 2>/dev/null || true
  done | grep -E "^($CDIR|$S/canary)" || true
}
[[ -n $(held_fds $$) ]] || esc_fail "the fd check does not see this shell's own fds 7-9"
n=0
while read -r pid _ name; do
  [[ -z $pid ]] && continue
  n=$((n + 1))
  leaked=$(held_fds "$pid")
  [[ -z $leaked ]] || esc_fail "sandbox process $pid ($name) holds host fds: $leaked"
done < <(esc_procs_of_uid_range "$BASE")
((n >= 2)) || esc_fail "found $n processes of the sandbox on the host, expected init and a sleep"
esc_log "host view: $n sandbox processes, none holds the shell's fds"
leaked=$(held_fds "$SUP")
[[ -z $leaked ]] || esc_log "note: the supervisor $SUP holds what the CLI had open: $leaked"

exec 7<&- 8<&- 9<&-
esc_log "ls /proc/self/fd; pwd: $out"
[[ $(head -n 1 <<<"$out") == "0 1 2 3 " ]] || esc_fail "unexpected descriptors inside: $out"
[[ $(tail -n 1 <<<"$out") == /workspace ]] || esc_fail "cwd inside is not /workspace: $out"

grep -qx "$TOKEN" "$CANARY" || esc_fail "host canary $CANARY changed"
esc_pass "only fds 0-2 inside, cwd and roots stay in the sandbox"
