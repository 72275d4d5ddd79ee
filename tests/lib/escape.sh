# shellcheck shell=bash
# Helpers shared by the escape tests (tests/escape/*.sh).
#
# A test sources this file after `set -euo pipefail` and calls esc_init.  Each
# test tries one class of escape for real and then checks the host.  Verdicts:
#   esc_pass   exit 0   contained
#   esc_fail   exit 1   escaped, or the attack could not be run at all
#   esc_skip   exit 77  the class does not apply to this kernel or machine
#
# Attack code run inside a sandbox (esc_py) gets a small Python prelude: it
# prints "ESCAPED: what" for every attempt that worked and must end with
# done(), which prints ATTACK-DONE.  esc_attack_verdict fails the test on any
# ESCAPED line and also when ATTACK-DONE is missing, so a sandbox that never
# started, or code that died half-way, is never counted as containment.

ESC_NAME=${ESC_NAME:-$(basename "${BASH_SOURCE[1]:-$0}" .sh)}
ESC_DEFERRED=()
ESC_CMD_TIMEOUT=${ESC_CMD_TIMEOUT:-180}

esc_log() { printf '# %s\n' "$*" >&2; }
esc_fail() {
  printf 'FAIL %s: %s\n' "$ESC_NAME" "$*" >&2
  exit 1
}
esc_skip() {
  printf 'SKIP %s: %s\n' "$ESC_NAME" "$*" >&2
  exit 77
}
esc_pass() {
  printf 'PASS %s: %s\n' "$ESC_NAME" "${*:-contained}"
  exit 0
}

# Run a command at cleanup, last registered first.
esc_defer() { ESC_DEFERRED+=("$1"); }

