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

# Allocated KiB of the pool image: the host disk the sandboxes take.  The
# image is allocated in full when made and grown (docs/SECURITY.md), so a
# fill within the limit takes nothing more from the host; "trim" trims and
# commits first, which must not change that either.
pool_kib() {
  local _
  sync -f "$S/pool" 2>/dev/null || sync
  if [[ ${1:-} == trim ]]; then
    # blocks freed in the last transaction are still pinned until it
    # commits, and the async discard of others may be under way: trim and
    # commit until the image stops shrinking (at most 10 rounds, ~3 s)
    local prev=-1 now
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      fstrim "$S/pool" 2>/dev/null || true
      sync -f "$S/pool" 2>/dev/null || sync
      now=$(du -k "$S/pool.img" | cut -f1)
      ((prev >= 0 && now >= prev)) && break
      prev=$now
      sleep 0.3
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
# about 95,000 empty files reach the limit: 120 s leaves room for a
# loaded machine, where 40 s made only 91,000
n, deadline, err = 0, time.time() + 120, None
while n < 200000 and time.time() < deadline:
    try:
        os.close(os.open('/workspace/many/%d' % n, os.O_CREAT | os.O_WRONLY, 0o644))
    except OSError as x:
        err = x.errno
        break
    n += 1
print('created %d files in %.1f s, then %s' % (n, 120 - (deadline - time.time()), ename(err) if err else 'no error'), flush=True)
if err is None:
    escaped('%d files created without hitting any limit' % n)
elif err not in (errno.ENOSPC, errno.EDQUOT):
    escaped('unexpected error %s' % ename(err))
done()
" --timeout 180)
esc_attack_verdict "$out" "inode exhaustion"

untrimmed=$(pool_kib)
pool_after=$(pool_kib trim)
grown=$(((pool_after - pool_before) / 1024))
esc_log "pool image after the small files: ${untrimmed} KiB, ${pool_after} KiB once trimmed (+${grown} MiB)"
esc_log "btrfs filesystem df: $(btrfs filesystem df "$S/pool" 2>&1 | tr '\n' ';')"
# What the sandbox holds, data and metadata, as the kernel counts it for
# the limit: its qgroup's referenced bytes.
rfer=$(btrfs qgroup show -re --raw "$S/pool" 2>/dev/null | awk -v id="$ID" '$NF == id { print $2 }')
[[ "$rfer" =~ ^[0-9]+$ ]] || esc_fail "no qgroup line for the sandbox's volume $ID"
esc_log "the sandbox's qgroup: $((rfer >> 10)) KiB referenced, limit 32768 KiB"
((rfer <= (33 << 20))) || esc_fail "the sandbox holds $((rfer >> 20)) MiB under a 32 MiB limit"
# btrfs allocates metadata a chunk (256 MiB) at a time and writes its
# blocks copy-on-write; freed metadata blocks go back to the host when they
# are trimmed, which on some runs leaves up to most of that chunk in the
# image (docs/SECURITY.md): the host's bound is the limit plus one chunk.
((grown < 32 + 256 + 16)) \
  || esc_fail "the pool image holds $grown MiB more for a sandbox limited to 32 MiB (limit + a metadata chunk is 288)"
out=$(isl exec "$ID" -- true </dev/null 2>&1) || esc_fail "the sandbox is unusable after the fill: $out"
esc_pass "writes stopped at the 32 MiB limit ($((rfer >> 10)) KiB held); the pool image grew by $grown MiB"
