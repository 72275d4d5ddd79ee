#!/usr/bin/env bash
# Code-run's spare: after a python code-run, isletd starts one driver ahead
# in the sandbox (interp_spare.c), which the next code-run started the same
# way takes.  What the code sees is the same as a plain run's: each probe
# runs once plainly (its variables new, so the spare does not fit) and once
# on the spare (checked by the process's own command line), and the two
# answers are compared whole: modules, globals, variables, sys.path,
# sys.argv, stdin, cwd; output, exit status and a traceback; a timeout; a
# chart.  A fresh process each run.  A start now that would differ from the
# spare's own runs plainly: a package pip-installed, a .pth added or
# changed, the working directory replaced.  A stop, pause, delete,
# auto-pause and isletd's stop leave no spare; /metrics counts the paths.  Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_code_run_spare.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

api POST /api/sandbox -d '{"name":"spare"}'
expect_code "create" 200
SB=$(jq -r .id <<<"$BODY")
remember_id "$SB"
T=/toolbox/$SB

# The host pids of the sandbox's spares: a driver whose last argument is
# "spare", in one of the sandbox's cgroups.
spares () {
  local p
  for p in $(procs_in_cg "$SB"); do
    tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | tail -1 | grep -qx spare && echo "$p"
  done
  return 0
}

have_spare () { [[ -n "$(spares)" ]]; }

# code_run JSON: the request's body; BODY, CODE, and RES (.result)
code_run () {
  api POST "$T/process/code-run" -d "$1"
  RES=$(jq -r .result <<<"$BODY")
}

# MODE: the first line of the probe's output (the driver's mode), cut off
# RES; then the rest.
MODE_LINE='import sys as _s; print(open("/proc/self/cmdline", "rb").read().split(b"\0")[5].decode()); del _s
'
split_mode () {
  MODE=$(head -1 <<<"$RES")
  REST=$(tail -n +2 <<<"$RES")
}

N=0
# pair WHAT CODE [JQ-FIELDS]: CODE run plainly and then on the spare, with
# a variable of its own (so the spare left by the last run does not fit),
# plus the request's fields JQ-FIELDS; the spare's answer in BODY, both
# compared (status, exit code, output, charts' count).
# With -n, CODE is not prefixed by the mode's line (a syntax error prints
# nothing before it): then it is the spare's by construction only.
pair () {
  local what mode=$MODE_LINE body plain
  [[ "$1" == -n ]] && { mode=; shift; }
  what=$1
  N=$((N + 1))
  body=$(jq -n --arg c "$mode$2" --arg n "$N" "{code: \$c, language: \"python\", envs: {PAIR: \$n}} + (${3:-{\}})")
  code_run "$body"
  split_mode
  [[ -z "$mode" ]] && MODE=once REST=$RES
  [[ "$MODE" == once ]] || fail "$what: the first run was not plain ($MODE): $BODY"
  plain="$CODE $(jq -c '{exitCode, truncated, charts: (.artifacts.charts | length)}' <<<"$BODY" 2>/dev/null) $REST"
  wait_until 30 have_spare || fail "$what: no spare within 30 s"
  code_run "$body"
  split_mode
  [[ -z "$mode" ]] && MODE=spare REST=$RES
  [[ "$MODE" == spare ]] || fail "$what: the second run was not the spare's ($MODE): $BODY"
  [[ "$CODE $(jq -c '{exitCode, truncated, charts: (.artifacts.charts | length)}' <<<"$BODY" 2>/dev/null) $REST" == "$plain" ]] \
    || fail "$what: the spare's answer differs: plain: ${plain:0:600}; spare: $CODE ${BODY:0:600}"
  log "$what: the same"
}

log "== what the code sees"
pair "modules, globals, variables, path, argv, stdin, cwd" 'import json, os, sys
print(json.dumps({"modules": sorted(sys.modules), "globals": sorted(globals()), "env": dict(os.environ),
                  "path": sys.path, "argv": sys.argv, "stdin": sys.stdin.read(), "cwd": os.getcwd(),
                  "flags": str(sys.flags), "name": __name__, "file": globals().get("__file__")}, sort_keys=True))' \
  '{argv: ["a", "b c", "é", ""]}'
