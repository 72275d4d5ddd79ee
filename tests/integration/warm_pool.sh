#!/usr/bin/env bash
# The warm pool (islet system warm N): N sandboxes started ahead of time,
# hidden from `islet ls`, each used once by a run or a plain create and then
# replaced in the background.  A create with a name or other limits never
# takes one.  Nothing one run leaves is seen by the next.  Size 0 and
# `system reset` remove every pooled sandbox: no supervisor, cgroup or
# volume left.
source "$(dirname "$0")/../lib/integration.sh"
it_init

ready () { ls "$STATE/warm/ready" 2>/dev/null | sort; }
ready_count () { ready | wc -l; }
pool_full () { [[ $(ready_count) -eq 2 ]]; }

log "size 0 to begin with, and nothing made for it"
capture islet system warm --json
expect_eq "warm --json on a new state dir" "$(jget "$OUT" '[j["size"], j["ready"]]')" '[0, 0]'
capture islet system warm -3
[[ "$RC" == 2 ]] || fail "warm -3: status $RC, want 2 (bad usage)"
capture islet system warm 5000
[[ "$RC" != 0 && "$ERR" == *"warm pool size"* ]] || fail "warm 5000: status $RC, error '$ERR'"

log "fill a pool of 2"
capture islet system warm 2
expect_eq "warm 2: status (stderr: $ERR)" "$RC" 0
expect_eq "warm 2 prints" "$OUT" "warm pool: 2 of 2 ready"
pooled=$(ready)
expect_eq "ready files" "$(ready_count)" 2
for id in $pooled; do
  remember_id "$id"
  expect_eq "pooled $id runs" "$(sb_info "$id" 'j["state"]')" running
done
expect_eq "ls hides the pool" "$(jget "$(islet ls --json </dev/null)" 'len(j["sandboxes"])')" 0
expect_eq "supervisors of the pool" "$(supervisors | wc -l)" 2

log "islet run takes a pooled sandbox: at the run's end nothing of it runs or is listed, and it is gone within 5 s"
capture islet run -- sh -c 'hostname; echo left-behind > /workspace/mark; echo /tmp-mark > /tmp/mark
  sleep 7311 & (trap "" HUP INT TERM; exec sleep 7312) &'
