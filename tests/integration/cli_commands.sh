#!/usr/bin/env bash
# Every islet subcommand and option, driven for real through build/islet:
# exit statuses (0/3/125/126/127, 128+N), --json objects and their fields,
# bad-input messages, cp both ways with a 20 MiB file, fs round trips of text
# and binary content, Ctrl-C during run, and an empty `islet ls` at the end.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/integration/cli_commands.sh
source "$(dirname "$0")/../lib/integration.sh"

[[ $(id -u) -eq 0 ]] || skip "needs root"
for tool in jq cmp base64; do
  command -v "$tool" >/dev/null || skip "needs $tool"
done
# it_init's trap removes every sandbox of this test's state directory (system
# reset), then any supervisor, cgroup, mount or loop device left over
it_init
WORK=$STATE/cli-work # inside the state directory, so the clean-up removes it
mkdir "$WORK"
PASSED=0

ok () { PASSED=$((PASSED + 1)); }

# run CMD... : record exit status, stdout and stderr (never fails the script)
OUTF=$WORK/out ERRF=$WORK/err RC=0
t () {
  set +e
  islet "$@" >"$OUTF" 2>"$ERRF" </dev/null
  RC=$?
  set -e
}
# t_in FILE CMD... : the same with stdin from FILE
t_in () {
  local in=$1; shift
  set +e
  islet "$@" >"$OUTF" 2>"$ERRF" <"$in"
  RC=$?
  set -e
}
show () { echo "  status $RC; stdout: $(head -c 600 "$OUTF")"; echo "  stderr: $(head -c 600 "$ERRF")"; }
expect_rc () { [[ $RC -eq $1 ]] || { show >&2; fail "$2: expected status $1, got $RC"; }; ok; }
expect_out () { [[ $(cat "$OUTF") == "$1" ]] || { show >&2; fail "$2: expected stdout '$1'"; }; ok; }
expect_err () { grep -qF -- "$1" "$ERRF" || { show >&2; fail "$2: expected stderr to contain '$1'"; }; ok; }
# expect_json JQ-EXPR WHAT: stdout is exactly one JSON value for which the expression is true
expect_json () {
  [[ $(jq -s 'length' "$OUTF" 2>/dev/null) == 1 ]] || { show >&2; fail "$2: stdout is not one JSON value"; }
  [[ $(jq -r "$1" "$OUTF") == true ]] || { show >&2; fail "$2: expected $1"; }
  ok
}
count_sandboxes () { islet ls --json | jq '.sandboxes | length'; }

log "== help, version, bad input"
t --version; expect_rc 0 "--version"; expect_out "islet 0.1.0" "--version"
t --help; expect_rc 0 "--help"; grep -q '^commands:' "$OUTF" || fail "--help lists no commands"; ok
grep -q '125' "$OUTF" || fail "--help does not document the exit statuses"; ok
for cmd in run create exec ls info start stop rm cp fs system; do
  t "$cmd" --help; expect_rc 0 "$cmd --help"
  grep -q "^usage: islet $cmd" "$OUTF" || fail "$cmd --help has no usage line"; ok
