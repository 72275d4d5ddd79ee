#!/usr/bin/env bash
# kill -9 of isletd while uploads are in flight, then a restart: the
# sandbox is still there and running; every target path holds the old file
# or the whole new one (an upload is atomic), never part of it; no
# temporary file is left beside the targets; no scratch file of isletd is
# left in the state directory; and the same uploads then succeed.  Four
# uploads run at once, slowed by curl's --limit-rate: three bulk uploads
# (one over an existing file, one whose file part comes before its path, so
# isletd spools it) and one upload-v2.  Killed at two points, once the
# streamed ones have their temporary files in the sandbox.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_upload_killed.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init
WORK=$STATE.upwork
mkdir "$WORK"
api POST /api/sandbox -d '{"name":"upk","disk":1}'; expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
T=/toolbox/$A

head -c $((24 << 20)) /dev/urandom >"$WORK/big"
want=$(sha256sum "$WORK/big" | cut -d' ' -f1)
# a body whose file part comes before its path: isletd spools the file
"$IT_PY" - "$WORK/big" "$WORK/rev" <<'PY'
import sys
b = b'----rev'
data = open(sys.argv[1], 'rb').read()
body = (b'--' + b + b'\r\nContent-Disposition: form-data; name="files[0].file"; filename="z"\r\n'
        b'Content-Type: application/octet-stream\r\n\r\n' + data + b'\r\n'
        b'--' + b + b'\r\nContent-Disposition: form-data; name="files[0].path"\r\n\r\n'
        b'/workspace/up/rev\r\n--' + b + b'--\r\n')
open(sys.argv[2], 'wb').write(body)
PY

# state directory entries other than SQLite's own side files
state_files () {
  find "$STATE" -maxdepth 1 -mindepth 1 -printf '%f\n' | grep -Ev -- '-(wal|shm|journal)$' | sort
}

# start_uploads TAG: the four uploads, in the background, 4 MiB/s each
start_uploads () {
  local c=(curl -s --max-time 60 --limit-rate 4M -H "Authorization: Bearer $SRV_KEY" -o /dev/null
           -w '%{http_code} ')
  pids=()
  "${c[@]}" -F "files[0].path=/workspace/up/new" -F "files[0].file=@$WORK/big;filename=a" \
    "$SRV_URL$T/files/bulk-upload" >"$WORK/$1.new" 2>/dev/null &
  pids+=($!)
  "${c[@]}" -F "files[0].path=/workspace/up/kept" -F "files[0].file=@$WORK/big;filename=b" \
    "$SRV_URL$T/files/bulk-upload" >"$WORK/$1.kept" 2>/dev/null &
  pids+=($!)
  "${c[@]}" -H 'Content-Type: multipart/form-data; boundary=----rev' --data-binary @"$WORK/rev" \
    "$SRV_URL$T/files/bulk-upload" >"$WORK/$1.rev" 2>/dev/null &
  pids+=($!)
  "${c[@]}" -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/big" \
    "$SRV_URL$T/files/upload-v2?path=/workspace/up/v2" >"$WORK/$1.v2" 2>/dev/null &
  pids+=($!)
}

# check_targets TAG: each target is absent, the old file, or the whole new one
check_targets () {
  local f got i
  sh_in "cd /workspace/up && for f in new kept rev v2; do if [ -e \$f ]; then echo \$f \$(sha256sum < \$f | cut -c1-64); else echo \$f absent; fi; done"
  while read -r f got; do
    case "$got" in
      "$want") ;;
      absent) [[ "$f" != kept ]] || fail "$1: the existing file /workspace/up/kept is gone" ;;
      "$old") [[ "$f" == kept ]] || fail "$1: $f has the old contents" ;;
      *) fail "$1: /workspace/up/$f is part of the upload (sha256 $got)" ;;
    esac
    log "$1: $f: ${got:0:12}"
  done <<<"$OUT"
  # the agent removes its temporary file once it sees the connection end
  for (( i = 0; i < 50; i++ )); do
    sh_in "ls -A /workspace/up"
    [[ "$OUT" != *.tmp* ]] && break
    sleep 0.2
  done
  sh_in "ls -A /workspace/up"
  ! grep -q '\.tmp$' <<<"$OUT" || fail "$1: temporary files left in /workspace/up: $OUT"
}

before=$(state_files)
for delay in 0 2.5; do
  log "== four uploads, isletd killed $delay s after they began"
  sh_in "rm -rf /workspace/up; mkdir -p /workspace/up && echo old > /workspace/up/kept"
  old=$(printf 'old\n' | sha256sum | cut -d' ' -f1)
  start_uploads "k$delay"
  # in flight: the three streamed uploads have their temporary files (at most 10 s)
  for (( i = 0; i < 50; i++ )); do
    sh_in "ls -A /workspace/up"
    (( $(grep -c '\.tmp$' <<<"$OUT") >= 3 )) && break
    sleep 0.2
  done
  (( $(grep -c '\.tmp$' <<<"$OUT") >= 3 )) || fail "the uploads never got under way: $OUT"
  sleep "$delay"
  sh_in "ls -A /workspace/up"
  log "in /workspace/up at the kill: $(tr '\n' ' ' <<<"$OUT")"
  # the file sent before its path is spooled to an unlinked file in the state directory
  spooled=$(find "/proc/$SRV_PID/fd" -mindepth 1 -printf '%l\n' 2>/dev/null | grep -c "^$STATE/#.* (deleted)\$")
  (( spooled >= 1 )) || fail "no spooled upload in isletd at the kill"
  kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
  wait "${pids[@]}" 2>/dev/null || true
  log "answers before the kill: $(cat "$WORK"/k$delay.* | tr '\n' ' ')"
  # nothing the dead isletd spooled is left in the state directory
  [[ "$(state_files)" == "$before" ]] \
    || fail "after the kill the state directory has [$(state_files | tr '\n' ' ')], before [$(tr '\n' ' ' <<<"$before")]"
  srv_start
  api GET "/api/sandbox/$A"; expect_code "the sandbox after the restart" 200
  expect_body "the sandbox still runs" '.state == "started"'
  check_targets "killed $delay s in"
  [[ "$(state_files)" == "$before" ]] || fail "after the restart the state directory has [$(state_files | tr '\n' ' ')]"
done

log "== the same uploads, not killed"
start_uploads whole
wait "${pids[@]}" 2>/dev/null || true
for f in new kept rev v2; do
  expect_eq "upload $f after the restarts" "$(cat "$WORK/whole.$f")" "200 "
done
check_targets "whole uploads"
sh_in "cd /workspace/up && cat new kept rev v2 | wc -c"
expect_eq "four whole files" "$OUT" "$((4 * (24 << 20)))"
api DELETE "/api/sandbox/$A"; expect_code "delete" 200
pass
