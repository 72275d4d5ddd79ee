#!/usr/bin/env bash
# islet-run is a static program and leaves the host side of a sandbox's
# network (netlink, nftables, the DNS responder) to islet-net, a dynamic
# program beside it that it runs only for a sandbox with a network:
#   - a supervisor maps no shared library, with a network or without;
#   - a sandbox without a network runs no islet-net, and works where no
#     islet-net is installed at all;
#   - there, a create with a network fails with why, leaving nothing;
#   - with one, islet-net stays as the sandbox's DNS responder (a child of
#     its supervisor) and goes with the sandbox, its device too.
# Without the sanitizers only: with them islet-run is dynamic by design.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
it_init

if grep -q '^ISLET_ASAN:BOOL=ON' "$ISLET_BUILD/CMakeCache.txt" 2>/dev/null; then
  skip "built with ISLET_ASAN: islet-run is dynamic"
fi
BIN_DIR=$(dirname "$ISLET_BIN")
# any IPv4 address will do: no query is sent
export ISLET_DNS=203.0.113.53

# libs PID: the shared libraries process PID maps
libs () {
  grep -E '\.so(\.[0-9]+)*$' "/proc/$1/maps" | awk '{ print $6 }' | sort -u || true
}

# the islet-net processes that are children of PID
net_children () {
  pgrep -P "$1" -f '^islet-net ' || true
}

supervisor_of () {
  pgrep -f "^islet-run $STATE $1( |$)" | head -1 || true
}

log "a sandbox without a network: its supervisor maps no library and runs no islet-net"
id=$(create_sb)
remember_id "$id"
sup=$(supervisor_of "$id")
[[ -n "$sup" ]] || fail "no supervisor for $id"
[[ -z "$(libs "$sup")" ]] || fail "the supervisor maps shared libraries: $(libs "$sup")"
[[ -z "$(net_children "$sup")" ]] || fail "islet-net runs for a sandbox without a network"
expect_eq "exec" "$(islet exec "$id" -- echo hi </dev/null)" hi
islet rm -f "$id" </dev/null >/dev/null || fail "rm"

log "a sandbox with a network: islet-net is its DNS responder, and goes with it"
id=$(create_sb --network all)
remember_id "$id"
sup=$(supervisor_of "$id")
[[ -n "$sup" ]] || fail "no supervisor for $id"
[[ -z "$(libs "$sup")" ]] || fail "the supervisor maps shared libraries: $(libs "$sup")"
helper=$(net_children "$sup")
[[ -n "$helper" ]] || fail "no islet-net child of the supervisor $sup"
libs "$helper" | grep -q libmnl || fail "islet-net ($helper) maps no libmnl: $(libs "$helper")"
slot=$(grep -oE 'on islet[0-9]+' "$STATE/sandboxes/$id/supervisor.log" | tail -1 | grep -oE '[0-9]+')
[[ -n "$slot" ]] || fail "no network line in the supervisor's log"
ip link show "islet$slot" >/dev/null 2>&1 || fail "no device islet$slot"
islet rm -f "$id" </dev/null >/dev/null || fail "rm"
dead "$helper" || fail "islet-net ($helper) outlived its sandbox"
wait_until 5 bash -c "! ip link show islet$slot >/dev/null 2>&1" \
  || fail "islet$slot is left after its sandbox's removal"
[[ ! -e "/run/islet-net/$slot.lock" ]] || fail "the slot's lock file is left"

log "no islet-net installed: a sandbox without a network works, one with a network fails with why"
mkdir "$STATE.bin" || fail "mkdir $STATE.bin"
for prog in islet islet-run islet-image; do
  cp "$BIN_DIR/$prog" "$STATE.bin/" || fail "copy $prog"
done
bare () { "$STATE.bin/islet" --state-dir "$STATE" "$@"; }
id=$(bare create </dev/null) || fail "create without islet-net installed"
remember_id "$id"
expect_eq "exec without islet-net installed" "$(bare exec "$id" -- echo hi </dev/null)" hi
bare rm -f "$id" </dev/null >/dev/null || fail "rm"
out=$(bare create --network all 2>&1 </dev/null) && fail "create --network all without islet-net succeeded: $out"
grep -q "run \`$STATE.bin/islet-net\`: No such file or directory" <<<"$out" \
  || fail "the create's error does not say why: $out"
left=$(ls "$STATE/sandboxes" 2>/dev/null)
[[ -z "$left" ]] || fail "the failed create left $left"
wait_empty 5 supervisors || fail "a supervisor is left: $(supervisors)"
pass
