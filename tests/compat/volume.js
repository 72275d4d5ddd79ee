'use strict';
// Volumes through the official SDK: volume.create, get with create=true,
// list; a sandbox writes into a volume and a second one, mounted at once,
// reads the same bytes (a third through a subpath); another key sees none
// of it; delete is refused while a sandbox mounts the volume, then allowed.
const { assert, sdk, client, RUN, expectNotFound, main } = require('./lib');

main('volume', async () => {
  const daytona = client();
  const other = client(process.env.ISLET_COMPAT_KEY2);
  const name = `vol-${RUN}`;
  const made = await daytona.volume.create(name);
  assert.equal(made.name, name);
  assert.equal(made.state, 'ready');
  assert.match(made.id, /^[0-9a-f-]{36}$/);
  const again = await daytona.volume.get(name);
  assert.equal(again.id, made.id);
  const lazy = await daytona.volume.get(`lazy-${RUN}`, true);
  assert.equal(lazy.state, 'ready');
  assert.notEqual(lazy.id, made.id);
  const names = (await daytona.volume.list()).map((v) => v.name);
  assert.ok(names.includes(name) && names.includes(`lazy-${RUN}`), `list: ${names}`);

  // another key: the volumes are not there, by name or in a create
  await expectNotFound('another key gets the volume', other.volume.get(name));
  assert.equal((await other.volume.list()).filter((v) => v.id === made.id).length, 0);
  await assert.rejects(other.create({ volumes: [{ volumeId: made.id, mountPath: '/data' }] }), /no volume/);

  const a = await daytona.create({ labels: { run: RUN }, volumes: [{ volumeId: made.id, mountPath: '/data' }] });
  const b = await daytona.create({ labels: { run: RUN }, volumes: [{ volumeId: made.id, mountPath: '/mnt/shared' }] });
  const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13, 0x7f]);
  await a.fs.uploadFile(bytes, '/data/blob.bin');
  await a.process.executeCommand(`sh -c 'mkdir -p /data/sub && echo deep > /data/sub/note'`);
  const read = await b.fs.downloadFile('/mnt/shared/blob.bin');
  assert.deepEqual(Buffer.from(read), bytes, 'the second sandbox reads the bytes the first wrote');
  const c = await daytona.create({
    labels: { run: RUN },
    volumes: [{ volumeId: made.id, mountPath: '/only', subpath: 'sub' }],
  });
  assert.deepEqual(c.volumes, [{ volumeId: made.id, mountPath: '/only', subpath: 'sub' }]);
  assert.deepEqual((await daytona.get(a.id)).volumes, [{ volumeId: made.id, mountPath: '/data' }]);
  assert.equal((await c.process.executeCommand(`sh -c 'cat /only/note; ls /only'`)).result.trim(), 'deep\nnote');
  await assert.rejects(
    daytona.create({ labels: { run: RUN }, volumes: [{ volumeId: made.id, mountPath: '/x', subpath: '../up' }] }),
    /subpath/,
  );

  // in use: refused with the sandbox named, running or stopped
  await assert.rejects(daytona.volume.delete(made), (e) => {
    assert.ok(e instanceof sdk.DaytonaError, `${e.constructor.name}: ${e.message}`);
    assert.ok([a.id, b.id, c.id].some((id) => e.message.includes(id)), `the refusal names no sandbox: ${e.message}`);
    return true;
  });
  await b.stop();
  await a.delete();
  await c.delete();
  await assert.rejects(daytona.volume.delete(made), (e) => e.message.includes(b.id));
  await b.delete();

  // the data outlives its sandboxes
  const d = await daytona.create({ labels: { run: RUN }, volumes: [{ volumeId: made.id, mountPath: '/again' }] });
  assert.deepEqual(Buffer.from(await d.fs.downloadFile('/again/blob.bin')), bytes);
  await d.delete();

  await daytona.volume.delete(made);
  await daytona.volume.delete(lazy);
  await expectNotFound('a deleted volume', daytona.volume.get(name));
});
