# islet's Python driver: runs inside a sandbox, as an exec of the sandbox's
# own python3 (`python3 -u -c <this text> <interp_lib.py's text> MODE ...`),
# so it is confined and limited like any exec.  isletd holds both texts;
# nothing of them is written into the sandbox.  Standard library only
# (matplotlib is used when the code imported it).
#
#   serve  an interpreter context (interp_lib.py): requests are JSON lines
#          on stdin, the answers JSON lines on the real stdout.
#   once   code-run: the code on stdin runs as __main__ (argv after MODE),
#          then each open matplotlib figure is printed as a chart line.
#   spare  code-run started ahead (interp_spare.c): up, it writes a NUL
#          byte on stdout and on stderr and waits; then stdin brings a
#          line of lengths (the code's bytes, then each argument's), those
#          bytes, and its end.  It answers one byte on stdout: "S" when a
#          start now could differ from its own (stale(), then it exits and
#          isletd runs the code plainly), else "G" on stdout and on stderr,
#          and runs the code as once does.
#
# This text is what every code-run compiles and runs before the code: it
# imports nothing that python's own start has not (os and sys), and the
# library text is compiled only when charts are to be read.  A code-run of
# print(1) so costs little more than python's start.
#
# Everything the code can reach, it can also forge (it runs in this very
# process): isletd reads these lines as untrusted.
import os
import sys

ARTIFACT_PREFIX = "dtn_artifact_k39fd2:"
LIB = sys.argv.pop(1)  # the library's text; sys.argv is then [-c, MODE, ...]


def load_lib():
    """interp_lib.py's names into these globals, once."""
    if "take_charts" not in globals():
        exec(compile(LIB, "<islet-driver-lib>", "exec"), globals())


def hook_show(emit):
    """plt.show() emits the open figures as charts (Agg cannot show them,
    and would warn on stderr)."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None or getattr(plt.show, "_islet", False):
        return plt is not None

    def show(*args, **kwargs):
        load_lib()
        for c in take_charts():
            emit[0](c)

    show._islet = True
    plt.show = show
    return True


def watch_imports(emit):
    """hook_show as soon as the code imports pyplot; then the import
    machinery is left as it was."""
    import builtins

    real = builtins.__import__
    depth = [0]  # pyplot is whole only once the outermost import returns

    def importer(name, *args, **kwargs):
        depth[0] += 1
        try:
            m = real(name, *args, **kwargs)
        finally:
            depth[0] -= 1
        if depth[0] == 0 and name.startswith("matplotlib") and hook_show(emit):
            builtins.__import__ = real
        return m

    if not hook_show(emit):
        builtins.__import__ = importer


class LastChar:
    """sys.stdout, remembering whether its output ends a line."""

    def __init__(self, f):
        self._f = f
        self.at_line_start = True

    def write(self, s):
        if s:
            self.at_line_start = s.endswith("\n")
        return self._f.write(s)

    def __getattr__(self, name):
        return getattr(self._f, name)


def matplotlib_env():
    """No display: figures are drawn with Agg.  Debian's matplotlib reads its
    settings from /etc/matplotlibrc only, which a sandbox of the host's /usr
    lacks: its own copy in /usr is named instead."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    rc = "/usr/share/matplotlib/mpl-data/matplotlibrc"
    if "MATPLOTLIBRC" not in os.environ and not os.path.exists("/etc/matplotlibrc"):
        if os.path.exists(rc):
            os.environ["MATPLOTLIBRC"] = rc
    # nor /etc/fonts, which fc-list (run by matplotlib's font search) needs,
    # or it complains on stderr: a minimal one in /tmp, written under a
    # name of its own and renamed into place (a sandbox's first runs may
    # race).  Not with tempfile: importing it (shutil, random, ...) costs
    # a first run as much as half of python's start, and would leave those
    # modules in the code's sys.modules.
    if "FONTCONFIG_FILE" not in os.environ and not os.path.exists("/etc/fonts/fonts.conf"):
        conf = "/tmp/.islet-fonts.conf"
        try:
            if not os.path.exists(conf):
                tmp = "%s.%d.%s" % (conf, os.getpid(), os.urandom(6).hex())
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                try:
                    os.write(fd, b"<?xml version='1.0'?><fontconfig><dir>/usr/share/fonts</dir></fontconfig>\n")
                    os.fchmod(fd, 0o644)
                    os.rename(tmp, conf)
                except OSError:
                    os.unlink(tmp)
                    raise
                finally:
                    os.close(fd)
            os.environ["FONTCONFIG_FILE"] = conf
        except OSError:
            pass


