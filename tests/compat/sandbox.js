'use strict';
// The control plane through the SDK: create (with every field islet takes),
// get by id and by name, list by label, labels, stop and start, delete.
const { assert, client, RUN, expectSocketConnected, expectNotFound, main } = require('./lib');

main('sandbox', async () => {
  const daytona = client();
  const name = `compat-${RUN}`;
  const sb = await daytona.create({
    name,
    language: 'typescript',
    envVars: { GREETING: 'hello from compat', EMPTY: '' },
    labels: { suite: 'compat', run: RUN },
    resources: { cpu: 1, memory: 1, disk: 2 },
    autoStopInterval: 0,
  });
  await expectSocketConnected(daytona);
  assert.match(sb.id, /^[0-9a-f]{12}$/);
  assert.equal(sb.name, name);
  assert.equal(sb.state, 'started');
  assert.equal(sb.labels['code-toolbox-language'], 'typescript', 'the language label is echoed');
  assert.equal(sb.labels.suite, 'compat');
  assert.equal(sb.labels.run, RUN);
  assert.equal(sb.cpu, 1);
  assert.equal(sb.memory, 1);
  assert.equal(sb.disk, 2);
  assert.equal(sb.env.GREETING, 'hello from compat');

  // the env reaches the sandbox's processes
  const env = await sb.process.executeCommand('printenv GREETING');
  assert.equal(env.exitCode, 0);
  assert.equal(env.result.trim(), 'hello from compat');

  const byId = await daytona.get(sb.id);
  assert.equal(byId.id, sb.id);
  assert.equal(byId.name, name);
  assert.equal(byId.labels['code-toolbox-language'], 'typescript');
  const byName = await daytona.get(name);
  assert.equal(byName.id, sb.id);

  const listed = async (labels) => {
    const ids = [];
    for await (const s of daytona.list({ labels })) ids.push(s.id);
    return ids;
  };
  assert.deepEqual(await listed({ run: RUN }), [sb.id]);
  assert.deepEqual(await listed({ run: RUN, suite: 'other' }), []);

  const labels = await sb.setLabels({ suite: 'compat', run: RUN, phase: 'relabelled' });
  assert.equal(labels.phase, 'relabelled');
  assert.equal(sb.labels.phase, 'relabelled');
  assert.deepEqual(await listed({ phase: 'relabelled', run: RUN }), [sb.id]);
  assert.equal((await daytona.get(sb.id)).labels.phase, 'relabelled');

  await sb.stop();
  assert.equal(sb.state, 'stopped');
  assert.equal((await daytona.get(sb.id)).state, 'stopped');
  await sb.start();
  assert.equal(sb.state, 'started');
  const after = await sb.process.executeCommand('echo back');
  assert.equal(after.result.trim(), 'back');

  await sb.delete();
  await expectNotFound('get after delete', daytona.get(sb.id));
  await expectNotFound('get by name after delete', daytona.get(name));
  assert.deepEqual(await listed({ run: RUN }), []);
});