done
t fs someid read --help; expect_rc 0 "fs read --help"
grep -q "^usage: islet fs ID read" "$OUTF" || fail "fs ID read --help"; ok
t; expect_rc 2 "no command"
t frobnicate; expect_rc 2 "unknown command"; expect_err "islet: 'frobnicate' is not an islet command" "unknown command"
t run --foo true; expect_rc 125 "run --foo"; expect_err "islet: unknown option --foo for 'run'" "run --foo"
[[ $(wc -l <"$ERRF") -eq 1 ]] || fail "an error is one line"; ok
t ls --foo; expect_rc 2 "ls --foo"; expect_err "islet: unknown option --foo for 'ls'" "ls --foo"
t run --memory abc true; expect_rc 125 "run --memory abc"; expect_err "islet: --memory: 'abc' is not a number" "--memory abc"
t create --memory abc; expect_rc 2 "create --memory abc"; expect_err "--memory: 'abc' is not a number" "create --memory abc"
t run --memory 1 true; expect_rc 125 "run --memory 1"; expect_err "islet: --memory:" "--memory out of range"
t run --cpus 1.2345 true; expect_rc 125 "--cpus with 4 decimals"; expect_err "--cpus: '1.2345'" "--cpus 1.2345"
t run --pids -5 true; expect_rc 125 "--pids -5"; expect_err "--pids: '-5' is not a number" "--pids -5"
t run --name; expect_rc 125 "--name without value"; expect_err "option --name for 'run' needs a value" "--name"
t run -e NOEQUALS true; expect_rc 125 "-e without ="; expect_err "-e: 'NOEQUALS' is not K=V" "-e"
t run; expect_rc 125 "run without a command"; expect_err "'run' needs a command" "run"
t run --lang cobol --code x; expect_rc 125 "--lang cobol"; expect_err "--lang: 'cobol'" "--lang cobol"
t run --code 'print(1)'; expect_rc 125 "--code without --lang"; expect_err "--code needs --lang" "--code"
t info nope; expect_rc 1 "info nope"; expect_err "islet: no sandbox 'nope'" "info nope"
t info; expect_rc 2 "info without ID"; expect_err "'info' needs ID" "info"
t info a b; expect_rc 2 "info a b"; expect_err "unexpected argument 'b' for 'info'" "info a b"
t info --json nope; expect_rc 1 "info --json nope"
expect_json '.error.kind == "not_found" and (.error.message | test("no sandbox"))' "JSON error"
t run --json --bogus true; expect_rc 125 "run --json --bogus"; expect_json '.error.kind == "invalid"' "run JSON error"
t exec nope true; expect_rc 125 "exec nope"; expect_err "no sandbox 'nope'" "exec nope"
t exec --json nope true; expect_rc 125 "exec --json nope"; expect_json '.error.kind == "not_found"' "exec JSON error"
t system reset; expect_rc 2 "system reset without -f"; expect_err "confirm with -f" "system reset"
t ls; expect_rc 0 "ls on an empty state dir"; expect_out "ID            NAME  STATE    CREATED" "empty ls"
t ls --json; expect_rc 0 "ls --json"; expect_json '.sandboxes == []' "empty ls --json"

log "== run: exit statuses and output"
t run -- true; expect_rc 0 "run true"
t run -- sh -c 'exit 3'; expect_rc 3 "run exit 3"
t run -- no-such-command-xyz; expect_rc 127 "run of a missing command"
t run -- /usr; expect_rc 126 "run of a directory"
t run --image no-such-image -- true; expect_rc 125 "run --image missing"
t run -- sh -c 'echo out; echo err >&2'; expect_rc 0 "run output"
expect_out "out" "run stdout"; [[ $(cat "$ERRF") == err ]] || { show; fail "run stderr"; }; ok
t run -- sh -c 'kill -TERM $$'; expect_rc 143 "run killed by SIGTERM"
t run --json -- sh -c 'echo out; echo err >&2; exit 3'; expect_rc 3 "run --json exit 3"
expect_json '.exit_code == 3 and .signal == 0 and .stdout == "out\n" and .stderr == "err\n"' "run --json values"
expect_json '(.wall_ms|type) == "number" and (.cpu_ms|type) == "number" and (.memory_peak_bytes|type) == "number"' "run --json numbers"
expect_json '.timed_out == false and .oom_killed == false and .truncated == false' "run --json flags"
t run --json -- no-such-command-xyz; expect_rc 127 "run --json missing command"
expect_json '.exit_code == 127 and (.error|type) == "string"' "run --json error field"
t run -e FOO=bar -e 'EMPTY=' --cwd /tmp -- sh -c 'echo "$FOO/$EMPTY/$(pwd)"'; expect_rc 0 "run -e --cwd"
expect_out "bar///tmp" "run -e --cwd"
t run --name cli-test-host -- hostname; expect_rc 0 "run --name"; expect_out "cli-test-host" "the name is the hostname"
t run --lang python --code 'import sys; print(6 * 7); print("a\"b'"'"'c; $(touch /tmp/x)")'
expect_rc 0 "--lang python"; expect_out $'42\na"b\'c; $(touch /tmp/x)' "--lang python output"
t run --lang bash --code 'echo $((2 + 3)); exit 4'; expect_rc 4 "--lang bash"; expect_out "5" "--lang bash output"
if command -v node >/dev/null; then
  t run --lang javascript --code 'console.log([1,2,3].map(x => x * 2).join(","))'
  expect_rc 0 "--lang javascript"; expect_out "2,4,6" "--lang javascript output"
