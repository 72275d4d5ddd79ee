'use strict';
// Preview links through the SDK: an app started in the sandbox on its
// loopback (tests/server/preview/app.py) is fetched through getPreviewLink's
// url with its token, refused without it, fetched through
// getSignedPreviewUrl's url with no header at all, and its WebSocket echo
// answers through the link (the `ws` client the SDK itself depends on).
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require('ws');
const { assert, client, main } = require('./lib');

main('preview', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python' });
  try {
    const app = fs.readFileSync(path.join(__dirname, '..', 'server', 'preview', 'app.py'));
    await sb.fs.uploadFile(app, '/tmp/app.py');
    await sb.fs.uploadFile(Buffer.from('hello from inside\n'), '/tmp/www/hello.txt');
    await sb.process.createSession('app');
    await sb.process.executeSessionCommand('app', { command: 'python3 /tmp/app.py 8080', runAsync: true });

    const link = await sb.getPreviewLink(8080);
    assert.equal(link.sandboxId, sb.id);
    assert.match(link.url, new RegExp(`/preview/${sb.id}/8080$`));
    assert.match(link.token, /^[0-9a-f]{32}$/);
    const withToken = () => fetch(`${link.url}/hello.txt`, { headers: { 'x-daytona-preview-token': link.token } });

    let res;
    for (let i = 0; i < 100 && res?.status !== 200; i++) {
      res = await withToken();
      if (res.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(res.status, 200, `through the link: ${res.status}`);
    assert.equal(await res.text(), 'hello from inside\n');

    const bare = await fetch(`${link.url}/hello.txt`);
    assert.equal(bare.status, 401, 'without the token');
    assert.match((await bare.json()).message, /x-daytona-preview-token/);

    const signed = await sb.getSignedPreviewUrl(8080, 30);
    assert.equal(signed.sandboxId, sb.id);
    assert.equal(signed.port, 8080);
    assert.ok(signed.url.endsWith(signed.token), signed.url);
    const viaSigned = await fetch(`${signed.url}/hello.txt`);
    assert.equal(viaSigned.status, 200, 'through the signed url');
    assert.equal(await viaSigned.text(), 'hello from inside\n');
    await sb.expireSignedPreviewUrl(8080, signed.token);
    const expired = await fetch(`${signed.url}/hello.txt`);
    assert.equal(expired.status, 403, 'through the signed url once expired');
    assert.match((await expired.json()).message, /expired by its owner/);

    const wsUrl = `${link.url.replace(/^http/, 'ws')}/ws`;
    const echoed = await new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl, { headers: { 'x-daytona-preview-token': link.token } });
      const timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10000);
      ws.on('open', () => ws.send('ping through the preview'));
      ws.on('message', (data) => {
        clearTimeout(timer);
        ws.close();
        resolve(data.toString());
      });
      ws.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    assert.equal(echoed, 'ping through the preview');
    assert.equal(sb.public, false);
  } finally {
    await sb.delete();
  }

  // public: its previews need no token; the SDK's create sends the field
  const pub = await daytona.create({ language: 'python', public: true });
  try {
    assert.equal(pub.public, true);
    assert.equal((await daytona.get(pub.id)).public, true);
  } finally {
    await pub.delete();
  }
});
