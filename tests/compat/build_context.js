'use strict';
// Image.addLocalFile and addLocalDir with the official SDK: it asks
// /object-storage/push-access for credentials, uploads each local path as a
// tar with its S3 client (a file past 5 MiB as a multipart upload), and
// names them in buildInfo.contextHashes; isletd builds the Dockerfile's COPY
// lines from them.  The sandbox made from the image has the files with
// their contents and modes; the same Image again is the same image (the
// SDK finds its contexts already uploaded); a changed file makes another
// image with the new contents; Image.fromDockerfile's COPY sources and
// snapshot.create's local files are uploaded and built the same way.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { assert, sdk, client, RUN, main } = require('./lib');

async function run(sb, cmd) {
  const r = await sb.process.executeCommand(cmd);
  assert.equal(r.exitCode, 0, `${cmd}: ${r.result}`);
  return r.result;
}

main('build_context', async () => {
  const daytona = client();
  const base = process.env.ISLET_COMPAT_IMAGE;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-ctx-'));
  try {
    const one = path.join(dir, 'one.txt');
    fs.writeFileSync(one, 'the one file\n');
    fs.chmodSync(one, 0o640);
    fs.mkdirSync(path.join(dir, 'tree', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'tree', 'run.sh'), '#!/bin/sh\necho ran from the context\n');
    fs.chmodSync(path.join(dir, 'tree', 'run.sh'), 0o755);
    fs.writeFileSync(path.join(dir, 'tree', 'sub', 'deep.txt'), 'deep\n');
    fs.chmodSync(path.join(dir, 'tree', 'sub', 'deep.txt'), 0o600);
    // past lib-storage's 5 MiB part size: CreateMultipartUpload, two parts
    const big = crypto.randomBytes(6 * 1024 * 1024 + 123);
    fs.writeFileSync(path.join(dir, 'big.bin'), big);
    const bigSha = crypto.createHash('sha256').update(big).digest('hex');

    const image = () => sdk.Image.base(base)
      .addLocalFile(one, '/srv/app/one.txt')
      .addLocalDir(path.join(dir, 'tree'), '/srv/app/tree')
      .addLocalFile(path.join(dir, 'big.bin'), '/srv/big.bin');
    const sb = await daytona.create({ image: image(), labels: { run: RUN } }, { timeout: 150 });
    assert.equal(sb.state, 'started');
    assert.equal(await run(sb, 'cat /srv/app/one.txt /srv/app/tree/sub/deep.txt /srv/app/only-in-the-image'),
      'the one file\ndeep\nimage file\n');
    assert.equal(await run(sb, 'busybox stat -c "%a %s %n" /srv/app/one.txt /srv/app/tree/run.sh /srv/app/tree/sub/deep.txt'),
      '640 13 /srv/app/one.txt\n755 36 /srv/app/tree/run.sh\n600 5 /srv/app/tree/sub/deep.txt\n');
    assert.equal(await run(sb, '/srv/app/tree/run.sh'), 'ran from the context\n');
    assert.equal((await run(sb, 'busybox sha256sum /srv/big.bin')).split(' ')[0], bigSha);
    await sb.delete();

    // the same files again: the same image, built once
    const again = await daytona.create({ image: image(), labels: { run: RUN } }, { timeout: 150 });
    assert.equal(again.snapshot, sb.snapshot, 'the same Image is the same image');
    await again.delete();

    // a file changed: another context hash, another image, the new contents
    fs.writeFileSync(one, 'changed\n');
    const changed = await daytona.create({ image: image(), labels: { run: RUN } }, { timeout: 150 });
    assert.notEqual(changed.snapshot, sb.snapshot);
    assert.equal(await run(changed, 'cat /srv/app/one.txt'), 'changed\n');
    await changed.delete();

    // Image.fromDockerfile: COPY sources relative to the Dockerfile's directory
    const df = path.join(dir, 'df');
    fs.mkdirSync(path.join(df, 'app'), { recursive: true });
    fs.writeFileSync(path.join(df, 'app', 'main.py'), 'print("main")\n');
    fs.writeFileSync(path.join(df, 'note.txt'), 'a note\n');
    fs.writeFileSync(path.join(df, 'Dockerfile'),
      `FROM ${base}\nCOPY app /srv/fd/app\nCOPY note.txt /srv/fd/\n`);
    const fromDf = await daytona.create(
      { image: sdk.Image.fromDockerfile(path.join(df, 'Dockerfile')), labels: { run: RUN } },
      { timeout: 150 });
    assert.equal(await run(fromDf, 'cat /srv/fd/app/main.py /srv/fd/note.txt'), 'print("main")\na note\n');
    await fromDf.delete();

    // snapshot.create from an Image with a local file
    const snap = await daytona.snapshot.create(
      { name: `ctx-${RUN}`, image: sdk.Image.base(base).addLocalFile(one, '/srv/snap.txt') },
      { timeout: 150 });
    assert.equal(snap.state, 'active');
    const fromSnap = await daytona.create({ snapshot: snap.name, labels: { run: RUN } });
    assert.equal(await run(fromSnap, 'cat /srv/snap.txt'), 'changed\n');
    await fromSnap.delete();
    await daytona.snapshot.delete(snap);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
