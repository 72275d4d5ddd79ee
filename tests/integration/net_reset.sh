#!/usr/bin/env bash
# `islet system reset` and the host's shared nftables table `inet islet`:
# a reset of another state directory while a sandbox here has a network
# keeps the table and the sandbox's filter; once no sandbox on the host has
# a network, a reset deletes the table (a stopped sandbox's names'
# addresses, left until their TTL, are swept first), and the next
# networked sandbox makes it again, filtered as before.  Another test's
# networked sandbox on the host keeps the table: then that part is only
# logged.  Needs root.  Exit 0 pass, 1 fail, 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/netfake.sh"
it_init
nf_trap it_cleanup
nf_up
export ISLET_DNS=$NF_DNS

table () { nft list table inet islet >/dev/null 2>&1; }
# slots held by a running supervisor, of any state directory on the host
held_slots () {
  local f n=0
  for f in /run/islet-net/[0-9]*.lock; do
    [[ -e "$f" ]] || continue
    flock -n "$f" true 2>/dev/null || n=$((n + 1))
  done
  echo "$n"
}

id=$(create_sb --network allow --allow a.test.example)
remember_id "$id"
slot=$(grep -oE 'on islet[0-9]+' "$STATE/sandboxes/$id/supervisor.log" | tail -1 | grep -oE '[0-9]+')
nf_probe "$id" dns:a.test.example "$NF_WEB_A:80" "$NF_WEB_B:80"
expect_probe dns:a.test.example "resolved $NF_WEB_A"
expect_probe "$NF_WEB_A:80" "open A"
expect_closed "$NF_WEB_B:80"
grep -q -- <<<"$(nft list set inet islet dns4)" "\"islet$slot\" . 0x[0-9a-f]* . $NF_WEB_A" \
  || fail "no dns4 element of islet$slot: $(nft list set inet islet dns4)"

log "a reset of another state directory keeps the table a running sandbox uses"
other=$(mktemp -d /tmp/islet-it.XXXXXX)
IT_EXTRA_DIRS+=("$other")
"$ISLET_BIN" --state-dir "$other" system reset -f </dev/null || fail "reset of $other failed"
table || fail "the reset of another state directory deleted the table"
nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_B:80" "10.77.0.1:80"
expect_probe "$NF_WEB_A:80" "open A"
expect_closed "$NF_WEB_B:80"
expect_closed "10.77.0.1:80"

log "stopped: its names' addresses stay until their TTL, then a reset deletes the table"
islet stop "$id" </dev/null >/dev/null || fail "stop"
grep -q -- <<<"$(nft list set inet islet dns4)" "$NF_WEB_A" \
  || log "no dns4 element left after the stop (the sweep has nothing of it to do)"
busy=$(held_slots)
islet system reset -f </dev/null >/dev/null || fail "reset failed"
if (( busy == 0 )); then
  table && fail "the table is left after a reset with no networked sandbox: $(nft list table inet islet | head -40)"
else
  log "$busy network slots of other tests are held: the table stays, as it must"
  table || fail "the table went while $busy slots are held"
fi

log "the next networked sandbox makes the table again, filtered as before"
id2=$(create_sb --network allow --allow a.test.example)
remember_id "$id2"
table || fail "no table after a networked create"
nf_probe "$id2" dns:a.test.example "$NF_WEB_A:80" "$NF_WEB_B:80" "10.77.0.1:80" "169.254.169.254:80"
expect_probe dns:a.test.example "resolved $NF_WEB_A"
expect_probe "$NF_WEB_A:80" "open A"
expect_closed "$NF_WEB_B:80"
expect_closed "10.77.0.1:80"
expect_closed "169.254.169.254:80"
pass