def once(argv, code=None):
    matplotlib_env()
    if code is None:
        code = sys.stdin.read()
    sys.stdin = open(os.devnull)
    sys.argv = ["-"] + argv
    out = sys.stdout = LastChar(sys.stdout)

    def emit(chart):
        import json  # loaded with the library already: charts come from it

        line = ARTIFACT_PREFIX + json.dumps({"type": "chart", "value": chart}) + "\n"
        out.write(line if out.at_line_start else "\n" + line)
        out.flush()

    watch_imports([emit])
    g = {"__name__": "__main__", "__builtins__": __builtins__}
    status = 0
    try:
        exec(compile(code, "<stdin>", "exec"), g)
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            sys.stderr.write(str(e.code) + "\n")
    except BaseException as e:
        # as python itself reports it (and through the code's own hook, if
        # it set one), from the code's first frame: the first is this one's
        e.__traceback__ = e.__traceback__.tb_next
        sys.excepthook(type(e), e, e.__traceback__)
        status = 1
    if "matplotlib.pyplot" in sys.modules:
        load_lib()
        for c in take_charts():
            emit(c)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def start_state():
    """What python's start read and a start now would read again: the
    directories of sys.path and the site directories (there or not: a new
    one joins sys.path), the .pth files in them, every module loaded, the
    interpreter; each by its inode, size and mtime.  A package installed, a
    .pth or sitecustomize added or changed since, changes one of them."""
    site = sys.modules.get("site")
    paths = [p for p in sys.path if p] + [sys.executable]
    if site is not None:
        dirs = list(site.getsitepackages()) + [site.getusersitepackages()]
        paths += dirs
        for d in dirs:
            try:
                paths += [os.path.join(d, n) for n in os.listdir(d) if n.endswith(".pth")]
            except OSError:
                pass
    for m in list(sys.modules.values()):
        f = getattr(m, "__file__", None)
        if isinstance(f, str):
            paths.append(f)
    return {p: file_key(p) for p in paths}


def file_key(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def stale(state, cwd):
    """Whether a start now could differ from this one's (start_state), or
    the working directory is no longer the one its path names."""
    try:
        here, there = os.stat("."), os.stat(cwd)
    except OSError:
        return True
    if (here.st_dev, here.st_ino) != (there.st_dev, there.st_ino):
        return True
    return any(file_key(p) != k for p, k in state.items())


def read_all(fd):
    parts = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(parts)
        parts.append(b)


def spare():
    state, cwd = start_state(), os.getcwd()
    os.write(1, b"\0")
    os.write(2, b"\0")
    data = read_all(0)
    head, _, data = data.partition(b"\n")
    lengths = [int(n) for n in head.split()]
    if not lengths or sum(lengths) != len(data):
        os._exit(0)  # ended unused, or cut short: nothing runs
    if stale(state, cwd):
        os.write(1, b"S")
        os._exit(0)
    os.write(1, b"G")
    os.write(2, b"G")
    # the code decoded as sys.stdin would have read it, the arguments as
    # python decodes its command line
    import io

    parts, off = [], 0
    for n in lengths:
        parts.append(data[off : off + n])
        off += n
    enc = sys.stdin.encoding, sys.stdin.errors
    code = io.TextIOWrapper(io.BytesIO(parts[0]), encoding=enc[0], errors=enc[1]).read()
    argv = [os.fsdecode(a) for a in parts[1:]]
    # the finders' listings of sys.path's directories, made at the start,
    # read again as a start now would
    for f in list(sys.path_importer_cache.values()):
        if f is not None and hasattr(f, "invalidate_caches"):
            f.invalidate_caches()
    once(argv, code)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "serve":
        load_lib()
        serve()
    elif mode == "once":
        once(sys.argv[2:])
    elif mode == "spare":
        spare()
    else:
        sys.stderr.write("islet driver: mode must be serve, once or spare\n")
        sys.exit(2)
