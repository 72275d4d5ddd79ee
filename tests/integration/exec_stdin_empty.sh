#!/usr/bin/env bash
# An exec given stdin whole and empty (a client whose stdin is /dev/null or
# an empty pipe) reads its end at once: a `cat` or a `read` then returns,
# where the pipe once stayed open until the exec's timeout killed the
# command (exit 137 after 30 s).  A first exec (a handler forked for it)
# and later ones (the ready handlers) alike.
source "$(dirname "$0")/../lib/integration.sh"
it_init

id=$(create_sb)
remember_id "$id"

for i in 1 2 3 4; do
  rc=0
  out=$(timeout 10 "$ISLET_BIN" --state-dir "$STATE" exec "$id" -- sh -c 'cat; echo "end $?"' </dev/null) || rc=$?
  expect_eq "exec $i of cat with stdin /dev/null: status" "$rc" 0
  expect_eq "exec $i of cat with stdin /dev/null: output" "$out" "end 0"
  rc=0
  out=$(printf '' | timeout 10 "$ISLET_BIN" --state-dir "$STATE" exec "$id" -- wc -c) || rc=$?
  expect_eq "exec $i of wc -c on an empty pipe: status" "$rc" 0
  expect_eq "exec $i of wc -c on an empty pipe: output" "$out" 0
done
out=$(printf 'abc' | timeout 10 "$ISLET_BIN" --state-dir "$STATE" exec "$id" -- wc -c) \
  || fail "exec of wc -c on 3 bytes failed"
expect_eq "wc -c on 3 bytes" "$out" 3
pass
