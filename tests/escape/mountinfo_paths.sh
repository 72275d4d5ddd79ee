#!/usr/bin/env bash
# Escape class: learning the host's layout.  Every mount table a sandbox can
# read (/proc/self/mountinfo, /proc/1/mountinfo, /proc/self/mounts,
# mountstats) must name no path of the host's state directory and not the
# sandbox's id: the root overlay's options once showed
# lowerdir=<state>/images/..., upperdir=<state>/pool/<id>/upper.  Checked on
# a first start and again after a stop and start.
set -euo pipefail
# shellcheck source=../lib/escape.sh
. "$(dirname "$0")/../lib/escape.sh"
esc_init

ID=$(esc_create)
REAL=$(realpath "$S")
check() {
  local out
  out=$(isl exec "$ID" -- sh -c 'for f in /proc/self/mountinfo /proc/1/mountinfo /proc/self/mounts /proc/self/mountstats; do echo "== $f"; cat "$f" 2>&1; done' </dev/null 2>&1) \
    || esc_fail "reading the mount tables failed: $out"
  sed 's/^/#   /' <<<"$out" >&2
  grep -q 'overlay' <<<"$out" || esc_fail "no overlay root in the mount tables: the check read nothing"
  for word in "$S" "$REAL" "$ID" "/pool/" "/images/" "/sandboxes/"; do
    if grep -qF -- "$word" <<<"$out"; then
      esc_fail "the mount tables name \`$word\`: $(grep -F -- "$word" <<<"$out" | head -3 | tr '\n' ';')"
    fi
  done
}
check
isl stop "$ID" </dev/null >/dev/null || esc_fail "stop failed"
isl start "$ID" </dev/null >/dev/null || esc_fail "start failed"
check
esc_pass "no host state path and no sandbox id in the sandbox's mount tables"
