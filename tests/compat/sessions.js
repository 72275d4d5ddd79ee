'use strict';
// Sessions through the SDK: a long-lived shell per session (cd and export
// persist), synchronous and asynchronous commands, their logs, list, delete.
const http = require('node:http');
const path = require('node:path');
const { WebSocketServer } = require('ws');
const { assert, client, RUN, expectNotFound, main } = require('./lib');

// What the SDK 0.218.0 makes of each answer a server can give a followed
// logs WebSocket, tried on a server of our own on loopback with the SDK's own
// socket (createSandboxWebSocket) and reader (stdDemuxStream, what
// getSessionCommandLogs with callbacks awaits).  It proves that no answer
// can reject with the server's reason: stdDemuxStream resolves on any close,
// whatever its code and reason (so upgrading to then close with the reason,
// as islet does for a refused PTY, would turn a refusal into a silent
// success), and ws rejects a non-101 answer with its own fixed text, which
// carries the status and nothing of the body or the status line.  So a
// refused follow stays a non-101 answer, whose status is the one thing the
// caller can read (docs/INTEGRATIONS.md says so).
async function followAnswers() {
  const sdkDir = path.dirname(require.resolve('@daytonaio/sdk'));
  const { createSandboxWebSocket } = require(path.join(sdkDir, 'utils/WebSocket.js'));
  const { stdDemuxStream } = require(path.join(sdkDir, 'utils/Stream.js'));
  const reason = 'command not found: the reason';
  const server = http.createServer((req, res) => {
    res.writeHead(404, reason, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ statusCode: 404, message: reason }));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const code = Number(new URL(req.url, 'http://x').searchParams.get('close'));
    if (!code) {
      // no upgrade: an HTTP answer with the reason in its status line and body
      socket.end(`HTTP/1.1 404 ${reason}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n` +
        JSON.stringify({ statusCode: 404, message: reason }));
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => ws.close(code, reason));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `ws://127.0.0.1:${server.address().port}/logs`;
  const follow = async (query) => {
    const ws = await createSandboxWebSocket(`${base}${query}`, {}, async () => '');
    let said = '';
    await stdDemuxStream(ws, (t) => (said += t), (t) => (said += t));
    return said;
  };
  try {
    for (const code of [1008, 1011, 4004]) {
      assert.equal(await follow(`?close=${code}`), '', `upgraded, then closed with ${code} and a reason: resolved, nothing said`);
    }
    await assert.rejects(follow(''), (e) => {
      assert.equal(e.message, 'Unexpected server response: 404', 'a non-101 answer: ws\'s own text');
      assert.equal(e.error?.message, e.message, 'the error inside says no more');
      return true;
    });
  } finally {
    wss.close();
    server.close();
    server.closeAllConnections();
  }
}

main('sessions', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', labels: { run: RUN } });
  try {
    const p = sb.process;
    await p.createSession('s1');
    let r = await p.executeSessionCommand('s1', { command: 'export FOO=bar; cd /tmp' });
    assert.equal(r.exitCode, 0);
    r = await p.executeSessionCommand('s1', { command: 'echo "$FOO in $(pwd)"; echo oops >&2' });
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'bar in /tmp\n');
    assert.equal(r.stderr, 'oops\n');
    r = await p.executeSessionCommand('s1', { command: 'exit_code() { return 4; }; exit_code' });
    assert.equal(r.exitCode, 4);

    const started = await p.executeSessionCommand('s1', { command: 'sleep 0.3; echo late', runAsync: true });
    assert.ok(started.cmdId, 'an async command has an id');
    let cmd;
    for (let i = 0; i < 200 && (cmd?.exitCode === undefined || cmd?.exitCode === null); i++) {
      cmd = await p.getSessionCommand('s1', started.cmdId);
      if (cmd.exitCode === undefined || cmd.exitCode === null) await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(cmd.exitCode, 0, 'the async command ended within 20 s');
    const logs = await p.getSessionCommandLogs('s1', started.cmdId);
    assert.equal(logs.stdout, 'late\n');

    // following the logs (a WebSocket): the command waits for a file that is
    // made only once its first line has come through the follow, so the
    // follow must deliver output while the command runs
    const waiting = await p.executeSessionCommand('s1', {
      command:
        'echo ready; i=0; while [ ! -e /tmp/go ] && [ $i -lt 250 ]; do sleep 0.1; i=$((i+1)); done; ' +
        '[ -e /tmp/go ] && echo go-seen >&2 || echo no-go >&2; printf "\\001\\002 end"',
      runAsync: true,
    });
    let followedOut = '';
    let followedErr = '';
    let touched = null;
    await p.getSessionCommandLogs(
      's1',
      waiting.cmdId,
      (chunk) => {
        followedOut += chunk;
        if (touched === null && followedOut.includes('ready')) {
          touched = sb.process.executeCommand('touch /tmp/go');
        }
      },
      (chunk) => {
        followedErr += chunk;
      },
    );
    assert.ok(touched, 'the first line came while the command was running');
    assert.equal((await touched).exitCode, 0);
    assert.equal(followedOut, 'ready\n\u0001\u0002 end', 'stdout, followed to its end');
    assert.equal(followedErr, 'go-seen\n', 'stderr, apart from stdout');
    const ended = await p.getSessionCommand('s1', waiting.cmdId);
    assert.equal(ended.exitCode, 0, 'the follow ended with the command');

    // a refused follow rejects (it is not a silent end of the logs), with
    // the status in the message; the reason itself cannot reach the caller
    await followAnswers();
    for (const [what, sid, cid] of [
      ['no such command', 's1', '0123456789abcdef'],
      ['no such session', 'nosuch', waiting.cmdId],
    ]) {
      await assert.rejects(p.getSessionCommandLogs(sid, cid, () => {}, () => {}), (e) => {
        assert.equal(e.message, 'Unexpected server response: 404', `follow, ${what}`);
        return true;
      });
    }

    const session = await p.getSession('s1');
    assert.equal(session.sessionId, 's1');
    assert.ok(session.commands.some((c) => c.id === started.cmdId));
    assert.deepEqual((await p.listSessions()).map((s) => s.sessionId), ['s1']);
    await p.deleteSession('s1');
    await expectNotFound('a deleted session', p.getSession('s1'));
  } finally {
    await sb.delete();
  }
});
