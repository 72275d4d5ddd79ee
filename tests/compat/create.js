'use strict';
// Create fields islet cannot honour are refused through the SDK with the
// reason (never accepted and dropped); networkBlockAll: true, a plain
// create, and an image of the store (by image or by snapshot) are taken
// (the network fields' effects: network.js and tests/server/net_api.sh).
const { assert, sdk, client, RUN, main } = require('./lib');

async function refused(daytona, params, field, words) {
  await assert.rejects(daytona.create({ ...params, labels: { run: RUN } }), (e) => {
    assert.ok(e instanceof sdk.DaytonaError, `${field}: ${e.constructor.name}: ${e.message}`);
    assert.equal(e.statusCode, 400, `${field}: status ${e.statusCode}: ${e.message}`);
    assert.ok(e.message.startsWith(`${field} `), `${field}: the message does not name it: ${e.message}`);
    assert.match(e.message, words);
    return true;
  });
}

main('create', async () => {
  const daytona = client();
  await refused(daytona, { networkAllowList: 'example.com' }, 'networkAllowList', /a domain name: give it in domainAllowList/);
  await refused(daytona, { domainAllowList: '10.0.0.0/8' }, 'domainAllowList', /an address/);
  await refused(daytona, { networkBlockAll: true, networkAllowList: '10.0.0.0/8' }, 'networkBlockAll', /give one or the other/);
  // an image not on the machine is pulled; from a registry that is not
  // there, the sandbox ends in error with the pull's failure, and is deleted
  await assert.rejects(daytona.create({ image: '127.0.0.1:9/none:1', labels: { run: RUN } }), (e) => {
    assert.ok(e instanceof sdk.DaytonaError, `image: ${e.constructor.name}: ${e.message}`);
    assert.match(e.message, /status: error, error reason: .*127\.0\.0\.1:9\/none:1.* its pull failed/);
    return true;
  });
  const pulled = [];
  for await (const s of daytona.list({ labels: { run: RUN } })) pulled.push(s);
  assert.equal(pulled.length, 1, 'the sandbox whose pull failed is listed');
  assert.equal(pulled[0].state, 'error');
  await pulled[0].delete();
  await refused(daytona, { public: 'yes' }, 'public', /preview/);
  await refused(daytona, { volumes: [{ volumeId: 'v', mountPath: '/data' }] }, 'volumes', /no volume 'v'/);
  await refused(daytona, { secrets: { TOKEN: 'gh' } }, 'secrets', /env/);
  const none = [];
  for await (const s of daytona.list({ labels: { run: RUN } })) none.push(s.id);
  assert.deepEqual(none, [], 'a refused create left a sandbox');

  const sb = await daytona.create({ networkBlockAll: true, labels: { run: RUN } });
  assert.equal(sb.state, 'started');
  assert.equal(sb.networkBlockAll, true);
  const r = await sb.process.executeCommand('echo blocked');
  assert.equal(r.result.trim(), 'blocked');
  await sb.delete();
  // an image of the store (run.sh imported it), by both of the SDK's ways:
  // its files, Env and WorkingDir; one not on the machine is refused
  for (const params of [{ image: process.env.ISLET_COMPAT_IMAGE }, { snapshot: process.env.ISLET_COMPAT_IMAGE }]) {
    const img = await daytona.create({ ...params, labels: { run: RUN } });
    assert.match(img.snapshot, /^sha256:[0-9a-f]{64}$/);
    const out = await img.process.executeCommand('sh -c "cat /srv/app/only-in-the-image; echo $GREETING; pwd"');
    assert.equal(out.result, 'image file\nhello from the image\n/srv/app\n', JSON.stringify(params));
    await img.delete();
  }
  await refused(daytona, { snapshot: 'example.test/none:1' }, 'image', /is not on this machine.*: islet image pull example\.test\/none:1/);
  const plain = await daytona.create();
  assert.equal(plain.state, 'started');
  await plain.delete();
});
