"""Islet and Sandbox: the public API, the same over isletd and the CLI."""
import os

from .errors import BadRequestError, NotFoundError

DEFAULT_LANGUAGE = "python"


class Islet:
    """A connection to islet.

    With a URL (the argument, else $ISLET_URL) it talks to isletd's HTTP
    API with an API key (the argument, else $ISLET_API_KEY).  With neither
    it runs the local `islet` CLI ($ISLET_BIN, else `islet` in PATH) on the
    state directory `state_dir` (else $ISLET_STATE_DIR, else the CLI's
    default): the sandboxes are then as isolated as isletd's, since both
    use the same core.
    """

    def __init__(self, url=None, api_key=None, *, timeout=60, islet_bin=None, state_dir=None,
                 workspace_only=False):
        # the default of Sandbox.run_text's workspace_only, for an
        # application that promises its users a model reaches only /workspace
        self.workspace_only = bool(workspace_only)
        url = url or os.environ.get("ISLET_URL")
        if url:
            from ._http import HttpBackend

            key = api_key or os.environ.get("ISLET_API_KEY")
            if not key:
                from .errors import AuthError

                raise AuthError("an API key is needed with a server: pass api_key or set "
                                "ISLET_API_KEY", 401, "UNAUTHORIZED")
            self._backend = HttpBackend(url, key, timeout)
        else:
            from ._cli import CliBackend

            self._backend = CliBackend(islet_bin, state_dir)

    @property
    def mode(self):
        """'server' (isletd) or 'cli' (the local islet CLI)."""
        return self._backend.mode

    def create_sandbox(self, language=DEFAULT_LANGUAGE, name=None, env=None, labels=None,
                       cpu=None, memory_gb=None, disk_gb=None, network=None, allow=None, **extra):
        """A new, started sandbox.  `network` is its outbound network:
        "none" (loopback only), "all" (any public address) or "allow" (only
        `allow`, a list of IPv4 CIDRs and domain names such as "example.com"
        or "*.example.com"); `allow` alone means "allow", neither the
        server's default (none unless its operator chose otherwise).
        `extra` goes into the server's create body as it is (Daytona's
        names, e.g. autoStopInterval=15); the CLI mode takes none."""
        if extra and self.mode == "cli":
            raise TypeError("unexpected arguments in CLI mode: %s" % ", ".join(sorted(extra)))
        if isinstance(allow, str):
            raise TypeError("allow must be a list of CIDRs and domain names, not a string")
        net = None
        if network is not None or allow:
            net = {"mode": network, "allow": list(allow or [])}
        info = self._backend.create(language, name, env, labels, cpu, memory_gb, disk_gb, net,
                                    extra)
        return Sandbox(self._backend, info, self.workspace_only)

    def get_sandbox(self, id_or_name):
        return Sandbox(self._backend, self._backend.get(id_or_name), self.workspace_only)

    def list_sandboxes(self):
        return [Sandbox(self._backend, info, self.workspace_only) for info in self._backend.list()]


