'use strict';
// Sessions through the SDK: a long-lived shell per session (cd and export
// persist), synchronous and asynchronous commands, their logs, list, delete.
const { assert, client, RUN, expectNotFound, main } = require('./lib');

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
