"""git in CLI mode: git runs inside the sandbox through `islet exec`, as
isletd's /git routes run it, and its output is read the same way."""
from .errors import GitError, NotFoundError
from .types import GitBranches, GitFileStatus, GitStatus

# Credentials travel in the environment of one exec, never in argv or
# .git/config: a GIT_ASKPASS helper made for this run (0700, in the
# sandbox's /tmp) hands them to git and is removed when the run ends.
_WITH_CREDENTIALS = r"""
askpass=$(umask 077 && mktemp /tmp/.islet-askpass.XXXXXX) || exit 125
trap 'rm -f -- "$askpass"' EXIT
cat >"$askpass" <<'HELPER'
#!/bin/sh
case "$1" in
  [Uu]sername*) printf '%s\n' "$ISLET_GIT_USERNAME" ;;
  *) printf '%s\n' "$ISLET_GIT_PASSWORD" ;;
esac
HELPER
chmod 700 "$askpass" || exit 125
GIT_ASKPASS=$askpass git -c credential.helper= "$@"
"""

_STATES = {" ": "Unmodified", "?": "Untracked", "M": "Modified", "A": "Added", "D": "Deleted",
           "R": "Renamed", "C": "Copied", "U": "Updated but unmerged", "!": "Ignored",
           "T": "Modified"}

NETWORK_TIMEOUT = 300  # clone, push, pull: seconds


class Git:
    """git operations over `execute(argv, env, timeout) -> ExecResult`."""

    def __init__(self, execute):
        self.execute = execute

    def run(self, op, path, args, env=None, username=None, password=None, timeout=None):
        envs = {"GIT_TERMINAL_PROMPT": "0"}
        envs.update(env or {})
        argv = ["git"]
        if username or password:
            argv = ["sh", "-c", _WITH_CREDENTIALS, "islet-git"]
            envs["ISLET_GIT_USERNAME"] = username or ""
            envs["ISLET_GIT_PASSWORD"] = password or ""
        if path:
            argv += ["-C", path]
        r = self.execute(argv + args, envs, timeout)
        if r.exit_code != 0:
            raise _failure(op, r)
        return r.stdout

    def clone(self, url, path, branch, commit_id, username, password, depth):
        args = ["clone", "-q"]
        if branch:
            args += ["--branch", branch]
        if depth:
            args += ["--depth", str(int(depth))]
        self.run("clone", None, args + ["--", url, path], username=username, password=password,
                 timeout=NETWORK_TIMEOUT)
        if commit_id:
            self.run("checkout", path, ["checkout", "-q", "--detach", commit_id, "--"])

    def status(self, path):
        return parse_status(self.run("status", path, ["status", "--porcelain=v1", "-b", "-z"]))

    def add(self, path, files):
        self.run("add", path, ["add", "--"] + list(files))

    def commit(self, path, message, author, email, allow_empty):
        env = {}
        if author:
            env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = author
        if email:
            env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = email
        args = ["commit", "-q"] + (["--allow-empty"] if allow_empty else []) + ["-m", message]
        self.run("commit", path, args, env)
        return self.run("rev-parse", path, ["rev-parse", "HEAD"]).strip()

    def branches(self, path):
        out = self.run("branch", path, ["branch", "--format=%(HEAD)%(refname:short)"])
        names, current = [], None
        for line in out.splitlines():
            if len(line) >= 2:
                names.append(line[1:])
                if line[0] == "*":
                    current = line[1:]
        return GitBranches(branches=names, current=current)

    def create_branch(self, path, name):
        self.run("branch", path, ["branch", "--", name])

    def checkout(self, path, branch):
        self.run("checkout", path, ["checkout", "-q", branch, "--"])

    def push(self, path, username, password, branch, remote, set_upstream):
        args = ["push", "-q"] + (["--set-upstream"] if set_upstream else [])
        self.run("push", path, args + _remote(remote, branch), username=username,
                 password=password, timeout=NETWORK_TIMEOUT)

    def pull(self, path, username, password, branch, remote):
        self.run("pull", path, ["pull", "-q"] + _remote(remote, branch), username=username,
                 password=password, timeout=NETWORK_TIMEOUT)


def _remote(remote, branch):
    """`[remote [branch]]`, origin when only a branch is given."""
    if not (remote or branch):
        return []
    return [remote or "origin"] + ([branch] if branch else [])


def parse_status(out):
    """`git status --porcelain=v1 -b -z` as a GitStatus."""
    st = GitStatus(current_branch="", files=[])
    fields = out.split("\0")
    i = 0
    while i < len(fields):
        e = fields[i]
        i += 1
        if e.startswith("## "):
            _header(st, e[3:])
            continue
        if len(e) < 4 or e[2] != " " or e[0] not in _STATES or e[1] not in _STATES:
            continue
        f = GitFileStatus(name=e[3:], staging=_STATES[e[0]], worktree=_STATES[e[1]])
        if "R" in e[:2] or "C" in e[:2]:
            f.extra = fields[i] if i < len(fields) else ""
            i += 1
        st.files.append(f)
    return st


def _header(st, h):
    """'main...origin/main [ahead 1, behind 2]', 'HEAD (no branch)',
    'No commits yet on main'."""
    if h.startswith("No commits yet on "):
        h = h[len("No commits yet on "):]
    if h.startswith("HEAD (no branch)"):
        st.current_branch, st.detached = "HEAD", True
        return
    branch, _, rest = h.partition(" ")
    if "..." in branch:
        branch, st.upstream = branch.split("...", 1)
    st.current_branch = branch
    if rest.startswith("[") and rest.endswith("]"):
        for part in rest[1:-1].split(", "):
            key, _, n = part.partition(" ")
            if key in ("ahead", "behind") and n.isdigit():
                setattr(st, key, int(n))


def _failure(op, r):
    err = (r.stderr or "").strip() or (r.stdout or "").strip()
    why = err.splitlines()[-1] if err else "exit status %d" % r.exit_code
    message = "git %s: %s" % (op, why)
    if "not a git repository" in err or "cannot change to" in err:
        return NotFoundError(message, 404, "GIT_REPO_NOT_FOUND")
    if any(s in err for s in ("Authentication failed", "could not read Username",
                              "could not read Password")):
        return GitError(message, 401, "GIT_AUTH_FAILED")
    return GitError(message, 400, "GIT_OPERATION_FAILED")