fi
printf 'print("from stdin")\n' >"$WORK/prog.py"
t_in "$WORK/prog.py" run --lang python; expect_rc 0 "--lang python from stdin"; expect_out "from stdin" "program on stdin"
printf 'one\ntwo\n' >"$WORK/two-lines"
t_in "$WORK/two-lines" run -i -- wc -l; expect_rc 0 "run -i"; expect_out "2" "run -i passes stdin"
t run --timeout 1 --json -- sleep 10; expect_json '.timed_out == true and .exit_code != 0 and .wall_ms < 9000' "run --timeout"
[[ $RC -ne 0 ]] || fail "a timed-out run exits non-zero"; ok
t run --timeout 0.5 -- sleep 10; [[ $RC -ne 0 ]] || fail "--timeout 0.5"; expect_err "timed out" "timeout note"
t run --output 100 --json -- sh -c 'head -c 5000 /dev/zero | tr "\0" a'
expect_json '.truncated == true and (.stdout|length) <= 100' "run --output"
t run --memory 64 --json -- python3 -c 'b = bytearray(400 << 20); print(len(b))'
expect_json '.oom_killed == true and .exit_code != 0' "run --memory 64 OOM"
t run --pids 20 --cpus 0.5 --disk 64 --nofile 64 -- sh -c 'ulimit -n'; expect_rc 0 "run with every limit"
expect_out "64" "run --nofile"
[[ $(count_sandboxes) == 0 ]] || fail "run left sandboxes behind"; ok

log "== run: Ctrl-C and SIGTERM remove the sandbox"
for sig in INT TERM; do
  # the binary itself, not the islet function: $! must be islet's pid
  "$ISLET_BIN" --state-dir "$STATE" run -- sleep 60 >/dev/null 2>"$WORK/sig.err" &
  pid=$!
  for _ in $(seq 100); do [[ $(count_sandboxes) == 1 ]] && break; sleep 0.1; done
  [[ $(count_sandboxes) == 1 ]] || fail "SIG$sig: the sandbox never appeared"
  sleep 0.5
  kill -"$sig" "$pid"
  set +e; wait "$pid"; RC=$?; set -e
  want=$((128 + $(kill -l "$sig")))
  [[ $RC -eq $want ]] || { cat "$WORK/sig.err"; fail "SIG$sig: status $RC, expected $want"; }; ok
  grep -q "interrupted by SIG$sig" "$WORK/sig.err" || { cat "$WORK/sig.err"; fail "SIG$sig: no note"; }; ok
  [[ $(count_sandboxes) == 0 ]] || fail "SIG$sig left the sandbox behind"; ok
done

