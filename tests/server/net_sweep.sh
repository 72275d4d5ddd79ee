#!/usr/bin/env bash
# A networked sandbox's supervisor killed outright (kill -9) leaves its
# filter elements in the host's table `inet islet` and its slot's lock file
# in /run/islet-net; after `islet rm` and a restart of isletd, whose
# supervisor forker sweeps at start, neither is left.  A sandbox stopped
# cleanly removes both itself.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/netfake.sh"

it_init
nf_up
SRV_ARGS=(--dns "$NF_DNS")
srv_start
nf_trap srv_cleanup

# elements DEV: how many elements of the table have DEV (a device's name,
# or its index once the device is gone) as their key's first part
elements () {
  nft -j list table inet islet 2>/dev/null | "$IT_PY" -c '
import json, sys
dev, n = sys.argv[1], 0
for o in json.load(sys.stdin)["nftables"]:
    s = o.get("set") or o.get("map")
    for e in (s or {}).get("elem", []):
        k = e[0] if isinstance(e, list) else e
        if isinstance(k, dict) and "elem" in k: k = k["elem"]["val"]
        if isinstance(k, dict) and "concat" in k: k = k["concat"][0]
        n += str(k) == dev
print(n)' "$1"
}

# slot ID: the slot of a sandbox's link, from its supervisor's log
slot () {
  grep -oE 'on islet[0-9]+' "$STATE/sandboxes/$1/supervisor.log" | tail -1 | grep -oE '[0-9]+'
}

create () {
  api POST /api/sandbox -H 'Content-Type: application/json' \
    -d '{"networkAllowList":"198.51.100.0/24,10.77.0.10/32","domainAllowList":"a.test.example"}'
  expect_code "create" 200
  jq -r .id <<<"$BODY"
}

log "a sandbox stopped cleanly removes its elements and its lock file"
id=$(create)
remember_id "$id"
s=$(slot "$id")
[[ -n "$s" ]] || fail "no slot in the supervisor's log"
n=$(elements "islet$s")
(( n >= 7 )) || fail "islet$s has $n elements, want 7 or more: $(nft list table inet islet 2>&1 | head -40)"
[[ -e /run/islet-net/$s.lock ]] || fail "no lock file for slot $s"
api POST "/api/sandbox/$id/stop"
expect_code "stop" 200
gone () { [[ $(elements "islet$s") == 0 && $(elements "$idx") == 0 ]] && [[ ! -e /run/islet-net/$s.lock ]]; }
idx=none
wait_until 10 gone || fail "slot $s after a stop: $(elements "islet$s") elements, lock file $(ls /run/islet-net/$s.lock 2>&1)"
api DELETE "/api/sandbox/$id"
expect_code "delete" 200

log "a supervisor killed outright"
id=$(create)
remember_id "$id"
s=$(slot "$id")
idx=$(cat "/sys/class/net/islet$s/ifindex") || fail "no device islet$s"
sup=$(grep -oE 'islet-run\[[0-9]+\]: sandbox [0-9a-f]+ started' "$STATE/sandboxes/$id/supervisor.log" \
  | tail -1 | grep -oE '\[[0-9]+\]' | tr -d '[]')
[[ -n "$sup" ]] || fail "no supervisor pid in the log"
kill -9 "$sup"
dev_gone () { ! ip link show "islet$s" >/dev/null 2>&1; }
wait_until 10 dev_gone || fail "islet$s still exists after its supervisor was killed"
n=$(elements "$idx")
(( n >= 7 )) || fail "the killed supervisor left $n elements of index $idx, want 7 or more (the test relies on it)"
[[ -e /run/islet-net/$s.lock ]] || fail "the killed supervisor's lock file is gone (the test relies on it)"
islet rm -f "$id" </dev/null >/dev/null || fail "islet rm"

log "isletd restarted: its forker sweeps"
srv_stop
srv_start
wait_until 15 gone || fail "after a restart: $(elements "$idx") elements of index $idx, lock file $(ls /run/islet-net/$s.lock 2>&1); isletd: $(tail -5 "$STATE.srv.err")"
grep -q 'network sweep' "$STATE.srv.err" || fail "isletd's log does not say what the sweep removed"

log "the next networked sandbox works"
id=$(create)
remember_id "$id"
nf_probe "$id" "$NF_WEB_B:80" "$NF_WEB_A:80"
expect_probe "$NF_WEB_B:80" "open B"
expect_closed "$NF_WEB_A:80"
pass