class _Deleted:
    """`with x:` deletes x at the end of the block, whatever happens in it
    (one already gone is no error)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.delete()
        except NotFoundError:
            pass
        return False


class Sandbox(_Deleted):
    """One sandbox.  `with islet.create_sandbox() as sb:` deletes it at the
    end of the block, whatever happens in it.  Relative paths are relative
    to the sandbox's working directory, /workspace."""

    def __init__(self, backend, info, workspace_only=False):
        self._b = backend
        self.workspace_only = workspace_only
        self.id = info["id"]
        self.name = info["name"]
        self.state = info["state"]
        self.language = info["language"]
        self.labels = info["labels"]
        self.env = info["env"]
        self.raw = info["raw"]
        # {"mode": "none"|"all"|"allow", "allow": [...]}, as islet keeps it
        self.network = info.get("network") or {"mode": "none", "allow": []}
        # the default of a command's timeout: the sandbox's own limit (None:
        # the CLI applies it itself)
        self._timeout = info.get("timeout")

    def __repr__(self):
        return "<Sandbox %s %r %s>" % (self.id, self.name, self.state)

    def refresh(self):
        info = self._b.get(self.id)
        self.state, self.raw = info["state"], info["raw"]
        self.network = info.get("network") or self.network
        return self

    def delete(self):
        self._b.delete(self.id)

    # ---- running ----

    def execute(self, command, cwd=None, env=None, timeout=None):
        """Run a command: a string split into words as Daytona does it
        (blanks, '...' and "..." quotes, no shell: write `sh -c "..."` for
        one), or a list of words.  Raises ExecTimeout past `timeout`
        seconds (default: the sandbox's limit, 30 s unless it was made with
        another); a non-zero exit is a result, not an exception."""
        return self._b.execute(self.id, command, cwd, env, self._timeout_of(timeout))

    def run_code(self, code, language=None, timeout=None):
        """Run a program (python or javascript; default the sandbox's
        language), given on stdin, never on a command line."""
        return self._b.run_code(self.id, code, language or self.language,
                                self._timeout_of(timeout))

    def create_context(self, cwd=None):
        """A stateful python interpreter in the sandbox (Daytona's
        codeInterpreter context): its variables, imports and working
        directory (`cwd`, default /workspace) last from one run() to the
        next.  `with sb.create_context() as ctx:` deletes it at the end.
        Server mode only: the CLI runs every program in a new process."""
        if self._b.mode == "cli":
            raise BadRequestError("a stateful interpreter needs isletd (Islet(url=...)): the "
                                  "islet CLI runs each program in a new process", 400)
        return Context(self._b, self.id, self._b.interp_create(self.id, cwd))

    def _timeout_of(self, timeout):
        return timeout if timeout is not None else self._timeout

    def run_text(self, text, workspace_only=None):
        """Run every command a model wrote in text (read file:PATH, write
        file:PATH content:..., <daytona-execute .../> blocks, ...; `islet
        tool --help` shows the forms), in order: one result dict per
        command, with "ok" and its "error" when it failed.  workspace_only
        (default: the Islet's) refuses a file command whose path is outside
        /workspace or has a symbolic link on the way."""
        if workspace_only is None:
            workspace_only = self.workspace_only
        return self._b.run_text(self.id, text, workspace_only)

    # ---- files ----

    def read_file(self, path):
        """A file's bytes, 10 MiB at most (LimitError above it); download()
        copies a file of any size."""
        return self._b.read_file(self.id, path)

    def read_text(self, path, encoding="utf-8"):
        return self.read_file(path).decode(encoding)

    def write_file(self, path, content, mode=None):
        """Write a file whole (parents made as needed); content is str
        (written as UTF-8) or bytes; mode e.g. 0o755."""
        data = content.encode() if isinstance(content, str) else bytes(content)
        self._b.write_file(self.id, path, data, mode)

    def delete_file(self, path, recursive=False):
        self._b.delete_file(self.id, path, recursive)

    def list_files(self, path="."):
        return self._b.list_files(self.id, path)

    def file_info(self, path):
        return self._b.file_info(self.id, path)

    def upload(self, local_path, remote_path):
        """Copy a host file into the sandbox, streamed."""
        self._b.upload(self.id, os.fspath(local_path), remote_path)

    def download(self, remote_path, local_path):
        """Copy a sandbox file to the host; local_path appears whole or not at all."""
        self._b.download(self.id, remote_path, os.fspath(local_path))

    # ---- git (runs inside the sandbox; its network is loopback only) ----

    def git_clone(self, url, path, branch=None, commit_id=None, username=None, password=None,
                  depth=None):
        self._b.git_clone(self.id, url, path, branch, commit_id, username, password, depth)

    def git_status(self, path):
        return self._b.git_status(self.id, path)

    def git_add(self, path, files):
        self._b.git_add(self.id, path, [files] if isinstance(files, str) else files)

    def git_commit(self, path, message, author, email, allow_empty=False):
        """Commit what is staged; returns the new commit's hash."""
        return self._b.git_commit(self.id, path, message, author, email, allow_empty)

    def git_branches(self, path):
        return self._b.git_branches(self.id, path)

    def git_create_branch(self, path, name):
        self._b.git_create_branch(self.id, path, name)

    def git_checkout(self, path, branch):
        self._b.git_checkout(self.id, path, branch)

    def git_push(self, path, username=None, password=None, branch=None, remote=None,
                 set_upstream=False):
        self._b.git_push(self.id, path, username, password, branch, remote, set_upstream)

    def git_pull(self, path, username=None, password=None, branch=None, remote=None):
        self._b.git_pull(self.id, path, username, password, branch, remote)


class Context(_Deleted):
    """A python interpreter kept in a sandbox (see Sandbox.create_context)."""

    def __init__(self, backend, sandbox_id, info):
        self._b = backend
        self.sandbox_id = sandbox_id
        self.id = info["id"]
        self.cwd = info.get("cwd")

    def __repr__(self):
        return "<Context %s in %s>" % (self.id, self.sandbox_id)

    def run(self, code, env=None, timeout=None):
        """Run code in this interpreter; an exception in it is the
        result's `error`, not raised.  Past `timeout` seconds the run is
        interrupted (KeyboardInterrupt) and ExecTimeout raised; the
        interpreter keeps its state."""
        return self._b.interp_run(self.sandbox_id, self.id, code, env, timeout)

    def delete(self):
        self._b.interp_delete(self.sandbox_id, self.id)
