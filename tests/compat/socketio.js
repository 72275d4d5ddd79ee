'use strict';
// isletd's Socket.IO endpoint spoken to directly: the Engine.IO open
// packet, CONNECT with a good and a bad key, pings, events only to the key
// that owns the sandbox, and the WebSocket framing's limits (raw bytes).
const crypto = require('node:crypto');
const net = require('node:net');
const WebSocket = require('ws'); // socket.io-client's own WebSocket (a dependency of the SDK)
const { assert, client, RUN, main } = require('./lib');

const API = process.env.ISLET_COMPAT_API_URL;
const KEY = process.env.ISLET_COMPAT_KEY;
const KEY2 = process.env.ISLET_COMPAT_KEY2;
const WS_URL = `${API.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
const PING_MS = Number(process.env.ISLETD_TEST_PING_MS || 25000);

// A WebSocket whose text messages queue up for next().
function open(url = WS_URL, opts = {}) {
  const ws = new WebSocket(url, opts);
  const queue = [];
  let waiter = null;
  ws.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (data, binary) => {
    queue.push(binary ? data : data.toString());
    if (waiter) waiter();
  });
  ws.on('error', () => {});
  // the next message (skipping the server's pings unless asked), within ms
  ws.next = async (ms = 3000, { pings = false } = {}) => {
    const end = Date.now() + ms;
    for (;;) {
      while (queue.length) {
        const m = queue.shift();
        if (m === '2' && !pings) {
          ws.send('3');
          continue;
        }
        return m;
      }
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no message within ${ms} ms`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        waiter = () => {
          clearTimeout(t);
          waiter = null;
          resolve();
        };
      });
    }
  };
  // events only: 42[name, data]
  ws.event = async (ms) => {
    for (;;) {
      const m = await ws.next(ms);
      if (m.startsWith('42')) return JSON.parse(m.slice(2));
    }
  };
  return ws;
}

