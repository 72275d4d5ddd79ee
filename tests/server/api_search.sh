#!/usr/bin/env bash
# File search and edits through isletd, run inside the sandbox: find
# (grep in contents: file, line, content; a name with ':' and spaces),
# search (glob on names, recursive), replace (plain text both ways, each
# file's result, a missing file's error), permissions (mode, owner, group
# by name or number,
# as `stat` in the sandbox shows them).  Needs root.  Exit 0 pass, 1 fail,
# 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_search.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

api POST /api/sandbox -d '{"name":"search"}'; expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
F="/toolbox/$A/files"
sb_sh () { islet exec "$A" -- bash -c "$1"; }

sb_sh 'set -e; mkdir -p /workspace/p/sub /workspace/p/.hid; cd /workspace/p
  printf "alpha a.b\nTODO: one\nbeta\n" >a.txt
  printf "x TODO: two\n" >"sub/we:ird name.txt"
  printf "TODO: three\n" >.hid/c.md
  printf "no match\n" >sub/d.txt
  printf "\0TODO: binary\n" >bin.dat' || fail "make the tree"

log "== find"
api GET "$F/find" -G --data-urlencode path=/workspace/p --data-urlencode 'pattern=TODO:'; expect_code "find" 200
expect_body "find: three matches, with line and content" '(sort_by(.file)) == ([{"file":"/workspace/p/.hid/c.md","line":1,"content":"TODO: three"},{"file":"/workspace/p/a.txt","line":2,"content":"TODO: one"},{"file":"/workspace/p/sub/we:ird name.txt","line":1,"content":"x TODO: two"}] | sort_by(.file))'
api GET "$F/find" -G --data-urlencode path=p --data-urlencode 'pattern=nothing-here'
expect_code "find nothing" 200; expect_body "find nothing" '. == []'
api GET "$F/find" -G --data-urlencode path=/workspace/none --data-urlencode 'pattern=x'; expect_error "find in a missing dir" 404
api GET "$F/find?path=p"; expect_error "find without a pattern" 400

log "== search"
api GET "$F/search" -G --data-urlencode path=/workspace/p --data-urlencode 'pattern=*.txt'; expect_code "search" 200
expect_body "search: the .txt files" '(.files | sort) == ["/workspace/p/a.txt","/workspace/p/sub/d.txt","/workspace/p/sub/we:ird name.txt"]'
api GET "$F/search" -G --data-urlencode path=p --data-urlencode 'pattern=*.none'
expect_body "search nothing" '.files == []'
api GET "$F/search" -G --data-urlencode path=/workspace/none --data-urlencode 'pattern=*'; expect_error "search a missing dir" 404

log "== replace"
api POST "$F/replace" -H 'Content-Type: application/json' \
  -d '{"files":["/workspace/p/a.txt","p/sub/d.txt","/workspace/p/missing.txt"],"pattern":"a.","newValue":"$1 \\n&"}'
expect_code "replace" 200
expect_body "replace: each file" '(map(.success)) == [true,true,false] and (.[2].error | length > 0) and (.[0].file == "/workspace/p/a.txt")'
# "a." is text, not a regex ("al", "ha" stay); "$1", "\\n" and "&" too
[[ $(sb_sh 'cat /workspace/p/a.txt') == $'alpha $1 \\n&b\nTODO: one\nbeta' ]] \
  || fail "replace: not plain text: $(sb_sh 'cat /workspace/p/a.txt')"
[[ $(sb_sh 'cat /workspace/p/sub/d.txt') == "no match" ]] || fail "replace changed a file without the pattern"
api POST "$F/replace" -d '{"files":["p/a.txt"],"pattern":"","newValue":"x"}'; expect_error "an empty pattern" 400

log "== permissions"
api POST "$F/permissions?path=/workspace/p/a.txt&mode=640&owner=root&group=root"; expect_code "permissions" 200
[[ $(sb_sh 'stat -c "%a %U %G" /workspace/p/a.txt') == "640 root root" ]] \
  || fail "permissions: $(sb_sh 'stat -c "%a %U %G" /workspace/p/a.txt')"
api POST "$F/permissions?path=p/a.txt&mode=0755"; expect_code "mode only" 200
[[ $(sb_sh 'stat -c "%a" /workspace/p/a.txt') == "755" ]] || fail "mode only"
# an owner by number: isletd gives the file away inside the sandbox's own
# user namespace (a handler that keeps CAP_CHOWN there only); an id past
# the sandbox's 65536 is refused and changes nothing
api POST "$F/permissions?path=p/a.txt&owner=1000&group=1000"; expect_code "chown to 1000" 200
[[ $(sb_sh 'stat -c "%u %g %a" /workspace/p/a.txt') == "1000 1000 755" ]] \
  || fail "chown to 1000: $(sb_sh 'stat -c "%u %g %a" /workspace/p/a.txt')"
api POST "$F/permissions?path=p/a.txt&owner=70000"; expect_error "an owner past the sandbox's ids" 400
[[ $(sb_sh 'stat -c "%u" /workspace/p/a.txt') == "1000" ]] || fail "the refused chown changed the owner"
api POST "$F/permissions?path=p/a.txt&mode=99"; expect_error "a bad mode" 400
api POST "$F/permissions?path=p/a.txt&owner=-R"; expect_error "an option as owner" 400
api POST "$F/permissions?path=/workspace/none&mode=644"; expect_error "a missing path" 404
api GET "/api/audit?limit=1000"
expect_body "audit" "[.items[] | select(.sandboxId == \"$A\") | .action] | (index(\"files.replace\") != null and index(\"files.permissions\") != null)"

pass
