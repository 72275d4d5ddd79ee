#!/usr/bin/env bash
# Escape class: reading or writing another process's memory.  Inside,
# ptrace (TRACEME, ATTACH, SEIZE), process_vm_readv/writev and /proc/<pid>/mem
# are tried against a child, against pid 1 (a fork of the host-root
# islet-run), against the next exec's process waiting in the sandbox (also a
# fork of it, already confined), and against host pids: the test's own
# shell, the supervisor and host pid 1.  Host pids are not in the sandbox's pid namespace, so they must
# not be nameable at all.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init
esc_need_x86_64

ID=$(esc_create)
SUP=$(esc_info "$ID" 'j["supervisor"]')
# from its second exec on (the attack below), the sandbox holds the next
# exec's process waiting for its argv: one exec first
isl exec "$ID" -- true </dev/null || esc_fail "the first exec failed"
sleep 600 &
host_victim=$!
esc_defer "kill $host_victim"
for _ in $(seq 1 50); do
  [[ $(cat /proc/"$host_victim"/comm) == sleep ]] && break
  sleep 0.1
done
victim_maps_before=$(sha256sum </proc/"$host_victim"/maps)

out=$(esc_py "$ID" "
PTRACE_TRACEME, PTRACE_PEEKDATA, PTRACE_ATTACH, PTRACE_SEIZE = 0, 2, 16, 0x4206
class iovec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
buf = ctypes.create_string_buffer(64)
secret = ctypes.create_string_buffer(b'child-secret-' + b'x' * 40)

def vm(pid, addr):
    local, remote = iovec(ctypes.addressof(buf), 64), iovec(addr, 64)
    must_fail('process_vm_readv pid %d' % pid,
              sc('process_vm_readv', pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
    must_fail('process_vm_writev pid %d' % pid,
              sc('process_vm_writev', pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))

def mem(pid, addr):
    for flags, what in ((os.O_RDONLY, 'read'), (os.O_RDWR, 'write')):
        try:
            fd = os.open('/proc/%d/mem' % pid, flags)
        except OSError as x:
            held('open /proc/%d/mem for %s: %s' % (pid, what, ename(x.errno)))
            continue
        try:
            data = os.pread(fd, 16, addr)
            # same user, same sandbox, no ptrace needed: the kernel allows this
            # for a child; for pid 1 or a host pid it would be an escape
            if pid == child:
                held('/proc/child/mem %s: allowed inside the sandbox' % what)
            else:
                escaped('/proc/%d/mem opened for %s and read %r' % (pid, what, data))
        except OSError as x:
            held('read /proc/%d/mem: %s' % (pid, ename(x.errno)))
        os.close(fd)

child = os.fork()
if child == 0:
    time.sleep(60)
    os._exit(0)
time.sleep(0.2)
addr = ctypes.addressof(secret)

must_fail('ptrace ATTACH child', sc('ptrace', PTRACE_ATTACH, child, 0, 0))
must_fail('ptrace SEIZE child', sc('ptrace', PTRACE_SEIZE, child, 0, 0))
must_fail('ptrace PEEKDATA child', sc('ptrace', PTRACE_PEEKDATA, child, addr, 0))
vm(child, addr)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    res = sc('ptrace', PTRACE_TRACEME, 0, 0, 0)
    os.write(w, b'%d %d' % res)
    os._exit(0)
os.waitpid(pid, 0)
rv, e = map(int, os.read(r, 64).split())
must_fail('ptrace TRACEME', (rv, e))

must_fail('ptrace ATTACH pid 1', sc('ptrace', PTRACE_ATTACH, 1, 0, 0))
vm(1, 0x400000)
mem(1, 0x400000)
mem(child, addr)

# host pids: the test shell, its sleeping victim, the supervisor, host pid 1
# (here pid 1 is the sandbox's own init)
for hp in ($$, $host_victim, $SUP):
    if os.path.exists('/proc/%d' % hp):
        comm = open('/proc/%d/comm' % hp).read().strip()
        print('pid %d exists inside: %s (a sandbox process with the same number)' % (hp, comm), flush=True)
        if comm in ('sleep', 'bash', 'islet-run'):
            escaped('host pid %d (%s) is visible' % (hp, comm))
        continue
    must_fail('kill(%d, 0)' % hp, (_libc.kill(hp, 0), ctypes.get_errno()))
    must_fail('ptrace ATTACH host pid %d' % hp, sc('ptrace', PTRACE_ATTACH, hp, 0, 0))
    vm(hp, 0x400000)
    mem(hp, 0x400000)

# the next exec's process, waiting inside for its argv, already confined
waiting = []
deadline = time.time() + 5
while not waiting and time.time() < deadline:
    for d in os.listdir('/proc'):
        try:
            if d.isdigit() and open('/proc/%s/comm' % d).read().strip() == 'islet-exec':
                waiting.append(int(d))
        except OSError:
            pass
    if not waiting:
        time.sleep(0.05)
if not waiting:
    print('no waiting exec process to attack', flush=True)
    sys.exit(3)
for w in waiting:
    cmdline = open('/proc/%d/cmdline' % w, 'rb').read()
    print('waiting process %d: %r' % (w, cmdline), flush=True)
    if b'$S' in cmdline:
        escaped('the waiting process shows the host path: %r' % cmdline)
    must_fail('ptrace ATTACH waiting %d' % w, sc('ptrace', PTRACE_ATTACH, w, 0, 0))
    must_fail('ptrace SEIZE waiting %d' % w, sc('ptrace', PTRACE_SEIZE, w, 0, 0))
    vm(w, 0x400000)
    mem(w, 0x400000)
    for f in ('environ', 'auxv', 'stack', 'syscall'):
        must_raise('read /proc/waiting/%s' % f, lambda: open('/proc/%d/%s' % (w, f), 'rb').read())
    for f in ('fd', 'map_files'):
        must_raise('list /proc/waiting/%s' % f, os.listdir, '/proc/%d/%s' % (w, f))
    for f in ('cwd', 'root', 'exe'):
        must_raise('readlink /proc/waiting/%s' % f, os.readlink, '/proc/%d/%s' % (w, f))

os.kill(child, 9)
os.waitpid(child, 0)
done()
")
esc_attack_verdict "$out" "ptrace and memory access"

kill -0 "$host_victim" 2>/dev/null || esc_fail "the host victim process died"
grep -q '^State:.*[SR]' /proc/"$host_victim"/status || esc_fail "the host victim is stopped or traced: $(grep State /proc/"$host_victim"/status)"
[[ $(awk '/TracerPid/ {print $2}' /proc/"$host_victim"/status) == 0 ]] || esc_fail "the host victim has a tracer"
[[ $(sha256sum </proc/"$host_victim"/maps) == "$victim_maps_before" ]] || esc_fail "the host victim's mappings changed"
kill -0 "$SUP" 2>/dev/null || esc_fail "the supervisor died"
[[ $(awk '/TracerPid/ {print $2}' /proc/"$SUP"/status) == 0 ]] || esc_fail "the supervisor has a tracer"
esc_pass "no ptrace, no cross-process memory access, no host pid reachable"
