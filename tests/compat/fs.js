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

    // setFilePermissions with owner and group: names from the sandbox's own
    // /etc/passwd and /etc/group, or ids; the mode after the owner
    const sh = async (cmd) => {
      const b64 = Buffer.from(cmd).toString('base64');
      return (await sb.process.executeCommand(`bash -c "echo ${b64} | base64 -d | bash"`)).result.trim();
    };
    await fs.uploadFile(Buffer.from('mine\n'), '/workspace/own.txt');
    await fs.setFilePermissions('/workspace/own.txt', { owner: 'nobody', group: 'nogroup', mode: '640' });
    assert.equal(await sh('stat -c "%u:%g %a" /workspace/own.txt'), '65534:65534 640');
    await fs.setFilePermissions('own.txt', { owner: '4321' });
    assert.equal(await sh('stat -c "%u:%g" /workspace/own.txt'), '4321:65534', 'an id, the group kept');
    await fs.setFilePermissions('/workspace/own.txt', { group: 'root' });
    assert.equal(await sh('stat -c "%u:%g" /workspace/own.txt'), '4321:0');
    // what the sandbox does not have is refused, and says so
    const refused = async (what, p, re) => {
      await assert.rejects(p, (e) => {
        assert.ok(e instanceof sdk.DaytonaError, `${what}: ${e?.constructor?.name}`);
        assert.match(e.message, re, what);
        return true;
      });
    };
    await refused('an unknown user', fs.setFilePermissions('/workspace/own.txt', { owner: 'nosuchuser' }),
      /owner 'nosuchuser' is not a user of the sandbox \(not in its \/etc\/passwd\)/);
    await refused('an unknown group', fs.setFilePermissions('/workspace/own.txt', { group: 'nosuchgroup' }),
      /group 'nosuchgroup' is not a group of the sandbox/);
    await refused('an id past the sandbox\'s', fs.setFilePermissions('/workspace/own.txt', { owner: '70000' }),
      /outside the ids of a sandbox/);
    await refused('no such file', fs.setFilePermissions('/workspace/none', { owner: 'nobody' }), /No such file/);
    // the host image's /etc/passwd is the host's (its owner is no id of the sandbox's)
    await refused('a file of the host\'s', fs.setFilePermissions('/etc/passwd', { owner: 'root' }),
      /'\/etc\/passwd' cannot change owner: its owner or the new one is not an id of the sandbox's/);
    // a link is given itself, never what it points to: a host file named by
    // an absolute link stays as it was (the path is the sandbox's, the link
    // not followed)
    const hostFile = `/tmp/islet-compat-chown-${process.pid}`;
    require('node:fs').writeFileSync(hostFile, 'host\n');
    try {
      await sh(`ln -sf ${hostFile} /workspace/link; ln -sf /workspace/own.txt /workspace/link2`);
      await fs.setFilePermissions('/workspace/link', { owner: 'nobody' });
      await fs.setFilePermissions('/workspace/link2', { owner: '1234', group: '1236' });
      assert.equal(await sh('stat -c "%u:%g" /workspace/link2 /workspace/own.txt | tr "\n" " "'), '1234:1236 4321:0', 'the link changed, not its target');
      const st = require('node:fs').statSync(hostFile);
      assert.deepEqual([st.uid, st.gid], [0, 0], 'the host file kept its owner');
    } finally {
      require('node:fs').rmSync(hostFile, { force: true });
    }
  } finally {
    await sb.delete();
  }
});
