#!/usr/bin/env bash
# The audit log is bounded, and says when it loses a record: records past
# --audit-max-records are pruned as new ones come, records older than
# --audit-days are removed (at start here); with the state directory's disk
# full, an audited call still answers, with X-Islet-Audit-Error, GET
# /api/audit counts what was not recorded, and once there is room again the
# records come back.  The state directory is a 48 MiB tmpfs this test
# mounts (and removes).  Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_audit_log.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

it_init
for tool in curl jq sqlite3; do command -v "$tool" >/dev/null || fail "needs $tool"; done
mount -t tmpfs -o size=48m,mode=0700 islet-audit-test "$STATE" || skip "cannot mount a tmpfs"
trap srv_cleanup EXIT
SRV_ARGS=(--audit-max-records 300)
srv_start
DB=$STATE/isletd.db

rows () { sqlite3 "$DB" 'SELECT count(*) FROM audit'; }
# audited N: N audited calls (a refused create is recorded too), over one
# keep-alive connection
audited () {
  "$IT_PY" - "$SRV_URL" "$SRV_KEY" "$1" <<'EOF'
import http.client, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
for _ in range(int(sys.argv[3])):
    c.request("POST", "/api/sandbox", body='{"cpu": "two"}',
              headers={"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 400, r.status
EOF
}

log "== at most 300 records (checked every 256)"
audited 900 || fail "900 audited calls"
n=$(rows)
(( n <= 300 + 256 )) || fail "the audit log holds $n records past a bound of 300"
(( n >= 300 )) || fail "the audit log holds $n records, fewer than the 300 kept"
log "$n records after 900 calls"

log "== older than --audit-days: removed"
srv_stop
old=$(( ($(date +%s) - 100 * 86400) * 1000 ))
sqlite3 "$DB" "UPDATE audit SET time = $old WHERE id IN (SELECT id FROM audit ORDER BY id LIMIT 50)"
SRV_ARGS=(--audit-max-records 300 --audit-days 30)
srv_start
[[ $(sqlite3 "$DB" "SELECT count(*) FROM audit WHERE time <= $old") == 0 ]] \
  || fail "records 100 days old kept with --audit-days 30"
grep -q 'audit records past the bounds removed' "$STATE.srv.err" || fail "isletd did not say it pruned"

log "== a full disk: the record is said lost, not dropped silently"
dd if=/dev/zero of="$STATE/filler" bs=1M status=none 2>/dev/null || true
# the last free pages too: SQLite can still write into pages it freed
for (( i = 0; i < 20; i++ )); do head -c 4096 /dev/zero >>"$STATE/filler" 2>/dev/null || break; done
hdr=$(curl -s -D - -o /dev/null -X POST -H "Authorization: Bearer $SRV_KEY" \
  -H 'Content-Type: application/json' -d '{"cpu": "two"}' "$SRV_URL/api/sandbox" | tr -d '\r')
lost_hdr=$(sed -n 's/^X-Islet-Audit-Error: //Ip' <<<"$hdr")
tries=0
while [[ -z "$lost_hdr" ]] && (( tries++ < 400 )); do
  # WAL pages left from before may take a few records: use them up
  hdr=$(curl -s -D - -o /dev/null -X POST -H "Authorization: Bearer $SRV_KEY" \
    -H 'Content-Type: application/json' -d '{"cpu": "two"}' "$SRV_URL/api/sandbox" | tr -d '\r')
  lost_hdr=$(sed -n 's/^X-Islet-Audit-Error: //Ip' <<<"$hdr")
done
[[ -n "$lost_hdr" ]] || fail "no X-Islet-Audit-Error with a full disk after $tries calls"
[[ $(head -1 <<<"$hdr") == *" 400 "* ]] || fail "the call itself did not answer as before: $(head -1 <<<"$hdr")"
log "X-Islet-Audit-Error: $lost_hdr"
grep -q 'isletd: audit sandbox.create: .*records lost' "$STATE.srv.err" || fail "nothing on stderr"
rm -f "$STATE/filler"
api GET /api/audit
expect_code "the audit list with room again" 200
expect_body "GET /api/audit counts the lost records" '.unrecorded >= 1'
audited 1 || fail "an audited call with room again"
hdr=$(curl -s -D - -o /dev/null -X POST -H "Authorization: Bearer $SRV_KEY" \
  -H 'Content-Type: application/json' -d '{"cpu": "two"}' "$SRV_URL/api/sandbox" | tr -d '\r')
grep -qi '^X-Islet-Audit-Error' <<<"$hdr" && fail "X-Islet-Audit-Error with room again"
api GET "/api/audit?limit=1"
expect_body "the newest record is there again" '.items[0].action == "sandbox.create"'

pass
