"""Server mode: isletd's HTTP API (Daytona's), with http.client only: one
connection per request, and a request whose body isletd refuses on its
headers (a bad key, 413) still gets isletd's answer."""
import datetime
import http.client
import json
import os
import shutil
import tempfile
import urllib.parse

from . import __version__
from ._words import command_text
from ._ws import Closed, UpgradeRefused, WebSocket
from .errors import IsletConnectionError, LimitError, error_for
from .types import ExecResult, FileInfo, GitBranches, GitFileStatus, GitStatus, InterpResult

LANGUAGE_LABEL = "code-toolbox-language"
DEFAULT_EXEC_TIMEOUT = 360  # isletd's default for one command, as Daytona's
SLACK = 30  # seconds the HTTP wait adds to a command's own timeout
CHUNK = 1 << 16
READ_MAX = 10 << 20  # read_file, as the CLI's `islet fs read`: download() for more
MAX_PAGES = 1000  # of a sandbox listing (1000 sandboxes each at most)


class HttpBackend:
    mode = "server"

    def __init__(self, url, api_key, timeout=60):
        base = url.rstrip("/")
        if base.endswith("/api"):
            base = base[: -len("/api")]
        self.base = base
        self.key = api_key
        self.timeout = timeout
        self.toolbox = base + "/toolbox"

    # ---- requests ----

    def _open(self, method, path, query=None, body=None, data=None, headers=None, timeout=None):
        """The response of a request (status < 400), to read and close."""
        url = path if path.startswith("http") else self.base + path
        if query:
            q = {k: v for k, v in query.items() if v is not None}
            url += "?" + urllib.parse.urlencode(q)
        h = {"Authorization": "Bearer " + self.key, "User-Agent": "islet-python/" + __version__}
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        u = urllib.parse.urlsplit(url)
        conn_class = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(u.hostname, u.port, timeout=timeout or self.timeout, blocksize=CHUNK)
        target = u.path + ("?" + u.query if u.query else "")
        try:
            try:
                conn.request(method, target, body=data, headers=h)
            except (BrokenPipeError, ConnectionResetError):
                # isletd answers a bad key or an oversized body (413) on the
                # headers and closes: its answer is still to be read
                pass
            resp = _Response(conn, conn.getresponse())
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise IsletConnectionError("cannot reach isletd at %s: %s" % (self.base, e)) from None
        if resp.status >= 400:
            with resp:
                raise _http_error(resp.status, resp.reason, resp.read())
        return resp

    def _json(self, method, path, **kw):
        with self._open(method, path, **kw) as r:
            raw = r.read()
        return json.loads(raw) if raw.strip() else None

    def _tb(self, sid, rest):
        return "%s/%s/%s" % (self.toolbox, urllib.parse.quote(sid, safe=""), rest)

    # ---- sandboxes ----

    def create(self, language, name, env, labels, cpu, memory_gb, disk_gb, network, extra):
        body = {"env": dict(env or {}), "labels": dict(labels or {})}
        if network is not None:
            # islet's own field, read as the CLI reads --network and --allow
            body["network"] = {k: v for k, v in network.items() if v is not None}
        body["labels"][LANGUAGE_LABEL] = language
        for k, v in (("name", name), ("cpu", cpu), ("memory", memory_gb), ("disk", disk_gb)):
            if v is not None:
                body[k] = v
        body.update(extra)
        return _sandbox(self._json("POST", "/api/sandbox", body=body))

    def get(self, ref):
        return _sandbox(self._json("GET", "/api/sandbox/" + urllib.parse.quote(ref, safe="")))

    def list(self):
        out, cursor = [], None
        for _ in range(MAX_PAGES):
            page = self._json("GET", "/api/sandbox", query={"limit": 1000, "cursor": cursor})
            out += [_sandbox(s) for s in page.get("items", [])]
            cursor = page.get("nextCursor")
            if not cursor:
                break
        return out

    def delete(self, sid):
        self._json("DELETE", "/api/sandbox/" + urllib.parse.quote(sid, safe=""))

    # ---- processes ----

    def execute(self, sid, command, cwd, env, timeout):
        body = {"command": command_text(command)}
        return self._run(sid, "process/execute", body, cwd, env, timeout)

    def run_code(self, sid, code, language, timeout):
        body = {"code": code, "language": language}
        return self._run(sid, "process/code-run", body, None, None, timeout)

    def _run(self, sid, route, body, cwd, env, timeout):
        if cwd is not None:
            body["cwd"] = cwd
        if env:
            body["envs"] = dict(env)
        if timeout is not None:
            body["timeout"] = timeout
        wait = (timeout or DEFAULT_EXEC_TIMEOUT) + SLACK
        r = self._json("POST", self._tb(sid, route), body=body, timeout=wait)
        out = r.get("result", "")
        charts = (r.get("artifacts") or {}).get("charts") or []
        return ExecResult(exit_code=r.get("exitCode", r.get("code", -1)), output=out, stdout=out,
                          stderr=None, charts=charts)

    # ---- the stateful interpreter (Daytona's codeInterpreter) ----

    def interp_create(self, sid, cwd):
        body = {} if cwd is None else {"cwd": cwd}
        return self._json("POST", self._tb(sid, "process/interpreter/context"), body=body)

    def interp_delete(self, sid, ctx_id):
        path = "process/interpreter/context/" + urllib.parse.quote(ctx_id, safe="")
        with self._open("DELETE", self._tb(sid, path)):
            pass

    def interp_run(self, sid, ctx_id, code, env, timeout):
        """One run over the socket isletd serves the SDK's runCode on: the
        messages as they come (stdout, stderr, error, chart), until its
        "completed"; a run past its timeout is ExecTimeout (the context
        keeps its state unless the message says otherwise)."""
        msg = {"code": code, "contextId": ctx_id}
        if env:
            msg["envs"] = dict(env)
        if timeout is not None:
            msg["timeout"] = timeout
        headers = {"Authorization": "Bearer " + self.key, "User-Agent": "islet-python/" + __version__}
        wait = (timeout or DEFAULT_EXEC_TIMEOUT) + SLACK
        try:
            ws = WebSocket(self._tb(sid, "process/interpreter/execute"), headers, wait)
        except UpgradeRefused as e:
            raise _http_error(e.status, "refused", e.body) from None
        out, err, error, charts = [], [], None, []
        try:
            ws.send_text(json.dumps(msg))
            while True:
                chunk = json.loads(ws.recv_text())
                kind = chunk.get("type")
                if kind == "stdout":
                    out.append(chunk.get("text", ""))
                elif kind == "stderr":
                    err.append(chunk.get("text", ""))
                elif kind == "error":
                    error = {k: chunk.get(k, "") for k in ("name", "value", "traceback")}
                elif kind == "chart" and isinstance(chunk.get("chart"), dict):
                    charts.append(chunk["chart"])
                elif kind == "control" and chunk.get("text") in ("completed", "interrupted"):
                    break
        except Closed as c:
            # isletd's close codes: 4008 a timeout, 4004 no such context,
            # 1008/1009 a message refused, as the SDK reads them
            status = {4008: 408, 4004: 404, 1008: 400, 1009: 413}.get(c.code, 500)
            raise error_for(status, "%s (close %d)" % (c.reason or "the run ended without "
                                                       "completing", c.code)) from None
        except (OSError, ValueError) as e:
            raise IsletConnectionError("the interpreter's socket failed: %s" % e) from None
        finally:
            ws.close_now()
        return InterpResult(stdout="".join(out), stderr="".join(err), error=error, charts=charts)

    # ---- files ----

    def read_file(self, sid, path):
        with self._open("GET", self._tb(sid, "files/download"), query={"path": path}) as r:
            size = r.resp.getheader("Content-Length")
            if size is not None and size.isdigit() and int(size) > READ_MAX:
                raise _read_limit(path, int(size))
            data = r.read(READ_MAX + 1)
        if len(data) > READ_MAX:
            raise _read_limit(path, None)
        return data

    def write_file(self, sid, path, data, mode):
        self._upload(sid, path, data, len(data))
        if mode is not None:
            self._json("POST", self._tb(sid, "files/permissions"),
                       query={"path": path, "mode": "%o" % mode}, data=b"")

    def _upload(self, sid, path, data, size):
        self._json("POST", self._tb(sid, "files/upload-v2"), query={"path": path}, data=data,
                   headers={"Content-Type": "application/octet-stream",
                            "Content-Length": str(size)}, timeout=max(self.timeout, 600))

    def delete_file(self, sid, path, recursive):
        self._json("DELETE", self._tb(sid, "files"),
                   query={"path": path, "recursive": "true" if recursive else None})

    def list_files(self, sid, path):
        return [_file_info(f) for f in self._json("GET", self._tb(sid, "files"), query={"path": path})]

    def file_info(self, sid, path):
        return _file_info(self._json("GET", self._tb(sid, "files/info"), query={"path": path}))

    def upload(self, sid, local_path, remote_path):
        with open(local_path, "rb") as f:
            self._upload(sid, remote_path, f, os.fstat(f.fileno()).st_size)

    def download(self, sid, remote_path, local_path):
        r = self._open("GET", self._tb(sid, "files/download"), query={"path": remote_path},
                       timeout=max(self.timeout, 600))
        with r:
            _save(r, local_path)

    # ---- text commands ----

    def run_text(self, sid, text, workspace_only):
        body = {"sandbox_id": sid, "text": text, "workspace_only": bool(workspace_only)}
        wait = max(self.timeout, 600)  # its commands run one after another
        return self._json("POST", "/v1/tool", body=body, timeout=wait)["results"]

    # ---- git ----

    def git(self, sid, method, op, body=None, query=None):
        return self._json(method, self._tb(sid, "git/" + op), body=body, query=query) or {}

    def git_clone(self, sid, url, path, branch, commit_id, username, password, depth):
        body = _opts(url=url, path=path, branch=branch, commit_id=commit_id, username=username,
                     password=password, depth=depth)
        self.git(sid, "POST", "clone", body)

    def git_status(self, sid, path):
        s = self.git(sid, "GET", "status", query={"path": path})
        files = [GitFileStatus(f.get("name", ""), f.get("staging", ""), f.get("worktree", ""),
                               f.get("extra", "")) for f in s.get("fileStatus", [])]
        return GitStatus(current_branch=s.get("currentBranch", ""), files=files,
                         ahead=s.get("ahead", 0), behind=s.get("behind", 0),
                         upstream=s.get("upstream"), detached=bool(s.get("detached")))

    def git_add(self, sid, path, files):
        self.git(sid, "POST", "add", {"path": path, "files": list(files)})

    def git_commit(self, sid, path, message, author, email, allow_empty):
        body = _opts(path=path, message=message, author=author, email=email,
                     allow_empty=allow_empty or None)
        return self.git(sid, "POST", "commit", body).get("hash", "")

    def git_branches(self, sid, path):
        b = self.git(sid, "GET", "branches", query={"path": path})
        return GitBranches(branches=b.get("branches", []), current=b.get("current"))

    def git_create_branch(self, sid, path, name):
        self.git(sid, "POST", "branches", {"path": path, "name": name})

    def git_checkout(self, sid, path, branch):
        self.git(sid, "POST", "checkout", {"path": path, "branch": branch})

    def git_push(self, sid, path, username, password, branch, remote, set_upstream):
        self.git(sid, "POST", "push", _opts(path=path, username=username, password=password,
                                            branch=branch, remote=remote,
                                            set_upstream=set_upstream or None))

    def git_pull(self, sid, path, username, password, branch, remote):
        self.git(sid, "POST", "pull", _opts(path=path, username=username, password=password,
                                            branch=branch, remote=remote))


