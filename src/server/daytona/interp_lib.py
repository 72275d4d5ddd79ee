# The larger part of islet's Python driver (interp_driver.py says how it
# runs): reading matplotlib figures as charts, and `serve`, an interpreter
# context.  The driver compiles this text into its own globals only when it
# is needed: always for serve, for once only when the code imported pyplot,
# so that a code-run of code without charts pays for none of it.  Standard
# library only; it uses the driver's own names (matplotlib_env,
# watch_imports) as they are in the same globals.
#
# Everything the code can reach, it can also forge (it runs in this very
# process): isletd reads these lines as untrusted.
import base64
import io
import json
import os
import signal
import sys
import threading
import traceback

CHUNK = 32768
POINTS_MAX = 10000


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def _text(t):
    return t.get_text() if t is not None else ""


def _axis_fields(ax, chart):
    chart["x_label"] = ax.get_xlabel()
    chart["y_label"] = ax.get_ylabel()
    chart["x_scale"] = ax.get_xscale()
    chart["y_scale"] = ax.get_yscale()
    chart["x_ticks"] = [v for v in map(_num, ax.get_xticks()) if v is not None]
    chart["y_ticks"] = [v for v in map(_num, ax.get_yticks()) if v is not None]
    chart["x_tick_labels"] = [_text(t) for t in ax.get_xticklabels()]
    chart["y_tick_labels"] = [_text(t) for t in ax.get_yticklabels()]


def _points(xs, ys):
    pts = []
    for x, y in zip(xs, ys):
        if len(pts) >= POINTS_MAX:
            break
        x, y = _num(x), _num(y)
        if x is not None and y is not None:
            pts.append([x, y])
    return pts


def _label(artist, i):
    lab = artist.get_label() or ""
    return lab if lab and not lab.startswith("_") else "series %d" % i


def _axes_chart(ax):
    """One axes as the SDK types a chart (without its png)."""
    from matplotlib.collections import PathCollection
    from matplotlib.container import BarContainer
    from matplotlib.patches import Wedge

    chart = {"title": ax.get_title()}
    wedges = [p for p in ax.patches if isinstance(p, Wedge)]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    lines = [l for l in ax.get_lines() if len(l.get_xdata()) > 0]
    if wedges:
        chart["type"] = "pie"
        chart["elements"] = [
            {"label": w.get_label() or "", "angle": abs(w.theta2 - w.theta1), "radius": w.r}
            for w in wedges
        ]
        return chart
    chart["x_label"] = ax.get_xlabel()
    chart["y_label"] = ax.get_ylabel()
    if bars:
        chart["type"] = "bar"
        ticks = {}
        for pos, t in zip(ax.get_xticks(), ax.get_xticklabels()):
            ticks[round(float(pos), 6)] = _text(t)
        elements = []
        for i, c in enumerate(bars):
            group = _label(c, i)
            for r in c.patches:
                x = round(r.get_x() + r.get_width() / 2, 6)
                elements.append(
                    {"label": ticks.get(x, str(x)), "group": group, "value": str(r.get_height())}
                )
        chart["elements"] = elements
        return chart
    if scatters and not lines:
        chart["type"] = "scatter"
        _axis_fields(ax, chart)
        chart["elements"] = []
        for i, c in enumerate(scatters):
            off = c.get_offsets()
            chart["elements"].append(
                {"label": _label(c, i), "points": _points([p[0] for p in off], [p[1] for p in off])}
            )
        return chart
    if lines:
        chart["type"] = "line"
        _axis_fields(ax, chart)
        chart["elements"] = [
            {"label": _label(l, i), "points": _points(l.get_xdata(), l.get_ydata())}
            for i, l in enumerate(lines)
        ]
        return chart
    chart["type"] = "unknown"
    chart["elements"] = []
    return chart


