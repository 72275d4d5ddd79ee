#!/usr/bin/env bash
# The CLI is a static program: a local `islet run` maps no shared library
# at all (each one costs the dynamic loader's start on every command), and
# a remote command is handed, with its arguments and unread stdin, to
# islet-dynamic, the same CLI linked dynamically, which loads libcurl.
# Without the sanitizers only: with them the CLI is dynamic by design.
source "$(dirname "$0")/../lib/integration.sh"
it_init

if grep -q '^ISLET_ASAN:BOOL=ON' "$ISLET_BUILD/CMakeCache.txt" 2>/dev/null; then
  skip "built with ISLET_ASAN: the CLI is dynamic"
fi
TWIN=$(dirname "$ISLET_BIN")/islet-dynamic
[[ -x "$TWIN" ]] || fail "no islet-dynamic beside $ISLET_BIN"

log "a local run maps no shared library"
"$ISLET_BIN" --state-dir "$STATE" run -- sleep 5 </dev/null >/dev/null 2>"$STATE.run.err" &
cli=$!
for _ in $(seq 100); do
  [[ -d "$STATE/sandboxes" ]] && [[ -n "$(ls "$STATE/sandboxes" 2>/dev/null)" ]] && break
  sleep 0.1
done
maps=$(cat "/proc/$cli/maps" 2>/dev/null) || fail "the CLI ($cli) ended before its maps were read"
[[ -n "$maps" ]] || fail "the CLI's maps are empty"
libs=$(grep -E '\.so(\.[0-9]+)*$' <<<"$maps" | awk '{ print $6 }' | sort -u || true)
[[ -z "$libs" ]] || fail "islet run maps shared libraries: $libs"
grep -q -- "$(readlink -f "$ISLET_BIN")" <<<"$maps" || fail "the process read is not the CLI"
wait "$cli" || fail "islet run -- sleep 5 failed: $(cat "$STATE.run.err")"
expect_eq "sandboxes after the run" "$(jget "$(islet ls --json </dev/null)" 'len(j["sandboxes"])')" 0

log "a remote command is islet-dynamic's, with the same arguments and stdin"
# port 1 on loopback: nothing listens, so both fail the same way at connect
# (libcurl's message says how many ms that took)
same () { sed -E 's/after [0-9]+ ms/after N ms/'; }
for args in "ls" "run -i -- cat" "info nope"; do
  # shellcheck disable=SC2086
  got=$(printf 'in' | ISLET_URL=http://127.0.0.1:1 ISLET_API_KEY=k "$ISLET_BIN" $args 2>&1 >/dev/null | same) && rc=0 || rc=$?
  # shellcheck disable=SC2086
  want=$(printf 'in' | ISLET_URL=http://127.0.0.1:1 ISLET_API_KEY=k "$TWIN" $args 2>&1 >/dev/null | same) && wrc=0 || wrc=$?
  expect_eq "islet $args over --url: status" "$rc" "$wrc"
  expect_eq "islet $args over --url: message" "$got" "$want"
  [[ "$got" == *127.0.0.1* ]] || fail "islet $args over --url: '$got' does not come from the remote call"
done
got=$("$ISLET_BIN" --url http://127.0.0.1:1 ls 2>&1 >/dev/null) && rc=0 || rc=$?
[[ $rc -ne 0 && "$got" != *"islet-dynamic"* ]] || fail "--url: $got (status $rc)"

log "islet audit of the state directory's own isletd goes remote too"
echo "http://127.0.0.1:1" >"$STATE/isletd.url"
echo "k" >"$STATE/api-key"
got=$(islet audit 2>&1 >/dev/null) && rc=0 || rc=$?
rm -f "$STATE/isletd.url" "$STATE/api-key"
[[ $rc -ne 0 && "$got" == *127.0.0.1* && "$got" != *"islet-dynamic"* ]] ||
  fail "audit of the local isletd: $got (status $rc)"
pass
