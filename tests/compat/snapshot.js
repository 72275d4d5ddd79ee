'use strict';
// Snapshots through the SDK: daytona.snapshot.create from an image of the
// store, get by name and by id, activate, list page by page; a sandbox made
// from it has the image's file; sandbox.createSnapshot keeps a sandbox's
// files, and a sandbox made from that snapshot has them (byte for byte)
// over the image's; delete is refused while a sandbox uses the snapshot;
// another key sees none of them.
const { assert, client, expectNotFound, main } = require('./lib');

async function run(sb, cmd) {
  const r = await sb.process.executeCommand(cmd);
  assert.equal(r.exitCode, 0, `${cmd}: ${r.result}`);
  return r.result;
}

main('snapshot', async () => {
  const daytona = client();
  const image = process.env.ISLET_COMPAT_IMAGE;

  const s = await daytona.snapshot.create({ name: 'compat-img', image });
  assert.equal(s.state, 'active');
  assert.equal(s.name, 'compat-img');
  assert.equal(s.imageName, image);
  assert.equal((await daytona.snapshot.get('compat-img')).id, s.id);
  assert.equal((await daytona.snapshot.get(s.id)).name, 'compat-img');
  assert.equal((await daytona.snapshot.activate('compat-img')).state, 'active');
  await assert.rejects(daytona.snapshot.create({ name: 'compat-img', image }), /exists/);
  await assert.rejects(daytona.snapshot.create({ name: 'compat-none', image: 'example.test/none:1' }),
    /is not on this machine/);
  // isletd tried to pull it: the snapshot stays, in error, until deleted
  assert.equal((await daytona.snapshot.get('compat-none')).state, 'error');
  await daytona.snapshot.delete('compat-none');

  const sb = await daytona.create({ snapshot: 'compat-img', autoStopInterval: 0 });
  assert.equal(await run(sb, 'cat /srv/app/only-in-the-image'), 'image file\n');
  await assert.rejects(daytona.snapshot.delete('compat-img'), /in use by sandbox/);

  const data = Buffer.from([...Array(65536).keys()].map((i) => (i * 7) & 255));
  await sb.fs.uploadFile(data, '/tmp/kept.bin');
  await sb.createSnapshot('compat-files');
  const files = await daytona.snapshot.get('compat-files');
  assert.equal(files.state, 'active');
  assert.equal(files.sourceSandboxId, sb.id);
  await sb.fs.uploadFile(Buffer.from('after\n'), '/tmp/kept.bin');

  const sb2 = await daytona.create({ snapshot: 'compat-files' });
  assert.ok((await sb2.fs.downloadFile('/tmp/kept.bin')).equals(data), 'the snapshot keeps the files as they were');
  assert.equal(await run(sb2, 'cat /srv/app/only-in-the-image'), 'image file\n');

  const p1 = await daytona.snapshot.list(1, 1);
  const p2 = await daytona.snapshot.list(2, 1);
  assert.equal(p1.total, 2);
  assert.equal(p1.totalPages, 2);
  assert.deepEqual([p1.items[0].name, p2.items[0].name], ['compat-img', 'compat-files']);

  const other = client(process.env.ISLET_COMPAT_KEY2);
  await expectNotFound('another key', other.snapshot.get('compat-files'));
  assert.equal((await other.snapshot.list()).total, 0);

  await assert.rejects(daytona.snapshot.delete('compat-files'), /in use/);
  await sb2.delete();
  await daytona.snapshot.delete('compat-files');
  await expectNotFound('a deleted snapshot', daytona.snapshot.get('compat-files'));
  await sb.delete();
  await daytona.snapshot.delete('compat-img');
  assert.equal((await daytona.snapshot.list()).total, 0);
});
