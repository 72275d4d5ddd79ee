'use strict';
// updateEnv through the SDK: set and unset, seen by the next command and
// session, kept across a stop and a start and in the sandbox's env; a name
// with '=' is refused and changes nothing.
const { assert, client, main } = require('./lib');

async function envOf(sb) {
  const r = await sb.process.executeCommand('env');
  assert.equal(r.exitCode, 0, r.result);
  return Object.fromEntries(
    r.result
      .split('\n')
      .filter((l) => /^(A|B|C)=/.test(l))
      .map((l) => l.split('=')),
  );
}

main('env', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', autoStopInterval: 0, envVars: { A: '1', B: '2' } });
  assert.deepEqual(await envOf(sb), { A: '1', B: '2' });

  await sb.updateEnv({ A: '10', C: '3' }, { unset: ['B'] });
  assert.deepEqual(await envOf(sb), { A: '10', C: '3' });
  await sb.process.createSession('s');
  const s = await sb.process.executeSessionCommand('s', { command: 'echo "$A:${B-unset}:$C"' });
  assert.equal(s.stdout.trim(), '10:unset:3');
  assert.deepEqual((await daytona.get(sb.id)).env, { A: '10', C: '3' });

  await assert.rejects(sb.updateEnv({ 'X=Y': '1' }), /must be a name/);
  assert.deepEqual(await envOf(sb), { A: '10', C: '3' }, 'a refused update changes nothing');

  await sb.stop();
  await sb.start();
  assert.deepEqual(await envOf(sb), { A: '10', C: '3' }, 'kept across a stop and a start');
  await sb.delete();
});
