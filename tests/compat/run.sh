#!/bin/bash
# Compatibility: the official Daytona TypeScript SDK (@daytonaio/sdk, the
# exact version in package.json and package-lock.json) against isletd, in
# the SDK's default mode: its Socket.IO link on, DAYTONA_USE_DEPRECATED_POLLING
# unset.  Each *.js here is one script; after each, Node must exit within
# EXIT_MAX_MS of the script's last line (a script that keeps its sandbox
# included: that is what the Socket.IO endpoint is for), and nothing may be
# left in islet's state but what the script keeps on purpose.
#
# The SDK comes from the npm registry (or npm's cache) by `npm ci`: without
# it this test fails, it does not skip.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_NAME=compat
# shellcheck source=../lib/integration.sh
source "$HERE/../lib/integration.sh"
# shellcheck source=../lib/server.sh
source "$HERE/../lib/server.sh"
# shellcheck source=../lib/image.sh
source "$HERE/../lib/image.sh"
# shellcheck source=../lib/registry.sh
source "$HERE/../lib/registry.sh"
# shellcheck source=../lib/default_image.sh
source "$HERE/../lib/default_image.sh"

EXIT_MAX_MS=3000
SCRIPT_TIMEOUT_S=180

command -v node >/dev/null || fail "needs node (scripts/install-deps installs it)"
command -v npm >/dev/null || fail "needs npm (scripts/install-deps installs it)"
log "npm ci in $HERE (node $(node --version), npm $(npm --version))"
(cd "$HERE" && timeout 600 npm ci --prefer-offline --no-audit --no-fund --loglevel=error) \
  || fail "npm ci failed: the compat tests need @daytonaio/sdk from the npm registry (or npm's cache); is https://registry.npmjs.org reachable?"
[[ $(node -p 'require(process.argv[1] + "/node_modules/@daytonaio/sdk/package.json").version' "$HERE") == 0.218.0 ]] \
  || fail "npm ci did not install @daytonaio/sdk 0.218.0"

# pings every second, so that the SDK's answers to them are exercised too
export ISLETD_TEST_PING_MS=1000
# isletd as a user starts it: its create and /v1 pools on
SRV_POOLS=()
srv_init
# COMPAT_DEFAULT_IMAGE=1: the state directory gets the default image, so
# that a sandbox that names none is on it (lsp.js needs its language servers)
if [[ ${COMPAT_DEFAULT_IMAGE:-} == 1 ]]; then
  srv_stop
  default_image >/dev/null
  srv_start
fi
unset DAYTONA_USE_DEPRECATED_POLLING DAYTONA_API_URL DAYTONA_SERVER_URL DAYTONA_API_KEY DAYTONA_TARGET
export ISLET_COMPAT_API_URL="$SRV_URL/api" ISLET_COMPAT_KEY="$SRV_KEY"
# another organization, for events that must not reach it
ISLET_COMPAT_KEY2=$(new_key compat-other)
export ISLET_COMPAT_KEY2
# an image in the store, for create({image}) and create({snapshot})
export ISLET_COMPAT_IMAGE=example.test/compat:1
test_image "$ISLET_COMPAT_IMAGE" >/dev/null
# a registry on loopback with images not in the store, for the pulls
REG_PID=
# set +e first: under errexit the (exit $rc) of a failed run would end the
# trap there, leaving isletd running and the state directory behind
trap 'rc=$?; set +e; [[ -n "$REG_PID" ]] && kill "$REG_PID" 2>/dev/null; (exit $rc); srv_cleanup' EXIT
registry_start "$STATE.registry"
export ISLET_COMPAT_REGISTRY=$R
for img in compat/pulled:1 compat/from:1 compat/base:1 compat/snapbase:1; do
  registry_push_test_image "$STATE.registry" "$img"
done

now_ms () { echo $(( $(date +%s%N) / 1000000 )); }

# expect_sandboxes N: islet's own view of the state directory, less
# isletd's own sandboxes (isletd-own-*: its /v1 pool's, which islet ls
# shows; the create pool's it hides)
expect_sandboxes () {
  local n
  n=$(islet ls --json | jq '[.sandboxes[] | select(.name | startswith("isletd-own-") | not)] | length') \
    || fail "islet ls --json"
  [[ "$n" == "$1" ]] || fail "islet ls shows $n sandboxes, want $1: $(islet ls)"
}

# run_script NAME [ENV=VALUE...]: node NAME.js, bounded in time; its last
# line must be "ok NAME ... done-at=<ms>", and Node must be gone soon after.
run_script () {
  local name=$1 out rc=0 t_exit done_at
  shift
  out=$(mktemp "$STATE.out.XXXXXX")
  env "$@" timeout "$SCRIPT_TIMEOUT_S" node "$HERE/$name.js" >"$out" 2>&1 || rc=$?
  t_exit=$(now_ms)
  cat "$out" >&2
  [[ $rc == 0 ]] || fail "$name.js exited with status $rc (124: killed after ${SCRIPT_TIMEOUT_S} s)"
  done_at=$(sed -n "s/^ok $name .*done-at=\([0-9]*\)$/\1/p" "$out")
  [[ -n "$done_at" ]] || fail "$name.js did not print its ok line"
  (( t_exit - done_at <= EXIT_MAX_MS )) \
    || fail "$name.js: Node took $(( t_exit - done_at )) ms to exit after its last line (at most $EXIT_MAX_MS)"
  log "$name.js passed; Node exited $(( t_exit - done_at )) ms after its last line"
  OUT=$(cat "$out")
  rm -f "$out"
}

# COMPAT_SCRIPTS: a subset, to run one script while working on it
for script in ${COMPAT_SCRIPTS:-socketio sandbox create list process fs sessions session_input pty git docs lifecycle resize metrics env preview fork interpreter volume network ttl snapshot snapshot_pull archive build build_context snapshot_build build_parse build_copy}; do
  [[ "$script" == preview_host ]] && continue # below, on its own isletd
  run_script "$script"
  expect_sandboxes 0
done

# a script that keeps its sandbox (no delete, no dispose) still lets Node exit
run_script keep
kept=$(sed -n 's/^kept=\([0-9a-f]*\)$/\1/p' <<<"$OUT")
[[ -n "$kept" ]] || fail "keep.js printed no sandbox id"
expect_sandboxes 1
api DELETE "/api/sandbox/$kept"
expect_code "delete the kept sandbox" 200
expect_sandboxes 0

# the host form of preview links: isletd again, with --preview-domain
if [[ -z "${COMPAT_SCRIPTS:-}" || " $COMPAT_SCRIPTS " == *" preview_host "* ]]; then
  srv_stop
  SRV_ARGS=(--preview-domain preview.test)
  srv_start
  export ISLET_COMPAT_API_URL="$SRV_URL/api"
  run_script preview_host
  expect_sandboxes 0
fi

log "all compat scripts passed"