class _Response:
    """An answer being read; closing it closes its connection (one request
    per connection)."""

    def __init__(self, conn, resp):
        self.conn, self.resp = conn, resp
        self.status, self.reason = resp.status, resp.reason

    def read(self, n=None):
        return self.resp.read(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.close()  # closes the response too


def _read_limit(path, size):
    what = "%d bytes is" % size if size is not None else "the file is"
    return LimitError("read `%s`: %s over the limit of %d bytes of a whole-file read; "
                      "download() copies a file of any size" % (path, what, READ_MAX),
                      413, "LIMIT_EXCEEDED")


def _opts(**kw):
    return {k: v for k, v in kw.items() if v is not None}


def _http_error(status, reason, raw):
    try:
        body = json.loads(raw)
        message = body.get("message") or body.get("error") or raw.decode(errors="replace")
        code = body.get("code")
    except (ValueError, AttributeError):
        message, code = raw.decode(errors="replace").strip() or reason, None
    return error_for(status, "%s (HTTP %d)" % (message, status), code)


def _sandbox(dto):
    labels = dict(dto.get("labels") or {})
    language = labels.pop(LANGUAGE_LABEL, "python")
    # a command without a timeout is held to the sandbox's own limit, as
    # the CLI holds it (isletd's toolbox would give it Daytona's 360 s)
    limit = ((dto.get("islet") or {}).get("limits") or {}).get("timeout_s") or None
    return {"id": dto["id"], "name": dto.get("name", dto["id"]), "state": dto.get("state"),
            "language": language, "labels": labels, "env": dto.get("env") or {}, "raw": dto,
            "timeout": limit, "network": (dto.get("islet") or {}).get("network")}


def _file_info(f):
    perms = f.get("permissions") or "0"
    try:
        mode = int(perms, 8)
    except ValueError:
        mode = 0
    return FileInfo(name=f.get("name", ""), path=f.get("path", f.get("name", "")),
                    is_dir=bool(f.get("isDir")), size=f.get("size", 0), mode=mode,
                    mtime=_epoch(f.get("modTime")), owner=f.get("owner"), group=f.get("group"))


def _epoch(iso):
    try:
        t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    except (TypeError, ValueError):
        return None
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def _save(stream, local_path):
    """stream into local_path, which appears whole or not at all."""
    d = os.path.dirname(os.path.abspath(local_path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".islet-download.")
    try:
        with os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(stream, f, CHUNK)
        os.replace(tmp, local_path)
    except BaseException:
        os.unlink(tmp)
        raise