esc_cleanup() {
  local rc=$? i
  trap - EXIT
  set +e
  for ((i = ${#ESC_DEFERRED[@]} - 1; i >= 0; i--)); do
    eval "${ESC_DEFERRED[i]}" >/dev/null 2>&1
  done
  if [[ -n ${S:-} && -d $S ]]; then
    esc_reset || esc_log "reset of $S failed"
    # a pool still mounted here would otherwise be emptied by rm -r
    if grep -q " ${S}[/ ]" /proc/self/mountinfo; then
      esc_log "mounts left under $S after reset:"
      grep " ${S}[/ ]" /proc/self/mountinfo | awk '{print "#   " $5}' >&2
      [[ $rc == 0 ]] && rc=1
      umount -R -l "$S/pool" 2>/dev/null
    fi
    if [[ -n ${ESC_KEEP:-} ]]; then
      esc_log "state kept in $S"
    else
      rm -rf --one-file-system "$S"
    fi
  fi
  exit "$rc"
}

# Check the environment, make a private state directory and arm the cleanup.
# S is the state directory; ISLET_BIN the CLI.
esc_init() {
  [[ $(id -u) == 0 ]] || esc_skip "needs root (islet creates namespaces, cgroups and a disk pool)"
  if [[ -z ${ISLET_BIN:-} ]]; then
    local src=${ISLET_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
    ISLET_BIN=${ISLET_BUILD:-$src/build}/islet
  fi
  [[ -x $ISLET_BIN ]] || esc_fail "no islet binary at '$ISLET_BIN' (set ISLET_BIN)"
  # shellcheck disable=SC2034 # for the tests that check the runtime binary
  ISLET_RUN_BIN=$(dirname "$ISLET_BIN")/islet-run
  # short: the control socket path under it must stay below 108 bytes
  S=$(mktemp -d /tmp/islet-esc.XXXXXX)
  trap esc_cleanup EXIT
  trap 'exit 130' INT TERM
}

# The CLI on this test's state directory.  stdin is closed unless a caller
# redirects it: exec and fs write read all of a non-terminal stdin.
isl() {
  timeout -k 10 "$ESC_CMD_TIMEOUT" "$ISLET_BIN" --state-dir "$S" "$@"
}

esc_reset() {
  isl system reset -f </dev/null >/dev/null 2>&1 || isl reset </dev/null >/dev/null 2>&1
}

# Create a sandbox (arguments: limit flags) and print its id.
esc_create() {
  local out
  out=$(isl create "$@" </dev/null 2>&1) || esc_fail "islet create $* failed: $out"
  out=$(tail -n 1 <<<"$out")
  [[ $out =~ ^[0-9a-f]+$ ]] || esc_fail "islet create printed no id: $out"
  printf '%s\n' "$out"
}

# esc_json JSON EXPR: evaluate a Python expression on the parsed object `j`.
esc_json() {
  python3 -c 'import json, sys
j = json.loads(sys.argv[1])
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2"
}

esc_info() { # ID EXPR
  local j
  j=$(isl info "$1" --json </dev/null) || esc_fail "islet info $1 failed"
  esc_json "$j" "$2"
}

# The attack scripts use raw syscall numbers: only x86-64's are written down.
esc_need_x86_64() {
  [[ $(uname -m) == x86_64 ]] || esc_skip "syscall numbers are written for x86_64 only"
}

# Prepended to every Python attack.
read -r -d '' ESC_PY_PRELUDE <<'PY' || true
import ctypes, errno, os, signal, socket, struct, sys, time
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
# x86-64 syscall numbers
NR = dict(ptrace=101, chroot=161, pivot_root=155, mount=165, umount2=166, unshare=272,
          setns=308, clone=56, clone3=435, process_vm_readv=310, process_vm_writev=311,
          add_key=248, request_key=249, keyctl=250, userfaultfd=323, io_uring_setup=425,
          io_uring_enter=426, io_uring_register=427, open_tree=428, move_mount=429,
          fsopen=430, fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
          linkat=265, pidfd_open=434, pidfd_send_signal=424, syslog=103, bpf=321,
          perf_event_open=298, kexec_load=246, init_module=175, memfd_create=319)

def sc(name, *args):
    """A raw system call by name: (return value, errno)."""
    conv = []
    for a in args:
        if isinstance(a, bool):
            a = int(a)
        if isinstance(a, int):
            conv.append(ctypes.c_long(a))
        elif isinstance(a, str):
            conv.append(ctypes.c_char_p(a.encode()))
        elif isinstance(a, bytes):
            conv.append(ctypes.c_char_p(a))
        elif a is None:
            conv.append(ctypes.c_void_p(None))
        else:
            conv.append(a)
    ctypes.set_errno(0)
    r = _libc.syscall(ctypes.c_long(NR[name]), *conv)
    return r, (ctypes.get_errno() if r == -1 else 0)

ESCAPES = []
def ename(e):
    return errno.errorcode.get(e, str(e))
def escaped(what):
    ESCAPES.append(what)
    print("ESCAPED:", what, flush=True)
def held(what):
    print("held:", what, flush=True)
def must_fail(what, res):
    """res is sc()'s (r, errno): the call must have failed."""
    r, e = res
    if r == -1:
        held("%s: %s" % (what, ename(e)))
    else:
        escaped("%s succeeded (returned %d)" % (what, r))
    return r
def must_raise(what, fn, *a, **k):
    """fn(*a, **k) must raise OSError; returns its value if it did not."""
    try:
        v = fn(*a, **k)
    except OSError as x:
        held("%s: %s" % (what, ename(x.errno) if x.errno else x))
        return None
    escaped("%s succeeded (%r)" % (what, v))
    return v
def done():
    print("ATTACK-DONE", len(ESCAPES), "escapes", flush=True)
PY

# esc_py ID CODE [exec options...]: run the prelude and CODE with python3
# inside the sandbox; prints stdout and stderr, and the exit status when it is
# not 0 (the verdict comes from the markers, so this always succeeds).
esc_py() {
  local id=$1 code=$2 rc=0
  shift 2
  isl exec "$id" --timeout 60 "$@" -- python3 -c "$ESC_PY_PRELUDE"$'\n'"$code" </dev/null 2>&1 || rc=$?
  [[ $rc == 0 ]] || printf 'exit status %d\n' "$rc"
}

# The same code on the host, as this test's root: the control that shows a
# feature exists on this kernel, so a failure inside means something.
esc_host_py() {
  timeout -k 5 60 python3 -c "$ESC_PY_PRELUDE"$'\n'"$1" </dev/null 2>&1
}

# esc_attack_verdict OUTPUT [WHAT]: show the attack's log; fail on any escape
# or when the attack did not run to its end.
esc_attack_verdict() {
  local out=$1 what=${2:-attack}
  sed 's/^/#   /' <<<"$out" >&2
  if grep -q '^ESCAPED:' <<<"$out"; then
    esc_fail "$what: $(grep '^ESCAPED:' <<<"$out" | tr '\n' ';')"
  fi
  grep -q '^ATTACK-DONE' <<<"$out" || esc_fail "$what did not run to its end (no ATTACK-DONE marker)"
}

# sha256 and metadata of files, one line each: for before/after comparisons.
esc_fingerprint() {
  local f
  for f in "$@"; do
    if [[ -e $f || -L $f ]]; then
      printf '%s %s %s\n' "$f" "$(stat -c '%a %u %g %s %Y %h %i' "$f")" \
        "$( [[ -f $f ]] && sha256sum <"$f" | cut -d' ' -f1)"
    else
      printf '%s absent\n' "$f"
    fi
  done
}

# esc_same_fingerprint BEFORE FILES...: fail if any file changed.
esc_same_fingerprint() {
  local before=$1 after
  shift
  after=$(esc_fingerprint "$@")
  if [[ $before != "$after" ]]; then
    diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed 's/^/#   /' >&2
    esc_fail "host files changed"
  fi
}

# Host processes whose real uid is in a sandbox's range [base, base + 65536),
# as "pid uid name".  From /proc: ps prints uids above 2^31 as negative numbers.
# (Through cat: mawk stops at the first file it cannot open, and processes
# come and go while it reads.)
esc_procs_of_uid_range() { # BASE
  cat /proc/[0-9]*/status 2>/dev/null | awk -v b="$1" '/^Name:/ { name = $2 } /^Pid:/ { pid = $2 }
      /^Uid:/ && $2 >= b && $2 < b + 65536 { print pid, $2, name }' || true
}

# A random token to plant on the host and look for inside.
esc_token() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# esc_take_and_hold ID COUNT TAKE: inside sandbox ID, evaluate the Python
# expression TAKE (an fd; `libc` and `checked(r)`, which raises OSError for
# r < 0, are at hand) up to COUNT times or until it is refused, and hold
# what was taken, in the background, until esc_release ID (at most 60 s).
# ESC_HELD gets its report, "held N refused REASON"; fails if none comes in
# 30 s.
esc_take_and_hold() {
  local id=$1 count=$2 take=$3 out="$S/hold.$1"
  isl exec "$id" --timeout 90 -- python3 -c "
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
def checked(r):
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r
held, why = [], 'none'
for _ in range($count):
    try:
        held.append($take)
    except OSError as x:
        why = os.strerror(x.errno)
        break
print('held %d refused %s' % (len(held), why), flush=True)
for _ in range(600):
    if os.path.exists('/tmp/stop-holding'):
        break
    time.sleep(0.1)
" </dev/null >"$out" 2>&1 &
  esc_defer "kill $!"
  for _ in $(seq 1 300); do
    grep -q '^held' "$out" 2>/dev/null && break
    sleep 0.1
  done
  ESC_HELD=$(grep '^held' "$out") || esc_fail "the holder in $id printed nothing: $(cat "$out")"
}

# Let what esc_take_and_hold holds in ID go.
esc_release() {
  isl exec "$1" -- touch /tmp/stop-holding </dev/null || true
}
