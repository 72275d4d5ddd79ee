'use strict';
// The sandbox's files through the SDK: bytes in and out exactly, listing,
// folders, details, move, delete.
const crypto = require('node:crypto');
const { assert, client, RUN, sdk, main } = require('./lib');

main('fs', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', labels: { run: RUN } });
  try {
    const fs = sb.fs;
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i)); // every byte value
    const big = crypto.randomBytes(3 * 1024 * 1024 + 17);

    await fs.createFolder('/workspace/data', '755');
    await fs.uploadFile(every, '/workspace/data/every.bin');
    await fs.uploadFile(big, '/workspace/data/big.bin');
    await fs.uploadFile(Buffer.alloc(0), '/workspace/data/empty');
    assert.ok((await fs.downloadFile('/workspace/data/every.bin')).equals(every), 'every byte back');
    assert.ok((await fs.downloadFile('/workspace/data/big.bin')).equals(big), '3 MiB back');
    assert.equal((await fs.downloadFile('/workspace/data/empty')).length, 0);
    // what the sandbox itself sees
    const sum = await sb.process.executeCommand('sha256sum /workspace/data/big.bin');
    assert.equal(sum.result.split(' ')[0], crypto.createHash('sha256').update(big).digest('hex'));

    const names = (await fs.listFiles('/workspace/data')).map((f) => f.name).sort();
    assert.deepEqual(names, ['big.bin', 'empty', 'every.bin']);

    const info = await fs.getFileDetails('/workspace/data/big.bin');
    assert.equal(info.size, big.length);
    assert.equal(info.isDir, false);
    const dir = await fs.getFileDetails('/workspace/data');
    assert.equal(dir.isDir, true);

    await fs.createFolder('/workspace/data/sub', '700');
    await fs.moveFiles('/workspace/data/every.bin', '/workspace/data/sub/moved.bin');
    assert.ok((await fs.downloadFile('/workspace/data/sub/moved.bin')).equals(every), 'moved intact');
    await assert.rejects(fs.getFileDetails('/workspace/data/every.bin'), sdk.DaytonaNotFoundError);

    await fs.deleteFile('/workspace/data/big.bin');
    await assert.rejects(fs.downloadFile('/workspace/data/big.bin'), sdk.DaytonaError);
    await fs.deleteFile('/workspace/data/sub', true);
    assert.deepEqual((await fs.listFiles('/workspace/data')).map((f) => f.name), ['empty']);
  } finally {
    await sb.delete();
  }
});
