#!/usr/bin/env bash
# islet tool: the commands a model writes as text, run for real in a
# sandbox: line commands with raw multi-line and exact quoted content,
# <daytona-execute> blocks (attributes with entities, bodies), one result
# per command in order, each failure on its own, prose skipped, and the
# expected forms shown for what cannot be parsed.
source "$(dirname "$0")/../lib/integration.sh"
it_init

id=$(create_sb --name tooltext)
remember_id "$id"
r () { jget "$OUT" "$1"; }

log "line commands, raw and quoted content, prose around them"
cat >"$STATE.text" <<'EOF'
Here is what I will do.
write file:/workspace/app.py content:import sys
print("args", sys.argv[1:])
if True:
    print('indented')
read file:/workspace/app.py
write file:"/workspace/with space.txt" content:"tab\there\nquote \" backslash \\ end\n"
info file:"/workspace/with space.txt"
list files:/workspace
That should be all.
EOF
capture islet tool tooltext "$(cat "$STATE.text")" --json
expect_eq "status" "$RC" 0
expect_eq "commands" "$(r 'len(j["results"])')" 5
expect_eq "their kinds in order" "$(r '" ".join(x["command"] for x in j["results"])')" \
  "write read write info list"
expect_eq "raw multi-line content read back" "$(r 'j["results"][1]["content"]')" \
  "$(printf 'import sys\nprint("args", sys.argv[1:])\nif True:\n    print('"'"'indented'"'"')')"
expect_eq "quoted content: its size" "$(r 'j["results"][3]["info"]["size"]')" 33
xjson "$id" -- cat "/workspace/with space.txt"
expect_eq "quoted content, byte for byte" "$(jget "$OUT" 'j["stdout"]')" \
  "$(printf 'tab\there\nquote " backslash \\ end\n')"
capture islet tool tooltext "list files:/workspace" --json
expect_eq "list sees both files" "$(r '" ".join(sorted(e["name"] for e in j["results"][0]["entries"]))')" \
  "app.py with space.txt"

log "<daytona-execute> blocks: commands, entities, bodies, read and list"
capture islet tool tooltext '<daytona-execute action="execute-command" command="python3 /workspace/app.py a &quot;b c&quot; &amp;&amp; echo ok &gt;&amp;2"/>
some prose <daytona-execute action="create-file" filePath="/workspace/body.txt">first &lt;line&gt;
second</daytona-execute>
<daytona-execute action="read-file" filePath="/workspace/body.txt"/>
<daytona-execute action="list-files" filePath="/workspace"/>' --json
expect_eq "status" "$RC" 0
expect_eq "stdout of the command" "$(r 'j["results"][0]["stdout"]')" "args ['a', 'b c']
indented"
expect_eq "stderr of the command" "$(r 'j["results"][0]["stderr"]')" "ok"
expect_eq "exit code" "$(r 'j["results"][0]["exit_code"]')" 0
expect_eq "a body as content, entities decoded" "$(r 'j["results"][2]["content"]')" "first <line>
second"
expect_eq "list has 3 files" "$(r 'len(j["results"][3]["entries"])')" 3

log "<daytona-execute> with its attributes in the body, one name=\"value\" a line"
# the financial agent's form, exactly as its model writes it: values span
# lines and hold quotes; a name="value" line inside a value stays in it
# unless it is an attribute the action takes and the block has not given
cat >"$STATE.body" <<'EOF'
I will write the plan first.
<daytona-execute>
action="create-file"
filePath="market_analysis_todo.md"
content="# Financial Analysis Project
- [ ] Gather market data
say "hi" &amp; then
path="not/an/attribute"
version="1.0""
</daytona-execute>
<daytona-execute>
  action='execute-command'
  command="cat /workspace/market_analysis_todo.md; echo "done""
</daytona-execute>
<daytona-execute>
action="create-file"
content="print("content first")
"
filePath="/workspace/later.py"
</daytona-execute>
<daytona-execute action="read-file" filePath="/workspace/later.py"/>
<daytona-execute>
action="create-file"
content="a"
filePath="/workspace/inside.txt"
filePath="/workspace/real.txt"
</daytona-execute>
<daytona-execute>
action="create-file"
filePath="/workspace/open.txt"
content="never closed
</daytona-execute>
<daytona-execute>
filePath="/workspace/x.txt"
</daytona-execute>
EOF
capture islet tool tooltext "$(cat "$STATE.body")" --json
expect_eq "status: the last three fail" "$RC" 1
expect_eq "commands and ok flags" \
  "$(r '" ".join(x["command"] + ":" + str(x["ok"]) for x in j["results"])')" \
  "write:True execute:True write:True read:True execute:False execute:False execute:False"
