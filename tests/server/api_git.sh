#!/usr/bin/env bash
# Git through isletd (/git/...), git running inside the sandbox: clone of a
# bare repository made in the same sandbox (a path; the network is
# loopback only), status parsed from porcelain, add, commit (the hash is
# `git rev-parse HEAD` in the sandbox, author and message as asked), push
# (the bare repository has it), pull (a second clone's commit arrives),
# branches list/create/delete, checkout, clone with branch, depth and
# commit_id; a clone of a URL fails with git's reason; credentials reach
# git through the askpass helper (a small HTTP server in the sandbox sees
# them) and are left nowhere: not in .git/config, no helper file after.
# Needs root.  Exit 0 pass, 1 fail, 77 skip.
#   ISLET_BIN=build/islet bash tests/server/api_git.sh
source "$(dirname "$0")/../lib/integration.sh"
source "$(dirname "$0")/../lib/server.sh"

srv_init

api POST /api/sandbox -d '{"name":"git"}'; expect_code "create" 200
A=$(jq -r .id <<<"$BODY"); remember_id "$A"
G="/toolbox/$A/git"

# sb_sh SCRIPT: bash in the sandbox through the CLI; stdout printed
sb_sh () { islet exec "$A" -- bash -c "$1"; }
# gpost ROUTE JSON
gpost () { api POST "$G/$1" -H 'Content-Type: application/json' -d "$2"; }

log "== a bare repository in the sandbox"
sb_sh 'set -e; git init -q --bare -b main /tmp/origin.git; git init -q -b main /tmp/seed; cd /tmp/seed
  echo hi >a.txt; git add a.txt; git -c user.name=seed -c user.email=seed@x commit -qm first
  echo two >>a.txt; git -c user.name=seed -c user.email=seed@x commit -qam second
  git push -q /tmp/origin.git main' || fail "seed the bare repository"
FIRST=$(sb_sh 'git -C /tmp/seed rev-parse HEAD~1')
SECOND=$(sb_sh 'git -C /tmp/seed rev-parse HEAD')

log "== clone, status"
gpost clone '{"url":"/tmp/origin.git","path":"repo"}'; expect_code "clone a path" 200
[[ $(sb_sh 'cat /workspace/repo/a.txt') == $'hi\ntwo' ]] || fail "clone: a.txt"
api GET "$G/status?path=repo"; expect_code "status" 200
expect_body "status: clean" '.currentBranch == "main" and .fileStatus == [] and .ahead == 0 and .behind == 0 and .upstream == "origin/main" and .branchPublished == true'
sb_sh 'cd /workspace/repo && echo new >"b c.txt" && echo more >>a.txt && git mv -k a.txt a.txt' >/dev/null
api GET "$G/status?path=/workspace/repo"; expect_code "status, changed" 200
expect_body "status: untracked and modified" '(.fileStatus | map({(.name): [.staging, .worktree]}) | add) == {"a.txt":["Unmodified","Modified"],"b c.txt":["Untracked","Untracked"]}'

log "== add, commit"
gpost add '{"path":"repo","files":["a.txt","b c.txt"]}'; expect_code "add" 200
api GET "$G/status?path=repo"
expect_body "status: staged" '(.fileStatus | map({(.name): [.staging, .worktree]}) | add) == {"a.txt":["Modified","Unmodified"],"b c.txt":["Added","Unmodified"]}'
gpost commit '{"path":"repo","message":"third: with \"quotes\"","author":"Ada L","email":"ada@example.com"}'
expect_code "commit" 200
H=$(jq -r .hash <<<"$BODY")
[[ "$H" =~ ^[0-9a-f]{40}$ ]] || fail "commit: hash '$H'"
[[ $(sb_sh 'git -C /workspace/repo log -1 --format=%H') == "$H" ]] || fail "commit: the hash is not HEAD's"
[[ $(sb_sh 'git -C /workspace/repo log -1 --format="%an|%ae|%s"') == 'Ada L|ada@example.com|third: with "quotes"' ]] \
  || fail "commit: author or message"
api GET "$G/status?path=repo"; expect_body "status: ahead 1" '.ahead == 1 and .behind == 0 and .fileStatus == []'
gpost commit '{"path":"repo","message":"nothing","author":"a","email":"a@b"}'; expect_error "commit nothing" 400
gpost commit '{"path":"repo","message":"empty","author":"a","email":"a@b","allow_empty":true}'; expect_code "allow_empty" 200
H=$(jq -r .hash <<<"$BODY")

log "== push, pull"
gpost push '{"path":"repo"}'; expect_code "push" 200
[[ $(sb_sh 'git --git-dir=/tmp/origin.git rev-parse main') == "$H" ]] || fail "push: the bare repository's main"
gpost clone '{"url":"/tmp/origin.git","path":"/workspace/other"}'; expect_code "second clone" 200
sb_sh 'cd /workspace/other && echo x >x.txt && git add x.txt && git -c user.name=o -c user.email=o@x commit -qm other' >/dev/null
gpost push '{"path":"/workspace/other","remote":"origin","branch":"main"}'; expect_code "push with remote and branch" 200
OTHER=$(sb_sh 'git -C /workspace/other rev-parse HEAD')
gpost pull '{"path":"repo"}'; expect_code "pull" 200
[[ $(sb_sh 'git -C /workspace/repo rev-parse HEAD') == "$OTHER" ]] || fail "pull: repo is not at the other clone's commit"

