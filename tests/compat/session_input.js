'use strict';
// sendSessionCommandInput: stdin to a running async session command, which
// reads it as it comes (two lines, one after the other's answer); input to
// a command that has ended, or to one that is not there, is refused with
// the reason.
const { assert, sdk, client, RUN, main } = require('./lib');

main('session_input', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', labels: { run: RUN } });
  try {
    const p = sb.process;
    await p.createSession('in1');
    const started = await p.executeSessionCommand('in1', {
      command: 'read line; echo "got:$line"; read second; echo "then:$second"; exit 5',
      runAsync: true,
    });
    const logs = async () => (await p.getSessionCommandLogs('in1', started.cmdId)).stdout;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await logs(), '', 'nothing before its input');
    await p.sendSessionCommandInput('in1', started.cmdId, 'hello there\n');
    let out = '';
    for (let i = 0; i < 100 && !(out = await logs()).includes('got:hello there'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(out, 'got:hello there\n', 'the first line was read while the command ran');
    await p.sendSessionCommandInput('in1', started.cmdId, 'world\n');
    let cmd;
    for (let i = 0; i < 100; i++) {
      cmd = await p.getSessionCommand('in1', started.cmdId);
      if (cmd.exitCode !== undefined && cmd.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(cmd.exitCode, 5);
    assert.equal(await logs(), 'got:hello there\nthen:world\n');

    await assert.rejects(p.sendSessionCommandInput('in1', started.cmdId, 'late\n'), (e) => {
      assert.ok(e instanceof sdk.DaytonaError, e.constructor.name);
      assert.match(e.message, /has ended/);
      return true;
    });
    await assert.rejects(
      p.sendSessionCommandInput('in1', '00000000-0000-4000-8000-000000000000', 'x\n'),
      (e) => e instanceof sdk.DaytonaNotFoundError,
    );
  } finally {
    await sb.delete();
  }
});