async function connected(key, opts = {}) {
  const ws = open(WS_URL, opts);
  const hello = await ws.next();
  assert.match(hello, /^0\{/);
  ws.send(`40${JSON.stringify({ token: key })}`);
  assert.match(await ws.next(), /^40\{"sid":"[A-Za-z0-9_-]+"\}$/);
  return ws;
}

// Raw bytes after a correct handshake; resolves with what the server sent
// back after the handshake, once it closed the connection.
function raw(frames) {
  return new Promise((resolve, reject) => {
    const u = new URL(WS_URL);
    const key = crypto.randomBytes(16).toString('base64');
    const sock = net.connect(Number(u.port), u.hostname);
    let buf = Buffer.alloc(0);
    let head = null;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('the server did not close within 5 s'));
    }, 5000);
    sock.on('connect', () =>
      sock.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (head === null) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = buf.subarray(0, end).toString();
        buf = buf.subarray(end + 4);
        const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        assert.match(head, /^HTTP\/1\.1 101 /);
        assert.ok(head.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`), head);
        sock.write(frames);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(buf);
    });
  });
}

// A client frame (masked unless told not to).
function frame(op, payload, { fin = true, mask = true, len = payload.length } = {}) {
  const m = crypto.randomBytes(4);
  const lenBytes = len < 126 ? Buffer.from([len]) : len < 65536 ? Buffer.from([126, len >> 8, len & 255]) : Buffer.concat([Buffer.from([127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
  lenBytes[0] |= mask ? 0x80 : 0;
  const body = Buffer.from(payload).map((b, i) => (mask ? b ^ m[i & 3] : b));
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | op]), lenBytes, mask ? m : Buffer.alloc(0), body]);
}

// The close code in the last close frame of a server's bytes (frames unmasked).
function closeCode(buf) {
  let code = null;
  for (let i = 0; i + 2 <= buf.length; ) {
    const op = buf[i] & 15;
    let len = buf[i + 1] & 127;
    let at = i + 2;
    if (len === 126) (len = buf.readUInt16BE(at)), (at += 2);
    if (op === 8 && len >= 2) code = buf.readUInt16BE(at);
    i = at + len;
  }
  return code;
}

main('socketio', async () => {
  assert.ok(KEY2, 'ISLET_COMPAT_KEY2 (a second key) must be set');
  // long-polling and other Engine.IO versions are refused
  const base = API.replace(/\/api$/, '');
  let res = await fetch(`${API}/socket.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 400);
  res = await fetch(`${API}/socket.io/?EIO=3&transport=websocket`);
  assert.equal(res.status, 400);
  assert.equal((await res.json()).code, 5);
  res = await fetch(`${base}/api/sandbox`);
  assert.equal(res.status, 401, 'the rest of the API still wants a key');

  // the open packet
  const probe = open();
  const openPkt = JSON.parse((await probe.next()).slice(1));
  assert.equal(typeof openPkt.sid, 'string');
  assert.deepEqual(openPkt.upgrades, []);
  assert.equal(openPkt.pingInterval, PING_MS);
  assert.equal(openPkt.maxPayload, 65536);
  // a bad key and a foreign namespace are refused, the link stays
  probe.send('40{"token":"islet_000000000000000000000000000000000000000000000000"}');
  assert.match(await probe.next(), /^44\{"message":"invalid API key"\}$/);
  probe.send('40');
  assert.match(await probe.next(), /^44\{"message":/);
  probe.send(`40/admin,${JSON.stringify({ token: KEY })}`);
  assert.match(await probe.next(), /^44\/admin,\{"message":/);
  probe.send(`40${JSON.stringify({ token: KEY })}`);
  assert.match(await probe.next(), /^40\{"sid":/);
  // pings come every pingInterval, and keep coming while answered
  for (let i = 0; i < 2; i++) {
    assert.equal(await probe.next(PING_MS * 3, { pings: true }), '2');
    probe.send('3');
  }
  probe.close();

  // a client that stops answering pings is dropped
  const silent = open();
  await silent.next();
  const t0 = Date.now();
  let timer;
  const code = await Promise.race([silent.closed, new Promise((r) => (timer = setTimeout(() => r('open'), PING_MS * 4 + 2000)))]);
  clearTimeout(timer);
  assert.notEqual(code, 'open', 'a silent client was not dropped');
  assert.ok(Date.now() - t0 >= PING_MS, 'dropped before its first ping was due');

  // events: to the owner's sessions, never to another key's
  const mine = await connected(KEY);
  const theirs = await connected(KEY2);
  const daytona = client();
  const sb = await daytona.create({ language: 'python', labels: { run: RUN } });
  let ev = await mine.event();
  assert.equal(ev[0], 'sandbox.created');
  assert.equal(ev[1].id, sb.id);
  assert.equal(ev[1].state, 'started');
  ev = await mine.event();
  assert.equal(ev[0], 'sandbox.state.updated');
  assert.equal(ev[1].sandbox.id, sb.id);
  assert.equal(ev[1].newState, 'started');
  await sb.stop();
  ev = await mine.event();
  assert.deepEqual([ev[0], ev[1].sandbox.id, ev[1].oldState, ev[1].newState], ['sandbox.state.updated', sb.id, 'started', 'stopped']);
  await sb.start();
  ev = await mine.event();
  assert.deepEqual([ev[1].oldState, ev[1].newState, ev[1].sandbox.state], ['stopped', 'started', 'started']);
  await sb.delete();
  ev = await mine.event();
  assert.deepEqual([ev[1].oldState, ev[1].newState], ['started', 'destroyed']);
  await assert.rejects(theirs.event(500), /no message/, 'another key saw an event');
  mine.close();
  theirs.close();

  // the framing's limits: each ends the connection with RFC 6455's code
  const text = (s) => frame(1, Buffer.from(s));
  assert.equal(closeCode(await raw(frame(1, Buffer.from('40'), { mask: false }))), 1002, 'unmasked frame');
  assert.equal(closeCode(await raw(frame(9, Buffer.from('x'), { fin: false }))), 1002, 'fragmented ping');
  assert.equal(closeCode(await raw(frame(9, Buffer.alloc(126)))), 1002, 'ping over 125 bytes');
  assert.equal(closeCode(await raw(frame(3, Buffer.from('x')))), 1002, 'reserved opcode');
  assert.equal(closeCode(await raw(Buffer.from([0xc1, 0x80, 0, 0, 0, 0]))), 1002, 'reserved bit');
  assert.equal(closeCode(await raw(frame(0, Buffer.from('x')))), 1002, 'continuation of nothing');
  assert.equal(closeCode(await raw(frame(1, Buffer.alloc(0), { len: 2 ** 40 }))), 1009, 'a 1 TiB frame');
  assert.equal(closeCode(await raw(frame(1, Buffer.alloc(0), { len: 65537 }))), 1009, 'a frame over 64 KiB');
  assert.equal(closeCode(await raw(Buffer.concat([frame(1, Buffer.alloc(40000), { fin: false }), frame(0, Buffer.alloc(40000))]))), 1009, 'a message over 64 KiB in two fragments');
  assert.equal(closeCode(await raw(frame(2, Buffer.from('x')))), 1003, 'binary message');
  assert.equal(closeCode(await raw(frame(8, Buffer.from([0x03, 0xe8])))), 1000, 'close is answered');
  // fragments and a ping between them are fine: CONNECT arrives in pieces
  const ok = await raw(Buffer.concat([frame(1, Buffer.from('4'), { fin: false }), frame(9, Buffer.from('p')), frame(0, Buffer.from(`0${JSON.stringify({ token: KEY })}`)), text('1')]));
  assert.match(ok.toString('latin1'), /40\{"sid":/, 'a fragmented CONNECT is answered');

  // before its key, a session is one of a few per address (16), and has 5 s
  // to send it: keyless links from one address do not keep another's out
  const within = async (p, ms) => {
    let t;
    const v = await Promise.race([p, new Promise((r) => (t = setTimeout(() => r('open'), ms)))]);
    clearTimeout(t);
    return v;
  };
  const t1 = Date.now();
  const idle = [];
  // they answer pings, so only the missing key can end them
  for (let i = 0; i < 40; i++) {
    const w = open();
    w.on('message', (d) => d.toString() === '2' && w.send('3'));
    idle.push(w);
  }
  const early = await Promise.all(idle.map((w) => within(w.closed, 1500)));
  const refused = early.filter((c) => c === 1013).length;
  assert.ok(refused >= 40 - 16, `${refused} of 40 keyless sessions from one address refused, want 24 or more`);
  const admitted = idle.filter((w, i) => early[i] === 'open');
  const other = await connected(KEY, { localAddress: '127.0.0.2' });
  other.close();
  const late = await Promise.all(admitted.map((w) => within(w.closed, 9000)));
  for (const w of idle) w.terminate();
  assert.ok(!late.includes('open'), 'a session without a key outlived its 5 s');
  const held = Date.now() - t1;
  assert.ok(held >= 4500, `sessions without a key were closed after ${held} ms, before their 5 s`);
});
