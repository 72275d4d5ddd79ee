#!/usr/bin/env bash
# The first creates on a new state directory build the `host` image once:
# 8 concurrent creates through isletd (whose threads share one pid) all
# succeed, in 3 rounds on fresh state directories, and each round leaves one
# whole image that later sandboxes run on.  A temporary directory that an
# interrupted build left is removed, and the image built again.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

it_init
trap srv_cleanup EXIT
command -v curl >/dev/null || fail "needs curl (scripts/install-deps installs it)"
FIRST=$STATE

# one whole host image: the skeleton's 32 entries (with its own directory), and no temporary directory
check_image () {
  local what=$1 n
  n=$(find "$STATE/images" -path "$STATE/images/host-v2*" | wc -l)
  expect_eq "$what: entries of images/host-v2" "$n" 32
  [[ -z "$(find "$STATE/images" -maxdepth 1 -name '.host-*')" ]] \
    || fail "$what: temporary directories left: $(ls -a "$STATE/images")"
}

for round in 1 2 3; do
  STATE=$(mktemp -d /tmp/islet-it.XXXXXX)
  IT_EXTRA_DIRS+=("$STATE")
  srv_start
  codes=$(for i in 1 2 3 4 5 6 7 8; do
            curl -s -o "$STATE.c$i" -w '%{http_code}\n' --max-time 120 -X POST \
              -H "Authorization: Bearer $SRV_KEY" -H 'Content-Type: application/json' \
              -d '{}' "$SRV_URL/api/sandbox" &
          done; wait)
  ok=$(grep -c '^200$' <<<"$codes" || true)
  [[ "$ok" == 8 ]] || fail "round $round: $ok of 8 creates succeeded: $(cat "$STATE".c* | head -c 600)"
  check_image "round $round"
  api POST /api/sandbox -d '{}'
  expect_code "round $round: a create after the burst" 200
  id=$(jq -r .id <<<"$BODY")
  xjson "$id" -- cat /etc/hostname
  expect_eq "round $round: exec in a sandbox of the new image" "$(jget "$OUT" 'j["exit_code"]')" 0
  rm -f "$STATE".c*
  srv_stop
done

log "a temporary directory left by an interrupted build is removed"
STATE=$(mktemp -d /tmp/islet-it.XXXXXX)
IT_EXTRA_DIRS+=("$STATE")
mkdir -p "$STATE/images/.host-v2.Ab12Cd/etc"
echo half >"$STATE/images/.host-v2.Ab12Cd/etc/passwd"
id=$(create_sb)
check_image "after a leftover"
xjson "$id" -- grep -c root /etc/passwd
expect_eq "the rebuilt image's passwd" "$(jget "$OUT" 'j["stdout"].strip()')" 1
STATE=$FIRST
pass "concurrent first creates build one whole image; leftovers are removed"
