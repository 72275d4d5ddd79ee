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
