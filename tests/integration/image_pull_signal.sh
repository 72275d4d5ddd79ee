#!/usr/bin/env bash
# `islet image pull` interrupted: SIGINT to its process group (Ctrl-C),
# SIGTERM to islet alone, and kill -9 of islet alone (its islet-image gets
# SIGTERM as islet dies), each in the middle of a download from a slow
# front of a real registry on loopback (tests/lib/hold_proxy.py, which
# logs every blob transfer).  Each time the front's transfers end within
# 4 s (cut), no islet-image is left, and nothing of the pull is kept: no
# blob or layer, nothing in images/tmp, nothing in `islet image ls`.  A
# pull afterwards starts clean, fetching its layers in parallel (the
# front's log has two transfers open at once), and a sandbox runs from it.
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/registry.sh"
it_init
command -v setsid >/dev/null || fail "needs setsid (util-linux)"
[[ -x /bin/busybox ]] || fail "needs /bin/busybox (busybox-static)"
W=$STATE.work
REG_PID= PROXY_PID= PULL_PID=
trap 'rc=$?; set +e; [[ -n "$PULL_PID" ]] && kill -9 -- "-$PULL_PID" 2>/dev/null; kill $REG_PID $PROXY_PID 2>/dev/null; wait 2>/dev/null; (exit $rc); it_cleanup' EXIT
export DOCKER_CONFIG=$W/no-docker-config

registry_start "$W"
registry_slow_image "$W"
REF=$SLOW_REF
pullers () { pgrep -f "islet-image $STATE pull" || true; }

# interrupt HOW: a pull stopped mid-download by HOW (int-group, term-islet,
# kill-islet), then the checks
interrupt () {
  local how=$1 before t0
  before=$(store_list)
  : >"$XFER_LOG"
  setsid "$ISLET_BIN" --state-dir "$STATE" image pull "$REF" >"$W/pull.out" 2>"$W/pull.err" &
  PULL_PID=$!
  wait_until 20 mid_transfer || fail "$how: no blob transfer began: $(cat "$W/pull.err")"
  sleep 0.5
  mid_transfer || fail "$how: the pull ended before the signal; the front is not slow enough"
  t0=$(date +%s%N)
  case $how in
    int-group) kill -INT -- "-$PULL_PID" ;;
    term-islet) kill -TERM "$PULL_PID" ;;
    kill-islet) kill -KILL "$PULL_PID" ;;
  esac
  wait_empty 4 open_xfers || fail "$how: transfers still running 4 s after the signal: $(open_xfers)"
  grep -q '^cut ' "$XFER_LOG" || fail "$how: no transfer was cut: $(cat "$XFER_LOG")"
  wait_empty 6 pullers || fail "$how: islet-image still runs 6 s after the signal"
  wait "$PULL_PID" && fail "$how: the interrupted pull exited 0"
  PULL_PID=
  log "$how: the pull ended $(( ($(date +%s%N) - t0) / 1000000 )) ms after the signal"
  if [[ $how != kill-islet ]]; then
    grep -q "called off" "$W/pull.err" || fail "$how: islet does not say so: $(cat "$W/pull.err")"
  fi
  expect_eq "$how: the store's blobs and layers" "$(store_list)" "$before"
  [[ -z "$(ls -A "$STATE/images/tmp" 2>/dev/null)" ]] \
    || fail "$how: temporaries left: $(ls -A "$STATE/images/tmp")"
  islet image ls | grep -q test/slow && fail "$how: the interrupted image is listed"
  return 0
}

interrupt int-group
interrupt term-islet
interrupt kill-islet

log "a pull afterwards starts clean, its layers fetched in parallel"
: >"$XFER_LOG"
capture islet image pull "$REF"
[[ $RC == 0 ]] || fail "a pull after the interruptions: $ERR"
# the two 4 MiB layers take 8 s each through the front: at once, not in turn
most=$(sort -k3 -n "$XFER_LOG" | awk '$1 == "start" { n++; if (n > m) m = n } $1 != "start" { n-- } END { print m + 0 }')
expect_range "blob transfers open at once" "$most" 2 8
[[ -z "$(ls -A "$STATE/images/tmp")" ]] || fail "temporaries left: $(ls -A "$STATE/images/tmp")"
capture islet run --image "$REF" -- sh -c 'cat /r1 | busybox sha256sum'
expect_eq "a sandbox from the pulled image" "$OUT" "$SLOW_R1  -"
pass "an interrupted pull stops its downloads and leaves nothing; the next pull works"
