#!/usr/bin/env bash
# Escape class: killing the supervisor or the sandbox's init from inside.
# The code inside sends SIGKILL, SIGTERM and SIGSTOP to every pid it can see,
# to pid 1 (directly and through a pidfd), to -1 (everything it may signal),
# to its process group and to the supervisor's host pid number.  Afterwards
# the supervisor must be alive and not stopped, the sandbox's init running,
# the sandbox must still answer `islet exec ID -- true`, and host processes,
# including one started by the test, must be untouched.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init
esc_need_x86_64

sleep 600 &
host_proc=$!
esc_defer "kill $host_proc"
ID=$(esc_create)
SUP=$(esc_info "$ID" 'j["supervisor"]')
grep -q islet-run /proc/"$SUP"/cmdline 2>/dev/null || esc_fail "supervisor $SUP is not islet-run"
isl exec "$ID" -- sh -c 'sleep 300 >/dev/null 2>&1 &' </dev/null >/dev/null || esc_fail "cannot start a background process"

out=$(esc_py "$ID" "
me = os.getpid()
pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != me)
print('visible pids:', pids, flush=True)
sent = 0
for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL):
    for p in [1, $SUP, $host_proc, $$] + pids:
        try:
            os.kill(p, sig)
            sent += 1
            print('sent %s to %d' % (signal.Signals(sig).name, p), flush=True)
        except OSError as x:
            print('kill %d %s: %s' % (p, signal.Signals(sig).name, ename(x.errno)), flush=True)
r, e = sc('pidfd_open', 1, 0)
if r >= 0:
    # the kernel may accept it: init ignores what it has no handler for
    res, e = sc('pidfd_send_signal', r, signal.SIGKILL, None, 0)
    print('pidfd_send_signal SIGKILL to pid 1:', ename(e) if res < 0 else 'sent', flush=True)
    os.close(r)
else:
    held('pidfd_open(1): %s' % ename(e))
time.sleep(0.3)
try:
    os.kill(-1, signal.SIGKILL)  # all but ourselves and init
    print('kill(-1, SIGKILL) sent', flush=True)
except OSError as x:
    print('kill(-1): %s' % ename(x.errno), flush=True)
time.sleep(0.3)
left = sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != me)
print('left after kill -1:', left, flush=True)
if 1 not in left:
    escaped('the sandbox init is gone')
state = [l for l in open('/proc/1/status') if l.startswith('State:')][0].split()[1]
if state == 'T':
    escaped('the sandbox init is stopped')
print('init state', state, '- signals sent:', sent, flush=True)
done()
")
esc_attack_verdict "$out" "signals from inside"
out2=$(isl exec "$ID" -- sh -c 'kill -9 -1; kill -9 1; kill -STOP 1; echo shell-kills-sent' </dev/null 2>&1) || true
esc_log "shell: $out2"
grep -q shell-kills-sent <<<"$out2" || esc_fail "the shell attack did not run: $out2"

sleep 0.5
kill -0 "$SUP" 2>/dev/null || esc_fail "the supervisor $SUP is dead"
state=$(awk '/^State:/ {print $2}' /proc/"$SUP"/status)
[[ $state != T ]] || esc_fail "the supervisor is stopped"
kill -0 "$host_proc" 2>/dev/null || esc_fail "a host process was killed"
[[ $(awk '/^State:/ {print $2}' /proc/"$host_proc"/status) != T ]] || esc_fail "a host process was stopped"
out=$(isl exec "$ID" -- sh -c 'echo still-here; grep State /proc/1/status' </dev/null 2>&1) ||
  esc_fail "the sandbox no longer answers: $out"
grep -q still-here <<<"$out" || esc_fail "no answer from the sandbox: $out"
grep -q 'State:.*T' <<<"$out" && esc_fail "the sandbox init is stopped: $out"
[[ $(esc_info "$ID" 'j["state"]') == running ]] || esc_fail "the sandbox is no longer running"
esc_pass "supervisor $SUP and the sandbox's init survive every signal from inside"
