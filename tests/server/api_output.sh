#!/usr/bin/env bash
# A command's output reaches its toolbox answer without being held whole in
# isletd's memory: 120 MB of output (720 MB of JSON) grows isletd's peak by
# little, the answer is exact (escapes, a bad byte as U+FFFD, chart lines taken
# out), the scratch file goes when the answer is sent, and output over the
# key's scratch space is refused with 507, not cut; bulk downloads and
# uploads spooled on isletd's disk are charged to the same space.  Needs root.
# Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_output.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

SRV_ARGS=(--max-key-scratch $((200 << 20)) --sandbox-max output_bytes=268435456)
srv_init
PID=$SRV_PID

hwm_kib () { awk '/^VmHWM/ {print $2}' "/proc/$PID/status"; }
scratch_files () { find "/proc/$PID/fd" -lname "$STATE/*(deleted)" 2>/dev/null | wc -l; }
# no_scratch_files: true once isletd holds none (counted at each try of wait_until)
no_scratch_files () { [[ $(scratch_files) == 0 ]]; }

api POST /api/sandbox -d '{"name": "out", "limits": {"output_bytes": 268435456}}'
expect_code "create" 200
ID=$(jq -r .id <<<"$BODY"); remember_id "$ID"

log "== the answer is exact"
# exec CMD: process/execute of CMD (words as the toolbox splits them)
exec_cmd () {
  api POST "/toolbox/$ID/process/execute" -d "$(jq -n --arg c "$1" '{command: $c}')"
}
exec_cmd 'sh -c '"'"'printf "a\"b\\\\c\n\t\001\303\251 end"'"'"
expect_code "execute" 200
expect_body "escapes and UTF-8 kept" '.exitCode == 0 and .result == "a\"b\\c\n\t\u0001é end"'
# a character across the 8 KiB pieces the answer is made in
exec_cmd 'sh -c '"'"'head -c 8191 /dev/zero | tr "\000" a; printf "\303\251"'"'"
expect_body "a character cut by a piece boundary is kept" '(.result | length) == 8192 and (.result | endswith("aé"))'
exec_cmd 'sh -c '"'"'printf "x\377\303\251\000y"'"'"
expect_code "execute bad UTF-8" 200
expect_body "bad UTF-8: each bad byte U+FFFD, the rest kept" '.result == "x\ufffdé\u0000y"'
# the answer held in the spool's 64 KiB buffer and streamed from it, and
# a character across the buffer's first write to the scratch file
exec_cmd 'sh -c '"'"'head -c 40000 /dev/zero | tr "\000" a; printf "\303\251"'"'"
expect_body "40 KB from the buffer" '(.result | length) == 40001 and (.result | endswith("aé"))'
exec_cmd 'sh -c '"'"'head -c 65535 /dev/zero | tr "\000" a; printf "\303\251"'"'"
expect_body "a character across the buffer and the file" '(.result | length) == 65536 and (.result | endswith("aé"))'

log "== a short output makes no scratch file, and its answer is sent with its length"
# exec_bg CMD: the execute in the background, its answer to $STATE.bg
exec_bg () {
  curl -s -o "$STATE.bg" --max-time 30 -X POST -H "Authorization: Bearer $SRV_KEY" \
    -H 'Content-Type: application/json' -d "$(jq -n --arg c "$1" '{command: $c}')" \
    "$SRV_URL/toolbox/$ID/process/execute" &
  BG=$!
}
exec_bg 'sh -c "echo hi; sleep 2"'
sleep 1
n=$(scratch_files)
wait "$BG"
[[ $n == 0 ]] || fail "a command's 3 bytes of output are kept in $n scratch file(s)"
jq -e '.result == "hi\n"' "$STATE.bg" >/dev/null || fail "the short answer is $(head -c 200 "$STATE.bg")"
exec_bg 'sh -c "head -c 100000 /dev/zero; sleep 2"'
one_scratch_file () { [[ $(scratch_files) == 1 ]]; }
wait_until 5 one_scratch_file || fail "100 KB of output is not spooled to a scratch file"
wait "$BG"
jq -e '(.result | length) == 100000' "$STATE.bg" >/dev/null || fail "the 100 KB answer is $(head -c 200 "$STATE.bg")"
rm -f "$STATE.bg"
head=$(curl -s -D - -o /dev/null -X POST -H "Authorization: Bearer $SRV_KEY" \
  -H 'Content-Type: application/json' -d '{"command": "echo hi"}' "$SRV_URL/toolbox/$ID/process/execute")
grep -qi '^content-length: 48' <<<"$head" && ! grep -qi '^transfer-encoding' <<<"$head" \
  || fail "a short answer is not sent with its length: $head"

api POST "/toolbox/$ID/process/execute" -d '{"command": "sh -c \"echo out; exit 3\""}'
expect_body "exit code" '.exitCode == 3 and .result == "out\n"'
api POST "/toolbox/$ID/process/execute" -d '{"command": "no-such-program"}'
expect_body "a program that cannot start says why" '.exitCode == 127 and (.result | length > 0)'
code='import sys
print("before")
print("dtn_artifact_k39fd2:" + "{\"type\": \"chart\", \"value\": {\"type\": \"bar\", \"title\": \"t\"}}")
sys.stdout.write("dtn_artifact_k39f")
print("d2 is not a chart")
sys.stdout.write("after")'
api POST "/toolbox/$ID/process/code-run" -d "$(jq -n --arg c "$code" '{code: $c, language: "python"}')"
expect_code "code-run" 200
expect_body "chart lines out of the result, into charts" \
  '.result == "before\ndtn_artifact_k39fd2 is not a chart\nafter" and .artifacts.charts == [{"type": "bar", "title": "t"}]'