log "== create, info, ls"
t create --name cli-a --memory 256 --cpus 0.5 --pids 100 --disk 512 --timeout 10 --output 4096 --nofile 256
expect_rc 0 "create with limits"
A=$(cat "$OUTF"); [[ $A =~ ^[0-9a-f]{12}$ ]] || fail "create printed '$A', not an id"; ok
t create --json --name cli-b; expect_rc 0 "create --json"
expect_json '.name == "cli-b" and .state == "running" and (.id|test("^[0-9a-f]{12}$"))' "create --json"
B=$(jq -r .id "$OUTF")
t create --name cli-a; expect_rc 1 "create with a taken name"
t info --json cli-a; expect_rc 0 "info --json by name"
expect_json ".id == \"$A\" and .name == \"cli-a\" and .state == \"running\" and .image == \"host\"" "info fields"
expect_json '.limits.memory_mb == 256 and .limits.cpu_millis == 500 and .limits.pids == 100' "info limits 1"
expect_json '.limits.disk_mb == 512 and .limits.timeout_s == 10 and .limits.output_bytes == 4096 and .limits.nofile == 256' "info limits 2"
expect_json '(.created|type) == "number" and .supervisor > 0 and (.uid_base|type) == "number" and (.disk_enforced|type) == "boolean"' "info other fields"
DISK_ENFORCED=$(jq -r .disk_enforced "$OUTF")
t info "${A:0:6}"; expect_rc 0 "info by id prefix"
grep -q "^id: *$A$" "$OUTF" || fail "info text shows no id"; ok
grep -q "^state: *running$" "$OUTF" || fail "info text shows no state"; ok
grep -q "^  memory_mb: *256$" "$OUTF" || fail "info text shows no memory limit"; ok
t info "$A"; expect_rc 0 "info by full id"
t ls; expect_rc 0 "ls"
head -1 "$OUTF" | grep -Eq '^ID +NAME +STATE +CREATED$' || fail "ls header"; ok
grep -Eq "^$A +cli-a +running +[0-9]{4}-" "$OUTF" || { cat "$OUTF"; fail "ls row of cli-a"; }; ok
grep -Eq "^$B +cli-b +running" "$OUTF" || fail "ls row of cli-b"; ok
t ls --json; expect_json "(.sandboxes | map(.id) | sort) == ([\"$A\", \"$B\"] | sort)" "ls --json"
# created has one-second resolution, so two sandboxes of the same second may come either way
expect_json '(.sandboxes | map(.created)) == (.sandboxes | map(.created) | sort)' "ls --json, oldest first"
set +e; ISLET_STATE_DIR=$STATE "$ISLET_BIN" ls --json >"$OUTF" 2>"$ERRF"; RC=$?; set -e
expect_json '.sandboxes | length == 2' "ISLET_STATE_DIR picks the state directory"
if [[ $DISK_ENFORCED == true ]]; then
  t run --disk 16 -- sh -c 'head -c 64M /dev/zero > /workspace/big'
  [[ $RC -ne 0 ]] || fail "run --disk 16 let a 64 MiB write through"; ok
else
  echo "  (disk limits are not enforced here: --disk only checked as a value)"
fi

log "== exec"
t exec cli-a -- true; expect_rc 0 "exec true"
t exec cli-a -- sh -c 'exit 3'; expect_rc 3 "exec exit 3"
t exec cli-a no-such-command-xyz; expect_rc 127 "exec missing command"
t exec cli-a /usr; expect_rc 126 "exec of a directory"
t exec cli-a ls -d /workspace; expect_rc 0 "exec: options after CMD go to CMD"; expect_out "/workspace" "exec ls -d"
t exec --cwd /tmp -e A=1 -e B=2 cli-a -- sh -c 'echo $A$B $(pwd)'; expect_out "12 /tmp" "exec -e --cwd"
t_in "$WORK/two-lines" exec cli-a -- wc -l; expect_rc 0 "exec with stdin"; expect_out "2" "exec reads stdin"
t_in "$WORK/two-lines" exec -i cli-a -- cat; expect_out $'one\ntwo' "exec -i"
t exec --timeout 0.5 --json cli-a -- sleep 10; expect_json '.timed_out == true and .wall_ms < 9000' "exec --timeout"
t exec --timeout 0 cli-a true; expect_rc 125 "exec --timeout 0"
t exec --output 10 --json cli-a -- echo 0123456789abcdef; expect_json '.truncated == true' "exec --output"
t exec --json cli-a -- sh -c 'printf "\377\376ok"; exit 5'; expect_rc 5 "exec --json binary"
expect_json '.exit_code == 5 and (.stdout|endswith("ok"))' "exec --json binary output is still JSON"
t exec --bogus cli-a true; expect_rc 125 "exec --bogus"; expect_err "unknown option --bogus for 'exec'" "exec --bogus"
t exec cli-a; expect_rc 125 "exec without CMD"

