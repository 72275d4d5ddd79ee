#!/usr/bin/env bash
# Escape class: reading the file agent's memory.  The agent is a fork of the
# host-root supervisor that runs every file request of the sandbox as its
# root: its memory is a copy of the supervisor's.  Inside, the agent is not
# in the sandbox's pid namespace, so it cannot be named: its /proc entry,
# and /proc/self seen through a file request it serves, must not exist.  A
# process with the sandbox's own host uid (which is what the agent runs as)
# is then made on the host, where it can name the agent: ptrace,
# process_vm_readv and /proc/<agent>/{mem,environ,maps} must all be refused.
# That holds only if the agent is not dumpable, which it must make itself:
# a uid change resets the flag to fs.suid_dumpable, which the test sets to
# 1 (debug) while the agent starts, and restores at once.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init
esc_need_x86_64
command -v setpriv >/dev/null && [[ -x /usr/bin/python3 ]] || esc_skip "no setpriv or /usr/bin/python3"

ID=$(esc_create)
SUP=$(esc_info "$ID" 'j["supervisor"]')
BASE=$(esc_info "$ID" 'j["uid_base"]')
dumpable=$(cat /proc/sys/fs/suid_dumpable)
esc_defer "echo $dumpable >/proc/sys/fs/suid_dumpable"
echo 1 >/proc/sys/fs/suid_dumpable
# the first file request starts the agent
echo canary | isl fs "$ID" write /workspace/canary >/dev/null || esc_fail "the first file request failed"
echo "$dumpable" >/proc/sys/fs/suid_dumpable
AGENT=$(ps --ppid "$SUP" -o pid=,comm= | awk '$2 == "islet-agent" { print $1 }')
[[ -n $AGENT ]] || esc_fail "no file agent under the supervisor $SUP"
esc_log "agent pid $AGENT, sandbox root is host uid $BASE"

# inside: the agent cannot be named
out=$(esc_py "$ID" "
for d in os.listdir('/proc'):
    if d.isdigit():
        try:
            comm = open('/proc/%s/comm' % d).read().strip()
        except OSError:
            continue
        if comm == 'islet-agent':
            escaped('the file agent is visible inside as pid %s' % d)
done()
")
esc_attack_verdict "$out" "naming the agent from inside"
for f in /proc/self/mem /proc/self/environ /proc/self/maps /proc/thread-self/environ; do
  if got=$(isl fs "$ID" read "$f" </dev/null 2>&1); then
    esc_fail "a file request read the agent's $f: $(head -c 200 <<<"$got")"
  fi
  esc_log "held: fs read $f: $got"
done

# on the host, as the agent's own uid, with no capability; in the
# sandbox's cgroup, so that no other test takes a process of a sandbox's
# uid outside every sandbox for a leak, and the sandbox's removal ends it
out=$(for d in /sys/fs/cgroup/*/islet/"$ID"/io /sys/fs/cgroup/islet/"$ID"/io; do
  [[ -d $d ]] && echo "$BASHPID" >"$d/cgroup.procs"
done
exec setpriv --reuid "$BASE" --regid "$BASE" --clear-groups --inh-caps=-all --bounding-set=-all \
  /usr/bin/python3 -c "$ESC_PY_PRELUDE
agent = $AGENT
PTRACE_ATTACH, PTRACE_SEIZE = 16, 0x4206
class iovec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
buf = ctypes.create_string_buffer(64)
maps = None
try:
    maps = open('/proc/%d/maps' % agent).read()
    escaped('read /proc/agent/maps (%d bytes)' % len(maps))
except OSError as x:
    held('read /proc/agent/maps: %s' % ename(x.errno))
addr = int(maps.split('-')[0], 16) if maps else 0x400000
must_raise('read /proc/agent/environ', lambda: open('/proc/%d/environ' % agent, 'rb').read())
try:
    fd = os.open('/proc/%d/mem' % agent, os.O_RDONLY)
    try:
        data = os.pread(fd, 16, addr)
        escaped('read the agent memory through /proc/agent/mem: %r' % data)
    except OSError as x:
        held('read /proc/agent/mem: %s' % ename(x.errno))
    os.close(fd)
except OSError as x:
    held('open /proc/agent/mem: %s' % ename(x.errno))
local, remote = iovec(ctypes.addressof(buf), 64), iovec(addr, 64)
must_fail('process_vm_readv agent', sc('process_vm_readv', agent, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
r = must_fail('ptrace ATTACH agent', sc('ptrace', PTRACE_ATTACH, agent, 0, 0))
if r == 0:
    sc('ptrace', 17, agent, 0, 0)  # PTRACE_DETACH
must_fail('ptrace SEIZE agent', sc('ptrace', PTRACE_SEIZE, agent, 0, 0))
done()
" </dev/null 2>&1) || true
esc_attack_verdict "$out" "the agent's memory from its own uid"
[[ $(awk '/TracerPid/ {print $2}' /proc/"$AGENT"/status) == 0 ]] || esc_fail "the agent has a tracer"
[[ $(isl fs "$ID" read /workspace/canary </dev/null) == canary ]] || esc_fail "the agent no longer serves"
esc_pass "the file agent cannot be named from inside nor read by its own uid"
