'use strict';
// The code interpreter through the SDK (sandbox.codeInterpreter, and
// codeRun's charts): contexts that keep variables, imports and the working
// directory between runs, stdout and stderr apart, errors with their
// traceback, a timeout that interrupts and leaves the context usable, a
// context that dies from inside and says so; charts on runCode's WebSocket
// as a raw client reads them.  Charts need matplotlib in the
// sandbox: the `host` image has the host's /usr, where scripts/install-deps
// puts python3-matplotlib for this test.
const WebSocket = require('ws'); // the SDK's own dependency
const { assert, sdk, client, RUN, main } = require('./lib');

// runCode as a client other than the SDK makes it: the interpreter's
// WebSocket read raw, every message kept; resolves at a normal close.
function rawRunCode(sandboxId, code) {
  const base = process.env.ISLET_COMPAT_API_URL.replace(/\/api$/, '').replace(/^http/, 'ws');
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base}/toolbox/${sandboxId}/process/interpreter/execute`, {
      headers: { Authorization: `Bearer ${process.env.ISLET_COMPAT_KEY}` },
    });
    const chunks = [];
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('runCode: no close within 60 s'));
    }, 60000);
    ws.on('open', () => ws.send(JSON.stringify({ code })));
    ws.on('message', (data) => chunks.push(JSON.parse(data.toString())));
    ws.on('close', (status, reason) => {
      clearTimeout(timer);
      if (status === 1000) resolve(chunks);
      else reject(new Error(`runCode closed with ${status} ${reason}`));
    });
    ws.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

main('interpreter', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', labels: { run: RUN } });
  try {
    const ci = sb.codeInterpreter;

    // the default context keeps a variable and an import
    let r = await ci.runCode('import math\nx = 41');
    assert.equal(r.error, undefined, 'no error');
    r = await ci.runCode('print(x + 1, math.floor(2.5))');
    assert.equal(r.stdout, '42 2\n', 'the variable and the import are kept');

    // stdout and stderr apart, streamed to the callbacks too; a child's output counts
    const seen = [];
    r = await ci.runCode('import sys, os\nprint("out")\nsys.stderr.write("err\\n")\nos.system("echo child")', {
      onStdout: (m) => seen.push(['out', m.output]),
      onStderr: (m) => seen.push(['err', m.output]),
    });
    assert.equal(r.stdout, 'out\nchild\n');
    assert.equal(r.stderr, 'err\n');
    assert.ok(seen.some(([k, t]) => k === 'err' && t.includes('err')), 'onStderr was called');

    // an error: name, value, and the traceback's line
    r = await ci.runCode('a = 1\n\ndef f():\n    return 1 / 0\nf()');
    assert.ok(r.error, 'the error is reported');
    assert.equal(r.error.name, 'ZeroDivisionError');
    assert.equal(r.error.value, 'division by zero');
    assert.match(r.error.traceback, /line 4, in f/, r.error.traceback);
    assert.match(r.error.traceback, /return 1 \/ 0/, 'the traceback shows the line');

    // contexts: their own variables and a working directory
    const ctx = await ci.createContext('/tmp');
    assert.ok(ctx.id, 'a context has an id');
    assert.equal(ctx.cwd, '/tmp');
    assert.equal(ctx.language, 'python');
    r = await ci.runCode('import os\nprint(os.getcwd())\ntry:\n    print(x)\nexcept NameError:\n    print("no x")', { context: ctx });
    assert.equal(r.stdout, '/tmp\nno x\n', 'a context of its own, in its cwd');
    await ci.runCode('os.chdir("/")\ny = 7', { context: ctx });
    r = await ci.runCode('print(os.getcwd(), y)', { context: ctx });
    assert.equal(r.stdout, '/ 7\n', 'the context keeps its cwd and variables');
    let list = await ci.listContexts();
    assert.deepEqual(list.map((c) => c.id), [ctx.id], 'the list holds the context, not the default one');
    assert.equal(list[0].active, true);

    // envs per run
    r = await ci.runCode('import os\nprint(os.environ.get("ISLET_T"))', { envs: { ISLET_T: 'v1' } });
    assert.equal(r.stdout, 'v1\n');

    // a timeout interrupts `while True: pass`, and the context goes on
    const t0 = Date.now();
    await assert.rejects(ci.runCode('z = 5\nwhile True: pass', { context: ctx, timeout: 1 }), (e) => {
      assert.ok(e instanceof sdk.DaytonaTimeoutError, `${e.constructor.name}: ${e.message}`);
      return true;
    });
    assert.ok(Date.now() - t0 < 10000, 'the timeout ended the run');
    r = await ci.runCode('print(y, z)', { context: ctx });
    assert.equal(r.stdout, '7 5\n', 'the context is usable after the interrupt, its state kept');

    // a context killed from inside says so, and can be made again
    r = await ci.runCode('import os\nos._exit(3)', { context: ctx });
    assert.ok(r.error, 'the death is reported');
    assert.equal(r.error.name, 'ContextDied');
    assert.match(r.error.value, /exited with code 3/);
    r = await ci.runCode('print(1)', { context: ctx });
    assert.equal(r.error?.name, 'ContextDied', 'a dead context keeps saying so');
    list = await ci.listContexts();
    assert.equal(list.find((c) => c.id === ctx.id)?.active, false, 'listed as not active');
    await ci.deleteContext(ctx);
    const ctx2 = await ci.createContext();
    r = await ci.runCode('print("again")', { context: ctx2 });
    assert.equal(r.stdout, 'again\n', 'a new context works');
    await ci.deleteContext(ctx2);
    assert.deepEqual(await ci.listContexts(), []);

    // the default context killed from inside: told once, then made anew
    r = await ci.runCode('import os\nos._exit(0)');
    assert.equal(r.error?.name, 'ContextDied');
    r = await ci.runCode('print("x" in globals())');
    assert.equal(r.stdout, 'False\n', 'the default context starts anew');

    // an unknown context is refused with a message
    await assert.rejects(ci.runCode('1', { context: { id: 'nope' } }), /context 'nope' not found/);

    // codeRun: a matplotlib figure comes back as a chart
    const cr = await sb.process.codeRun(
      'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [4, 5, 6], label="s")\n' +
        'plt.title("Islet chart")\nplt.xlabel("xs")\nplt.ylabel("ys")\nplt.show()\nprint("drawn")',
    );
    assert.equal(cr.exitCode, 0, cr.result);
    assert.equal(cr.result, 'drawn\n', 'the chart line is not in the output');
    const charts = cr.artifacts.charts;
    assert.equal(charts.length, 1, 'one chart');
    assert.equal(charts[0].type, 'line');
    assert.equal(charts[0].title, 'Islet chart');
    assert.equal(charts[0].x_label, 'xs');
    assert.deepEqual(charts[0].elements[0].points, [[1, 4], [2, 5], [3, 6]]);
    const png = Buffer.from(charts[0].png, 'base64');
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG magic bytes');

    const bar = await sb.process.codeRun(
      'import matplotlib.pyplot as plt\nplt.bar(["a", "b"], [3, 4])\nplt.title("Bars")',
    );
    assert.equal(bar.artifacts.charts[0].type, 'bar', 'a figure left open is a chart too');
    assert.deepEqual(bar.artifacts.charts[0].elements.map((e) => [e.label, e.value]), [['a', '3'], ['b', '4']]);
    const scatter = await sb.process.codeRun(
      'import matplotlib.pyplot as plt\nplt.scatter([1, 2], [5, 7], label="pts")\nplt.title("Dots")\nplt.xlabel("u")',
    );
    const sc = scatter.artifacts.charts[0];
    assert.equal(sc.type, 'scatter', JSON.stringify(sc).slice(0, 300));
    assert.equal(sc.title, 'Dots');
    assert.equal(sc.x_label, 'u');
    assert.deepEqual(sc.elements[0].points, [[1, 5], [2, 7]]);
    const pie = await sb.process.codeRun(
      'import matplotlib.pyplot as plt\nplt.pie([1, 3], labels=["one", "three"])\nplt.title("Shares")',
    );
    const pc = pie.artifacts.charts[0];
    assert.equal(pc.type, 'pie', JSON.stringify(pc).slice(0, 300));
    assert.equal(pc.title, 'Shares');
    assert.deepEqual(pc.elements.map((e) => [e.label, Math.round(e.angle)]), [['one', 90], ['three', 270]]);

    // runCode's WebSocket carries each figure as {type: 'chart', chart}, the
    // chart as codeRun's artifacts.charts holds it; the SDK's runCode skips it
    const drawn = 'import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])\nplt.title("Over the socket")\n' +
      'plt.show()\nplt.bar(["a"], [1])\nprint("shown")';
    const chunks = await rawRunCode(sb.id, drawn);
    const wsCharts = chunks.filter((c) => c.type === 'chart').map((c) => c.chart);
    assert.equal(wsCharts.length, 2, `a chart at show() and one left open: ${JSON.stringify(chunks).slice(0, 400)}`);
    assert.equal(wsCharts[0].type, 'line');
    assert.equal(wsCharts[0].title, 'Over the socket');
    assert.deepEqual(wsCharts[0].elements[0].points, [[1, 3], [2, 4]]);
    assert.equal(wsCharts[1].type, 'bar');
    const wsPng = Buffer.from(wsCharts[0].png, 'base64');
    assert.deepEqual([...wsPng.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG magic bytes');
    assert.equal(chunks.filter((c) => c.type === 'stdout').map((c) => c.text).join(''), 'shown\n');
    assert.deepEqual(chunks[chunks.length - 1], { type: 'control', text: 'completed' }, 'completed comes last');
    r = await ci.runCode(drawn);
    assert.equal(r.error, undefined, 'the SDK runs code that draws');
    assert.equal(r.stdout, 'shown\n', 'the SDK skips the chart chunks');
  } finally {
    await sb.delete();
  }
});