log "== cp"
head -c $((20 << 20)) /dev/urandom >"$WORK/big"
chmod 0640 "$WORK/big"
t cp "$WORK/big" cli-a:/workspace/big; expect_rc 0 "cp in 20 MiB"
t fs cli-a stat --json /workspace/big; expect_json '.size == 20971520 and .mode == "0640"' "cp in keeps size and mode"
t cp cli-a:/workspace/big "$WORK/big.out"; expect_rc 0 "cp out 20 MiB"
cmp "$WORK/big" "$WORK/big.out" || fail "cp round trip changed the bytes"; ok
t_in "$WORK/big" cp - cli-a:/workspace/from-stdin; expect_rc 0 "cp from stdin"
set +e; islet cp cli-a:/workspace/from-stdin - >"$WORK/big.stdout" 2>"$ERRF"; RC=$?; set -e
expect_rc 0 "cp to stdout"
cmp "$WORK/big" "$WORK/big.stdout" || fail "cp via stdin/stdout changed the bytes"; ok
mkdir "$WORK/dir"
t cp "$WORK/two-lines" cli-a:/workspace/; expect_rc 0 "cp into a directory"
t cp --json cli-a:/workspace/two-lines "$WORK/dir"; expect_rc 0 "cp out into a directory"
expect_json ".size == 8 and .destination == \"$WORK/dir/two-lines\"" "cp --json"
cmp "$WORK/two-lines" "$WORK/dir/two-lines" || fail "cp into directories"; ok
t cp "$WORK/two-lines" "$WORK/x"; expect_rc 2 "cp host to host"; expect_err "must be ID:PATH" "cp host to host"
t cp cli-a:/a cli-b:/b; expect_rc 2 "cp sandbox to sandbox"
t cp "$WORK/no-such-file" cli-a:/workspace/x; expect_rc 1 "cp of a missing host file"
t cp cli-a:/workspace/no-such-file "$WORK/x"; expect_rc 1 "cp of a missing sandbox file"
[[ ! -e $WORK/x ]] || fail "a failed cp left a file"; ok
ls "$WORK" | grep -q islet- && fail "a failed cp left a temporary file"; ok
t cp nope:/x "$WORK/x"; expect_rc 1 "cp from a missing sandbox"; expect_err "no sandbox 'nope'" "cp nope"
t cp a b c; expect_rc 2 "cp with 3 arguments"

