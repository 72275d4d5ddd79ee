#!/usr/bin/env bash
# Escape class: writing the host's /usr, which every sandbox and the host
# itself execute.  Inside: opening binaries and libraries for writing,
# creating, renaming, removing and linking entries, chmod/chown/utime/xattr,
# and the same through the merged-usr links (/bin, /lib64), /proc/self/root
# and the file API (islet fs, islet cp).  All must fail (EROFS, EACCES,
# EPERM), and on the host the files must be byte for byte and bit for bit as
# before, with no new entry.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init

PY_REAL=$(readlink -f /usr/bin/python3)
LIBC=$(readlink -f /usr/lib/x86_64-linux-gnu/libc.so.6 2>/dev/null || true)
LDSO=$(readlink -f /lib64/ld-linux-x86-64.so.2 2>/dev/null || true)
files=(/usr/bin/bash /usr/bin/ls /usr/bin/env "$PY_REAL")
for f in "$LIBC" "$LDSO" /usr/bin/passwd /usr/bin/su; do
  [[ -n $f && -f $f ]] && files+=("$f")
done
new=(/usr/bin/evil /usr/evil /usr/lib/evil.so /usr/bin/ls.evil /usr/local/bin/evil /bin/evil /usr/evil-dir)
before=$(esc_fingerprint "${files[@]}" "${new[@]}")

ID=$(esc_create)
list=$(printf "'%s'," "${files[@]}")
out=$(esc_py "$ID" "
files = [$list]
new = ['/usr/bin/evil', '/usr/evil', '/usr/lib/evil.so', '/usr/local/bin/evil', '/bin/evil',
       '/proc/self/root/usr/bin/evil']
def attempt(what, fn, *a):
    must_raise(what, fn, *a)
for f in files + ['/bin/bash', '/usr/bin/python3', '/proc/self/exe']:
    for flags, name in ((os.O_WRONLY, 'O_WRONLY'), (os.O_RDWR, 'O_RDWR'), (os.O_WRONLY | os.O_APPEND, 'O_APPEND')):
        fd = must_raise('open %s %s' % (f, name), os.open, f, flags)
        if fd is not None:
            os.close(fd)
for f in files:
    attempt('chmod 4755 %s' % f, os.chmod, f, 0o4755)
    attempt('chown 0:0 %s' % f, os.chown, f, 0, 0)
    attempt('utime %s' % f, os.utime, f, (0, 0))
    attempt('setxattr %s' % f, os.setxattr, f, 'user.islet', b'x')
    attempt('setxattr security.capability %s' % f, os.setxattr, f, 'security.capability',
            b'\x01\x00\x00\x02' + b'\xff' * 16)
    attempt('rename %s' % f, os.rename, f, f + '.evil')
    attempt('unlink %s' % f, os.unlink, f)
    attempt('link %s' % f, os.link, f, '/usr/bin/evil-link')
for n in new:
    fd = must_raise('create %s' % n, os.open, n, os.O_CREAT | os.O_WRONLY, 0o755)
    if fd is not None:
        os.close(fd)
attempt('mkdir /usr/evil-dir', os.mkdir, '/usr/evil-dir')
attempt('symlink /usr/bin/evil', os.symlink, '/workspace/x', '/usr/bin/evil')
attempt('mknod /usr/evil', os.mknod, '/usr/evil', 0o600)
attempt('rename /workspace into /usr', os.rename, '/workspace', '/usr/evil-dir')
attempt('chmod /usr/bin', os.chmod, '/usr/bin', 0o777)
done()
")
esc_attack_verdict "$out" "writes to /usr"

tmp=$(mktemp "$S/src.XXXXXX")
printf 'evil\n' >"$tmp"
for p in /usr/bin/evil /usr/bin/ls /bin/evil "$PY_REAL" /usr/lib/evil.so; do
  o=$(isl fs "$ID" write --content evil "$p" </dev/null 2>&1) && esc_fail "islet fs write $p worked"
  esc_log "fs write $p: $o"
  o=$(isl cp "$tmp" "$ID:$p" </dev/null 2>&1) && esc_fail "islet cp to $p worked"
  esc_log "cp to $p: $o"
done
for p in /usr/bin/ls /usr/bin; do
  o=$(isl fs "$ID" rm -r "$p" </dev/null 2>&1) && esc_fail "islet fs rm -r $p worked"
  esc_log "fs rm -r $p: $o"
done
o=$(isl fs "$ID" mkdir /usr/evil-dir </dev/null 2>&1) && esc_fail "islet fs mkdir /usr/evil-dir worked"
o=$(isl fs "$ID" mv /usr/bin/ls /usr/bin/ls.evil </dev/null 2>&1) && esc_fail "islet fs mv /usr/bin/ls worked"
o=$(isl exec "$ID" -- sh -c 'echo x > /usr/bin/evil; touch /usr/evil; chmod u+s /usr/bin/bash; rm -f /usr/bin/ls; ls /usr/bin/ls' \
  </dev/null 2>&1) || true
esc_log "shell: $(tr '\n' '|' <<<"$o")"

esc_same_fingerprint "$before" "${files[@]}" "${new[@]}"
esc_pass "/usr refused every write; host files unchanged"