log "== 120 MB of output"
hwm0=$(hwm_kib)
size=$(curl -s -o "$STATE.big" -w '%{size_download}' --max-time 120 -X POST \
  -H "Authorization: Bearer $SRV_KEY" -H 'Content-Type: application/json' \
  -d '{"command": "head -c 120000000 /dev/zero", "timeout": 60}' \
  "$SRV_URL/toolbox/$ID/process/execute") || fail "execute of 120 MB of output"
hwm1=$(hwm_kib)
frame='{"exitCode":0,"result":"","truncated":false}'
want=$(( 120000000 * 6 + ${#frame} ))
[[ $size == "$want" ]] || fail "the answer has $size bytes, want $want: $(head -c 300 "$STATE.big")"
[[ $(head -c 24 "$STATE.big") == '{"exitCode":0,"result":"' ]] || fail "the answer starts $(head -c 40 "$STATE.big")"
[[ $(tail -c 26 "$STATE.big") == '\u0000","truncated":false}' ]] \
  || fail "the answer ends $(tail -c 20 "$STATE.big")"
rm -f "$STATE.big"
log "isletd peak $hwm0 KiB before, $hwm1 KiB after"
(( hwm1 - hwm0 < 64 * 1024 )) || fail "isletd's peak grew by $(( (hwm1 - hwm0) / 1024 )) MiB for 120 MB of output"
wait_until 5 no_scratch_files || fail "$(scratch_files) scratch files left after the answer"

log "== output over the key's scratch space (200 MiB here) is refused"
api POST "/toolbox/$ID/process/execute" -d '{"command": "head -c 230000000 /dev/zero", "timeout": 60}'
expect_error "230 MB of output over 200 MiB of scratch" 507
expect_body "the message says why" '.message | test("scratch space")'
wait_until 5 no_scratch_files || fail "$(scratch_files) scratch files left after a refusal"
api POST "/toolbox/$ID/process/execute" -d '{"command": "echo still"}'
expect_body "the budget came back" '.result == "still\n"'

log "== bulk download and upload scratch space is the key's, bounded"
exec_cmd 'sh -c '"'"'head -c 33554432 /dev/urandom > /workspace/big'"'"
expect_code "make a 32 MiB file" 200
api POST "/toolbox/$ID/files/bulk-download" \
  -d '{"paths": ["/workspace/big","/workspace/big","/workspace/big","/workspace/big","/workspace/big","/workspace/big","/workspace/big"]}'
expect_error "7 x 32 MiB in one bulk download, over 200 MiB of scratch" 507
expect_body "the message says why" '.message | test("scratch space")'
wait_until 5 no_scratch_files || fail "$(scratch_files) scratch files left after a refused download"
size=$(curl -s -o "$STATE.dl" -w '%{size_download}' --max-time 120 -X POST \
  -H "Authorization: Bearer $SRV_KEY" -H 'Content-Type: application/json' \
  -d '{"paths": ["/workspace/big", "/workspace/big"]}' "$SRV_URL/toolbox/$ID/files/bulk-download") \
  || fail "bulk download of 2 x 32 MiB"
(( size > 2 * 33554432 && size < 2 * 33554432 + 4096 )) || fail "bulk download of 2 x 32 MiB: $size bytes"
rm -f "$STATE.dl"
size=$(curl -s -o /dev/null -w '%{size_download}' --max-time 120 -H "Authorization: Bearer $SRV_KEY" \
  "$SRV_URL/toolbox/$ID/files/download?path=/workspace/big") || fail "download of 32 MiB"
[[ $size == 33554432 ]] || fail "download of 32 MiB: $size bytes"
wait_until 5 no_scratch_files || fail "$(scratch_files) scratch files left after downloads"
# a file sent before its path waits on isletd's disk: 210 MiB of it is refused
# upload_first MIB: bulk-upload of a MIB MiB file sent before its path; the
# status in CODE
upload_first () {
  truncate -s $(($1 << 20)) "$STATE.up"
  CODE=$(curl -s -o "$STATE.upans" -w '%{http_code}' --max-time 120 -H "Authorization: Bearer $SRV_KEY" \
    -F 'files[0].file=@'"$STATE.up" -F 'files[0].path=/workspace/up' \
    "$SRV_URL/toolbox/$ID/files/bulk-upload") || CODE=000
  rm -f "$STATE.up"
}
upload_first 210
[[ $CODE == 507 ]] || fail "a 210 MiB file before its path: status $CODE, want 507: $(head -c 300 "$STATE.upans")"
upload_first 20
[[ $CODE == 200 ]] || fail "a 20 MiB file before its path: status $CODE: $(head -c 300 "$STATE.upans")"
wait_until 5 no_scratch_files || fail "$(scratch_files) scratch files left after uploads"

pass
