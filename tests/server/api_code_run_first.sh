#!/usr/bin/env bash
# A sandbox's first code-run: the python driver's setup leaves nothing of
# its own in the code's sys.modules (it wrote its fonts file with tempfile,
# which brought shutil, random and more into every first run), the code
# sees FONTCONFIG_FILE naming a 0644 file with the fonts' directory, and
# /tmp holds that file alone; the same on a later run; two first runs at
# once in a fresh sandbox both succeed and leave one file; a matplotlib
# figure still comes out as a chart, with no font complaint.  Needs root.
# Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_code_run_first.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

# what the code sees: the driver's modules, the fonts file, /tmp's fonts files
PROBE='import json, os, sys
conf = os.environ.get("FONTCONFIG_FILE", "")
st = os.stat(conf) if conf else None
print(json.dumps({
    "modules": sorted(m for m in ("tempfile", "shutil", "random", "hashlib") if m in sys.modules),
    "conf": conf,
    "mode": oct(st.st_mode & 0o7777) if st else "",
    "dir": "<dir>/usr/share/fonts</dir>" in open(conf).read() if conf else False,
    "tmp": sorted(n for n in os.listdir("/tmp") if n.startswith(".islet-fonts")),
}))'

# code_run ID CODE: POST code-run of python CODE in sandbox ID
code_run () {
  api POST "/toolbox/$1/process/code-run" -d "$(jq -n --arg c "$2" '{code: $c, language: "python"}')"
}

# expect_probe WHAT: the probe's answer in BODY is a clean one
expect_probe () {
  expect_code "$1" 200
  expect_body "$1: exit 0" '.exitCode == 0'
  local r
  r=$(jq -r .result <<<"$BODY")
  jq -e '.modules == [] and .conf == "/tmp/.islet-fonts.conf" and .mode == "0o644" and .dir
         and .tmp == [".islet-fonts.conf"]' <<<"$r" >/dev/null \
    || fail "$1: the code saw $r"
}

new_sandbox () {
  api POST /api/sandbox -d "{\"name\":\"$1\"}"
  expect_code "create $1" 200
  SB=$(jq -r .id <<<"$BODY")
  remember_id "$SB"
}

log "== a fresh sandbox's first code-run, then its second"
new_sandbox first
A=$SB
code_run "$A" "$PROBE"
expect_probe "first run"
code_run "$A" "$PROBE"
expect_probe "second run"

log "== two first runs at once"
new_sandbox race
B=$SB
outs=() pids=()
for i in 1 2; do
  f=$(mktemp "$STATE.race.XXXXXX")
  outs+=("$f")
  curl -s -o "$f" --max-time 120 -X POST -H "Authorization: Bearer $SRV_KEY" \
    -H 'Content-Type: application/json' \
    -d "$(jq -n --arg c 'import os; print(os.environ.get("FONTCONFIG_FILE", ""))' \
      '{code: $c, language: "python"}')" \
    "$SRV_URL/toolbox/$B/process/code-run" &
  pids+=($!)
done
wait "${pids[@]}"
for f in "${outs[@]}"; do
  BODY=$(cat "$f")
  CODE=200
  expect_body "a racing first run" '.exitCode == 0 and .result == "/tmp/.islet-fonts.conf\n"'
  rm -f "$f"
done
code_run "$B" "$PROBE"
expect_probe "after the race"

log "== a matplotlib figure is a chart, fonts found without a complaint"
new_sandbox chart
code_run "$SB" 'import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [3, 1, 2])
plt.title("t")
plt.show()
print("done")'
expect_code "chart run" 200
expect_body "chart run: exit 0, one chart" '.exitCode == 0 and (.artifacts.charts | length) == 1'
expect_body "chart run: only the code's output" '.result == "done\n"'

pass