expect_eq "the relative filePath is in /workspace, content exact" "$(r 'j["results"][1]["stdout"]')" \
  '# Financial Analysis Project
- [ ] Gather market data
say "hi" & then
path="not/an/attribute"
version="1.0"done'
expect_eq "content before filePath, its quotes and last newline kept" \
  "$(r 'j["results"][3]["content"] == "print(\"content first\")\n"')" true
[[ "$(r 'j["results"][4]["error"]')" == *"gives filePath twice"* ]] \
  || fail "an attribute line given twice is not refused: $(r 'j["results"][4]')"
[[ "$(r 'j["results"][5]["error"]')" == *"value of content"*"not closed"* ]] \
  || fail "an unclosed value: $(r 'j["results"][5]')"
[[ "$(r 'j["results"][6]["error"]')" == *"needs action"* ]] \
  || fail "a body without action: $(r 'j["results"][6]')"
xjson "$id" -- test -e /workspace/inside.txt -o -e /workspace/real.txt -o -e /workspace/open.txt
expect_eq "a refused block writes nothing" "$(jget "$OUT" 'j["exit_code"]')" 1

log "failures stay with their command; the others run"
capture islet tool tooltext 'read file:/workspace/nope.txt
delete file:/workspace/body.txt
read file /workspace/app.py
<daytona-execute action="launch-rocket" filePath="/x"/>
<daytona-execute action="execute-command" command="exit 7"/>
write file:/workspace/x.txt no content here' --json
expect_eq "status: some failed" "$RC" 1
expect_eq "ok flags in order" "$(r '" ".join(str(x["ok"]) for x in j["results"])')" \
  "False True False False True False"
[[ "$(r 'j["results"][0]["error"]')" == *"No such file"* ]] || fail "missing file: $(r 'j["results"][0]')"
[[ "$(r 'j["results"][2]["error"]')" == *"read file:PATH"* ]] \
  || fail "a near miss does not show the forms: $(r 'j["results"][2]')"
[[ "$(r 'j["results"][3]["error"]')" == *"unknown action"* ]] || fail "unknown action: $(r 'j["results"][3]')"
expect_eq "a command's own exit code is not islet's failure" "$(r 'j["results"][4]["exit_code"]')" 7
[[ "$(r 'j["results"][5]["error"]')" == *"content:"* ]] || fail "write without content: $(r 'j["results"][5]')"
xjson "$id" -- test -e /workspace/body.txt
expect_eq "the delete ran" "$(jget "$OUT" 'j["exit_code"]')" 1

log "--workspace-only: file commands only in /workspace, no symbolic link on the way"
xjson "$id" -- ln -s /etc /workspace/etc-link
capture islet tool tooltext 'read file:/etc/hostname
read file:etc-link/hostname
read file:/workspace/../etc/hostname
delete file:/workspace/etc-link
write file:/workspace/ws/a.txt content:inside
read file:ws/./a.txt
list files:.
<daytona-execute action="execute-command" command="test -L /workspace/etc-link && cat /workspace/ws/a.txt"/>' --workspace-only --json
expect_eq "status: some refused" "$RC" 1
expect_eq "ok flags" "$(r '" ".join(str(x["ok"]) for x in j["results"])')" \
  "False False False False True True True True"
for i in 0 2; do
  [[ "$(r "j['results'][$i]['error']")" == *"is outside /workspace"* ]] || fail "refusal $i: $(r "j['results'][$i]")"
done
for i in 1 3; do
  [[ "$(r "j['results'][$i]['error']")" == *"etc-link\` is a symbolic link"* ]] || fail "link $i: $(r "j['results'][$i]")"
done
expect_eq "what is inside works" "$(r 'j["results"][5]["content"]')" inside
expect_eq "the refused delete left the link" "$(r 'j["results"][7]["stdout"]')" inside
capture islet tool tooltext 'read file:etc-link/hostname' --json
expect_eq "without the flag the link is followed" "$RC" 0

log "the text from stdin (-)"
out=$("$ISLET_BIN" --state-dir "$STATE" tool tooltext - --json <<<'read file:/workspace/app.py') \
  || fail "tool - failed: $out"
[[ "$(jget "$out" 'j["results"][0]["content"]')" == "import sys"* ]] || fail "tool - read: $out"

log "text with no command: status 2 and the forms"
capture islet tool tooltext "just some prose"
expect_eq "status" "$RC" 2
[[ "$ERR" == *"list files:DIR"* && "$ERR" == *"<daytona-execute"* ]] || fail "the forms are not shown: $ERR"
capture islet tool nosuchbox "read file:/x"
expect_eq "unknown sandbox: status" "$RC" 1
pass
