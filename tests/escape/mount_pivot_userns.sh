#!/usr/bin/env bash
# Escape class: rearranging the mount tree or getting new namespaces.  Inside:
# mount (tmpfs, bind, proc, remount of /usr read-write, propagation), umount
# of /usr and of the /proc masks, pivot_root, chroot, the new mount API,
# unshare and clone with namespace flags, setns, and the util-linux tools
# (unshare -Ur, mount, umount).  All must fail, and afterwards the sandbox's
# mount table must be exactly as before, with /proc masked and /usr read-only.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init
esc_need_x86_64

ID=$(esc_create)
out=$(esc_py "$ID" "
import subprocess
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_SHARED, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 20, 1 << 18
MNT_DETACH, AT_FDCWD, OPEN_TREE_CLONE, MOVE_MOUNT_F_EMPTY_PATH = 2, -100, 1, 4
NS = dict(user=0x10000000, mnt=0x20000, pid=0x20000000, net=0x40000000, uts=0x04000000,
          ipc=0x08000000, cgroup=0x02000000, time=0x80)

def table():
    # mount ids aside, what is mounted where, how
    return sorted(' '.join(l.split()[3:]) for l in open('/proc/self/mountinfo'))
before = table()

must_fail('mount tmpfs on /mnt', sc('mount', 'tmpfs', '/mnt', 'tmpfs', 0, None))
must_fail('mount proc on /mnt', sc('mount', 'proc', '/mnt', 'proc', 0, None))
must_fail('bind /workspace on /tmp', sc('mount', '/workspace', '/tmp', None, MS_BIND, None))
must_fail('bind / on /mnt (recursive)', sc('mount', '/', '/mnt', None, MS_BIND | MS_REC, None))
must_fail('remount /usr read-write', sc('mount', None, '/usr', None, MS_REMOUNT | MS_BIND, None))
must_fail('remount / read-only', sc('mount', None, '/', None, MS_REMOUNT | MS_RDONLY, None))
must_fail('make / shared', sc('mount', None, '/', None, MS_REC | MS_SHARED, None))
for target in ['/usr', '/proc/keys', '/proc/timer_list', '/proc/sys', '/proc/acpi', '/proc', '/dev', '/']:
    must_fail('umount %s' % target, sc('umount2', target, 0))
    must_fail('umount -l %s' % target, sc('umount2', target, MNT_DETACH))
os.makedirs('/workspace/newroot/old', exist_ok=True)
os.chdir('/')
must_fail('pivot_root . .', sc('pivot_root', '.', '.'))
must_fail('pivot_root /workspace/newroot', sc('pivot_root', '/workspace/newroot', '/workspace/newroot/old'))
must_fail('chroot /workspace', sc('chroot', '/workspace'))
must_fail('chroot /proc/1/root', sc('chroot', '/proc/1/root'))

# the new mount API
must_fail('fsopen tmpfs', sc('fsopen', 'tmpfs', 0))
must_fail('fspick /usr', sc('fspick', AT_FDCWD, '/usr', 0))
must_fail('open_tree /usr clone', sc('open_tree', AT_FDCWD, '/usr', OPEN_TREE_CLONE))
must_fail('move_mount /usr to /mnt', sc('move_mount', AT_FDCWD, '/usr', AT_FDCWD, '/mnt', 0))
attr = (ctypes.c_uint64 * 4)(0, 1, 0, 0)  # attr_clr = MOUNT_ATTR_RDONLY
must_fail('mount_setattr /usr read-write', sc('mount_setattr', AT_FDCWD, '/usr', 0, ctypes.byref(attr), 32))

# new namespaces: unshare, clone, clone3 (a child that appears exits at once)
for name, flag in NS.items():
    must_fail('unshare %s' % name, sc('unshare', flag))
must_fail('unshare user|mnt', sc('unshare', NS['user'] | NS['mnt']))
for name in ('user', 'mnt', 'pid', 'net'):
    r, e = sc('clone', NS[name] | signal.SIGCHLD, 0, 0, 0, 0)
    if r == 0:
        os._exit(0)
    if r > 0:
        os.waitpid(r, 0)
    must_fail('clone with CLONE_NEW%s' % name.upper(), (r, e))
args = (ctypes.c_uint64 * 11)(NS['user'], 0, 0, 0, signal.SIGCHLD, 0, 0, 0, 0, 0, 0)
r, e = sc('clone3', ctypes.byref(args), 88)
if r == 0:
    os._exit(0)
if r > 0:
    os.waitpid(r, 0)
must_fail('clone3 with CLONE_NEWUSER', (r, e))

# setns into our own or pid 1's namespaces
for p in ('self', '1'):
    for ns in ('user', 'mnt', 'pid', 'net', 'cgroup'):
        try:
            fd = os.open('/proc/%s/ns/%s' % (p, ns), os.O_RDONLY)
        except OSError as x:
            held('open /proc/%s/ns/%s: %s' % (p, ns, ename(x.errno)))
            continue
        must_fail('setns /proc/%s/ns/%s' % (p, ns), sc('setns', fd, 0))
        os.close(fd)

# what a user would type
for cmd in (['unshare', '-Ur', 'true'], ['unshare', '-U', 'true'], ['unshare', '-m', 'true'],
            ['unshare', '-p', '-f', 'true'], ['unshare', '-n', 'true'], ['mount', '-t', 'tmpfs', 'x', '/mnt'],
            ['umount', '-l', '/usr'], ['umount', '/proc/keys'], ['mount', '-o', 'remount,rw', '/usr']):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode == 0:
        escaped('%s worked' % ' '.join(cmd))
    else:
        held('%s: %s' % (' '.join(cmd), (p.stderr.strip().splitlines() or ['status %d' % p.returncode])[-1]))

after = table()
if after != before:
    escaped('the mount table changed: %s' % sorted(set(after) ^ set(before)))
else:
    held('the mount table is unchanged (%d mounts)' % len(after))
for p in ('/proc/keys', '/proc/timer_list'):
    if os.path.exists(p) and open(p, 'rb').read():
        escaped('%s is no longer masked' % p)
try:
    open('/usr/islet-escape-test', 'w')
    escaped('/usr is writable')
except OSError as x:
    held('/usr still read-only: %s' % ename(x.errno))
done()
")
esc_attack_verdict "$out" "mount and namespace calls"
[[ ! -e /usr/islet-escape-test ]] || esc_fail "/usr/islet-escape-test exists on the host"
out=$(isl exec "$ID" -- cat /proc/keys </dev/null 2>&1) || true
[[ -z $out ]] || esc_fail "/proc/keys is readable in a later exec: $out"
esc_pass "no mount, umount, pivot_root, chroot or new namespace; mounts unchanged"
