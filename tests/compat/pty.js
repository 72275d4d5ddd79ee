'use strict';
// PTY sessions through the SDK: createPty (the create-connect WebSocket),
// the terminal's size (stty) before and after a resize, SIGWINCH, Ctrl-C
// reaching the foreground process, envs, list and info, a reattach with
// connectPty that replays the recent output (bounded) and sees new output,
// wait() with the shell's exit code, kill, and refusals that say why (not
// "[object Object]").
const { assert, sdk, client, RUN, until, main } = require('./lib');

function collector() {
  const c = { text: '' };
  const dec = new TextDecoder();
  c.onData = (d) => {
    assert.ok(d instanceof Uint8Array, 'output comes as bytes');
    c.text += dec.decode(d, { stream: true });
  };
  c.see = async (what, re, ms = 15000) => {
    try {
      await until(what, () => re.test(c.text), ms);
    } catch (e) {
      throw new Error(`${e.message}; the terminal showed: ${JSON.stringify(c.text.slice(-400))}`);
    }
  };
  return c;
}

async function refused(what, promise, re) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof sdk.DaytonaError, `${what}: ${e?.constructor?.name}`);
    assert.match(e.message, re, `${what}: the error says why`);
    return true;
  });
}

main('pty', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', labels: { run: RUN } });
  try {
    const p = sb.process;
    const a = collector();
    const h = await p.createPty({ id: 'term1', cols: 100, rows: 30, envs: { ISLET_PTY_VAR: 'v-1' }, onData: a.onData });
    assert.ok(h.isConnected(), 'connected once createPty returns');

    // the size it was made with, and the caller's envs
    await h.sendInput('stty size; echo "var=$ISLET_PTY_VAR tty=$(tty)"\n');
    await a.see('stty size at create', /[\r\n]30 100\r?\n/);
    await a.see('envs and a tty from the sandbox', /var=v-1 tty=\/dev\/pts\/\d+/);

    // a resize: the new size, and SIGWINCH for the foreground process
    // (what is awaited is never in the typed line, which the terminal echoes)
    await h.sendInput("trap 'echo got-$((3+4))-winch' WINCH; echo trap-$((1+1))-set\n");
    await a.see('trap set', /trap-2-set/);
    const info = await h.resize(120, 40);
    assert.equal(info.cols, 120);
    assert.equal(info.rows, 40);
    await h.sendInput('stty size\n');
    await a.see('stty size after the resize', /[\r\n]40 120\r?\n/);
    await a.see('SIGWINCH', /got-7-winch/);

    // Ctrl-C (byte 3) interrupts the foreground `sleep 100`
    const t0 = Date.now();
    await h.sendInput('sleep 100\n');
    await new Promise((r) => setTimeout(r, 500));
    await h.sendInput(new Uint8Array([3]));
    await h.sendInput('echo "rc=$?"\n');
    await a.see('sleep interrupted by Ctrl-C', /rc=130/);
    assert.ok(Date.now() - t0 < 20000, 'the sleep did not run its 100 s');

    // list and info
    const list = await p.listPtySessions();
    const mine = list.find((s) => s.id === 'term1');
    assert.ok(mine, `term1 is listed: ${JSON.stringify(list)}`);
    assert.equal(mine.active, true);
    assert.equal(mine.cols, 120);
    assert.equal(mine.envs.ISLET_PTY_VAR, 'v-1');
    const got = await p.getPtySessionInfo('term1');
    assert.equal(got.rows, 40);
    assert.ok(!Number.isNaN(Date.parse(got.createdAt)), 'createdAt is a date');

    // the session outlives its WebSocket: reattach, see what it printed
    // while nobody watched (the scrollback, replayed first), and new output
    await h.sendInput('sleep 1; echo "away-$((5*5))"\n');
    await h.disconnect();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await p.getPtySessionInfo('term1')).active, true, 'alive without a WebSocket');
    await new Promise((r) => setTimeout(r, 1500));
    const b = collector();
    let h2 = await p.connectPty('term1', { onData: b.onData });
    await b.see('output printed while detached, replayed', /away-25/);
    assert.match(b.text, /got-7-winch/, 'older output is replayed too');
    await h2.sendInput('echo "back-$((6*7))"\n');
    await b.see('output after the reattach', /back-42/);

    // a flood: a reattach replays its last 64 KiB at most, from a line's start
    await h2.sendInput('seq -f "line-%06g" 1 20000; echo "flood-$((2*3))-done"\n');
    await b.see('the flood', /flood-6-done/, 30000);
    await h2.disconnect();
    const f = collector();
    h2 = await p.connectPty('term1', { onData: f.onData });
    await f.see('the flood replayed', /flood-6-done/);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(Buffer.byteLength(f.text) <= 65536, `the replay is bounded: ${Buffer.byteLength(f.text)} bytes`);
    assert.ok(!f.text.includes('line-000001'), 'the flood\'s start is past the bound');
    assert.match(f.text, /^line-\d{6}\r\n/, 'the replay starts at a line');
    assert.match(f.text, /line-020000/);

    // the shell's exit code through wait()
    await h2.sendInput('exit 3\n');
    const res = await h2.wait();
    assert.equal(res.exitCode, 3);
    assert.ok(!(await p.listPtySessions()).some((s) => s.id === 'term1'), 'term1 is gone once it exited');

    // kill: the session ends, and its handle's wait() returns
    const c = collector();
    const h3 = await p.createPty({ id: 'term2', onData: c.onData });
    await h3.sendInput('echo "default $(stty size)"\n');
    await c.see('the default size', /default 24 80/);
    await p.killPtySession('term2');
    const killed = await h3.wait();
    assert.equal(killed.exitCode, 137, `killed: ${JSON.stringify(killed)}`);
    await assert.rejects(p.getPtySessionInfo('term2'), /PTY session 'term2' not found/);

    // refusals carry their reason
    await refused('reattach to no session', p.connectPty('nosuch', { onData() {} }), /PTY session 'nosuch' not found/);
    const h4 = await p.createPty({ id: 'term3', onData() {} });
    await refused('a second session with the same id', p.createPty({ id: 'term3', onData() {} }), /exists already/);
    await refused('a bad id', p.createPty({ id: 'a b', onData() {} }), /PTY session id/);
    await h4.kill();
    await h4.wait();
  } finally {
    await sb.delete();
  }
});
