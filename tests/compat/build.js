'use strict';
// create({image: Image...}) with the official SDK's Image helpers (base,
// runCommands in both forms, env, workdir, cmd): isletd builds the
// Dockerfile they write, each RUN in an islet sandbox, and the sandbox made
// from the result has the RUNs' files, the Env and the WorkingDir;
// snapshot.create from an Image builds it too; a base image not on the
// machine is pulled first.  The same
// Image again is the same image, reused; a failing RUN is refused with its
// step, status and output, leaving no sandbox.
const { assert, sdk, client, RUN, main } = require('./lib');

main('build', async () => {
  const daytona = client();
  const base = process.env.ISLET_COMPAT_IMAGE;
  const image = sdk.Image.base(base)
    .runCommands('echo built >/srv/app/built', ['sh', '-c', 'echo from-array >/srv/app/array'])
    .env({ BUILT_BY: 'islet build', QUOTED: "it's" })
    .workdir('/srv/app/work')
    .runCommands('echo "$BUILT_BY" >in-workdir')
    .cmd(['sh']);
  const sb = await daytona.create({ image, labels: { run: RUN } }, { timeout: 150 });
  assert.equal(sb.state, 'started');
  assert.match(sb.snapshot, /^sha256:[0-9a-f]{64}$/);
  const r = await sb.process.executeCommand(
    'sh -c "cat /srv/app/built /srv/app/array in-workdir /srv/app/only-in-the-image; echo $BUILT_BY; echo $QUOTED; pwd"');
  assert.equal(r.exitCode, 0, r.result);
  assert.equal(r.result, "built\nfrom-array\nislet build\nimage file\nislet build\nit's\n/srv/app/work\n");
  await sb.delete();

  const t0 = Date.now();
  const again = await daytona.create({ image, labels: { run: RUN } });
  const ms = Date.now() - t0;
  assert.equal(again.snapshot, sb.snapshot, 'the same Image is the same image');
  assert.ok(ms < 20000, `a build already made took ${ms} ms`);
  await again.delete();

  const failing = sdk.Image.base(base).runCommands('echo about to fail; exit 3');
  await assert.rejects(daytona.create({ image: failing, labels: { run: RUN } }, { timeout: 150 }), (e) => {
    assert.ok(e instanceof sdk.DaytonaError, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.statusCode, 400, e.message);
    assert.match(e.message, /^buildInfo: the image build failed: step 2\/2 .*exited with status 3: about to fail/s);
    return true;
  });
  // snapshot.create from an Image: built, and create({snapshot}) has its files
  const snap = await daytona.snapshot.create(
    { name: `built-${RUN}`, image: sdk.Image.base(base).runCommands('echo snapshot >/srv/app/snap') },
    { timeout: 150 });
  assert.equal(snap.state, 'active');
  const fromSnap = await daytona.create({ snapshot: snap.name, labels: { run: RUN } });
  const s2 = await fromSnap.process.executeCommand('cat /srv/app/snap');
  assert.equal(s2.result, 'snapshot\n');
  await fromSnap.delete();
  await daytona.snapshot.delete(snap);

  // a base not on the machine is pulled first (the loopback registry of run.sh)
  const reg = process.env.ISLET_COMPAT_REGISTRY;
  const onPulled = await daytona.create(
    { image: sdk.Image.base(`${reg}/compat/base:1`).runCommands('echo on-pulled >/srv/built'), labels: { run: RUN } },
    { timeout: 150 });
  const s3 = await onPulled.process.executeCommand('cat /srv/hello /srv/built');
  assert.equal(s3.result, 'compat/base:1\non-pulled\n');
  await onPulled.delete();

  const left = [];
  for await (const s of daytona.list({ labels: { run: RUN } })) left.push(s.id);
  assert.deepEqual(left, [], 'a failed build left a sandbox');
});
