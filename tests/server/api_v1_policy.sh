#!/usr/bin/env bash
# The Python import policy of /v1/execute holds against code that reaches
# around its syntax check: attribute chains through an allowed module
# (json.codecs.sys.modules['o'+'s']), builtins found that way, threads,
# exec of a string, a built-in module made anew, tracing, code objects
# rewritten.  Each attack runs for real in a kept sandbox under the key's
# policy; each must be refused by the audit hook, and what it would have
# done must not have happened (the files it would make or remove are
# checked from outside, with the CLI).
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"
srv_init

j () { printf '%s' "$BODY" | jq -r "$1"; }

api PUT /v1/config -d '{"allowed_imports": ["json", "math", "threading", "socket", "ctypes", "sqlite3"]}'
expect_code "the key's policy" 200
api POST /v1/sandbox -d '{"language": "python"}'
expect_code "a kept sandbox" 200
kept=$(j .sandbox_id)
[[ "$kept" =~ ^[0-9a-f]{12}$ ]] || fail "no sandbox id: $BODY"
# inside ARGS...: a command in the kept sandbox, as the operator (no policy)
inside () { islet exec "$kept" -- "$@" </dev/null; }
inside sh -c 'echo keep >/workspace/keep' || fail "seed /workspace/keep"

# attack NAME WANT CODE: CODE, run under the policy, is refused with WANT in
# its stderr and prints nothing after the refused call
attack () {
  local name=$1 want=$2 code=$3
  api POST /v1/execute -d "$(jq -n --arg s "$kept" --arg c "$code" '{sandbox_id: $s, code: $c}')"
  expect_code "$name" 200
  [[ "$(j .stderr)" == *"$want"* ]] || fail "$name: not refused with '$want': $BODY"
  [[ "$(j .stdout)" != *DONE* ]] || fail "$name: the code went on past the refused call: $BODY"
  [[ "$(j .status)" != error || "$(j .stderr)" != *"was not run"* ]] \
    || fail "$name: stopped by the syntax check, not tried for real: $BODY"
}

log "the two bypasses of the syntax check, refused at run time"
attack "os.popen through json.codecs.sys" "islet policy" 'import json
os = json.codecs.sys.modules["o" + "s"]
print(os.popen("touch /workspace/by-popen").read(), "DONE")'
attack "open for write through json.codecs.builtins" "islet policy: opening /workspace/by-open for writing" 'import json
b = json.codecs.builtins.__dict__
b["op" + "en"]("/workspace/by-open", "w").write("x")
print("DONE")'

log "processes"
attack "os.system" "islet policy: os.system is not allowed" 'import json
json.codecs.sys.modules["o" + "s"].system("touch /workspace/by-system")
print("DONE")'
attack "os.fork and exec" "islet policy: os.fork is not allowed" 'import json
os = json.codecs.sys.modules["o" + "s"]
if os.fork() == 0:
    os.execv("/usr/bin/touch", ["touch", "/workspace/by-fork"])
print("DONE")'
attack "os.posix_spawn" "islet policy: os.posix_spawn is not allowed" 'import json
os = json.codecs.sys.modules["o" + "s"]
os.posix_spawn("/usr/bin/touch", ["touch", "/workspace/by-spawn"], {})
print("DONE")'
attack "__import__ of subprocess through builtins" "islet policy: import of subprocess is not allowed" 'import json
sp = json.codecs.builtins.__dict__["__imp" + "ort__"]("subprocess")
sp.run(["touch", "/workspace/by-subprocess"])
print("DONE")'
attack "exec of a string" "islet policy: import of subprocess is not allowed" 'import json
json.codecs.builtins.__dict__["ex" + "ec"]("import subprocess; subprocess.run([\"touch\", \"/workspace/by-exec\"])")
print("DONE")'
attack "_posixsubprocess made anew" "islet policy: the module _posixsubprocess is never loaded" 'import json
s = json.codecs.sys
ps = s.modules["_imp"].create_builtin(type(s.implementation)(name="_posixsubprocess"))
print(ps, "DONE")'
attack "os.system from a thread" "islet policy: os.system is not allowed" 'import json, threading
os = json.codecs.sys.modules["o" + "s"]
err = []
def run():
    try:
        os.system("touch /workspace/by-thread")
    except Exception as e:
        err.append(e)
t = threading.Thread(target=run)
t.start()
t.join()
raise err[0]'