pair "cwd and variables asked" 'import os; print(os.getcwd(), os.environ["X"])' '{cwd: "/tmp", envs: {X: "y z", PAIR: "cwd"}}'
pair "output, stderr, exit status" 'import sys
print("out"); sys.stdout.flush(); sys.stderr.write("err\n"); sys.exit(3)'
pair "an exception's traceback" 'def f():
    raise ValueError("no")
f()'
pair -n "a syntax error" 'print(1'
pair "code with CR LF lines" $'x = 1\r\nprint(x + 1)\r\n'
pair "a chart" 'import matplotlib.pyplot as plt
plt.plot([1, 2, 3])
plt.show()
print("drawn")'
expect_body "chart on the spare" '(.artifacts.charts | length) == 1'
pair -n "an output limit" 'print("x" * 5000)' '{outputLimit: 1000}'
expect_body "cut on the spare" '.truncated == true'

log "== a timeout on the spare, then the next run"
code_run '{"code":"print(1)","language":"python"}'
wait_until 30 have_spare || fail "no spare within 30 s"
api POST "$T/process/code-run" -d '{"code":"import time; time.sleep(30)","language":"python","timeout":1}'
expect_code "a run past its timeout" 408
wait_until 30 have_spare || fail "no spare after the timeout within 30 s"
code_run "{\"code\":$(jq -Rs . <<<"$MODE_LINE"'print(2)'),\"language\":\"python\"}"
expect_body "the run after it" '.exitCode == 0'
[[ "$RES" == $'spare\n2' ]] || fail "the run after the timeout: $RES"

log "== a fresh process each run: nothing of the last run's"
code_run "{\"code\":$(jq -Rs . <<<"$MODE_LINE"'import builtins, os, sys; builtins.LEFT = 1; os.environ["LEFT"] = "1"; sys.modules["left"] = sys; print(os.getpid())'),\"language\":\"python\"}"
split_mode
PID1=$REST
wait_until 30 have_spare || fail "no spare within 30 s"
code_run "{\"code\":$(jq -Rs . <<<"$MODE_LINE"'import builtins, os, sys; print(os.getpid(), hasattr(builtins, "LEFT"), "LEFT" in os.environ, "left" in sys.modules)'),\"language\":\"python\"}"
split_mode
[[ "$MODE" == spare && "$REST" == *" False False False" && "${REST%% *}" != "$PID1" ]] \
  || fail "the second run saw the first's: $PID1 then $MODE $REST"

# stale WHAT CHANGE CODE WANT: with a spare up, CHANGE (a shell command in
# the sandbox), then CODE must answer WANT, run plainly
stale () {
  code_run '{"code":"print(0)","language":"python"}'
  wait_until 30 have_spare || fail "$1: no spare within 30 s"
  sh_in "echo $(base64 -w0 <<<"$2") | base64 -d | sh"
  code_run "{\"code\":$(jq -Rs . <<<"$MODE_LINE$3"),\"language\":\"python\"}"
  split_mode
  [[ "$MODE" == once && "$REST" == "$4" ]] || fail "$1: $MODE, $RES (want once, $4): $BODY"
  log "$1: run plainly"
}

