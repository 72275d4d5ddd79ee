"""The islet client against real sandboxes, in server and CLI mode."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

import islet
from conftest import islet_ls


def test_installed_not_source():
    # run.sh pip-installed the package: this is the copy in use
    assert islet.__file__.startswith(os.environ["ISLET_TEST_SITE"])
    assert islet.__version__ == "0.1.0"


# ---- execute, run_code ----

def test_execute_output_and_exit_code(sb, mode):
    r = sb.execute('sh -c "echo out; echo err >&2; exit 3"')
    assert r.exit_code == 3 and not r.ok
    if mode == "cli":
        assert (r.stdout, r.stderr, r.output) == ("out\n", "err\n", "out\nerr\n")
    else:
        # Daytona's API carries one combined text
        assert r.output == r.stdout and r.stderr is None
        assert sorted(r.output.splitlines()) == ["err", "out"]


def test_execute_words_and_list(sb, mode):
    # Daytona's word splitting, in both modes: quotes group, no shell
    assert sb.execute("echo 'a  b' \"c  d\"e $HOME").output == "a  b c  de $HOME\n"
    assert sb.execute(["printf", "%s|", "a b", "it's", "$HOME"]).output == "a b|it's|$HOME|"
    both = ["echo", "it's \"x\""]
    if mode == "cli":
        assert sb.execute(both).output == "it's \"x\"\n"
    else:
        with pytest.raises(islet.BadRequestError):
            sb.execute(both)  # the command text cannot carry it


def test_execute_cwd_env(client):
    with client.create_sandbox(env={"FROM_CREATE": "c1"}) as s:
        r = s.execute('sh -c "pwd; echo $FROM_CREATE $X"', cwd="/tmp", env={"X": "x y"})
        assert r.output == "/tmp\nc1 x y\n"
        assert s.execute("pwd").output == "/workspace\n"


def test_missing_command(sb):
    r = sb.execute("no-such-command-here")
    assert r.exit_code == 127 and "not found" in r.output


def test_run_code_python(sb):
    r = sb.run_code("import os, sys\nprint(6 * 7)\nprint(os.getcwd())\nsys.exit(4)")
    assert r.exit_code == 4
    assert r.output == "42\n/workspace\n"


@pytest.mark.skipif(shutil.which("node") is None, reason="no node on the host")
def test_run_code_javascript(sb):
    r = sb.run_code("console.log([1, 2, 3].map(x => x * 2).join(','))", language="javascript")
    assert (r.exit_code, r.output) == (0, "2,4,6\n")


def test_sandbox_is_isolated(sb):
    # the code runs as the sandbox's root, not the host's, in its own pid namespace
    r = sb.run_code("import os\nprint(os.getpid() < 100, open('/etc/hostname').read().strip())")
    assert r.output.split()[0] == "True"
    assert r.output.split()[1] != os.uname().nodename


def test_timeout_raises_exec_timeout(sb):
    with pytest.raises(islet.ExecTimeout) as e:
        sb.execute("sleep 30", timeout=1)
    assert isinstance(e.value, TimeoutError) and e.value.status == 408
    with pytest.raises(islet.ExecTimeout):
        sb.run_code("while True: pass", timeout=1)
    assert sb.execute("echo alive").output == "alive\n"  # the sandbox lives on


def test_context_keeps_state(sb, mode):
    if mode == "cli":
        with pytest.raises(islet.BadRequestError) as e:
            sb.create_context()
        assert "isletd" in str(e.value)
        return
    with sb.create_context(cwd="/tmp") as ctx:
        assert ctx.cwd == "/tmp"
        r = ctx.run("import os, sys\nx = 6 * 7\nprint(os.getcwd())\nprint('e', file=sys.stderr)")
        assert (r.ok, r.stdout, r.stderr) == (True, "/tmp\n", "e\n")
        r = ctx.run("print(x, os.environ.get('K'))", env={"K": "v"})
        assert (r.ok, r.stdout) == (True, "42 v\n")  # the variable and the import kept
        r = ctx.run("def f():\n    raise ValueError('bad x')\nf()")
        assert r.error["name"] == "ValueError" and r.error["value"] == "bad x"
        assert "line 2" in r.error["traceback"]
        with pytest.raises(islet.ExecTimeout):
            ctx.run("import time\nwhile True: time.sleep(0.05)", timeout=1)
        r = ctx.run("print(x + 1)")  # interrupted, not lost
        assert (r.ok, r.stdout) == (True, "43\n")
        other = sb.create_context()
        try:
            r = other.run("print('x' in dir())")
            assert r.stdout == "False\n"  # each context its own interpreter
        finally:
            other.delete()
    with pytest.raises(islet.NotFoundError):
        ctx.run("print(1)")  # deleted with the block


# ---- files ----

def test_write_read_exact_bytes(sb):
    data = bytes(range(256)) * 1000 + b"\x00\xff\n"
    sb.write_file("dir/sub/blob.bin", data)
    assert sb.read_file("dir/sub/blob.bin") == data
    sb.write_file("/workspace/t.txt", "héllo\nwörld")
    assert sb.read_text("t.txt") == "héllo\nwörld"
    assert sb.execute("cat dir/sub/blob.bin").exit_code == 0


def test_list_info_mode(sb):
    sb.write_file("d/run.sh", "#!/bin/sh\necho ran\n", mode=0o755)
    sb.write_file("d/a.txt", "abc")
    names = {f.name: f for f in sb.list_files("d")}
    assert set(names) == {"run.sh", "a.txt"}
    assert names["a.txt"].size == 3 and not names["a.txt"].is_dir
    info = sb.file_info("d/run.sh")
    assert (info.name, info.mode, info.is_dir) == ("run.sh", 0o755, False)
    assert info.mtime and info.mtime > 1.6e9
    assert sb.file_info("d").is_dir
    assert sb.execute("d/run.sh").output == "ran\n"


def test_delete_file(sb):
    sb.write_file("gone/a", "1")
    sb.write_file("gone/b", "2")
    with pytest.raises(islet.ConflictError):
        sb.delete_file("gone")  # not empty
    sb.delete_file("gone/a")
    with pytest.raises(islet.NotFoundError):
        sb.read_file("gone/a")
    sb.delete_file("gone", recursive=True)
    with pytest.raises(islet.NotFoundError):
        sb.file_info("gone")


def test_missing_file_raises_not_found(sb, tmp_path):
    with pytest.raises(islet.NotFoundError) as e:
        sb.read_file("no/such/file")
    assert e.value.status == 404
    with pytest.raises(islet.NotFoundError):
        sb.download("no/such/file", tmp_path / "x")
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    with pytest.raises(islet.NotFoundError):
        sb.delete_file("no/such/file")


def test_upload_download_roundtrip(sb, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 << 20))
    sb.upload(src, "up/load.bin")
    assert sb.file_info("up/load.bin").size == 3 << 20
    digest = sb.execute("sha256sum up/load.bin").output.split()[0]
    import hashlib
    assert digest == hashlib.sha256(src.read_bytes()).hexdigest()
    dst = tmp_path / "dst.bin"
    sb.download("up/load.bin", dst)
    assert dst.read_bytes() == src.read_bytes()


# ---- errors ----

def test_unknown_sandbox(client):
    with pytest.raises(islet.NotFoundError):
        client.get_sandbox("no-such-sandbox")
    s = client.create_sandbox()
    s.delete()
    with pytest.raises(islet.NotFoundError):
        s.execute("true")
    with pytest.raises(islet.NotFoundError):
        s.delete()


def test_name_conflict(client):
    with client.create_sandbox(name="py-dup") as s:
        assert s.name == "py-dup"
        with pytest.raises(islet.ConflictError):
            client.create_sandbox(name="py-dup")
        assert client.get_sandbox("py-dup").id == s.id


def test_bad_limits(client):
    with pytest.raises(islet.BadRequestError):
        client.create_sandbox(memory_gb=1 << 20)
    with pytest.raises(islet.BadRequestError):
        client.create_sandbox(language="cobol")


NF = {k: os.environ.get("ISLET_TEST_NF_" + k) for k in "ABP"}
# the probe: each address's /id, or "closed"
FETCH = ("import urllib.request\n"
         "for a in ADDRS:\n"
         "    try:\n"
         "        print(urllib.request.urlopen('http://%s/id' % a, timeout=2).read().decode())\n"
         "    except Exception:\n"
         "        print('closed')\n")


@pytest.mark.skipif(not NF["A"], reason="no fake internet (dnsmasq)")
def test_network(client):
    def reach(s, *addrs):
        r = s.run_code("ADDRS = %r\n%s" % (list(addrs), FETCH), timeout=30)
        return r.output.split()

    with client.create_sandbox(network="all") as s:
        assert s.network["mode"] == "all"
        assert reach(s, NF["A"], NF["P"]) == ["A", "closed"]
    with client.create_sandbox(allow=[NF["B"] + "/32"]) as s:
        assert s.network == {"mode": "allow", "allow": [NF["B"] + "/32"]}
        assert client.get_sandbox(s.id).network == s.network
        assert reach(s, NF["A"], NF["B"]) == ["closed", "B"]
    with client.create_sandbox() as s:
        assert s.network["mode"] == "none"
        assert reach(s, NF["A"]) == ["closed"]


def test_network_refused(client):
    for network, allow in (("none", ["example.com"]), ("some", None), (None, ["fd00::/8"])):
        with pytest.raises(islet.BadRequestError):
            client.create_sandbox(network=network, allow=allow)
    with pytest.raises(TypeError):
        client.create_sandbox(allow="example.com")


def test_limit_error(sb, mode):
    if mode == "server":
        # a request body over isletd's 1 MiB: 413
        with pytest.raises(islet.LimitError) as e:
            sb.execute("echo " + "x" * (2 << 20))
        assert e.value.status == 413
    else:
        # a whole-file read over the CLI's 10 MiB
        sb.execute('sh -c "head -c 11000000 /dev/zero > big"', timeout=30)
        with pytest.raises(islet.LimitError):
            sb.read_file("big")


def test_read_file_cap_in_both_modes(sb, tmp_path):
    # read_file holds a whole file in memory: 10 MiB at most, in server mode
    # as in CLI mode; download() has no cap
    sb.execute('sh -c "head -c 10485760 /dev/zero > max; head -c 10485761 /dev/zero > over"',
               timeout=30)
    assert len(sb.read_file("max")) == 10 << 20
    with pytest.raises(islet.LimitError) as e:
        sb.read_file("over")
    assert "10485760" in str(e.value)
    sb.download("over", tmp_path / "over")
    assert (tmp_path / "over").stat().st_size == (10 << 20) + 1


def test_default_timeout_is_the_sandbox_limit(client, mode):
    # a command without a timeout is held to the sandbox's own limit in
    # both modes (here 2 s), not to isletd's 360 s for Daytona's API
    if mode == "server":
        s = client.create_sandbox(limits={"timeout_s": 2})
    else:
        p = subprocess.run([os.environ["ISLET_BIN"], "--state-dir", os.environ["ISLET_TEST_STATE"],
                            "create", "--timeout", "2", "--json"],
                           capture_output=True, timeout=120, check=True)
        s = client.get_sandbox(json.loads(p.stdout)["id"])
    with s:
        for run in (lambda: s.execute("sleep 20"), lambda: s.run_code("import time\ntime.sleep(20)")):
            t0 = time.monotonic()
            with pytest.raises(islet.ExecTimeout):
                run()
            assert time.monotonic() - t0 < 12
        assert s.execute("echo fast").output == "fast\n"


def test_bad_key(mode):
    if mode != "server":
        pytest.skip("API keys are isletd's")
    bad = islet.Islet(api_key="islet_" + "0" * 48)
    with pytest.raises(islet.AuthError) as e:
        bad.list_sandboxes()
    assert e.value.status == 401
    with pytest.raises(islet.AuthError):
        bad.create_sandbox()


def test_unreachable_server():
    c = islet.Islet(url="http://127.0.0.1:1/api", api_key="k")
    with pytest.raises(islet.IsletConnectionError):
        c.list_sandboxes()


def test_no_backend_is_an_error_not_a_host_process(monkeypatch):
    # no server and no CLI: refused, never run on the host
    monkeypatch.delenv("ISLET_URL", raising=False)
    monkeypatch.setenv("ISLET_BIN", "/nonexistent/islet")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(islet.IsletConnectionError):
        islet.Islet()


# ---- lifecycle ----

def test_context_manager_deletes(client):
    with client.create_sandbox(labels={"t": "ctx"}) as s:
        sid = s.id
        assert sid in islet_ls()
        assert sid in {x.id for x in client.list_sandboxes()}
        assert s.state == "started"
    assert sid not in islet_ls()
    with pytest.raises(RuntimeError):
        with client.create_sandbox() as s2:
            sid2 = s2.id
            raise RuntimeError("boom")
    assert sid2 not in islet_ls()


def test_labels_and_language(client, mode):
    with client.create_sandbox(language="javascript", labels={"team": "a"}) as s:
        assert s.language == "javascript"
        if mode == "server":
            assert client.get_sandbox(s.id).labels == {"team": "a"}


# ---- git ----

HEX40 = re.compile(r"^[0-9a-f]{40}$")


def test_git_local_workflow(sb):
    assert sb.execute("git init -q -b main repo").exit_code == 0
    sb.write_file("repo/a.txt", "one\n")
    st = sb.git_status("repo")
    assert st.current_branch == "main"
    assert [(f.name, f.worktree) for f in st.files] == [("a.txt", "Untracked")]
    sb.git_add("repo", ["a.txt"])
    assert [(f.name, f.staging) for f in sb.git_status("repo").files] == [("a.txt", "Added")]
    h = sb.git_commit("repo", "first", "Ada", "ada@example.com")
    assert HEX40.match(h)
    assert sb.execute("git -C repo rev-parse HEAD").output.strip() == h
    assert sb.execute("git -C repo log -1 --format=%an/%ae/%s").output == "Ada/ada@example.com/first\n"
    assert sb.git_status("repo").files == []
    sb.git_create_branch("repo", "dev")
    sb.git_checkout("repo", "dev")
    br = sb.git_branches("repo")
    assert (sorted(br.branches), br.current) == (["dev", "main"], "dev")
    assert sb.git_status("repo").current_branch == "dev"


def test_git_clone_push_pull(sb):
    sb.execute('sh -c "git init -q --bare -b main origin.git && git clone -q origin.git seed"')
    sb.write_file("seed/f.txt", "v1\n")
    sb.git_add("seed", "f.txt")
    sb.git_commit("seed", "v1", "A", "a@x")
    sb.git_push("seed", branch="main", remote="origin", set_upstream=True)
    sb.git_clone("/workspace/origin.git", "work", branch="main")
    assert sb.read_text("work/f.txt") == "v1\n"
    st = sb.git_status("work")
    assert (st.current_branch, st.upstream) == ("main", "origin/main")
    sb.write_file("seed/f.txt", "v2\n")
    sb.git_add("seed", ["f.txt"])
    h2 = sb.git_commit("seed", "v2", "A", "a@x")
    sb.git_push("seed")
    sb.git_pull("work")
    assert sb.read_text("work/f.txt") == "v2\n"
    assert sb.execute("git -C work rev-parse HEAD").output.strip() == h2


def test_git_errors(sb):
    with pytest.raises(islet.NotFoundError):
        sb.git_status("not-a-repo")
    with pytest.raises(islet.GitError):
        sb.git_clone("/workspace/nothing-here", "x")
    sb.execute("git init -q r")
    with pytest.raises(islet.GitError):
        sb.git_commit("r", "empty", "A", "a@x")  # nothing to commit
    assert HEX40.match(sb.git_commit("r", "empty", "A", "a@x", allow_empty=True))


# ---- text commands ----

def test_run_text_and_workspace_only(sb, client):
    sb.execute("ln -s /etc /workspace/etc-link")
    text = ("write file:notes/a.txt content:hi\n"
            "read file:/etc/hostname\n"
            "read file:etc-link/hostname\n"
            "read file:/workspace/../etc/hostname")
    r = sb.run_text(text)
    assert [x["ok"] for x in r] == [True, True, True, True]
    assert r[1]["content"] == r[2]["content"] == r[3]["content"]
    # an application that promises its users a model reaches only /workspace
    r = sb.run_text(text, workspace_only=True)
    assert [x["ok"] for x in r] == [True, False, False, False]
    assert "outside /workspace" in r[1]["error"] and "outside /workspace" in r[3]["error"]
    assert "symbolic link" in r[2]["error"]
    assert sb.run_text("read file:notes/a.txt", workspace_only=True)[0]["content"] == "hi"
    # the Islet's option is the default of its sandboxes
    strict = islet.Islet(workspace_only=True).get_sandbox(sb.id)
    assert strict.run_text("read file:/etc/hostname")[0]["ok"] is False
    assert strict.run_text("read file:/etc/hostname", workspace_only=False)[0]["ok"] is True
    with pytest.raises(islet.BadRequestError):
        sb.run_text("no command here")
