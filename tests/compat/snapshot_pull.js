'use strict';
// Pulls through the SDK, from the registry on loopback that run.sh started
// and filled: daytona.snapshot.create of an image not on the machine waits
// (its onLogs see the states pending/pulling, then active), a sandbox from
// the snapshot has the image's files; create({image}) of an image not here
// pulls it first; one the registry has not fails with the reason.
const { assert, client, main, RUN } = require('./lib');

main('snapshot_pull', async () => {
  const daytona = client();
  const reg = process.env.ISLET_COMPAT_REGISTRY;
  assert.ok(reg, 'run.sh sets ISLET_COMPAT_REGISTRY');

  const logs = [];
  const s = await daytona.snapshot.create({ name: 'compat-pull', image: `${reg}/compat/pulled:1` },
    { onLogs: (line) => logs.push(line) });
  assert.equal(s.state, 'active');
  assert.equal(s.imageName, `${reg}/compat/pulled:1`);
  assert.ok(logs.some((l) => /^Creating snapshot compat-pull \((pending|pulling)\)$/.test(l)), logs.join('\n'));
  assert.equal(logs[logs.length - 1], 'Created snapshot compat-pull (active)');

  const sb = await daytona.create({ snapshot: 'compat-pull', labels: { run: RUN } });
  assert.equal((await sb.process.executeCommand('cat /srv/hello')).result, 'compat/pulled:1\n');
  await sb.delete();

  const sb2 = await daytona.create({ image: `${reg}/compat/from:1`, labels: { run: RUN } });
  assert.equal(sb2.state, 'started');
  assert.equal((await sb2.process.executeCommand('cat /srv/hello')).result, 'compat/from:1\n');
  await sb2.delete();

  await assert.rejects(daytona.snapshot.create({ name: 'compat-nopull', image: `${reg}/compat/none:1` }),
    /Reason: image `[^`]*compat\/none:1` is not on this machine and its pull failed: /);
  assert.equal((await daytona.snapshot.get('compat-nopull')).state, 'error');
  await daytona.snapshot.delete('compat-nopull');
  await daytona.snapshot.delete('compat-pull');
});
