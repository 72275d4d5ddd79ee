#!/usr/bin/env bash
# Output limit: each stream of an exec is captured up to 1 MiB (the default)
# and the rest dropped, with `truncated` set; the program is never blocked by
# it.  Small output comes back exact.  Without --json the bytes are passed
# through untouched (binary-safe); with --json they become a JSON string, in
# which bytes that are not UTF-8 are replaced by U+FFFD.
source "$(dirname "$0")/../lib/integration.sh"
it_init

MIB=$((1 << 20))
# Write N bytes of one letter to a stream, in 64 KiB pieces.
EMIT='
import sys
stream = sys.stdout if sys.argv[1] == "out" else sys.stderr
n, ch = int(sys.argv[2]), sys.argv[3]
while n > 0:
    k = min(n, 65536)
    stream.write(ch * k)
    n -= k
stream.flush()'

id=$(create_sb)
remember_id "$id"
expect_eq "info: limits.output_bytes (default)" "$(sb_info "$id" 'j["limits"]["output_bytes"]')" $MIB

log "3 MiB on stdout: 1 MiB kept, truncated"
xjson "$id" -- python3 -c "$EMIT" out $((3 * MIB)) a
expect_eq "3 MiB: exit_code (the writer was not blocked or killed)" "$(jget "$OUT" 'j["exit_code"]')" 0
expect_eq "3 MiB: stdout length" "$(jget "$OUT" 'len(j["stdout"])')" $MIB
expect_eq "3 MiB: stdout is the first bytes" "$(jget "$OUT" 'j["stdout"] == "a" * (1 << 20)')" true
expect_eq "3 MiB: truncated" "$(jget "$OUT" 'j["truncated"]')" true
expect_eq "3 MiB: stderr" "$(jget "$OUT" 'j["stderr"]')" ""

log "stderr has its own cap: 3 MiB there, 10 bytes on stdout"
xjson "$id" -- sh -c "python3 -c '$EMIT' err $((3 * MIB)) b; printf 0123456789"
expect_eq "stderr 3 MiB: stderr length" "$(jget "$OUT" 'len(j["stderr"])')" $MIB
expect_eq "stderr 3 MiB: stdout exact" "$(jget "$OUT" 'j["stdout"]')" 0123456789
expect_eq "stderr 3 MiB: truncated" "$(jget "$OUT" 'j["truncated"]')" true

log "both streams over: each capped on its own"
xjson "$id" -- sh -c "python3 -c '$EMIT' out $((2 * MIB)) a & python3 -c '$EMIT' err $((2 * MIB)) b; wait"
expect_eq "both: stdout length" "$(jget "$OUT" 'len(j["stdout"])')" $MIB
expect_eq "both: stderr length" "$(jget "$OUT" 'len(j["stderr"])')" $MIB

log "exactly 1 MiB is not truncated; one byte more is"
xjson "$id" -- python3 -c "$EMIT" out $MIB c
expect_eq "1 MiB: stdout length" "$(jget "$OUT" 'len(j["stdout"])')" $MIB
expect_eq "1 MiB: truncated" "$(jget "$OUT" 'j["truncated"]')" false
xjson "$id" -- python3 -c "$EMIT" out $((MIB + 1)) c
expect_eq "1 MiB + 1: stdout length" "$(jget "$OUT" 'len(j["stdout"])')" $MIB
expect_eq "1 MiB + 1: truncated" "$(jget "$OUT" 'j["truncated"]')" true

log "small output is exact"
xjson "$id" -- sh -c 'printf "hello\nworld\n"; printf "oops\n" >&2; exit 3'
expect_eq "small: stdout" "$(jget "$OUT" 'j["stdout"] == "hello\nworld\n"')" true
expect_eq "small: stderr" "$(jget "$OUT" 'j["stderr"] == "oops\n"')" true
expect_eq "small: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 3
expect_eq "small: truncated" "$(jget "$OUT" 'j["truncated"]')" false

log "10 MiB flood: islet keeps reading, the program finishes"
xjson "$id" --timeout 20 -- sh -c 'head -c 10485760 /dev/zero; echo done >&2'
expect_eq "flood: exit_code" "$(jget "$OUT" 'j["exit_code"]')" 0
expect_eq "flood: timed_out" "$(jget "$OUT" 'j["timed_out"]')" false
expect_eq "flood: stderr" "$(jget "$OUT" 'j["stderr"]')" "done"

log "--output 100 per exec"
xjson "$id" --output 100 -- python3 -c "$EMIT" out 1000 d
expect_eq "--output 100: stdout length" "$(jget "$OUT" 'len(j["stdout"])')" 100
expect_eq "--output 100: truncated" "$(jget "$OUT" 'j["truncated"]')" true

log "without --json: raw bytes 0-255 on stdout, untouched"
raw=$STATE.raw
islet exec "$id" -- python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4)' >"$raw" </dev/null \
  || fail "plain exec of the byte writer failed"
"$IT_PY" -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(d != bytes(range(256)) * 4)' "$raw" \
  || fail "raw stdout is not bytes 0-255 x 4: $(od -An -tx1 "$raw" | head -3)"
rm -f "$raw"

log "without --json: 3 MiB gives exactly 1 MiB on stdout and a note on stderr"
capture islet exec "$id" -- python3 -c "$EMIT" out $((3 * MIB)) a
expect_eq "plain 3 MiB: islet's status" "$RC" 0
expect_eq "plain 3 MiB: stdout bytes" "${#OUT}" $MIB
[[ "$ERR" == *"truncated"* ]] || fail "plain 3 MiB: no truncation note on stderr: '${ERR:0:200}'"

log "with --json: binary output is valid JSON, text kept, other bytes U+FFFD"
xjson "$id" -- python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)))'
expect_eq "binary: the 128 ASCII bytes" "$(jget "$OUT" 'j["stdout"][:128] == "".join(map(chr, range(128)))')" true
expect_eq "binary: 128 bytes that are not UTF-8" "$(jget "$OUT" 'j["stdout"][128:] == "\ufffd" * 128')" true
xjson "$id" -- python3 -c 'print("héllo ✓ 🌍")'
expect_eq "UTF-8 text kept" "$(jget "$OUT" 'j["stdout"] == "héllo ✓ 🌍\n"')" true

log "one-off: islet run with 3 MiB of output"
capture islet run --json -- python3 -c "$EMIT" out $((3 * MIB)) a
expect_eq "run: stdout length" "$(jget "$OUT" 'len(j["stdout"])')" $MIB
expect_eq "run: truncated" "$(jget "$OUT" 'j["truncated"]')" true

pass
