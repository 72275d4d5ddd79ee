'use strict';
// sandbox.fork() through the SDK: the new sandbox has the source's files as
// they were at the fork (a 20 MiB file and a small one, compared byte for
// byte), its labels and language, runs at once, and from then on each
// sandbox's changes are its own.  A stopped sandbox forks too.
const { assert, client, main } = require('./lib');

async function run(sb, cmd) {
  const r = await sb.process.executeCommand(cmd);
  assert.equal(r.exitCode, 0, `${cmd}: ${r.result}`);
  return r.result.trim();
}

main('fork', async () => {
  const daytona = client();
  const src = await daytona.create({ language: 'python', labels: { team: 'a' }, autoStopInterval: 0 });
  await src.fs.uploadFile(Buffer.from('made before the fork\n'), '/workspace/note.txt');
  const sum = await run(src, 'sh -c "head -c 20971520 /dev/urandom >/workspace/big && md5sum /workspace/big"');

  const fork = await src.fork({ name: 'compat-fork' });
  assert.notEqual(fork.id, src.id);
  assert.equal(fork.name, 'compat-fork');
  assert.equal(fork.state, 'started');
  assert.equal(fork.labels.team, 'a');
  assert.equal((await fork.fs.downloadFile('/workspace/note.txt')).toString(), 'made before the fork\n');
  assert.equal(await run(fork, 'md5sum /workspace/big'), sum);

  await fork.fs.uploadFile(Buffer.from('fork\n'), '/workspace/note.txt');
  await src.fs.uploadFile(Buffer.from('source\n'), '/workspace/only-source');
  assert.equal((await src.fs.downloadFile('/workspace/note.txt')).toString(), 'made before the fork\n');
  assert.equal(await run(fork, 'sh -c "cat /workspace/note.txt; ls /workspace"'), 'fork\nbig\nnote.txt');

  await src.stop();
  const fork2 = await src.fork();
  assert.equal(fork2.state, 'started');
  assert.equal(await run(fork2, 'cat /workspace/only-source'), 'source');

  for (const sb of [fork, fork2, src]) await sb.delete();
});
