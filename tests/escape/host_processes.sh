#!/usr/bin/env bash
# Escape class: seeing host processes.  The sandbox has its own pid namespace:
# `ps` and /proc inside must show only its own processes (its init as pid 1,
# the exec and what the exec started), never the test's shell, a host process
# with a recognisable command line, the supervisor, or the host's pid 1.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init

MARK=$(esc_token)
# a host process whose command line no sandbox process has
bash -c "exec -a islet-esc-host-$MARK sleep 600" &
host_proc=$!
esc_defer "kill $host_proc"
host_init=$(tr '\0' ' ' </proc/1/cmdline)

ID=$(esc_create)
SUP=$(esc_info "$ID" 'j["supervisor"]')
isl exec "$ID" -- sh -c 'sleep 300 >/dev/null 2>&1 &' </dev/null >/dev/null ||
  esc_fail "cannot start a background process inside"

# the marks travel in the environment: the script's own command line must not hold them
out=$(esc_py "$ID" "
mark, host_init = os.environ['ESC_MARK'], os.environ['ESC_HOST_INIT'].strip()
host_pids = {$$: 'the test shell', $host_proc: 'the marked host sleep', $SUP: 'the supervisor'}
procs = {}
for p in os.listdir('/proc'):
    if not p.isdigit():
        continue
    try:
        procs[int(p)] = open('/proc/%s/cmdline' % p, 'rb').read().replace(b'\0', b' ').decode(errors='replace').strip()
    except OSError:
        pass
for pid, cmd in sorted(procs.items()):
    print('inside: %6d %s' % (pid, cmd[:100]), flush=True)
if len(procs) > 6:
    escaped('%d processes visible, expected init, a sleep and this exec' % len(procs))
for pid, cmd in procs.items():
    if mark in cmd:
        escaped('the host process %r is visible as pid %d' % (cmd[:100], pid))
    if cmd == host_init:
        escaped('the host init %r is visible as pid %d' % (cmd[:100], pid))
for pid, what in host_pids.items():
    if pid in procs and ('sleep' not in procs[pid] or mark in procs[pid]) and pid != os.getpid():
        escaped('%s (host pid %d) is visible: %r' % (what, pid, procs[pid]))
if not any(c.startswith('sleep 300') for c in procs.values()):
    escaped('the sandbox does not see its own background sleep: is this its pid namespace?')
st = os.stat('/proc/1')
print('pid 1 inside is owned by uid %d' % st.st_uid, flush=True)
done()
" -e "ESC_MARK=$MARK" -e "ESC_HOST_INIT=$host_init")
esc_attack_verdict "$out" "process listing"

out=$(isl exec "$ID" -- ps -eo pid,user,args </dev/null 2>&1) || esc_fail "ps failed inside: $out"
esc_log "ps inside:"
sed 's/^/#   /' <<<"$out" >&2
grep -qF "$MARK" <<<"$out" && esc_fail "ps inside shows the host process"
n=$(($(wc -l <<<"$out") - 1))
((n <= 5)) || esc_fail "ps inside lists $n processes"
kill -0 "$host_proc" || esc_fail "the host process died"
esc_pass "only the sandbox's own $n processes are visible"
