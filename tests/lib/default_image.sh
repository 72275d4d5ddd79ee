# shellcheck shell=bash
# default_image [STATE_DIR]: put the batteries-included default image
# (`islet image build-default`) into a state directory ($STATE unless one is
# given) and print its id.  The first call on a machine builds it with
# mmdebstrap (minutes; its progress goes to the test's log) into the
# machine-wide cache /var/cache/islet; every later call, in any state
# directory, imports the cached tar.  Only the tests that need the image call
# this: every other test keeps the `host` default of a fresh state directory.
# Sourced after tests/lib/integration.sh.
default_image () {
  local dir=${1:-$STATE} id t0
  t0=$(date +%s%N)
  command -v mmdebstrap >/dev/null || fail "the default image needs mmdebstrap (scripts/install-deps installs it)"
  id=$("$ISLET_BIN" --state-dir "$dir" image build-default </dev/null) \
    || fail "islet image build-default failed (see above)"
  [[ "$id" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "islet image build-default printed '$id', not an image id"
  log "default image $id in $dir ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
  printf '%s' "$id"
}
