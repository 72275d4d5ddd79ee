#!/usr/bin/env bash
# isletd's GET /metrics: Prometheus' text format, as Prometheus' own Python
# parser reads it; the counters move with a create, an exec and an error;
# only an admin key may read it (another key 403, none 401).  And a
# sandbox's use as getMetricsLatest reads it (GET <toolbox>/system/metrics):
# memory held by a process shows, and so does a busy loop's CPU.  Needs root.
#   ISLET_BIN=build/islet bash tests/server/api_metrics.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

PY=/usr/bin/python3
$PY -c 'import prometheus_client' 2>/dev/null \
  || fail "needs python3-prometheus-client (scripts/install-deps installs it)"

srv_init

# scrape: GET /metrics, parsed; SAMPLES gets one "name{labels}<tab>value" line per sample
scrape () {
  api GET /metrics
  expect_code "GET /metrics" 200
  SAMPLES=$(printf '%s' "$BODY" | $PY -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("%s{%s}\t%r" % (s.name, labels, s.value))
') || fail "GET /metrics is not Prometheus text: ${BODY:0:600}"
}
# value NAME{LABELS}: the sample's value (0 when absent)
value () {
  local v
  v=$(awk -F '\t' -v k="$1" '$1 == k { print $2 }' <<<"$SAMPLES")
  printf '%s' "${v:-0}"
}

# the access rule
api -k "" GET /metrics
expect_error "GET /metrics without a key" 401
other=$(new_key other)
api -k "$other" GET /metrics
expect_error "GET /metrics with a key that is not an admin's" 403
expect_body "it says who may" '.message | test("admin key")'

scrape
creates0=$(value 'isletd_sandbox_creates_total{}')
execs0=$(value 'isletd_execs_total{}')
[[ $(value 'isletd_sandboxes{state=running}') == 0.0 ]] || fail "a running sandbox before any create: $SAMPLES"

api POST /api/sandbox -d '{}'; expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
T=/toolbox/$A
sh_in 'echo hi'
api GET /api/sandbox/nosuchsandbox; expect_error "an unknown sandbox" 404

scrape
[[ $(value 'isletd_sandbox_creates_total{}') == "$(( ${creates0%.*} + 1 )).0" ]] \
  || fail "the create is not counted: $(grep creates <<<"$SAMPLES")"
[[ $(value 'isletd_execs_total{}') == "$(( ${execs0%.*} + 1 )).0" ]] \
  || fail "the exec is not counted: $(grep execs <<<"$SAMPLES")"
[[ $(value 'isletd_sandboxes{state=running}') == 1.0 ]] || fail "not one running sandbox: $(grep 'sandboxes{' <<<"$SAMPLES")"
[[ $(value 'isletd_http_requests_total{route=GET /api/sandbox/{},status=404}') == 1.0 ]] \
  || fail "the 404 is not counted by its route: $(grep requests_total <<<"$SAMPLES")"
[[ $(value 'isletd_http_requests_total{route=POST /api/sandbox,status=200}') == 1.0 ]] \
  || fail "the create's request is not counted"
[[ $(value 'isletd_http_request_duration_seconds_count{route=POST /toolbox/{}/process/execute}') == 1.0 ]] \
  || fail "the exec's latency is not in the histogram"
[[ $(value 'isletd_http_request_duration_seconds_bucket{le=+Inf,route=POST /toolbox/{}/process/execute}') == 1.0 ]] \
  || fail "the histogram's +Inf bucket"
mem=$(value "isletd_sandbox_memory_bytes{id=$A}")
(( ${mem%.*} > 0 )) || fail "no memory series for $A: $(grep "$A" <<<"$SAMPLES")"
grep -q "^isletd_sandbox_cpu_seconds_total{id=$A}	" <<<"$SAMPLES" || fail "no cpu series for $A"
grep -q "^isletd_sandbox_disk_bytes{id=$A}	" <<<"$SAMPLES" || fail "no disk series for $A"

# getMetricsLatest's route: memory held by a process shows in memUsed
api GET "$T/system/metrics"; expect_code "system/metrics" 200
expect_body "its fields" '(.cpuCount > 0) and (.memTotal > 0) and (.diskTotal > 0) and (.diskUsed >= 0) and (.timestamp | type == "string") and (.cpuUsedPct >= 0)'
used0=$(jq .memUsed <<<"$BODY")
api POST "$T/process/session" -d '{"sessionId":"hog"}'; expect_code "session" 201
# 100 MB written and held for 30 s
hog='python3 -c "import time; b = b\"x\" * 100000000; time.sleep(30)"'
api POST "$T/process/session/hog/exec" -d "$(jq -n --arg c "$hog" '{command: $c, runAsync: true}')"
expect_code "the hog" 202
grown=0
for _ in $(seq 1 40); do
  api GET "$T/system/metrics"; expect_code "system/metrics" 200
  used=$(jq .memUsed <<<"$BODY")
  if (( used > used0 + 80000000 )); then grown=1; break; fi
  sleep 0.25
done
[[ $grown == 1 ]] || fail "memUsed did not grow by 80 MB with a 100 MB process: $used0 then $used"
log "memUsed $used0 -> $used"

# CPU: over 2 s with the hog asleep, then over 2 s of a busy loop (each
# from the previous call)
sleep 2
api GET "$T/system/metrics"; idle=$(jq .cpuUsedPct <<<"$BODY")
api POST "$T/process/session/hog/exec" -d '{"command":"timeout 6 sh -c \"while :; do :; done\"","runAsync":true}'
expect_code "the busy loop" 202
api GET "$T/system/metrics"
sleep 2
api GET "$T/system/metrics"; busy=$(jq .cpuUsedPct <<<"$BODY")
log "cpuUsedPct idle $idle, busy $busy"
jq -e -n "$busy > 10 and $busy > $idle + 5" >/dev/null || fail "cpuUsedPct did not grow with a busy loop: $idle then $busy"
pass