log "== fs"
printf 'line one\nline two\n\ttabbed\n' >"$WORK/text"
t fs cli-a write --content "$(cat "$WORK/text")"$'\n' /workspace/sub/text.txt; expect_rc 0 "fs write --content"
t fs cli-a read /workspace/sub/text.txt; expect_rc 0 "fs read"
cmp "$WORK/text" "$OUTF" || fail "fs write/read round trip of multi-line text"; ok
t fs cli-a read --json /workspace/sub/text.txt
expect_json '.encoding == "utf-8" and .content == "line one\nline two\n\ttabbed\n" and .size == 26' "fs read --json text"
head -c 65536 /dev/urandom >"$WORK/bin"; printf '\0\0\377' >>"$WORK/bin"
t_in "$WORK/bin" fs cli-a write --mode 0600 bin.dat; expect_rc 0 "fs write from stdin, relative path"
t fs cli-a read /workspace/bin.dat; expect_rc 0 "fs read binary"
cmp "$WORK/bin" "$OUTF" || fail "fs write/read round trip of binary content"; ok
t fs --json cli-a read /workspace/bin.dat; expect_json '.encoding == "base64"' "fs read --json binary"
jq -r .content "$OUTF" | base64 -d >"$WORK/bin.b64" && cmp "$WORK/bin" "$WORK/bin.b64" || fail "base64 content"; ok
t fs cli-a read --max 100 /workspace/bin.dat; [[ $RC -ne 0 ]] || fail "fs read --max 100 of 64 KiB"; ok
t fs cli-a stat --json /workspace/bin.dat
expect_json '.mode == "0600" and .size == 65539 and .type == "file" and .is_dir == false' "fs stat --json"
t fs cli-a stat /workspace/bin.dat; expect_rc 0 "fs stat"; grep -q "^size *65539$" "$OUTF" || fail "fs stat text"; ok
t fs cli-a mkdir --mode 0700 /workspace/d; expect_rc 0 "fs mkdir --mode"
t fs cli-a stat --json /workspace/d; expect_json '.is_dir == true and .mode == "0700"' "fs mkdir mode"
t fs cli-a write --content x /workspace/d/inner/f; expect_rc 0 "fs write creates parents"
t fs cli-a ls; expect_rc 0 "fs ls (default /workspace)"
grep -q '^d.* /workspace/d$' "$OUTF" || fail "fs ls shows no /workspace/d"; ok
t fs cli-a ls --json /workspace; expect_json '[.entries[].path] | index("/workspace/d") != null' "fs ls --json"
expect_json '[.entries[].path] | index("/workspace/d/inner/f") == null' "fs ls depth 1"
t fs cli-a ls --json --depth 3 /workspace; expect_json '[.entries[].path] | index("/workspace/d/inner/f") != null' "fs ls --depth 3"
t fs cli-a mv /workspace/d /workspace/e; expect_rc 0 "fs mv"
t fs cli-a stat /workspace/d; expect_rc 1 "fs stat of a moved path"
t fs --json cli-a stat /workspace/d; expect_json '.error.kind == "not_found"' "fs stat --json not found"
t fs cli-a read /workspace/e/inner/f; expect_out "x" "fs mv keeps content"
t fs cli-a rm /workspace/e; [[ $RC -ne 0 ]] || fail "fs rm of a non-empty directory without -r"; ok
t fs cli-a rm -r /workspace/e; expect_rc 0 "fs rm -r"
t fs --json cli-a rm /workspace/bin.dat; expect_rc 0 "fs rm --json"; expect_json '.removed == "/workspace/bin.dat"' "fs rm --json"
t fs cli-a stat /workspace/bin.dat; expect_rc 1 "fs rm removed it"
t fs cli-a frob /x; expect_rc 2 "fs bad verb"; expect_err "'frob' is not an fs command" "fs bad verb"
t fs cli-a mkdir --mode 999 /workspace/z; expect_rc 2 "fs mkdir --mode 999"
t fs cli-a mv /a; expect_rc 2 "fs mv with one path"
t fs nope ls; expect_rc 1 "fs on a missing sandbox"

log "== stop, start, rm"
t fs cli-b write --content kept /workspace/keep; expect_rc 0 "write before stop"
t stop cli-b; expect_rc 0 "stop"
t info --json cli-b; expect_json '.state == "stopped" and .supervisor == 0' "stopped state"
t exec cli-b true; expect_rc 125 "exec on a stopped sandbox"
t fs cli-b read /workspace/keep; expect_rc 1 "fs on a stopped sandbox"
t stop cli-b; expect_rc 1 "stop a stopped sandbox"
t start --json cli-b; expect_rc 0 "start --json"; expect_json '.state == "running"' "start --json state"
t fs cli-b read /workspace/keep; expect_out "kept" "files survive stop and start"
t start cli-b; expect_rc 1 "start a running sandbox"
t stop --json cli-b; expect_rc 0 "stop --json"; expect_json '.state == "stopped"' "stop --json state"
t rm cli-a; expect_rc 1 "rm of a running sandbox without -f"; expect_err "running" "rm without -f"
t rm cli-b; expect_rc 0 "rm of a stopped sandbox"; expect_out "$B" "rm prints the id"
t rm --json -f cli-a nope; expect_rc 1 "rm -f with one missing"
expect_json ".removed == [\"$A\"] and .error.kind == \"not_found\"" "rm --json"
t create --name cli-c; C=$(cat "$OUTF")
t rm -f --json "$C"; expect_rc 0 "rm -f --json"; expect_json ".removed == [\"$C\"]" "rm -f --json"

log "== nothing is left"
t ls --json; expect_json '.sandboxes == []' "ls is empty after cleanup"
t ls; expect_out "ID            NAME  STATE    CREATED" "ls table is empty after cleanup"

log "$PASSED checks"
pass
