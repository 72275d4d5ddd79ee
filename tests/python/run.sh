#!/usr/bin/env bash
# The Python client (clients/python) with pytest: pip-installs it into a
# fresh venv, as a user would (`pip install ./clients/python`, offline), then
# runs tests/python twice with that venv's python: against a live isletd
# (server mode), and on the local islet CLI with a private state directory
# (CLI mode).  With dnsmasq, a fake internet (tests/lib/netfake.sh) for the
# network tests, whose addresses the suite gets as ISLET_TEST_NF_{A,B,P}.
# Needs root, python3-venv and python3-pytest (scripts/install-deps
# installs them).
# shellcheck disable=SC2034 # read by tests/lib/integration.sh
IT_NAME=python
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
source "$(dirname "$0")/../lib/netfake.sh"

SRC=${ISLET_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
"$IT_PY" -c 'import pytest' 2>/dev/null || fail "needs python3-pytest (scripts/install-deps installs it)"

it_init
NF=()
if command -v dnsmasq >/dev/null; then
  nf_up
  SRV_ARGS=(--dns "$NF_DNS")
  NF=(ISLET_TEST_NF_A="$NF_WEB_A" ISLET_TEST_NF_B="$NF_WEB_B" ISLET_TEST_NF_P="$NF_WEB_P"
      ISLET_DNS="$NF_DNS")
fi
srv_start
VENV=$(mktemp -d /tmp/islet-py-venv.XXXXXX)
py_cleanup () {
  local rc=$?
  rm -rf "$VENV"
  nf_cleanup
  (exit "$rc")
  srv_cleanup
}
trap py_cleanup EXIT

# the package, installed from the tree the way the docs say (no index)
"$IT_PY" -m venv --system-site-packages "$VENV" || fail "python3 -m venv failed (python3-venv?)"
capture timeout 300 "$VENV/bin/pip" install --disable-pip-version-check -q "$SRC/clients/python"
[[ $RC == 0 ]] || fail "pip install ./clients/python: status $RC: ${ERR: -800}"
SITE=$("$VENV/bin/python" -c 'import islet, os; print(os.path.dirname(os.path.dirname(islet.__file__)))') \
  || fail "islet not importable from the venv"
[[ "$SITE" == "$VENV"/* ]] || fail "islet imported from $SITE, not the venv"
log "installed in $SITE"

# pytest PASS: ENV... — one run of the suite; no cache or bytecode left in the tree
run_suite () {
  local what=$1
  shift
  log "pytest, $what"
  ( cd "$SRC/tests/python" &&
    env "$@" "${NF[@]}" ISLET_TEST_SITE="$SITE" ISLET_BIN="$ISLET_BIN" PYTHONDONTWRITEBYTECODE=1 \
      timeout 900 "$VENV/bin/python" -m pytest -q -p no:cacheprovider . ) \
    || fail "pytest, $what"
}

run_suite "server mode ($SRV_URL)" -u ISLET_STATE_DIR ISLET_TEST_MODE=server \
  ISLET_URL="$SRV_URL/api" ISLET_API_KEY="$SRV_KEY" ISLET_TEST_STATE="$STATE"

# CLI mode: its own state directory (short: the control socket's path is
# limited), removed at exit with the test's
CLI_STATE=$(mktemp -d /tmp/islet-it.XXXXXX)
IT_EXTRA_DIRS+=("$CLI_STATE")
run_suite "CLI mode" -u ISLET_URL -u ISLET_API_KEY ISLET_TEST_MODE=cli \
  ISLET_STATE_DIR="$CLI_STATE" ISLET_TEST_STATE="$CLI_STATE"

# nothing left behind by either run
count_sandboxes () {
  "$ISLET_BIN" --state-dir "$1" ls --json </dev/null \
    | "$IT_PY" -c 'import json, sys; print(len(json.load(sys.stdin)["sandboxes"]))'
}
expect_eq "sandboxes left by the server-mode run" "$(count_sandboxes "$STATE")" 0
expect_eq "sandboxes left by the CLI-mode run" "$(count_sandboxes "$CLI_STATE")" 0
pass
