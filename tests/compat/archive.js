'use strict';
// sandbox.archive() of a stopped sandbox: its state is archived (in get,
// in the list and its states filter), a started one is refused, and
// start() restores it with its files: contents, modes, hard links,
// symlinks and holes, from the archive isletd made of its volume.
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
  const data = Buffer.from([...Array(1 << 20).keys()].map((i) => (i * 31 + (i >> 8)) & 255));
  await sb.fs.uploadFile(data, '/workspace/data.bin');
  await sb.fs.uploadFile(Buffer.from('cd /workspace\nchmod 600 f.txt\nln f.txt hard\nln -s f.txt soft\n'
    + 'truncate -s 64M holes\necho end >>holes\n'), '/tmp/setup.sh');
  assert.equal((await sb.process.executeCommand('sh /tmp/setup.sh')).exitCode, 0);
  const shape = 'sh -c "cd /workspace; stat -c \'%n %a %h %s\' f.txt hard holes; readlink soft; du -k holes | cut -f1"';
  const before = (await sb.process.executeCommand(shape)).result;
  assert.match(before, /^f\.txt 600 2 20\nhard 600 2 20\nholes 644 1 67108868\nf\.txt\n\d+\n$/);
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
  assert.ok((await sb.fs.downloadFile('/workspace/data.bin')).equals(data), 'the data after the restore');
  const after = (await sb.process.executeCommand(shape)).result;
  assert.equal(after, before);
  assert.ok(Number(after.trim().split('\n').pop()) < 1024, `holes kept: ${after}`);
  assert.deepEqual(await listed(daytona, ['archived']), []);
  await sb.delete();
});