def figure_chart(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    axes = [a for a in fig.get_axes() if a.get_visible()]
    if len(axes) == 1:
        chart = _axes_chart(axes[0])
    else:
        chart = {"type": "composite_chart", "elements": [_axes_chart(a) for a in axes]}
        chart["title"] = ""
    sup = getattr(fig, "_suptitle", None)
    if not chart.get("title") and sup is not None:
        chart["title"] = sup.get_text()
    chart["png"] = base64.b64encode(buf.getvalue()).decode("ascii")
    return chart


def take_charts():
    """Every open figure as a chart, then closed; [] without matplotlib."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    charts = []
    for num in plt.get_fignums():
        fig = plt.figure(num)
        try:
            charts.append(figure_chart(fig))
        except Exception as e:  # a figure that cannot be drawn is named, not fatal
            sys.stderr.write("islet: a figure could not be read as a chart: %r\n" % (e,))
        plt.close(fig)
    return charts


# ---- serve ----


class Context:
    def __init__(self):
        self.lock = threading.Lock()  # one line at a time on the real stdout
        self.out = os.fdopen(os.dup(1), "wb", buffering=0)
        self.run = 0  # the run under way, 0 between runs
        self.busy = False  # in the code: an interrupt may raise there only
        self.done = 0  # the last run over
        self.pending = 0  # a run interrupted before its code began
        self.gate = threading.Lock()  # busy and pending, between the two threads
        self.ends = {}
        self.globals = {"__name__": "__main__", "__builtins__": __builtins__}
        self.emit = [lambda chart: None]  # the run's: where plt.show() sends charts

    def send(self, msg):
        data = (json.dumps(msg) + "\n").encode()
        with self.lock:
            self.out.write(data)

    def reader(self, fd, kind):
        import codecs

        utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        carry = b""
        while True:
            data = os.read(fd, CHUNK)
            if not data:
                return
            data, carry = carry + data, b""
            mark = self.ends.get(kind)
            if mark is not None and mark[1] in data:
                before, _, _ = data.partition(mark[1])
                text = utf8.decode(before, True)
                if text:
                    self.send({"type": kind, "text": text, "run": mark[0]})
                mark[2].set()
                continue
            if mark is not None:
                # the mark may be cut between two reads
                keep = len(mark[1]) - 1
                data, carry = data[:-keep], data[-keep:]
            text = utf8.decode(data)
            run = self.run
            if text and run:
                self.send({"type": kind, "text": text, "run": run})

    def drain(self, run):
        """Wait until all the run wrote to fd 1 and 2 is sent: a mark
        written after it comes back through each pipe."""
        token = ("\0islet-end-%d-%s\0" % (run, os.urandom(6).hex())).encode()
        events = []
        for kind, fd in (("stdout", 1), ("stderr", 2)):
            ev = threading.Event()
            self.ends[kind] = (run, token, ev)
            events.append(ev)
            try:
                os.write(fd, token)
            except OSError:
                ev.set()
        for ev in events:
            ev.wait(2.0)
        self.ends = {}


def serve():
    ctx = Context()
    control = os.fdopen(os.dup(0), "rb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for kind, fd in (("stdout", 1), ("stderr", 2)):
        r, w = os.pipe()
        os.dup2(w, fd)
        os.close(w)
        threading.Thread(target=ctx.reader, args=(r, kind), daemon=True).start()
    sys.stdin = open(os.devnull)
    matplotlib_env()
    watch_imports(ctx.emit)
    main = threading.main_thread().ident
    requests = []
    cond = threading.Condition()

    def on_sigint(sig, frame):
        if ctx.busy:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)

    def control_reader():
        for line in control:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("op") == "interrupt":
                run = msg.get("run")
                with ctx.gate:
                    if run == ctx.run and ctx.busy:
                        signal.pthread_kill(main, signal.SIGINT)
                    elif isinstance(run, int) and run > ctx.done:
                        ctx.pending = run  # its code has not begun: it will not
                continue
            with cond:
                requests.append(msg)
                cond.notify()
        with cond:
            requests.append(None)
            cond.notify()

    threading.Thread(target=control_reader, daemon=True).start()
    ctx.send({"type": "ready", "pid": os.getpid(), "cwd": os.getcwd()})
    while True:
        with cond:
            while not requests:
                cond.wait()
            msg = requests.pop(0)
        if msg is None:
            os._exit(0)
        if msg.get("op") == "adopt":
            adopt(ctx, msg)
            continue
        try:
            run_one(ctx, msg)
        except KeyboardInterrupt:  # an interrupt that came late: the run is over
            ctx.busy = False


def adopt(ctx, msg):
    """A spare (started ahead, nothing run yet) becomes a context: in its
    working directory, if one is given."""
    cwd = msg.get("cwd")
    try:
        if cwd:
            os.chdir(cwd)
    except OSError as e:
        ctx.send({"type": "refused", "error": str(e)})
        return
    ctx.send({"type": "ready", "pid": os.getpid(), "cwd": os.getcwd()})


def run_one(ctx, msg):
    import linecache

    run = msg.get("run") or 0
    envs = msg.get("envs") or {}
    saved = {k: os.environ.get(k) for k in envs}
    code = msg.get("code", "")
    # each cell a name of its own, so that a traceback shows its lines
    name = "<cell-%d>" % run
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    error = None
    ctx.run = run
    ctx.emit[0] = lambda chart: ctx.send({"type": "chart", "chart": chart, "run": run})
    try:
        os.environ.update({str(k): str(v) for k, v in envs.items()})
        compiled = compile(code, name, "exec")
        with ctx.gate:
            if ctx.pending == run:
                raise KeyboardInterrupt
            ctx.busy = True
        try:
            exec(compiled, ctx.globals)
        finally:
            with ctx.gate:
                ctx.busy = False
    except BaseException as e:
        ctx.busy = False
        tb = e.__traceback__
        # leave out the driver's own frames: the traceback starts at the cell
        while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell-"):
            tb = tb.tb_next
        lines = traceback.format_exception(type(e), e, tb)
        error = {"name": type(e).__name__, "value": str(e), "traceback": "".join(lines)}
    ctx.busy = False
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        for c in take_charts():
            ctx.emit[0](c)
    except Exception:
        pass
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    ctx.drain(run)
    with ctx.gate:
        ctx.run = 0
        ctx.done = run
    if error is not None:
        error.update({"type": "error", "run": run})
        ctx.send(error)
    ctx.send({"type": "control", "text": "completed", "run": run})
