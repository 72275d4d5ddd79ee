#!/usr/bin/env bash
# Uploads are streamed into the sandbox, never held whole: a 256 MiB file
# goes up with isletd's peak memory far below its size and arrives intact;
# an empty file part, a file part sent before its path, and several files
# in one body all land; a client that goes away mid-upload leaves nothing
# in the sandbox (no half-written file, no temporary file) and an audit
# record; a Content-Length over the sandbox's disk is refused at once (413).
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_upload.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init
WORK=$STATE/srv-work
mkdir "$WORK"
api POST /api/sandbox -d '{"name":"up","disk":1}'; expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
T=/toolbox/$A

log "== a large file, streamed"
head -c $((256 << 20)) /dev/urandom >"$WORK/big"
want=$(sha256sum "$WORK/big" | cut -d' ' -f1)
api POST "$T/files/bulk-upload" -F "files[0].path=/workspace/big.bin" -F "files[0].file=@$WORK/big;filename=big" \
  -H "Transfer-Encoding: chunked"
expect_code "upload of 256 MiB" 200
hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$SRV_PID/status")
log "isletd peak resident memory after the upload: $((hwm_kb / 1024)) MiB"
(( hwm_kb < 96 * 1024 )) || fail "isletd's peak memory is $((hwm_kb / 1024)) MiB: the upload was buffered"
sh_in "sha256sum /workspace/big.bin"
[[ "$OUT" == "$want  /workspace/big.bin" ]] || fail "the large file changed: $OUT"
sh_in "rm /workspace/big.bin"
rm -f "$WORK/big"

log "== several files, an empty one, a file before its path"
printf 'one' >"$WORK/one"; : >"$WORK/empty"
api POST "$T/files/bulk-upload" -F "files[0].path=/workspace/m/one" -F "files[0].file=@$WORK/one;filename=x" \
  -F "files[1].path=/workspace/m/empty" -F "files[1].file=@$WORK/empty;filename=y"
expect_code "two files, one empty" 200
api GET "$T/files/info?path=/workspace/m/empty"; expect_code "the empty file" 200
expect_body "the empty file is empty" '.size == 0 and .isDir == false'
"$IT_PY" - "$WORK/rev" <<'PY'
import sys
b = b'----rev'
body = (b'--' + b + b'\r\nContent-Disposition: form-data; name="files[0].file"; filename="z"\r\n'
        b'Content-Type: application/octet-stream\r\n\r\nfile first\r\n'
        b'--' + b + b'\r\nContent-Disposition: form-data; name="files[0].path"\r\n\r\n'
        b'/workspace/m/rev\r\n--' + b + b'--\r\n')
open(sys.argv[1], 'wb').write(body)
PY
api POST "$T/files/bulk-upload" -H 'Content-Type: multipart/form-data; boundary=----rev' --data-binary @"$WORK/rev"
expect_code "a file part before its path" 200
sh_in "cat /workspace/m/rev /workspace/m/one"
[[ "$OUT" == "file firstone" ]] || fail "uploaded contents: '$OUT'"
api POST "$T/files/bulk-upload" -F "files[3].file=@$WORK/one;filename=x"
expect_error "a file without a path" 400

log "== the client goes away mid-upload"
sh_in "mkdir -p /workspace/dc && echo old > /workspace/dc/kept"
port=${SRV_URL##*:}
"$IT_PY" - "$port" "$SRV_KEY" "$A" <<'PY' || fail "the aborted upload"
import socket, sys, time
port, key, sid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
b = 'xyzzy'
s = socket.create_connection(('127.0.0.1', port))
s.sendall(('POST /toolbox/%s/files/bulk-upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n'
           'Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: 50000000\r\n\r\n'
           % (sid, key, b)).encode())
s.sendall(('--%s\r\nContent-Disposition: form-data; name="files[0].path"\r\n\r\n/workspace/dc/kept\r\n'
           '--%s\r\nContent-Disposition: form-data; name="files[0].file"; filename="k"\r\n\r\n' % (b, b)).encode())
s.sendall(b'n' * (4 << 20))
time.sleep(0.5)
s.close()
PY
ok=
for (( i = 0; i < 100; i++ )); do
  api GET "/api/audit?limit=5"
  if [[ $(jq '[.items[] | select(.action == "files.upload" and .status == 499)] | length' <<<"$BODY") == 1 ]]; then
    ok=1; break
  fi
  sleep 0.1
done
[[ -n "$ok" ]] || fail "no audit record of the aborted upload: $BODY"
sh_in "ls -A /workspace/dc; cat /workspace/dc/kept"
[[ "$OUT" == $'kept\nold' ]] || fail "the aborted upload left something behind: '$OUT'"

log "== limits"
"$IT_PY" - "$port" "$SRV_KEY" "$A" <<'PY' || fail "413 on the headers"
import socket, sys
port, key, sid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(('127.0.0.1', port))
s.settimeout(20)
s.sendall(('POST /toolbox/%s/files/upload-v2?path=/workspace/x HTTP/1.1\r\nHost: x\r\n'
           'Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n'
           'Content-Length: %d\r\n\r\n' % (sid, key, 2 << 30)).encode())
head = s.recv(4096).decode()
assert head.startswith('HTTP/1.1 413'), head
PY
api GET "$T/files/info?path=/workspace/x"; expect_error "nothing written by the refused upload" 404
api POST "$T/files/upload-v2?path=/workspace/raw" -H 'Content-Type: text/plain' --data-binary 'raw body'
expect_code "upload-v2 raw" 200
sh_in "cat /workspace/raw"; [[ "$OUT" == "raw body" ]] || fail "upload-v2 raw: '$OUT'"
api POST "$T/files/upload-v2" --data-binary 'x'; expect_error "upload-v2 without path" 400
api POST "$T/files/bulk-upload" -H 'Content-Type: text/plain' --data-binary 'x'; expect_error "bulk-upload not multipart" 400

api DELETE "/api/sandbox/$A"; expect_code "delete" 200
pass
