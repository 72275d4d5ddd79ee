#!/usr/bin/env bash
# Escape class: filling the host's disk.  With --disk 32, writing 100 MiB in
# /workspace, /tmp or /root must stop with ENOSPC or EDQUOT well before that,
# creating empty files in a loop (bounded: 200,000 files or 40 s) must stop
# with an error too.  What the host gives up is measured where it is spent:
# the blocks of the pool image may grow by little more than the limit.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init

# Allocated KiB of the pool image (sparse): the host disk the sandboxes take.
# btrfs returns freed data blocks to the image by itself (discard=async), but
# freed metadata blocks only when trimmed, up to a whole metadata chunk
# (256 MiB) per pool: with "trim", measure what is really in use.
pool_kib() {
  local _
  sync -f "$S/pool" 2>/dev/null || sync
  if [[ ${1:-} == trim ]]; then
    # blocks freed in the last transaction are still pinned: trim, commit, again
    for _ in 1 2 3; do
      fstrim "$S/pool" 2>/dev/null || true
      sync -f "$S/pool" 2>/dev/null || sync
    done
  fi
  du -k "$S/pool.img" | cut -f1
}
ID=$(esc_create --disk 32)
if [[ $(esc_info "$ID" 'j["disk_enforced"]') != true ]]; then
  if grep -qw btrfs /proc/filesystems && command -v mkfs.btrfs >/dev/null; then
    esc_fail "btrfs is available but the disk limit is not enforced"
  fi
  esc_skip "no btrfs on this machine: disk limits are not enforced"
fi
[[ -f $S/pool.img ]] || esc_fail "no pool image at $S/pool.img"
pool_before=$(pool_kib)

# 1. bulk data in every writable place; the files stay, so the quota is
# shared: the first fill takes it all and the others stop at once
for dir in /workspace /tmp /root; do
  out=$(esc_py "$ID" "
path, total = '$dir/fill', 0
block = os.urandom(1 << 20)
print('FILL-STARTED', path, flush=True)
try:
    with open(path, 'wb') as f:
        while total < (100 << 20):
            f.write(block)
            f.flush()
            total += len(block)
        os.fsync(f.fileno())
except OSError as x:
    print('stopped after %d MiB: %s' % (total >> 20, ename(x.errno)), flush=True)
    if x.errno not in (errno.ENOSPC, errno.EDQUOT):
        escaped('unexpected error %s' % ename(x.errno))
else:
    escaped('wrote 100 MiB to %s under a 32 MiB limit' % path)
done()
")
  esc_attack_verdict "$out" "fill $dir"
done

pool_full=$(pool_kib)
grown=$(((pool_full - pool_before) / 1024))
esc_log "pool image: ${pool_before} KiB allocated before, ${pool_full} KiB with the sandbox full (+${grown} MiB)"
((grown < 64)) || esc_fail "the pool image grew by $grown MiB for a sandbox limited to 32 MiB"

# 2. many small files: the qgroup counts metadata too
out=$(esc_py "$ID" "
for d in ('/workspace', '/tmp', '/root'):
    if os.path.exists(d + '/fill'):
        os.unlink(d + '/fill')
os.mkdir('/workspace/many')
n, deadline, err = 0, time.time() + 40, None
while n < 200000 and time.time() < deadline:
    try:
        os.close(os.open('/workspace/many/%d' % n, os.O_CREAT | os.O_WRONLY, 0o644))
    except OSError as x:
        err = x.errno
        break
    n += 1
print('created %d files in %.1f s, then %s' % (n, 40 - (deadline - time.time()), ename(err) if err else 'no error'), flush=True)
if err is None:
    escaped('%d files created without hitting any limit' % n)
elif err not in (errno.ENOSPC, errno.EDQUOT):
    escaped('unexpected error %s' % ename(err))
done()
" --timeout 90)
esc_attack_verdict "$out" "inode exhaustion"

untrimmed=$(pool_kib)
pool_after=$(pool_kib trim)
grown=$(((pool_after - pool_before) / 1024))
esc_log "pool image after the small files: ${untrimmed} KiB, ${pool_after} KiB once trimmed (+${grown} MiB)"
((grown < 64)) || esc_fail "the pool image holds $grown MiB more for a sandbox limited to 32 MiB"
out=$(isl exec "$ID" -- true </dev/null 2>&1) || esc_fail "the sandbox is unusable after the fill: $out"
esc_pass "writes stopped at the 32 MiB limit; the pool image grew by $grown MiB"
