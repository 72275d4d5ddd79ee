#!/usr/bin/env bash
# Escape class: symlinks, "..", /proc magic links and symlink races through
# the file API (islet fs, islet cp), which runs on the host's behalf.  The
# host plants canary files (a random token) in /tmp, in the state directory
# and next to the sandbox's upper layer; the sandbox plants symlinks to them,
# to /, /etc/passwd and the state directory; then every fs verb and cp in both
# directions is aimed at them, and last at a path that a process inside swaps
# between a file and a symlink as fast as it can.  Nothing of the host may be
# read (no token, no host /etc/passwd or /etc/shadow line) or changed.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init

TOKEN=$(esc_token)  # the canaries' content
NTOK=$(esc_token)   # their names: a listing that shows it lists a host directory
ETOK=$(esc_token)   # in the environment of every islet process
export ISLET_ESC_ENV_CANARY=$ETOK
CDIR=$(mktemp -d /tmp/islet-esc-cv.XXXXXX)
OUT=$(mktemp -d /tmp/islet-esc-out.XXXXXX)
esc_defer "rm -rf '$CDIR' '$OUT'"
CANARY=$CDIR/secret-$NTOK
printf '%s\n' "$TOKEN" >"$CANARY"
printf 'not-a-secret\n' >"$OUT/src"
# lines only the host has: the sandbox's /etc/passwd is root and nobody
HOST_MARK=$(grep -v -E '^(root|nobody):' /etc/passwd | head -n 1 | cut -d: -f1-3)
[[ -n $HOST_MARK ]] || esc_fail "host /etc/passwd has no line to recognise"

ID=$(esc_create)
VOLUME=$(esc_json "$(cat "$S/sandboxes/$ID/config.json")" 'j["volume"]')
[[ -d $VOLUME/upper ]] || esc_fail "no upper layer at $VOLUME/upper"
C_STATE=$S/canary-$NTOK
C_SB=$S/sandboxes/$ID/canary-$NTOK
C_VOL=$VOLUME/canary-$NTOK
for f in "$C_STATE" "$C_SB" "$C_VOL"; do printf '%s\n' "$TOKEN" >"$f"; done
host_files=(/etc/passwd /etc/shadow /etc/hostname "$CANARY" "$C_STATE" "$C_SB" "$C_VOL"
  "$ISLET_RUN_BIN")
before=$(esc_fingerprint "${host_files[@]}")
listing() { find "$CDIR" "$S" -maxdepth 1 | sort; ls -a "$VOLUME"; }
before_ls=$(listing)

