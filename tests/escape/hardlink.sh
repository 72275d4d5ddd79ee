#!/usr/bin/env bash
# Escape class: hard links.  A hard link to a host file, made from a place the
# sandbox can write, would let it change or keep a host file (a set-uid
# binary, a library).  No host path is visible inside, so the candidates are
# the read-only /usr bind, the image's shared lower layer and /proc: links
# from them into /workspace must fail (EXDEV, EPERM), by name, by fd with
# AT_EMPTY_PATH and through /proc/self/fd.  Files of the shared image may be
# linked inside the overlay (that copies them up), but writing through the
# link must change neither the host's image nor another sandbox.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init
esc_need_x86_64

PY_REAL=$(readlink -f /usr/bin/python3)
LIBC=$(readlink -f /usr/lib/x86_64-linux-gnu/libc.so.6)
usr_files=("$PY_REAL" "$LIBC")
for f in /usr/bin/passwd /usr/bin/su /usr/bin/mount /usr/bin/sudo; do
  [[ -u $f ]] && usr_files+=("$f")
done
before=$(esc_fingerprint "${usr_files[@]}")
images_sum() { find "$S/images" -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum; }

ID=$(esc_create)
ID2=$(esc_create)
img_before=$(images_sum)
[[ -n $(find "$S/images" -type f -name passwd) ]] || esc_fail "no image with etc/passwd under $S/images"

targets=$(printf "'%s'," "${usr_files[@]}")
out=$(esc_py "$ID" "
AT_FDCWD, AT_SYMLINK_FOLLOW, AT_EMPTY_PATH = -100, 0x400, 0x1000
targets = [$targets '/usr/bin/python3', '/etc/ssl/certs', '/dev/null', '/dev/zero']
targets = [t for t in targets if os.path.lexists(t)]
n = 0
def dst():
    global n
    n += 1
    return '/workspace/hl%d' % n
for t in targets:
    must_raise('link %s' % t, os.link, t, dst())
    must_fail('linkat %s AT_SYMLINK_FOLLOW' % t, sc('linkat', AT_FDCWD, t, AT_FDCWD, dst(), AT_SYMLINK_FOLLOW))
    try:
        fd = os.open(t, os.O_RDONLY)
    except OSError as x:
        held('open %s: %s' % (t, ename(x.errno)))
        continue
    must_fail('linkat fd of %s AT_EMPTY_PATH' % t, sc('linkat', fd, b'', AT_FDCWD, dst(), AT_EMPTY_PATH))
    must_fail('linkat /proc/self/fd/%d (%s)' % (fd, t),
              sc('linkat', AT_FDCWD, '/proc/self/fd/%d' % fd, AT_FDCWD, dst(), AT_SYMLINK_FOLLOW))
    os.close(fd)
for p in ['/proc/self/exe', '/proc/1/exe', '/proc/self/status', '/proc/self/environ', '/proc/self/root/usr/bin/python3',
          '/proc/1/root/etc/passwd', '/proc/self/fd/0', '/proc/self/mem', '/proc/self/cwd']:
    must_raise('link %s' % p, os.link, p, dst())
    must_fail('linkat %s AT_SYMLINK_FOLLOW' % p, sc('linkat', AT_FDCWD, p, AT_FDCWD, dst(), AT_SYMLINK_FOLLOW))
made = [p for p in os.listdir('/workspace') if p.startswith('hl')]
if made:
    escaped('links made in /workspace: %s' % made)

# inside the overlay: an image file linked into /workspace is copied up
# first (or refused by protected_hardlinks: the lower files are not ours)
for src, dst_name in (('/etc/passwd', 'pw'), ('/etc/nsswitch.conf', 'ns'), ('/etc/hosts', 'hs')):
    try:
        os.link(src, '/workspace/' + dst_name)
    except OSError as x:
        held('link %s into /workspace: %s' % (src, ename(x.errno)))
        continue
    print('linked', src, flush=True)
    try:
        with open('/workspace/' + dst_name, 'a') as f:
            f.write('evil:x:0:0::/:/bin/sh\n')
    except OSError as x:
        held('append through the link to %s: %s' % (src, ename(x.errno)))
done()
")
esc_attack_verdict "$out" "hard links"

# the change stayed in this sandbox's upper layer
other=$(isl exec "$ID2" -- cat /etc/passwd /etc/nsswitch.conf /etc/hosts </dev/null 2>&1) || esc_fail "exec in the second sandbox failed: $other"
if grep -q 'evil' <<<"$other"; then
  esc_fail "a hard link in one sandbox changed another's files: $other"
fi
[[ $(images_sum) == "$img_before" ]] || esc_fail "the shared image under $S/images changed"
out=$(isl fs "$ID" mv "$PY_REAL" /workspace/py </dev/null 2>&1) && esc_fail "fs mv of $PY_REAL worked: $out"
esc_log "fs mv $PY_REAL: $out"
esc_same_fingerprint "$before" "${usr_files[@]}"
grep -q '^evil:' /etc/passwd && esc_fail "host /etc/passwd has the line written inside"
esc_pass "no link to a host file; image and the other sandbox unchanged"
