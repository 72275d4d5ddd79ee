'use strict';
// The network fields through the official SDK: networkAllowList and
// domainAllowList at create, echoed on the sandbox; updateNetworkSettings
// on a running sandbox (block all, a domain list, restore) changes the
// sandbox's own view at once (an eth0 or none); a list islet cannot
// honour is refused.  outboundProxyUrl: the proxy variables in every
// command's environment (exec, session, interpreter), echoed, kept by an
// update; refused where the sandbox could not reach the proxy (a private
// address only through a CIDR of networkAllowList), at create and update.
// What each mode reaches: tests/server/net_api.sh; a request through the proxy:
// tests/server/net_proxy.sh.
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
  const proxy = 'http://proxy.test.example:3128';
  const px = await daytona.create({ networkBlockAll: false, outboundProxyUrl: proxy, labels: { run: RUN } });
  try {
    assert.equal(px.outboundProxyUrl, proxy);
    const env = (await px.process.executeCommand('env')).result;
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'])
      assert.match(env, new RegExp(`^${k}=${proxy}$`, 'm'), `${k} in ${env}`);
    assert.match(env, /^NO_PROXY=localhost,127\.0\.0\.1,::1$/m);
    await px.process.createSession('s');
    const s = await px.process.executeSessionCommand('s', { command: 'echo "$https_proxy"' });
    assert.equal(s.stdout.trim(), proxy);
    const r = await px.codeInterpreter.runCode('import os\nprint(os.environ["HTTP_PROXY"])');
    assert.equal(r.stdout.trim(), proxy);
    // a private proxy in mode all: the sandbox could not reach it
    await assert.rejects(
      px.updateNetworkSettings({ networkBlockAll: false, outboundProxyUrl: 'http://10.1.2.3:3128' }),
      (e) => {
        assert.equal(e.statusCode, 400, e.message);
        assert.match(e.message, /private address.*add 10\.1\.2\.3\/32 to networkAllowList/);
        return true;
      },
    );
    assert.equal((await daytona.get(px.id)).outboundProxyUrl, proxy, 'a refused update changed the proxy');
    await px.updateNetworkSettings({ networkBlockAll: true });
    assert.equal(px.outboundProxyUrl, proxy, 'an update that does not name the proxy drops it');
    assert.equal((await daytona.get(px.id)).outboundProxyUrl, proxy);
  } finally {
    await px.delete();
  }
  for (const [opts, why] of [
    [{ outboundProxyUrl: proxy }, /no outbound network/],
    [{ domainAllowList: 'example.com', outboundProxyUrl: proxy }, /allow-list does not name it/],
    [{ networkBlockAll: false, outboundProxyUrl: 'socks5://proxy.test.example:1080' }, /http:\/\/ or https:\/\//],
    [{ networkBlockAll: false, outboundProxyUrl: 'http://192.168.1.1:3128' }, /add 192\.168\.1\.1\/32 to networkAllowList/],
    [{ networkAllowList: '0.0.0.0/0', outboundProxyUrl: 'http://10.1.2.3:3128' }, /private address/],
    [{ networkBlockAll: false, outboundProxyUrl: 'http://169.254.169.254/' }, /metadata/],
  ])
    await assert.rejects(daytona.create({ ...opts, labels: { run: RUN } }), (e) => {
      assert.equal(e.statusCode, 400, e.message);
      assert.match(e.message, why);
      return true;
    });

  const pp = 'http://10.1.2.3:3128';
  const priv = await daytona.create({ networkAllowList: '10.1.2.3/32', outboundProxyUrl: pp, labels: { run: RUN } });
  assert.equal(priv.outboundProxyUrl, pp, 'a private proxy whose address the list names');
  await priv.delete();

  const plain = await daytona.create({ labels: { run: RUN } });
  assert.equal(plain.networkBlockAll, true, 'the default is no network');
  assert.ok(!(await hasEth0(plain)));
  await plain.delete();
});