out=$(esc_py "$ID" "
links = {'l_passwd': '/etc/passwd', 'l_shadow': '/etc/shadow', 'l_root': '/root', 'l_slash': '/',
         'l_state': '$S', 'l_canary': '$CANARY', 'l_cdir': '$CDIR', 'l_vol': '$VOLUME',
         'l_proc1root': '/proc/1/root', 'l_selfroot': '/proc/self/root',
         'l_updots': '../../../../../../../..', 'l_loop': 'l_loop',
         'l_selfexe': '/proc/self/exe', 'l_selffd': '/proc/self/fd'}
for name, target in links.items():
    os.symlink(target, '/workspace/' + name)
os.symlink('/dev/zero', '/workspace/l_zero')
os.symlink('/dev/urandom', '/workspace/l_urandom')
os.mkfifo('/workspace/fifo')
os.mkdir('/workspace/d')
os.symlink('../../../../../../..' + '$CDIR', '/workspace/d/up')
with open('/workspace/victim', 'w') as f:
    f.write('inside\n')
print('planted', len(links), 'links', flush=True)
done()
")
esc_attack_verdict "$out" "planting symlinks"

FAILS=()
TRIED=0
# probe LABEL CMD...: run a file operation, fail on host content in its output.
probe() {
  local label=$1 o rc=0
  shift
  TRIED=$((TRIED + 1))
  o=$("$@" </dev/null 2>&1) || rc=$?
  if grep -qF -e "$TOKEN" -e "$HOST_MARK" -e "$ETOK" <<<"$o"; then
    FAILS+=("$label: host content in the output: $(head -c 200 <<<"$o")")
  fi
  if [[ $rc == 124 || $rc == 137 ]]; then
    FAILS+=("$label: hung")
  fi
  printf '#   %-48s rc=%d %s\n' "$label" "$rc" "$(head -n 1 <<<"$o" | cut -c1-70)" >&2
}
# out_probe LABEL SANDBOX-PATH: cp out, then look at what landed on the host.
out_probe() {
  rm -f "$OUT/got"
  probe "cp out $2" isl cp "$ID:$2" "$OUT/got"
  if [[ -f $OUT/got ]] && grep -qF -e "$TOKEN" -e "$HOST_MARK" -e "$ETOK" "$OUT/got"; then
    FAILS+=("cp out $2: copied host content")
  fi
}

reach=(
  "../../../../etc/shadow" "../../../../etc/passwd" "/../../../etc/passwd" "$CANARY" "$C_STATE"
  "$C_SB" "$C_VOL" "/proc/1/root$CANARY" "/proc/self/root$CANARY"
  "/proc/1/cwd/../../../..$CANARY" "../../../..$CANARY" "l_passwd" "l_shadow" "l_canary"
  "l_cdir/secret-$NTOK" "l_slash$CANARY" "l_state/canary-$NTOK" "l_vol/canary-$NTOK"
  "l_proc1root$CANARY" "l_selfroot$CANARY" "l_updots$CANARY" "l_updots/etc/passwd"
  "d/up/secret-$NTOK" "l_loop"
  "l_root/../..$CANARY" "/proc/self/cwd/../../..$CANARY" "l_selfexe" "/proc/self/exe"
  "/proc/self/environ" "/proc/1/environ"
)
for p in "${reach[@]}"; do
  probe "fs read $p" isl fs "$ID" read --max 65536 "$p"
  probe "fs stat $p" isl fs "$ID" stat "$p"
  out_probe "cp out" "$p"
done
for p in / .. ../../.. l_slash l_state l_cdir l_vol l_proc1root l_updots /proc/1/root /proc/self/root \
  /proc/self/cwd /proc/self/fd l_selffd "$CDIR" "$S" "$VOLUME" d/up; do
  probe "fs ls $p" isl fs "$ID" ls --depth 2 "$p"
  o=$(isl fs "$ID" ls --depth 2 "$p" </dev/null 2>&1) || true
  if grep -qF "$NTOK" <<<"$o"; then
    FAILS+=("fs ls $p: lists a host directory: $(head -c 300 <<<"$o")")
  fi
done

# endless or blocking sources: a copy out must refuse them or stop, never
# fill the host's disk or hang the host's tools
for p in l_zero l_urandom fifo; do
  ESC_CMD_TIMEOUT=20 probe "fs read $p" isl fs "$ID" read "$p"
  ESC_CMD_TIMEOUT=20 out_probe "cp out" "$p"
  size=$(stat -c %s "$OUT/got" 2>/dev/null || echo 0)
  ((size <= 16 << 20)) || FAILS+=("cp out $p: wrote $size bytes on the host")
  leftovers=$(find "$OUT" -name 'got.islet-*' -size +16M)
  [[ -z $leftovers ]] || FAILS+=("cp out $p: left a large temporary file: $leftovers")
done

# the agent's own descriptors, by number: each must lead nowhere on the host
fds=$(isl fs "$ID" ls --json /proc/self/fd </dev/null 2>/dev/null |
  python3 -c 'import json, sys; print(" ".join(e["name"] for e in json.load(sys.stdin).get("entries", [])))' ||
  true)
esc_log "the agent's fds: ${fds:-none (its /proc/self is not in the sandbox)}"
for n in $fds; do
  for p in "/proc/self/fd/$n" "/proc/self/fd/$n/canary-$NTOK" "/proc/self/fd/$n/../canary-$NTOK" \
    "/proc/self/fd/$n/../../canary-$NTOK" "/proc/self/fd/$n/secret-$NTOK"; do
    ESC_CMD_TIMEOUT=20 probe "fs read $p" isl fs "$ID" read --max 4096 "$p"
  done
  ESC_CMD_TIMEOUT=20 probe "fs ls /proc/self/fd/$n" isl fs "$ID" ls "/proc/self/fd/$n"
  o=$(ESC_CMD_TIMEOUT=20 isl fs "$ID" ls "/proc/self/fd/$n" </dev/null 2>&1) || true
  grep -qF "$NTOK" <<<"$o" && FAILS+=("fs ls /proc/self/fd/$n lists a host directory")
done

# writes, removals, directories and moves aimed at the host
for p in "$CANARY" l_canary "l_cdir/secret-$NTOK" l_cdir/new "l_slash$CDIR/new" l_state/new "$S/new" \
  "../../../..$CDIR/new" "/proc/1/root$CDIR/new" "l_proc1root$CDIR/new" "l_updots$CDIR/new" \
  "/proc/self/root$CDIR/new" "l_vol/new" "d/up/new" "/proc/self/cwd/../../..$CDIR/new" \
  "l_selfexe" "/proc/self/exe"; do
  probe "fs write $p" isl fs "$ID" write --content "PWNED" "$p"
  probe "cp in $p" isl cp "$OUT/src" "$ID:$p"
done
for p in "$CANARY" "l_cdir/secret-$NTOK" "l_slash$CANARY" "l_state/canary-$NTOK" \
  "/proc/1/root$CANARY" "l_updots$CANARY" "d/up/secret-$NTOK" "l_vol/canary-$NTOK" "$C_VOL" \
  "/proc/self/root$C_STATE"; do
  probe "fs rm $p" isl fs "$ID" rm "$p"
done
for p in l_cdir/ l_state/ l_vol/ "l_updots$CDIR" d/up/; do
  probe "fs rm -r $p" isl fs "$ID" rm -r "$p"
done
for p in l_state/evil l_cdir/evil "/proc/1/root$CDIR/evil" "$CDIR/evil" l_vol/evil d/up/evil; do
  probe "fs mkdir $p" isl fs "$ID" mkdir "$p"
done
probe "fs mv l_cdir/secret" isl fs "$ID" mv "l_cdir/secret-$NTOK" /workspace/stolen
probe "fs mv d/up/secret" isl fs "$ID" mv "d/up/secret-$NTOK" /workspace/stolen2
probe "fs mv /proc/1/root canary" isl fs "$ID" mv "/proc/1/root$CANARY" /workspace/stolen3
probe "fs mv victim -> l_cdir" isl fs "$ID" mv victim l_cdir/victim
probe "fs mv victim -> d/up" isl fs "$ID" mv victim d/up/victim
probe "fs mv victim -> l_state" isl fs "$ID" mv victim l_state/victim
for p in stolen stolen2 stolen3; do
  probe "fs read $p" isl fs "$ID" read "$p"
done

# the race: a process inside swaps /workspace/race between a file and
# symlinks to host paths while the host reads and writes it
racer="
targets = ['$CANARY', '/etc/shadow', '/etc/passwd', '/proc/1/root$CANARY', '../../../..$CANARY']
os.chdir('/workspace')
with open('.rf', 'w') as f:
    f.write('inside\n')
swaps, deadline = 0, time.time() + 45
while time.time() < deadline:
    for t in targets:
        os.symlink(t, '.rl')
        os.rename('.rl', 'race')
        with open('.rf', 'w') as f:
            f.write('inside\n')
        os.rename('.rf', 'race')
        swaps += 2
    if swaps % 2000 == 0 and os.path.exists('stop-race'):
        break
print('race: %d swaps' % swaps, flush=True)
done()
"
racelog=$OUT/race.log
esc_py "$ID" "$racer" >"$racelog" &
racepid=$!
esc_defer "kill $racepid"
sleep 0.5
raced=0
for i in $(seq 1 200); do
  probe "race read $i" isl fs "$ID" read race
  probe "race write $i" isl fs "$ID" write --content "W$i" race
  if ((i % 4 == 0)); then
    out_probe "race" race
    probe "race cp in $i" isl cp "$OUT/src" "$ID:race"
  fi
  raced=$((raced + 1))
done 2>"$OUT/race-probes.log"
esc_log "race: $(grep -c 'race read.*rc=0' "$OUT/race-probes.log") of 200 reads got the file," \
  "$(grep -c 'race read.*rc=[1-9]' "$OUT/race-probes.log") failed on a link"
isl fs "$ID" write --content stop stop-race </dev/null >/dev/null || esc_fail "cannot stop the racer"
wait "$racepid" || true
esc_attack_verdict "$(cat "$racelog")" "symlink swapper"
grep -Eq 'race: [1-9][0-9]* swaps' "$racelog" || esc_fail "the swapper did not swap"

esc_same_fingerprint "$before" "${host_files[@]}"
after_ls=$(listing)
if [[ $before_ls != "$after_ls" ]]; then
  diff <(printf '%s\n' "$before_ls") <(printf '%s\n' "$after_ls") | sed 's/^/#   /' >&2
  FAILS+=("host directories changed")
fi
if ((${#FAILS[@]})); then
  printf 'ESCAPED: %s\n' "${FAILS[@]}" >&2
  esc_fail "${#FAILS[@]} of $TRIED file operations reached the host"
fi
esc_log "$TRIED file operations tried, $raced race rounds"
esc_pass "no file operation read or changed a host file"
