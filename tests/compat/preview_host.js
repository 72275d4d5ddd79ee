'use strict';
// Preview links in the host form (run.sh restarts isletd with
// --preview-domain preview.test for this script): getPreviewLink and
// getSignedPreviewUrl answer http://<port>-<id>.preview.test:<port>; the
// app gets an absolute path as asked; a browser's first visit of the
// signed URL gets the token back as a cookie of that host, with which the
// next request passes without any token; expiring the URL ends the cookie.
// Requests go to isletd's address with the link's Host, as a wildcard DNS
// name would send them.
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { assert, client, main } = require('./lib');

// GET url (its Host kept, the connection to isletd's own address): status,
// headers, body
function get(url, headers = {}) {
  const u = new URL(url);
  const api = new URL(process.env.ISLET_COMPAT_API_URL);
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: api.hostname, port: api.port, path: u.pathname + u.search, headers: { Host: u.host, ...headers } },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      },
    );
    req.setTimeout(20000, () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', reject);
  });
}

main('preview_host', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python' });
  try {
    const app = fs.readFileSync(path.join(__dirname, '..', 'server', 'preview', 'head_app.py'));
    await sb.fs.uploadFile(app, '/tmp/app.py');
    await sb.process.createSession('app');
    await sb.process.executeSessionCommand('app', { command: 'python3 /tmp/app.py 8080', runAsync: true });

    const link = await sb.getPreviewLink(8080);
    const host = new RegExp(`^http://8080-${sb.id}\\.preview\\.test:[0-9]+$`);
    assert.match(link.url, host);
    let res;
    for (let i = 0; i < 100 && res?.status !== 200; i++) {
      res = await get(`${link.url}/static/app.js?v=2`, { 'x-daytona-preview-token': link.token });
      if (res.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(res.status, 200, `through the link: ${res.status} ${res.body}`);
    assert.equal(JSON.parse(res.body).path, '/static/app.js?v=2', 'the path as asked');
    assert.equal((await get(`${link.url}/`)).status, 401, 'without the token');

    const signed = await sb.getSignedPreviewUrl(8080, 60);
    assert.equal(signed.url, `${link.url}/?DAYTONA_SANDBOX_AUTH_KEY=${signed.token}`);
    const first = await get(signed.url);
    assert.equal(first.status, 200, `the signed url: ${first.body}`);
    assert.equal(JSON.parse(first.body).path, '/', 'the token is not passed on');
    const cookie = (first.headers['set-cookie'] || []).find((c) => c.startsWith('islet_preview='));
    assert.ok(cookie && /HttpOnly/.test(cookie), `no preview cookie: ${first.headers['set-cookie']}`);
    const jar = cookie.split(';')[0];
    const next = await get(`${link.url}/app.js`, { Cookie: jar });
    assert.equal(next.status, 200, 'the page\'s own request, by the cookie');
    assert.equal(JSON.parse(next.body).cookie, null, 'the cookie is not passed on');

    await sb.expireSignedPreviewUrl(8080, signed.token);
    assert.equal((await get(`${link.url}/app.js`, { Cookie: jar })).status, 401, 'the cookie once expired');
  } finally {
    await sb.delete();
  }
});
