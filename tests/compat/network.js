'use strict';
// The network fields through the official SDK: networkAllowList and
// domainAllowList at create, echoed on the sandbox; updateNetworkSettings
// on a running sandbox (block all, a domain list, restore) changes the
// sandbox's own view at once (an eth0 or none); a list islet cannot
// honour is refused.  What each mode reaches: tests/server/net_api.sh.
const { assert, sdk, client, RUN, main } = require('./lib');

async function hasEth0(sb) {
  const r = await sb.process.executeCommand('cat /proc/net/dev');
  return /\beth0:/.test(r.result);
}

main('network', async () => {
  const daytona = client();
  const sb = await daytona.create({
    networkAllowList: '198.51.100.0/24,10.1.0.0/16',
    domainAllowList: 'example.com,*.pypi.org',
    labels: { run: RUN },
  });
  try {
    assert.equal(sb.networkBlockAll, false);
    assert.equal(sb.networkAllowList, '198.51.100.0/24,10.1.0.0/16');
    assert.equal(sb.domainAllowList, 'example.com,*.pypi.org');
    assert.ok(await hasEth0(sb), 'a sandbox with an allow-list has no eth0');

    await sb.updateNetworkSettings({ networkBlockAll: true });
    assert.equal(sb.networkBlockAll, true);
    assert.ok(!sb.networkAllowList && !sb.domainAllowList, 'block all keeps a list');
    assert.ok(!(await hasEth0(sb)), 'blocked, the sandbox still has an eth0');

    await sb.updateNetworkSettings({ domainAllowList: 'example.com,*.daytona.io' });
    assert.equal(sb.networkBlockAll, false);
    assert.equal(sb.domainAllowList, 'example.com,*.daytona.io');
    assert.ok(await hasEth0(sb));

    await sb.updateNetworkSettings({ networkBlockAll: false });
    assert.equal(sb.networkBlockAll, false);
    assert.ok(!sb.networkAllowList && !sb.domainAllowList, 'restoring access keeps a list');
    const again = await daytona.get(sb.id);
    assert.equal(again.networkBlockAll, false);

    await assert.rejects(sb.updateNetworkSettings({ networkAllowList: 'fd00::/8' }), (e) => {
      assert.ok(e instanceof sdk.DaytonaError, `${e.constructor.name}: ${e.message}`);
      assert.equal(e.statusCode, 400);
      assert.match(e.message, /IPv6/);
      return true;
    });
  } finally {
    await sb.delete();
  }
  const plain = await daytona.create({ labels: { run: RUN } });
  assert.equal(plain.networkBlockAll, true, 'the default is no network');
  assert.ok(!(await hasEth0(plain)));
  await plain.delete();
});
