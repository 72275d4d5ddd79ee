#!/usr/bin/env bash
# The harness's exit trap removes every state directory a test made and
# each one's companion files ($DIR.srv.err, $DIR.out.*...), also when the
# test fails while STATE points at another directory than it_init's (as a
# test that starts an isletd on a fresh state directory does).
source "$(dirname "$0")/../lib/integration.sh"

it_init

# child PASS|FAIL: a test that makes a second state directory, points
# STATE at it, leaves companions of both, then passes (STATE back) or
# fails (STATE still on the second); prints both directories
child () {
  ISLET_BIN=$ISLET_BIN IT_NAME=harness_child bash -c '
    source "$1/../lib/integration.sh"
    it_init
    first=$STATE
    echo "$first"
    : >"$STATE.srv.out"
    STATE=$(mktemp -d /tmp/islet-it.XXXXXX)
    IT_EXTRA_DIRS+=("$STATE")
    echo "$STATE"
    : >"$STATE.srv.out"
    : >"$STATE.srv.err"
    mkdir "$STATE.work"
    if [[ $2 == PASS ]]; then STATE=$first; pass; fi
    fail "on purpose, with STATE on the second directory"
  ' child "$(dirname "$0")" "$1" 2>/dev/null
}

for how in PASS FAIL; do
  dirs=$(child "$how") && rc=0 || rc=$?
  [[ $how == PASS ]] && expect_eq "status of the passing child" "$rc" 0
  [[ $how == FAIL ]] && expect_eq "status of the failing child" "$rc" 1
  expect_eq "$how: directories the child printed" "$(wc -l <<<"$dirs")" 2
  for d in $dirs; do
    [[ "$d" == /tmp/islet-it.* ]] || fail "$how: the child printed '$d'"
    mapfile -t left < <(compgen -G "$d*" || true)
    if (( ${#left[@]} )); then
      rm -rf --one-file-system "${left[@]}"
      fail "$how: left behind: ${left[*]}"
    fi
  done
done
pass "the exit trap removes every state directory of a test and their companions"