log "== branches, checkout"
api GET "$G/branches?path=repo"; expect_code "branches" 200
expect_body "branches" '.branches == ["main"] and .current == "main"'
gpost branches '{"path":"repo","name":"feature/x"}'; expect_code "create branch" 200
api GET "$G/branches?path=repo"; expect_body "branches: two" '(.branches | sort) == ["feature/x","main"]'
gpost checkout '{"path":"repo","branch":"feature/x"}'; expect_code "checkout" 200
api GET "$G/status?path=repo"; expect_body "status: on the branch" '.currentBranch == "feature/x"'
gpost checkout '{"path":"repo","branch":"main"}'; expect_code "checkout main" 200
api DELETE "$G/branches" -H 'Content-Type: application/json' -d '{"path":"repo","name":"feature/x"}'
expect_code "delete branch" 200
api GET "$G/branches?path=repo"; expect_body "branches: one again" '.branches == ["main"]'
gpost checkout '{"path":"repo","branch":"--orphan"}'; expect_error "an option as a branch" 400
gpost checkout '{"path":"repo","branch":"nope"}'; expect_error "checkout a missing branch" 400

log "== clone with branch, depth, commit_id"
gpost clone '{"url":"file:///tmp/origin.git","path":"shallow","branch":"main","depth":1}'; expect_code "shallow clone" 200
[[ $(sb_sh 'git -C /workspace/shallow rev-list --count HEAD') == 1 ]] || fail "depth 1: more than one commit"
gpost clone "{\"url\":\"/tmp/origin.git\",\"path\":\"old\",\"commit_id\":\"$FIRST\"}"; expect_code "clone at a commit" 200
[[ $(sb_sh 'git -C /workspace/old rev-parse HEAD') == "$FIRST" ]] || fail "commit_id: HEAD"
api GET "$G/status?path=old"; expect_body "status: detached" '.detached == true'
[[ -n "$SECOND" ]] || fail "no second commit"

log "== errors"
gpost clone '{"url":"https://github.com/git/git.git","path":"net"}'
[[ "$CODE" =~ ^[45] ]] || fail "clone of a URL: status $CODE"
log "clone of a URL: $CODE $(jq -r .message <<<"$BODY")"
expect_body "clone of a URL: the cause" '(.message | test("resolve host|unable to access|network"; "i")) and .code == "GIT_NETWORK_ERROR"'
gpost clone '{"url":"/tmp/none.git","path":"none"}'; expect_error "clone of a missing path" 400
api GET "$G/status?path=/tmp"; expect_error "status outside a repository" 404
api GET "$G/status"; expect_error "status without a path" 400
gpost add '{"path":"repo","files":[]}'; expect_error "add nothing" 400

log "== credentials: through askpass, kept nowhere"
cat >"$STATE.srv.py" <<'EOF'
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        a = self.headers.get("Authorization")
        if a:
            open("/tmp/auth.txt", "a").write(a + "\n")
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="t"')
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", 8765), H).serve_forever()
EOF
islet cp "$STATE.srv.py" "$A:/tmp/srv.py" || fail "copy the test server in"
sb_sh 'setsid -f python3 /tmp/srv.py </dev/null >/dev/null 2>&1'
for (( i = 0; i < 50; i++ )); do
  sb_sh 'exec 3<>/dev/tcp/127.0.0.1/8765' 2>/dev/null && break; sleep 0.1
done
(( i < 50 )) || fail "the test HTTP server did not start in the sandbox"
gpost clone '{"url":"http://127.0.0.1:8765/r.git","path":"cred","username":"alice","password":"s3cr3t pass"}'
expect_error "clone refused by the server" 401
expect_body "auth failure code" '.code == "GIT_AUTH_FAILED"'
log "refused: $(jq -r .message <<<"$BODY")"
[[ $(sb_sh 'cat /tmp/auth.txt') == *"Basic $(printf 'alice:s3cr3t pass' | base64)"* ]] \
  || fail "the server did not get the credentials: $(sb_sh 'cat /tmp/auth.txt')"
[[ -z $(sb_sh 'ls -a /tmp | grep islet-askpass || true') ]] || fail "the askpass helper was left behind"
gpost push '{"path":"repo","username":"bob","password":"p4ss-in-push"}'; expect_code "push with credentials" 200
sb_sh '! grep -rq -e s3cr3t -e p4ss-in-push /workspace/repo/.git/config /workspace/*/.git/config 2>/dev/null' \
  || fail "a password is in a .git/config"
! grep -aq -e s3cr3t -e p4ss-in-push "$STATE/isletd.db"* || fail "a password is in isletd's store"

pass
