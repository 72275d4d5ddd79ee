#!/usr/bin/env bash
# A networked sandbox's start: its link is set up while its init builds
# its root, and its DNS responder (islet-net) serves from the link's set-up on.
# A failure of the link's set-up fails the create with its reason and
# leaves no sandbox, supervisor or held slot of its own; a query sent by
# the first command after the create is answered, and the sandbox
# reaches what its mode allows at once.  Needs root.  Exit 0 pass, 1 fail,
# 77 skip.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/netfake.sh"
it_init
nf_trap it_cleanup
nf_up

log "an unusable upstream resolver fails the create, with why, leaving nothing"
out=$(ISLET_DNS=not-an-address "$ISLET_BIN" --state-dir "$STATE" create --network all 2>&1 </dev/null) \
  && fail "create with an unusable resolver succeeded: $out"
grep -q 'upstream resolver `not-an-address` is not an IPv4 address' <<<"$out" \
  || fail "the create's error does not say why: $out"
left=$(ls "$STATE/sandboxes" 2>/dev/null)
[[ -z "$left" ]] || fail "the failed create left $left"
[[ -z "$(supervisors)" ]] || fail "a supervisor is left: $(supervisors)"

export ISLET_DNS=$NF_DNS
for round in 1 2 3; do
  log "round $round: the first command resolves and connects"
  id=$(create_sb --network all)
  remember_id "$id"
  nf_probe "$id" dns:a.test.example "$NF_WEB_A:80"
  expect_probe dns:a.test.example "resolved $NF_WEB_A"
  expect_probe "$NF_WEB_A:80" "open A"
  slot=$(grep -oE 'on islet[0-9]+' "$STATE/sandboxes/$id/supervisor.log" | tail -1 | grep -oE '[0-9]+')
  [[ -n "$slot" ]] || fail "no network line in the supervisor's log"
  islet rm -f "$id" </dev/null >/dev/null || fail "rm"
  wait_until 5 bash -c "! ip link show islet$slot >/dev/null 2>&1" \
    || fail "islet$slot is left after its sandbox's removal"
done
pass