expect_eq "run: status (stderr: $ERR)" "$RC" 0
expect_eq "processes the run left in the background, at its end" "$(pgrep -f 'sleep 731[12]' || true)" ""
expect_eq "listed at the run's end" "$(jget "$(islet ls --json </dev/null)" 'len(j["sandboxes"])')" 0
host=${OUT%%$'\n'*}
used=${host#islet-}
[[ " $(echo $pooled) " == *" $used "* ]] || fail "run used $used ($host), not one of the pool: $pooled"
capture islet exec "$used" -- echo reached
[[ $RC != 0 && "$OUT" == "" && "$ERR" == *"no sandbox"* ]] \
  || fail "exec into $used after its run: status $RC, stdout '$OUT', stderr '$ERR'"
gone () { [[ ! -d "$STATE/sandboxes/$used" && -z "$(cg_dirs "$used")" ]]; }
wait_until 5 gone || fail "the sandbox $used run used is still there 5 s after: $(ls "$STATE/sandboxes/$used" 2>&1) $(cg_dirs "$used")"
wait_until 30 pool_full || fail "the pool was not refilled to 2 within 30 s: $(ready)"
[[ " $(echo $(ready)) " != *" $used "* ]] || fail "the used sandbox $used is back in the pool"
for id in $(ready); do remember_id "$id"; done

log "a warm run is one request: the pooled sandbox's init runs the command, confined, and nothing of the sandbox is left"
capture islet run -- sh -c 'echo "$PPID $(grep -c "/init$" /proc/self/cgroup)"
  kill -KILL 1; kill -STOP 1; kill -TERM -1
  echo 5 > /proc/1/oom_score_adj && echo WROTE-OOM
  ls /proc/1/fd >/dev/null 2>&1 && echo READ-FDS
  cat /proc/1/environ >/dev/null 2>&1 && echo READ-ENVIRON
  python3 -c "import ctypes; l = ctypes.CDLL(None, use_errno=True); print(\"PTRACED\" if l.ptrace(16, 1, 0, 0) == 0 else \"\")"
  sleep 7321 & (trap "" HUP INT TERM; exec sleep 7322) &
  echo survived'
expect_eq "warm run: status (stderr: $ERR)" "$RC" 0
lines=$(echo "$OUT" | grep -v '^$')
expect_eq "the command's parent is the init, in the init's group; pid 1 signalled, written and traced to no effect" \
  "$(echo $lines)" "1 1 survived"
expect_eq "processes the warm run left in the background, at its end" "$(pgrep -f 'sleep 732[12]' || true)" ""
wait_until 30 pool_full || fail "the pool was not refilled after the warm run"
for id in $(ready); do remember_id "$id"; done

log "a warm run keeps the timeout, the output limit and stdin: a run's own, with a pooled sandbox"
# a run that took a pooled sandbox: one of the ready ones before it is gone
took_pooled () {
  local id
  for id in $1; do [[ " $(echo $(ready)) " == *" $id "* ]] || return 0; done
  return 1
}
before=$(ready)
capture islet run --timeout 0.5 -- sh -c 'sleep 7331; echo NOT-KILLED'
[[ "$RC" == 137 && "$OUT" != *NOT-KILLED* && "$ERR" == *"timed out"* && -z "$(pgrep -f 'sleep 7331' || true)" ]] \
  || fail "run --timeout 0.5 -- sleep: status $RC, stdout '$OUT', stderr '$ERR'"
took_pooled "$before" || fail "run --timeout 0.5 did not take a pooled sandbox ($before; now $(ready))"
wait_until 30 pool_full || fail "the pool was not refilled"
before=$(ready)
capture islet run --json --output 10 -- sh -c 'head -c 100 /dev/zero | tr "\0" x'
expect_eq "output limit" "$(jget "$OUT" '[j["stdout"], j["truncated"]]')" '["xxxxxxxxxx", true]'
took_pooled "$before" || fail "run --output 10 did not take a pooled sandbox ($before; now $(ready))"
wait_until 30 pool_full || fail "the pool was not refilled"
before=$(ready)
capture islet run --timeout 40 -- sh -c 'sleep 0.2; echo slept'
expect_eq "run --timeout 40, longer than the pool's default: status (stderr: $ERR)" "$RC:$OUT" "0:slept"
took_pooled "$before" || fail "run --timeout 40 did not take a pooled sandbox"
OUT=$(printf 'in-put' | islet run -i -- cat) || fail "run -i -- cat"
expect_eq "stdin" "$OUT" in-put
wait_until 30 pool_full || fail "the pool was not refilled"
for id in $(ready); do remember_id "$id"; done

log "SIGTERM and kill -9 of a warm run's CLI leave nothing"
for sig in TERM KILL; do
  "$ISLET_BIN" --state-dir "$STATE" run -- sleep 7341 </dev/null >/dev/null 2>&1 &
  runner=$!
  started () { pgrep -f '^sleep 7341$' >/dev/null; }
  wait_until 20 started || fail "the warm run's sleep never started"
  kill -$sig "$runner"
  rc=0; wait "$runner" || rc=$?
  [[ $sig == TERM && $rc == 143 || $sig == KILL && $rc == 137 ]] || fail "SIG$sig of the CLI: status $rc"
  none () { [[ -z "$(pgrep -f '^sleep 7341$' || true)" && $(jget "$(islet ls --json </dev/null)" 'len(j["sandboxes"])') == 0 ]]; }
  wait_until 10 none || fail "SIG$sig of the CLI left $(pgrep -af '^sleep 7341$') / $(islet ls </dev/null)"
  # a CLI killed before the result starts no refill: the pool's own
  islet system warm 2 </dev/null >/dev/null || fail "warm 2 after SIG$sig"
  wait_until 30 pool_full || fail "the pool was not refilled after SIG$sig"
  for id in $(ready); do remember_id "$id"; done
done

log "only a sandbox just taken from the pool and never used takes a run"
ask_run () {
  python3 - "$STATE/sandboxes/$1/ctl.sock" <<'PY'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
b = json.dumps({"op": "run", "argv": ["sh", "-c", "echo RAN"], "env": [], "timeout_ms": 0,
                "output_limit": 0, "stdin": False}).encode()
s.sendall(struct.pack("<I", len(b)) + b"J" + b)
out = b""
while True:
    head = s.recv(5, socket.MSG_WAITALL)
    if len(head) < 5:
        break
    n, t = struct.unpack("<I", head[:4])[0], head[4:5]
    data = s.recv(n, socket.MSG_WAITALL) if n else b""
    if t == b"J":
        print(json.loads(data).get("error", {}).get("message", "") or out.decode().strip())
        break
    out += data
PY
}
inpool=$(ready | head -1)
[[ "$(ask_run "$inpool")" == *"takes no \`run\`: it was not taken"* ]] || fail "a run of $inpool, still in the pool, was not refused: $(ask_run "$inpool")"
cold=$(create_sb --name warm-cold) || fail "create --name"
remember_id "$cold"
[[ "$(ask_run "$cold")" == *"takes no \`run\`: it was not started for the warm pool"* ]] || fail "a run of cold $cold was not refused"
islet rm -f "$cold" </dev/null >/dev/null || fail "rm $cold"
used=$(create_sb) || fail "create"
remember_id "$used"
xjson "$used" -- true
[[ "$(ask_run "$used")" == *"takes no \`run\`: it has served other requests"* ]] || fail "a run of used $used was not refused"
xjson "$used" -- echo still
expect_eq "the refused sandbox still serves" "$(jget "$OUT" 'j["stdout"]')" still
islet rm -f "$used" </dev/null >/dev/null || fail "rm $used"
wait_until 30 pool_full || fail "the pool was not refilled after create"
for id in $(ready); do remember_id "$id"; done

log "a run that takes a pooled sandbox used before its take runs as an exec, and removes it"
islet system warm 1 </dev/null >/dev/null || fail "warm 1"
one=$(ready)
remember_id "$one"
xjson "$one" -- true
capture islet run -- sh -c 'echo "ppid $PPID"'
expect_eq "run of a used pooled sandbox: status (stderr: $ERR)" "$RC" 0
expect_eq "run of a used pooled sandbox: served by an exec" "$OUT" "ppid 0"
gone_one () { [[ ! -d "$STATE/sandboxes/$one" ]]; }
wait_until 10 gone_one || fail "the used pooled sandbox $one is still there after its run"

log "a create does not keep a pooled sandbox used before its take: it is destroyed"
one_full () { [[ $(ready_count) -eq 1 ]]; }
wait_until 30 one_full || fail "the pool of 1 was not refilled"
one=$(ready)
remember_id "$one"
xjson "$one" -- sh -c 'echo planted > /workspace/planted'
id=$(create_sb) || fail "create"
remember_id "$id"
[[ "$id" != "$one" ]] || fail "create kept $one, used before its take"
wait_until 10 gone_one || fail "the used pooled sandbox $one is still there after a create refused it"
xjson "$id" -- sh -c 'cat /workspace/planted 2>/dev/null || echo clean'
expect_eq "the create's sandbox has nothing of the used one" "$(jget "$OUT" 'j["stdout"]')" clean
islet rm -f "$id" </dev/null >/dev/null || fail "rm $id"
islet system warm 2 </dev/null >/dev/null || fail "warm 2 again"
for id in $(ready); do remember_id "$id"; done

log "the next run sees nothing of the last"
capture islet run -- sh -c 'ls -A /workspace /tmp | tr "\n" " "; if test -e /workspace/mark; then echo FOUND; fi'
expect_eq "run 2: status (stderr: $ERR)" "$RC" 0
expect_eq "run 2 sees empty /workspace and /tmp" "$OUT" "/tmp:  /workspace: "
wait_until 30 pool_full || fail "the pool was not refilled after run 2"
for id in $(ready); do remember_id "$id"; done

log "a run's refill starts once its command has its result, not beside it"
islet run -- sleep 2 </dev/null >/dev/null 2>&1 &
runner=$!
listed () { [[ $(jget "$(islet ls --json </dev/null)" 'len(j["sandboxes"])') == 1 ]]; }
wait_until 20 listed || fail "the run's sandbox was never listed"
sleep 1
filling=$(ls "$STATE/warm/filling" 2>/dev/null || true)
[[ -z "$filling" ]] || fail "a refill started while the run's command ran: filling $filling"
[[ -z "$(pgrep -f "^islet-run --warm-fill $STATE\$" || true)" ]] || fail "a refill runs beside the run's command"
expect_eq "ready while the run's command runs" "$(ready_count)" 1
wait "$runner" || fail "run -- sleep 2 failed"
wait_until 30 pool_full || fail "the pool was not refilled after the run's result"
for id in $(ready); do remember_id "$id"; done

log "a create with no name takes one and keeps it, made at its take; named and sized creates start their own"
before=$(ready)
filled=$(date +%s)
sleep 1.2 # the pool's sandboxes were made a second or more before the take
t0=$(date +%s)
id=$(create_sb) || fail "create"
t1=$(date +%s)
remember_id "$id"
[[ " $(echo $before) " == *" $id "* ]] || fail "create did not take a pooled sandbox ($id, pool: $before)"
created=$(sb_info "$id" 'j["created"]')
(( created >= t0 && created <= t1 )) \
  || fail "the taken sandbox's creation time is $created, not its take's ($t0-$t1; the pool was full at $filled)"
capture islet exec "$id" -- sh -c 'echo $(( $(date +%s) - $(stat -c %Y /workspace) ))'
(( RC == 0 && OUT <= 1 )) || fail "/workspace of the taken sandbox: status $RC, $OUT s old (the take's time is now)"
expect_eq "the taken sandbox is listed" \
  "$(jget "$(islet ls --json </dev/null)" '[s["id"] for s in j["sandboxes"]]')" "[\"$id\"]"
xjson "$id" -- echo taken
expect_eq "exec in the taken sandbox" "$(jget "$OUT" 'j["stdout"]')" taken
wait_until 30 pool_full || fail "the pool was not refilled after create"
before=$(ready)
named=$(create_sb --name warm-named) || fail "create --name"
remember_id "$named"
sized=$(create_sb --memory 256) || fail "create --memory 256"
remember_id "$sized"
for x in "$named" "$sized"; do
  [[ " $(echo $before) " != *" $x "* ]] || fail "a named or sized create took pooled $x"
done
expect_eq "the pool is untouched by them" "$(ready)" "$before"
for x in "$id" "$named" "$sized"; do islet rm -f "$x" </dev/null >/dev/null || fail "rm $x"; done

log "size 0 removes the pool"
pooled=$(ready)
capture islet system warm 0
expect_eq "warm 0: status (stderr: $ERR)" "$RC" 0
expect_eq "ready after warm 0" "$(ready_count)" 0
for id in $pooled; do
  [[ ! -d "$STATE/sandboxes/$id" ]] || fail "pooled $id still has its directory after warm 0"
  [[ -z "$(cg_dirs "$id")" ]] || fail "pooled $id still has cgroups after warm 0"
done
no_supervisors () { [[ -z "$(supervisors)" ]]; }
wait_until 10 no_supervisors || fail "supervisors left after warm 0: $(supervisors)"

log "system reset removes a full pool"
islet system warm 2 </dev/null >/dev/null || fail "warm 2 again"
for id in $(ready); do remember_id "$id"; done
islet system reset -f </dev/null >/dev/null || fail "reset"
wait_until 10 no_supervisors || fail "supervisors left after reset: $(supervisors)"
[[ -z "$(ls "$STATE/sandboxes" 2>/dev/null)" ]] || fail "sandboxes left after reset: $(ls "$STATE/sandboxes")"
pass "pool filled, taken once per run and create, refilled, hidden, removed"
