'use strict';
// create({image: Image...}) with the official SDK's Image helpers (base,
// runCommands in both forms, env, workdir, cmd): isletd builds the
// Dockerfile they write, each RUN in an islet sandbox, and the sandbox made
// from the result has the RUNs' files, the Env and the WorkingDir;
// snapshot.create from an Image builds it too; a base image not on the
// machine is pulled first.  The same
// Image again is the same image, reused.  The create answers at once with
// the sandbox pending_build (the SDK then waits for started), and
// onSnapshotCreateLogs gets the build's output as it runs.  A failing RUN
// makes the sandbox build_failed, the SDK's error naming the step, status
// and output; the sandbox is listed so, and its delete leaves nothing.  A
// build that outlasts the SDK's timeout leaves a sandbox the caller can
// see and delete.
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

  // the build's output, as the SDK streams it (GET build-logs-url, then ?follow=true)
  const lines = [];
  const logged = await daytona.create(
    { image: sdk.Image.base(base).runCommands('echo log-line-one; sleep 2; echo log-line-two'), labels: { run: RUN } },
    { timeout: 150, onSnapshotCreateLogs: (l) => lines.push(l) });
  assert.equal(logged.state, 'started');
  const text = lines.join('\n');
  assert.match(text, /^log-line-one$/m, text);
  assert.match(text, /^log-line-two$/m, text);
  assert.match(text, /step 2\/2/, text);
  await logged.delete();

  const failing = sdk.Image.base(base).runCommands('echo about to fail; exit 3');
  await assert.rejects(daytona.create({ image: failing, labels: { run: RUN } }, { timeout: 150 }), (e) => {
    assert.ok(e instanceof sdk.DaytonaError, `${e.constructor.name}: ${e.message}`);
    assert.match(e.message, /build_failed, error reason: buildInfo: the image build failed: step 2\/2 .*exited with status 3: about to fail/s);
    return true;
  });
  const failed = [];
  for await (const s of daytona.list({ labels: { run: RUN } })) failed.push(s);
  assert.equal(failed.length, 1, 'the failed build is one sandbox, listed');
  assert.equal(failed[0].state, 'build_failed');
  assert.match(failed[0].errorReason, /step 2\/2 .*exited with status 3: about to fail/s);
  await failed[0].delete();

  // a build longer than the SDK's timeout: the SDK gives up, the sandbox is
  // there to see (its build goes on) and to delete
  const slow = sdk.Image.base(base).runCommands('sleep 20');
  await assert.rejects(daytona.create({ image: slow, labels: { run: RUN, slow: 'yes' } }, { timeout: 3 }), (e) => {
    assert.ok(e instanceof sdk.DaytonaTimeoutError, `${e.constructor.name}: ${e.message}`);
    return true;
  });
  const pending = [];
  for await (const s of daytona.list({ labels: { slow: 'yes' } })) pending.push(s);
  assert.equal(pending.length, 1, 'the sandbox of a build the SDK gave up on is listed');
  assert.ok(['pending_build', 'building_snapshot'].includes(pending[0].state), pending[0].state);
  await pending[0].delete();
  await assert.rejects(daytona.get(pending[0].id), /not found|no sandbox/i);
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
