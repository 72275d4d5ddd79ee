#!/usr/bin/env bash
# Escape class: stopping the sandbox from inside.  prlimit64 on another
# process is allowed by the kernel between processes of the same uids, and
# the sandbox's init and the next exec's waiting process are its root too: a
# hard RLIMIT_CPU of 1 s on pid 1, with signals to keep it busy, made the
# kernel kill the init and so the whole sandbox.  Inside, prlimit on pid 1
# and on the waiting process must be refused; the init's limits, seen from
# the host, unchanged; the sandbox still running and serving execs.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init
esc_need_x86_64

ID=$(esc_create)
SUP=$(esc_info "$ID" 'j["supervisor"]')
INIT=$(ps --ppid "$SUP" -o pid=,comm= | awk '$2 == "init" { print $1 }')
[[ -n $INIT ]] || esc_fail "no init under the supervisor $SUP"
isl exec "$ID" -- true </dev/null || esc_fail "the first exec failed"
isl exec "$ID" -- true </dev/null || esc_fail "the second exec failed"
limits_before=$(cat /proc/"$INIT"/limits)

out=$(esc_py "$ID" "
NR['prlimit64'] = 302
RLIMIT_CPU, RLIMIT_NOFILE = 0, 7
one = (ctypes.c_ulong * 2)(1, 1)
old = (ctypes.c_ulong * 2)()
targets = [1]
for d in os.listdir('/proc'):
    try:
        if d.isdigit() and open('/proc/%s/comm' % d).read().strip() == 'islet-exec':
            targets.append(int(d))
    except OSError:
        pass
print('targets', targets, flush=True)
for pid in targets:
    must_fail('prlimit64(%d, RLIMIT_CPU, 1:1)' % pid, sc('prlimit64', pid, RLIMIT_CPU, one, None))
    must_fail('prlimit64(%d, RLIMIT_NOFILE, 1:1)' % pid, sc('prlimit64', pid, RLIMIT_NOFILE, one, None))
    must_fail('prlimit64(%d | 1<<32, RLIMIT_CPU)' % pid, sc('prlimit64', pid | (1 << 32), RLIMIT_CPU, one, None))
# its own limits stay its own
r, e = sc('prlimit64', 0, RLIMIT_CPU, None, old)
if r != 0:
    escaped('prlimit64(0) on itself failed: %s (a program could not read its own limits)' % ename(e))
# wake pid 1 for a while, as the attack did (signals it ignores)
for _ in range(2000):
    os.kill(1, signal.SIGCHLD)
done()
")
esc_attack_verdict "$out" "prlimit on the init"
sleep 1.5
state=$(esc_info "$ID" 'j["state"]')
[[ $state == running ]] || esc_fail "the sandbox is $state after the attack"
isl exec "$ID" -- true </dev/null || esc_fail "an exec after the attack failed"
[[ $(cat /proc/"$INIT"/limits) == "$limits_before" ]] || esc_fail "the init's limits changed: $(grep -i cpu /proc/"$INIT"/limits)"
esc_pass "prlimit reaches no other process; the sandbox keeps running"
