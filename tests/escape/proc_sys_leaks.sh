#!/usr/bin/env bash
# Escape class: host state through /proc and /sys.  The host puts a canary in
# the environment of every islet process; inside, no /proc/*/environ and no
# exec environment may hold it.  The masked /proc files (kcore, keys,
# timer_list, sched_debug, sysrq-trigger...) must read empty, sysrq must do
# nothing, /proc/sys must not be writable (core_pattern and modprobe are the
# classic escapes: the kernel runs them as host root), /sys must be absent,
# and the kernel log and symbol addresses must stay closed.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init
esc_need_x86_64

ETOK=$(esc_token)
export ISLET_ESC_ENV_CANARY=$ETOK
sysctls=(kernel/core_pattern kernel/modprobe kernel/panic kernel/hostname kernel/domainname
  vm/drop_caches fs/file-max kernel/pid_max kernel/randomize_va_space net/ipv4/ip_forward)
host_sysctls() {
  local k
  for k in "${sysctls[@]}"; do
    printf '%s=%s\n' "$k" "$(cat "/proc/sys/$k" 2>/dev/null || echo absent)"
  done
}
before=$(host_sysctls)
sysrq_before=$(dmesg 2>/dev/null | grep -ci sysrq || true)

ID=$(esc_create)
out=$(esc_py "$ID" "
token, state = '$ETOK', '$S'
# 1. environments
if token in repr(dict(os.environ)):
    escaped('the exec environment holds the host canary')
for p in ['self', '1'] + [x for x in os.listdir('/proc') if x.isdigit()]:
    try:
        data = open('/proc/%s/environ' % p, 'rb').read()
    except OSError as x:
        held('/proc/%s/environ: %s' % (p, ename(x.errno)))
        continue
    if token.encode() in data:
        escaped('/proc/%s/environ holds the host canary' % p)
    elif p in ('self', '1'):
        held('/proc/%s/environ: %d bytes, no canary' % (p, len(data)))
cmd1 = open('/proc/1/cmdline', 'rb').read().replace(b'\0', b' ').decode(errors='replace')
if token in cmd1:
    escaped('/proc/1/cmdline holds the host canary')
if state in cmd1:
    print('note: /proc/1/cmdline names the host state directory:', cmd1, flush=True)

# 2. masked files read empty; masked directories list empty
for name in ['kcore', 'keys', 'timer_list', 'sched_debug', 'latency_stats', 'timer_stats',
             'sysrq-trigger', 'kpagecount', 'kpageflags', 'kpagecgroup']:
    p = '/proc/' + name
    if not os.path.lexists(p):
        held('%s: absent' % p)
        continue
    try:
        with open(p, 'rb') as f:
            data = f.read(4096)
    except OSError as x:
        held('read %s: %s' % (p, ename(x.errno)))
        continue
    if data:
        escaped('%s reads %d bytes: %r' % (p, len(data), data[:60]))
    else:
        held('%s reads empty' % p)
for name in ['acpi', 'scsi', 'asound', 'driver']:
    p = '/proc/' + name
    try:
        entries = os.listdir(p)
    except OSError as x:
        held('list %s: %s' % (p, ename(x.errno)))
        continue
    if entries:
        escaped('%s lists %s' % (p, entries[:5]))
    else:
        held('%s is empty' % p)

# 3. sysrq: the trigger is /dev/null, or refuses
if os.path.lexists('/proc/sysrq-trigger'):
    st = os.stat('/proc/sysrq-trigger')
    try:
        with open('/proc/sysrq-trigger', 'w') as f:
            f.write('h')
        if (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3):
            held('sysrq-trigger accepted h, but it is /dev/null')
        else:
            escaped('wrote h to the real /proc/sysrq-trigger')
    except OSError as x:
        held('write /proc/sysrq-trigger: %s' % ename(x.errno))

# 4. /proc/sys is read-only
for k in '${sysctls[*]}'.split() + ['fs/binfmt_misc/register', 'kernel/sysrq', 'kernel/core_uses_pid']:
    p = '/proc/sys/' + k
    if not os.path.exists(p):
        held('%s: absent' % p)
        continue
    value = '|/tmp/evil %p' if k == 'kernel/core_pattern' else '/tmp/evil' if k == 'kernel/modprobe' else '1'
    try:
        fd = os.open(p, os.O_WRONLY)
    except OSError as x:
        held('open %s for writing: %s' % (p, ename(x.errno)))
        continue
    try:
        os.write(fd, value.encode())
        escaped('wrote %r to %s' % (value, p))
    except OSError as x:
        held('write %s: %s' % (p, ename(x.errno)))
    os.close(fd)

# 5. /sys, the kernel log, kernel addresses
if os.path.exists('/sys'):
    entries = os.listdir('/sys')
    if entries:
        escaped('/sys lists %s' % entries[:8])
for p in ['/sys/class/dmi/id/product_uuid', '/sys/fs/cgroup', '/sys/kernel/uevent_helper',
          '/sys/firmware', '/dev/kmsg', '/dev/mem', '/dev/kmem', '/dev/port', '/dev/sda', '/dev/vda']:
    if os.path.exists(p):
        escaped('%s exists' % p)
    else:
        held('%s: absent' % p)
buf = ctypes.create_string_buffer(4096)
must_fail('syslog(READ_ALL)', sc('syslog', 3, buf, 4096))
must_fail('syslog(CLEAR)', sc('syslog', 5, None, 0))
nonzero = 0
try:
    for line in open('/proc/kallsyms'):
        if int(line.split()[0], 16):
            nonzero += 1
except OSError as x:
    held('/proc/kallsyms: %s' % ename(x.errno))
if nonzero:
    escaped('/proc/kallsyms shows %d real kernel addresses' % nonzero)
else:
    held('/proc/kallsyms addresses are all zero')
cg = open('/proc/self/cgroup').read()
print('/proc/self/cgroup:', cg.replace(chr(10), ' '), flush=True)
done()
")
esc_attack_verdict "$out" "/proc and /sys probes"

# the same from a plain shell: what a user would try first
out=$(isl exec "$ID" -- sh -c 'echo c > /proc/sysrq-trigger; echo "|/tmp/x" > /proc/sys/kernel/core_pattern;
  cat /proc/sys/kernel/core_pattern; dmesg 2>&1 | head -n 2; ls /sys 2>&1; env' </dev/null 2>&1) || true
esc_log "shell attempts: $(tr '\n' '|' <<<"$out" | cut -c1-400)"
grep -qF "$ETOK" <<<"$out" && esc_fail "the host canary is in the exec's environment"

after=$(host_sysctls)
if [[ $before != "$after" ]]; then
  diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed 's/^/#   /' >&2
  esc_fail "host sysctls changed"
fi
sysrq_after=$(dmesg 2>/dev/null | grep -ci sysrq || true)
[[ $sysrq_after == "$sysrq_before" ]] || esc_fail "the kernel log has new sysrq lines"
esc_pass "no environment canary, masks in place, /proc/sys read-only, no /sys"
