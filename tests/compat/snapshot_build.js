'use strict';
// daytona.snapshot.create({name, image: Image...}, {onLogs}) with the
// official SDK: the create answers at once and the SDK waits through the
// snapshot's states; onLogs gets the RUN's output lines as the build runs
// (the SDK follows the snapshot's build-logs URL once it is building) and
// the states it passed through; get and list show the snapshot building,
// and a sandbox from it is refused until it is active.  A failing RUN:
// the SDK's error carries the errorReason naming the step, status and
// output, and the snapshot is listed build_failed until deleted.  A base
// not on the machine is pulled first, and onLogs says so.
const { assert, sdk, client, RUN, main } = require('./lib');

async function eventually(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

main('snapshot_build', async () => {
  const daytona = client();
  const base = process.env.ISLET_COMPAT_IMAGE;
  const name = `sb-${RUN}`;

  const logs = [];
  const image = sdk.Image.base(base).runCommands(
    'echo run-line-one && sleep 2 && echo run-line-two && echo snapped >/srv/app/snapped');
  const creating = daytona.snapshot.create({ name, image }, { onLogs: (l) => logs.push(l), timeout: 150 });

  // while it builds: get and list say so, a sandbox from it is refused
  await eventually('the snapshot is listed', async () =>
    (await daytona.snapshot.list()).items.some((s) => s.name === name));
  const during = await daytona.snapshot.get(name);
  assert.ok(['pending', 'building'].includes(during.state), during.state);
  assert.equal((await daytona.snapshot.list()).items.find((s) => s.name === name).state, during.state);
  await assert.rejects(daytona.create({ snapshot: name }), /is (pending|building)/);

  const snap = await creating;
  assert.equal(snap.state, 'active');
  assert.equal(snap.name, name);
  assert.match(snap.imageName, /^sha256:[0-9a-f]{64}$/);
  const text = logs.join('\n');
  assert.match(text, /^run-line-one$/m, `onLogs: ${text}`);
  assert.match(text, /^run-line-two$/m, `onLogs: ${text}`);
  assert.match(text, new RegExp(`Creating snapshot ${name} \\(building\\)`), text);
  assert.match(text, new RegExp(`Created snapshot ${name} \\(active\\)`), text);
  assert.equal((await daytona.snapshot.get(snap.id)).state, 'active');

  const sb = await daytona.create({ snapshot: name, labels: { run: RUN } });
  const r = await sb.process.executeCommand('cat /srv/app/snapped /srv/app/only-in-the-image');
  assert.equal(r.result, 'snapped\nimage file\n');
  await sb.delete();
  await daytona.snapshot.delete(name);

  // a failing step: the SDK's error carries the reason; listed build_failed
  const broken = sdk.Image.base(base).runCommands('echo about to fail && exit 3');
  const failLogs = [];
  await assert.rejects(
    daytona.snapshot.create({ name: `${name}-bad`, image: broken }, { onLogs: (l) => failLogs.push(l), timeout: 150 }),
    (e) => {
      assert.match(e.message, /Reason: .*step 2\/2 .*exited with status 3: about to fail/s);
      return true;
    });
  assert.match(failLogs.join('\n'), /^about to fail$/m, failLogs.join('\n'));
  const bad = await daytona.snapshot.get(`${name}-bad`);
  assert.equal(bad.state, 'build_failed');
  assert.match(bad.errorReason, /step 2\/2/);
  assert.equal((await daytona.snapshot.list()).items.find((s) => s.name === `${name}-bad`).state, 'build_failed');
  await daytona.snapshot.delete(`${name}-bad`);

  // a base not on the machine: pulled first, which the log says
  const reg = process.env.ISLET_COMPAT_REGISTRY;
  const pullLogs = [];
  const onPulled = await daytona.snapshot.create(
    { name: `${name}-pulled`, image: sdk.Image.base(`${reg}/compat/snapbase:1`).runCommands('echo on-pulled') },
    { onLogs: (l) => pullLogs.push(l), timeout: 150 });
  assert.equal(onPulled.state, 'active');
  const pulledText = pullLogs.join('\n');
  assert.match(pulledText, /FROM \S*compat\/snapbase:1 is not on this machine: pulling it/, pulledText);
  assert.match(pulledText, /^on-pulled$/m, pulledText);
  const sb3 = await daytona.create({ snapshot: `${name}-pulled`, labels: { run: RUN } });
  assert.equal((await sb3.process.executeCommand('cat /srv/hello')).result, 'compat/snapbase:1\n');
  await sb3.delete();
  await daytona.snapshot.delete(`${name}-pulled`);
  assert.equal((await daytona.snapshot.list()).total, 0);
});