log "== a start now that would differ: the run goes plain"
PKG=/tmp/isletpkg
stale "a package pip-installed since" "set -e
mkdir -p $PKG/isletpkg
echo 'V = 7' > $PKG/isletpkg/__init__.py
cat > $PKG/pyproject.toml <<'END'
[build-system]
requires = [\"setuptools\"]
build-backend = \"setuptools.build_meta\"
[project]
name = \"isletpkg\"
version = \"1\"
END
cd $PKG
python3 -m pip install -q --user --break-system-packages --no-index --no-build-isolation . >$PKG.log 2>&1 || cat $PKG.log" \
  'import isletpkg; print(isletpkg.V)' 7
USITE=$(jq -r .result <<<"$(curl -s -X POST -H "Authorization: Bearer $SRV_KEY" -H 'Content-Type: application/json' \
  -d '{"code":"import site; print(site.getusersitepackages())","language":"python"}' "$SRV_URL$T/process/code-run")" | head -1)
[[ "$USITE" == /* ]] || fail "no user site: $USITE"
stale "a .pth added since" "echo 'import os; os.environ[\"PTH\"] = \"one\"' > $USITE/islet-test.pth" \
  'import os; print(os.environ.get("PTH"))' one
stale "a .pth changed in place since" "echo 'import os; os.environ[\"PTH\"] = \"two\"' > $USITE/islet-test.pth" \
  'import os; print(os.environ.get("PTH"))' two
stale "sitecustomize added since" "echo 'import builtins; builtins.CUSTOM = 3' > $USITE/usercustomize.py" \
  'import builtins; print(builtins.CUSTOM)' 3

log "== the working directory replaced since the spare started in it"
api POST "$T/process/execute" -d '{"command":"mkdir -p /tmp/wd"}'
BODY_WD=$(jq -n --arg c "${MODE_LINE}import os; print(sorted(os.listdir('.')))" '{code: $c, language: "python", cwd: "/tmp/wd"}')
code_run "$BODY_WD"
expect_code "run in /tmp/wd" 200
wait_until 30 have_spare || fail "no spare in /tmp/wd within 30 s"
sh_in "rm -rf /tmp/wd && mkdir /tmp/wd && touch /tmp/wd/new"
code_run "$BODY_WD"
split_mode
[[ "$MODE" == once && "$REST" == "['new']" ]] || fail "the replaced directory: $RES"

log "== /metrics counts the runs by path: the five stale ones above, the spare's"
api GET /metrics
expect_code "metrics" 200
grep -qx 'isletd_code_runs_total{path="stale"} 5' <<<"$BODY" \
  || fail "stale runs: $(grep isletd_code_runs <<<"$BODY")"
[[ $(sed -n 's/^isletd_code_runs_total{path="spare"} //p' <<<"$BODY") -ge 12 ]] \
  || fail "runs on the spare: $(grep isletd_code_runs <<<"$BODY")"
grep -q '^isletd_interp_spares [0-9]' <<<"$BODY" || fail "no isletd_interp_spares"

log "== a stop, a pause and a delete end the spare"
for act in stop pause; do
  code_run '{"code":"print(0)","language":"python"}'
  wait_until 30 have_spare || fail "$act: no spare within 30 s"
  api POST "/api/sandbox/$SB/$act"
  expect_code "$act" 200
  wait_until 10 bash -c "[[ -z \"\$(grep -l '/islet/$SB' /proc/[0-9]*/cgroup 2>/dev/null | while read -r f; do p=\${f#/proc/}; p=\${p%/cgroup}; tr '\\0' '\\n' </proc/\$p/cmdline 2>/dev/null | tail -1; done | grep -x spare)\" ]]" \
    || fail "a spare is left after $act: $(spares)"
  api POST "/api/sandbox/$SB/start"
  expect_code "start after $act" 200
  wait_sandbox "$SB" started
  code_run '{"code":"print(5)","language":"python"}'
  [[ "$RES" == 5 ]] || fail "the run after $act and start: $BODY"
  log "$act: no spare left; the next run ran"
done
wait_until 30 have_spare || fail "no spare before the delete within 30 s"
PIDS=$(spares)
api DELETE "/api/sandbox/$SB"
expect_code "delete" 200
for p in $PIDS; do
  wait_until 10 dead "$p" || fail "spare $p is left after the delete"
done

# with_spare BODY: a new sandbox made with BODY (SB, T), a code-run in
# it, its spare's pids in PIDS once up
with_spare () {
  api POST /api/sandbox -d "$1"
  expect_code "create $1" 200
  SB=$(jq -r .id <<<"$BODY")
  remember_id "$SB"
  T=/toolbox/$SB
  code_run '{"code":"print(0)","language":"python"}'
  wait_until 30 have_spare || fail "no spare within 30 s"
  PIDS=$(spares)
}

log "== isletd's stop leaves no spare"
with_spare '{"name":"last"}'
srv_stop
for p in $PIDS; do
  wait_until 10 dead "$p" || fail "spare $p is left after isletd stopped"
done

log "== an auto-pause ends the spare too (a \"minute\" of 1 s)"
export ISLETD_TEST_MINUTE_SECONDS=1
srv_start
with_spare '{"name":"idle","autoStopInterval":0,"autoPauseInterval":3,"autoDeleteInterval":0}'
wait_until 30 bash -c "api_state () { curl -s -H 'Authorization: Bearer $SRV_KEY' '$SRV_URL/api/sandbox/$SB' | jq -r .state; }; [[ \$(api_state) == paused ]]" \
  || fail "the idle sandbox was not paused within 30 s"
for p in $PIDS; do
  dead "$p" || fail "spare $p is left in the paused sandbox"
done

pass
