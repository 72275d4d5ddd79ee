'use strict';
// sandbox.archive() of a stopped sandbox: its state is archived (in get,
// in the list and its states filter), a started one is refused, and
// start() restores it with its files.
const { assert, client, main, RUN } = require('./lib');

async function listed(daytona, states) {
  const names = [];
  for await (const s of daytona.list({ labels: { run: RUN }, states })) names.push(`${s.name}:${s.state}`);
  return names.sort();
}

main('archive', async () => {
  const daytona = client();
  const sb = await daytona.create({ name: 'compat-archive', labels: { run: RUN }, autoStopInterval: 0 });
  await sb.fs.uploadFile(Buffer.from('kept while archived\n'), '/workspace/f.txt');
  await assert.rejects(sb.archive(), /only a stopped sandbox can be archived/);

  await sb.stop();
  await sb.archive();
  assert.equal(sb.state, 'archived');
  assert.equal((await daytona.get('compat-archive')).state, 'archived');
  assert.deepEqual(await listed(daytona, ['archived']), ['compat-archive:archived']);
  assert.deepEqual(await listed(daytona, ['stopped']), []);
  await assert.rejects(sb.archive(), /already archived/);

  await sb.start();
  assert.equal(sb.state, 'started');
  assert.equal((await sb.fs.downloadFile('/workspace/f.txt')).toString(), 'kept while archived\n');
  assert.deepEqual(await listed(daytona, ['archived']), []);
  await sb.delete();
});
