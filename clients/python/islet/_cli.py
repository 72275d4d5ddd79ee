"""CLI mode: the local `islet` CLI, run with --json.

Every command of the user runs through `islet exec`, inside a sandbox, with
the same isolation as in server mode: this module never runs user code as
a plain host process.  islet runs as root.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile

from ._git import Git
from ._words import command_words
from .errors import BadRequestError, ExecTimeout, IsletConnectionError, IsletError, error_for_kind
from .types import ExecResult, FileInfo

CODE_RUNNERS = {"python": ["python3", "-u", "-"], "javascript": ["node", "-"]}
LANGUAGES = ("python", "javascript", "typescript")
CLI_TIMEOUT = 120  # seconds for a command of islet itself (create, fs, rm...)
TRANSFER_TIMEOUT = 3600  # cp of a large file
EXEC_MAX = 86400  # an exec with no timeout ends at the sandbox's own limit
_STATES = {"running": "started"}  # as isletd (Daytona) says it


def find_cli(path=None):
    """The islet binary: path, else $ISLET_BIN, else `islet` in PATH."""
    found = path or os.environ.get("ISLET_BIN") or shutil.which("islet")
    if not found or not os.access(found, os.X_OK):
        raise IsletConnectionError(
            "no isletd and no islet CLI: set ISLET_URL (and ISLET_API_KEY) for a server, "
            "or put islet in PATH or its path in ISLET_BIN", None, "NO_BACKEND")
    return found


class CliBackend:
    mode = "cli"

    def __init__(self, binary=None, state_dir=None):
        self.bin = find_cli(binary)
        self.state_dir = state_dir or os.environ.get("ISLET_STATE_DIR")
        # what the CLI does not keep: the env and language given at create
        self._env = {}
        self._language = {}

    def _run(self, args, data=b"", timeout=CLI_TIMEOUT):
        argv = [self.bin] + (["--state-dir", self.state_dir] if self.state_dir else []) + args
        try:
            p = subprocess.run(argv, input=data, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise IsletError("islet %s gave no answer within %d s" % (args[0], timeout)) from None
        except OSError as e:
            raise IsletConnectionError("cannot run %s: %s" % (self.bin, e)) from None
        try:
            j = json.loads(p.stdout)
        except ValueError:
            why = p.stderr.decode(errors="replace").strip()[-400:]
            raise IsletError("islet %s failed (status %d): %s" % (args[0], p.returncode, why),
                             500) from None
        if isinstance(j, dict) and isinstance(j.get("error"), dict):
            e = j["error"]
            raise error_for_kind(e.get("kind"), e.get("message", "islet %s failed" % args[0]))
        return j

    # ---- sandboxes ----

    def create(self, language, name, env, labels, cpu, memory_gb, disk_gb, network, extra):
        if language not in LANGUAGES:
            raise BadRequestError("language must be one of %s" % ", ".join(LANGUAGES), 400)
        args = ["create", "--json"]
        if name:
            args += ["--name", name]
        if cpu is not None:
            args += ["--cpus", str(cpu)]
        if memory_gb is not None:
            args += ["--memory", str(int(memory_gb * 1024))]
        if disk_gb is not None:
            args += ["--disk", str(int(disk_gb * 1024))]
        if network is not None:
            if network["mode"] is not None:
                args += ["--network", network["mode"]]
            for entry in network["allow"]:
                args += ["--allow", entry]
        info = self._run(args)
        self._env[info["id"]] = dict(env or {})
        self._language[info["id"]] = language
        return self._sandbox(info, labels)

    def _sandbox(self, info, labels=None):
        sid = info["id"]
        state = info.get("state")
        return {"id": sid, "name": info.get("name", sid), "state": _STATES.get(state, state),
                "language": self._language.get(sid, "python"), "labels": dict(labels or {}),
                "env": dict(self._env.get(sid, {})), "raw": info, "network": info.get("network")}

    def get(self, ref):
        return self._sandbox(self._run(["info", ref, "--json"]))

    def list(self):
        return [self._sandbox(s) for s in self._run(["ls", "--json"]).get("sandboxes", [])]

    def delete(self, sid):
        self._run(["rm", "-f", "--json", sid])
        self._env.pop(sid, None)
        self._language.pop(sid, None)

    # ---- processes ----

    def execute(self, sid, command, cwd, env, timeout, stdin=b""):
        args = ["exec", sid, "--json"]
        if cwd is not None:
            args += ["--cwd", cwd]
        merged = dict(self._env.get(sid, {}))
        merged.update(env or {})
        for k, v in merged.items():
            args += ["-e", "%s=%s" % (k, v)]
        if timeout is not None:
            args += ["--timeout", str(timeout)]
        wait = (timeout or EXEC_MAX) + CLI_TIMEOUT
        j = self._run(args + ["--"] + command_words(command), stdin, wait)
        if j.get("timed_out"):
            raise ExecTimeout("the command timed out after %s s" % (timeout or "the sandbox's limit"),
                              408, "PROCESS_EXECUTION_TIMEOUT")
        out, err = j.get("stdout", ""), j.get("stderr", "")
        output = out + err
        if not output and isinstance(j.get("error"), str):
            output = j["error"] + "\n"  # not found, not executable: say why, as isletd does
        return ExecResult(exit_code=j["exit_code"], output=output, stdout=out, stderr=err,
                          truncated=bool(j.get("truncated")))

    def run_code(self, sid, code, language, timeout):
        runner = CODE_RUNNERS.get(language)
        if runner is None:
            raise BadRequestError("language '%s' cannot run here (python and javascript can)"
                                  % language, 400)
        # the program goes on stdin, never on a command line
        return self.execute(sid, runner, None, None, timeout, code.encode())

    # ---- files ----

    def read_file(self, sid, path):
        j = self._run(["fs", sid, "read", "--json", path])
        if j.get("encoding") == "base64":
            return base64.b64decode(j["content"])
        return j["content"].encode()

    def write_file(self, sid, path, data, mode):
        args = ["fs", sid, "write", "--json"] + (["--mode", "%o" % mode] if mode is not None else [])
        self._run(args + [path], data)

    def delete_file(self, sid, path, recursive):
        self._run(["fs", sid, "rm"] + (["-r"] if recursive else []) + ["--json", path])

    def list_files(self, sid, path):
        return [_file_info(e) for e in self._run(["fs", sid, "ls", "--json", path])["entries"]]

    def file_info(self, sid, path):
        return _file_info(self._run(["fs", sid, "stat", "--json", path]))

    def upload(self, sid, local_path, remote_path):
        if not os.path.isfile(local_path):
            raise FileNotFoundError(local_path)
        self._run(["cp", "--json", os.path.abspath(local_path), "%s:%s" % (sid, remote_path)],
                  timeout=TRANSFER_TIMEOUT)

    def download(self, sid, remote_path, local_path):
        d = os.path.dirname(os.path.abspath(local_path))
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".islet-download.")
        os.close(fd)
        try:
            self._run(["cp", "--json", "%s:%s" % (sid, remote_path), tmp], timeout=TRANSFER_TIMEOUT)
            os.replace(tmp, local_path)
        except BaseException:
            os.unlink(tmp)
            raise

    # ---- text commands ----

    def run_text(self, sid, text, workspace_only):
        args = ["tool", sid, "-", "--json"] + (["--workspace-only"] if workspace_only else [])
        j = self._run(args, text.encode(), timeout=TRANSFER_TIMEOUT)
        return j["results"]

    # ---- git: run inside the sandbox by islet exec ----

    def _git(self, sid):
        return Git(lambda argv, env, timeout: self.execute(sid, argv, None, env, timeout))

    def git_clone(self, sid, url, path, branch, commit_id, username, password, depth):
        self._git(sid).clone(url, path, branch, commit_id, username, password, depth)

    def git_status(self, sid, path):
        return self._git(sid).status(path)

    def git_add(self, sid, path, files):
        self._git(sid).add(path, files)

    def git_commit(self, sid, path, message, author, email, allow_empty):
        return self._git(sid).commit(path, message, author, email, allow_empty)

    def git_branches(self, sid, path):
        return self._git(sid).branches(path)

    def git_create_branch(self, sid, path, name):
        self._git(sid).create_branch(path, name)

    def git_checkout(self, sid, path, branch):
        self._git(sid).checkout(path, branch)

    def git_push(self, sid, path, username, password, branch, remote, set_upstream):
        self._git(sid).push(path, username, password, branch, remote, set_upstream)

    def git_pull(self, sid, path, username, password, branch, remote):
        self._git(sid).pull(path, username, password, branch, remote)


def _file_info(e):
    try:
        mode = int(e.get("mode", "0"), 8)
    except ValueError:
        mode = 0
    return FileInfo(name=e.get("name", ""), path=e.get("path", ""), is_dir=bool(e.get("is_dir")),
                    size=e.get("size", 0), mode=mode, mtime=e.get("mtime"),
                    owner=str(e.get("uid", "")), group=str(e.get("gid", "")))
