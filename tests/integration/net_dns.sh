#!/usr/bin/env bash
# Outbound network, mode allow with domain names: the sandbox's resolver
# answers only the names of its list (exact, or below a `*.` entry) and
# sends no other query upstream, so a query cannot carry data out; the
# sandbox reaches only the addresses its allowed names resolved to, not a
# private one an allowed name resolves to; a UDP query to any other server
# is answered by islet's resolver too, DNS over TCP to a server not listed
# gets nowhere.  Mode all resolves any name.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/netfake.sh"
it_init
nf_trap it_cleanup
nf_up
export ISLET_DNS=$NF_DNS # the upstream resolver of the supervisors this test starts

id=$(create_sb --network allow --allow a.test.example --allow '*.b.test.example' \
  --allow p.test.example)
remember_id "$id"
expect_eq "list echoed" "$(sb_info "$id" '",".join(j["network"]["allow"])')" \
  "a.test.example,*.b.test.example,p.test.example"

log "before any name is resolved, nothing is reachable"
nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_B:80"
expect_closed "$NF_WEB_A:80"
expect_closed "$NF_WEB_B:80"

nf_probe "$id" dns:a.test.example dns:A.Test.Example dns:x.b.test.example dns:b.test.example \
  dns:p.test.example dns:secret1-leak.other.example dns:a.test.example.other.example \
  "udpdns:$NF_DNS:secret2-leak.other.example" "udpdns:8.8.8.8:secret3-leak.other.example" \
  "tcpdns:$NF_DNS:secret4-leak.other.example"
expect_probe dns:a.test.example "resolved $NF_WEB_A"
expect_probe dns:A.Test.Example "resolved $NF_WEB_A"
expect_probe dns:x.b.test.example "resolved $NF_WEB_B"
expect_probe dns:b.test.example nxdomain # *.b.test.example: below it, not itself
expect_probe dns:p.test.example "resolved $NF_WEB_P"
expect_probe dns:secret1-leak.other.example nxdomain
expect_probe dns:a.test.example.other.example nxdomain
expect_probe "udpdns:$NF_DNS:secret2-leak.other.example" nxdomain # islet's resolver answers
expect_probe "udpdns:8.8.8.8:secret3-leak.other.example" nxdomain
expect_closed "tcpdns:$NF_DNS:secret4-leak.other.example"

log "the names' addresses, and only those, are reachable"
nf_probe "$id" "$NF_WEB_A:80" "$NF_WEB_B:80" "$NF_WEB_P:80"
expect_probe "$NF_WEB_A:80" "open A"
expect_probe "$NF_WEB_B:80" "open B"
expect_closed "$NF_WEB_P:80" # an allowed name that resolves to a private address

log "no query outside the list reached the upstream resolver"
sleep 0.5
grep -q 'query\[A\] a.test.example' "$NF_DNS_LOG" || fail "the allowed name was not asked upstream: $(tail -5 "$NF_DNS_LOG")"
if grep -qi 'leak' "$NF_DNS_LOG"; then
  fail "a query outside the list reached upstream: $(grep -i leak "$NF_DNS_LOG")"
fi
if grep -q 'query\[[A-Z]*\] b.test.example' "$NF_DNS_LOG"; then
  fail "b.test.example (not in the list) reached upstream"
fi

log "another sandbox's answers open nothing for this one"
other=$(create_sb --network allow --allow 192.0.2.123/32)
remember_id "$other"
nf_probe "$other" "$NF_WEB_A:80" dns:a.test.example
expect_closed "$NF_WEB_A:80"
expect_probe dns:a.test.example nxdomain

log "mode all resolves any name"
all=$(create_sb --network all)
remember_id "$all"
nf_probe "$all" dns:other.example "udpdns:$NF_DNS:a.test.example"
expect_probe dns:other.example "resolved $NF_WEB_A"
expect_probe "udpdns:$NF_DNS:a.test.example" "resolved $NF_WEB_A"
pass
