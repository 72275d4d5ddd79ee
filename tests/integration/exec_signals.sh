#!/usr/bin/env bash
# An exec's command starts with every signal at its default and none
# blocked, whatever its supervisor ignores (SIGPIPE always; here also what
# the shell that made the sandbox ignored, which an execve keeps), and with
# an empty capability bounding set.  The first exec is served by a handler
# made for it, the later ones by the ready handler: both kinds are checked.
source "$(dirname "$0")/../lib/integration.sh"
it_init

# also 32 and 33, glibc's own, which its sigaction refuses to touch (so
# only the kernel's call can ignore them, as GNU make's children find them)
ignore_glibc_signals () {
  "$IT_PY" -c '
import ctypes, os, platform, sys
nr = {"x86_64": 13, "aarch64": 134}[platform.machine()]
class Sigaction(ctypes.Structure):
    _fields_ = [("handler", ctypes.c_void_p), ("flags", ctypes.c_ulong),
                ("restorer", ctypes.c_void_p), ("mask", ctypes.c_uint64)]
ignore = Sigaction(1, 0, None, 0)  # SIG_IGN
libc = ctypes.CDLL(None, use_errno=True)
for sig in (32, 33):
    if libc.syscall(nr, sig, ctypes.byref(ignore), None, 8) != 0:
        sys.exit("rt_sigaction %d: %s" % (sig, os.strerror(ctypes.get_errno())))
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}

id=$( (trap '' HUP INT PIPE USR1 USR2 TERM ALRM && ignore_glibc_signals "$ISLET_BIN" --state-dir "$STATE" create </dev/null))
[[ "$id" =~ ^[0-9a-f]{12}$ ]] || fail "create printed '$id', not an id"
remember_id "$id"

sup=$(pgrep -f "islet-run $STATE $id" | head -1)
[ -n "$sup" ] || fail "no supervisor for $id"
ign=$(awk '/^SigIgn:/ {print $2}' "/proc/$sup/status")
# HUP 1, INT 2, USR1 10, USR2 12, PIPE 13, ALRM 14, TERM 15: bits 0 1 9 11 12 13 14;
# 32 and 33: bits 31 and 32
[ $((0x$ign & 0x180007a03)) -eq $((0x180007a03)) ] \
  || fail "the supervisor does not ignore what its creator did: $ign"

for i in 1 2 3 4 5; do
  out=$(islet exec "$id" -- grep -E '^(SigIgn|SigBlk|CapBnd|CapEff):' /proc/self/status) \
    || fail "exec $i failed"
  expect_eq "exec $i: ignored" "$(awk '/^SigIgn:/ {print $2}' <<<"$out")" 0000000000000000
  expect_eq "exec $i: blocked" "$(awk '/^SigBlk:/ {print $2}' <<<"$out")" 0000000000000000
  expect_eq "exec $i: bounding set" "$(awk '/^CapBnd:/ {print $2}' <<<"$out")" 0000000000000000
  expect_eq "exec $i: effective" "$(awk '/^CapEff:/ {print $2}' <<<"$out")" 0000000000000000
done
# a default SIGTERM ends the command (an ignored one would let it print)
rc=0
out=$(islet exec "$id" -- sh -c 'kill -TERM $$; echo survived' 2>&1) || rc=$?
case "$out" in *survived*) fail "SIGTERM was ignored in the command: $out" ;; esac
expect_eq "killed by SIGTERM: exit" "$rc" 143

islet rm -f "$id" >/dev/null || fail "rm failed"
pass
