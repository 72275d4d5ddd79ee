#!/usr/bin/env bash
# Names, without a lock: <state>/names/<name> is a symbolic link to the id,
# made by symlink(2), so of several creates with one name exactly one wins,
# at once, however many sandboxes exist.  A name is free again after rm; a
# link left by a sandbox that is gone is taken over.  `islet ls` lists in
# creation order, also within one second.
source "$(dirname "$0")/../lib/integration.sh"
it_init

log "6 concurrent creates of one name, 3 rounds: exactly one wins each time"
for round in 1 2 3; do
  rm -f "$STATE.won" "$STATE.lost"
  for i in 1 2 3 4 5 6; do
    ( if id=$(islet create --name race </dev/null 2>"$STATE.err.$i"); then
        echo "$id" >>"$STATE.won"
      else
        cat "$STATE.err.$i" >>"$STATE.lost"
      fi ) &
  done
  wait
  won=$(wc -l <"$STATE.won")
  expect_eq "round $round: winners" "$won" 1
  id=$(cat "$STATE.won")
  remember_id "$id"
  expect_eq "round $round: losers" "$(grep -c "a sandbox named .race. exists" "$STATE.lost")" 5
  expect_eq "round $round: the name resolves to the winner" "$(sb_info race 'j["id"]')" "$id"
  expect_eq "round $round: sandboxes in ls" "$(jget "$(islet ls --json </dev/null)" 'len(j["sandboxes"])')" 1
  islet rm -f race </dev/null >/dev/null || fail "round $round: rm -f race"
  [[ ! -e "$STATE/names/race" && ! -L "$STATE/names/race" ]] || fail "round $round: the name's link is left after rm"
done
rm -f "$STATE".err.* "$STATE.won" "$STATE.lost"

log "a link to a sandbox that is gone does not hold the name"
ln -s 0123456789ab "$STATE/names/stale"
id=$(create_sb --name stale)
remember_id "$id"
expect_eq "the stale name is taken over" "$(readlink "$STATE/names/stale")" "$id"
islet rm -f stale </dev/null >/dev/null || fail "rm -f stale"

log "ls in creation order, three creates within a second"
a=$(create_sb --name order-a); remember_id "$a"
b=$(create_sb --name order-b); remember_id "$b"
c=$(create_sb --name order-c); remember_id "$c"
expect_eq "ls order" "$(jget "$(islet ls --json </dev/null)" '" ".join(s["name"] for s in j["sandboxes"])')" \
  "order-a order-b order-c"

log "an id prefix resolves when unique and is refused when not"
expect_eq "prefix of a" "$(sb_info "${a:0:6}" 'j["id"]')" "$a"
capture islet info "${a:0:0}x"
[[ "$RC" != 0 ]] || fail "info of a prefix that matches nothing succeeded"
for x in "$a" "$b" "$c"; do islet rm -f "$x" </dev/null >/dev/null || fail "rm $x"; done
[[ -z "$(ls -A "$STATE/names")" ]] || fail "names left: $(ls -A "$STATE/names")"
pass "one winner per name, names freed and taken over, creation order kept"