log "files"
attack "os.open with O_CREAT" "islet policy: opening /workspace/by-os-open for writing" 'import json
os = json.codecs.sys.modules["o" + "s"]
os.__dict__["op" + "en"]("/workspace/by-os-open", os.O_WRONLY | os.O_CREAT)
print("DONE")'
attack "writing under /tmp too" "islet policy: opening /tmp/by-tmp for writing" 'import json
json.codecs.builtins.__dict__["op" + "en"]("/tmp/by-tmp", "a")
print("DONE")'
attack "os.remove" "islet policy: os.remove is not allowed" 'import json
json.codecs.sys.modules["o" + "s"].remove("/workspace/keep")
print("DONE")'
attack "os.rename" "islet policy: os.rename is not allowed" 'import json
json.codecs.sys.modules["o" + "s"].rename("/workspace/keep", "/workspace/by-rename")
print("DONE")'
attack "os.mkdir" "islet policy: os.mkdir is not allowed" 'import json
json.codecs.sys.modules["o" + "s"].mkdir("/workspace/by-mkdir")
print("DONE")'
attack "os.mkfifo (no audit event)" "has no attribute 'mkfifo'" 'import json
json.codecs.sys.modules["o" + "s"].mkfifo("/workspace/by-mkfifo")
print("DONE")'
attack "posix made anew, for its mknod" "islet policy: the module posix is never loaded" 'import json
s = json.codecs.sys
p = s.modules["_imp"].create_builtin(s.modules["posix"].__spec__)
p.mknod("/workspace/by-mknod")
print("DONE")'
attack "_imp made anew" "islet policy: the module _imp is never loaded" 'import json
s = json.codecs.sys
i = s.modules["_imp"].create_builtin(type(s.implementation)(name="_imp"))
print(i, "DONE")'

attack "sqlite3, whose files are written without an open event" "islet policy: sqlite3.connect is not allowed" 'import sqlite3
sqlite3.connect("/workspace/by-sqlite").execute("create table t (x)")
print("DONE")'
attack "shared memory made by _posixshmem" "islet policy: the module _posixshmem is never loaded" 'import json
shm = json.codecs.builtins.__dict__["__imp" + "ort__"]("_posixshmem")
shm.shm_open("/by-shm", 0o102, 0o600)
print("DONE")'

log "sockets and native code"
attack "a socket" "islet policy: socket.__new__ is not allowed" 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
print("DONE")'
attack "ctypes, on the list" "islet policy: the module ctypes is never loaded" 'import ctypes
ctypes.CDLL(None).system(b"touch /workspace/by-ctypes")
print("DONE")'
attack "_ctypes under an allowed package's name" "islet policy: the module json._ctypes is never loaded" 'import json
s = json.codecs.sys
imp = s.modules["_imp"]
so = [p for p in s.path if p.endswith("lib-dynload")][0] + "/_ctypes" + imp.extension_suffixes()[0]
print(imp.create_dynamic(type(s.implementation)(name="json._ctypes", origin=so)), "DONE")'

log "the hook itself"
attack "sys.settrace" "islet policy: sys.settrace is not allowed" 'import json
json.codecs.sys.settrace(lambda *a: None)
print("DONE")'
attack "a code object rewritten" "islet policy: code.__new__ is not allowed" 'import json
c = (lambda: 0).__code__.replace(co_consts=(1,))
print("DONE")'
attack "marshal.loads" "islet policy: marshal.loads is not allowed" 'import json
m = json.codecs.sys.modules["marshal"]
m.loads(m.dumps((lambda: 0).__code__))
print("DONE")'
attack "the guard's defaults" "islet policy: reading the guard is not allowed" 'import json
print(json.codecs.sys.modules["_imp"].create_builtin.__defaults__, "DONE")'
attack "gc, to find the hook" "islet policy" 'import json
gc = json.codecs.builtins.__dict__["__imp" + "ort__"]("gc")
print(len(gc.get_objects()), "DONE")'

log "nothing any of them would have done happened"
listing=$(inside sh -c 'ls -A /workspace /tmp /dev/shm; cat /workspace/keep') || fail "list the sandbox"
[[ "$listing" != *by-* ]] || fail "an attack left its mark: $listing"
[[ "$listing" == *keep*keep* ]] || fail "/workspace/keep was changed: $listing"

log "allowed code runs as before under the guard"
api POST /v1/execute -d "$(jq -n --arg s "$kept" '{sandbox_id: $s, code: "import json, math, threading\nt = threading.Thread(target=lambda: None)\nt.start(); t.join()\nprint(json.dumps({\"floor\": math.floor(2.5)}))\nprint(__name__)"}')"
expect_eq "an allowed program" "$(j .stdout)" $'{"floor": 2}\n__main__'
expect_eq "its status" "$(j .status)" completed

log "the default deny-list (enable_ast_validation) is guarded the same way"
api POST /v1/execute -d "$(jq -n '{code: "import json\njson.codecs.sys.modules[\"o\" + \"s\"].system(\"true\")\nprint(\"DONE\")", config: {enable_ast_validation: true, allowed_imports: null}}')"
[[ "$(j .stderr)" == *"islet policy: os.system is not allowed"* ]] || fail "deny-list: os.system through json ran: $BODY"
api POST /v1/execute -d "$(jq -n '{code: "import json\njson.codecs.builtins.__dict__[\"__imp\" + \"ort__\"](\"shutil\")\nprint(\"DONE\")", config: {enable_ast_validation: true, allowed_imports: null}}')"
[[ "$(j .stderr)" == *"islet policy: import of shutil is not allowed"* ]] || fail "deny-list: shutil through builtins: $BODY"
api POST /v1/execute -d "$(jq -n '{code: "import json, decimal\nprint(decimal.Decimal(\"0.1\") * 3)", config: {enable_ast_validation: true, allowed_imports: null}}')"
expect_eq "deny-list: other modules run" "$(j .stdout)" 0.3

api DELETE "/v1/sandbox/$kept"
expect_code "delete the kept sandbox" 200
pass
