'use strict';
// Helpers of the compat scripts: a Daytona client on the isletd under test
// (tests/compat/run.sh passes its URL and key), and a main that reports.
const assert = require('node:assert/strict');
const sdk = require('@daytonaio/sdk');

function client(apiKey = process.env.ISLET_COMPAT_KEY) {
  const apiUrl = process.env.ISLET_COMPAT_API_URL;
  assert.ok(apiUrl && apiKey, 'ISLET_COMPAT_API_URL and ISLET_COMPAT_KEY must be set (run.sh sets them)');
  // the point of these tests: the SDK's default mode, with its Socket.IO link
  assert.ok(!process.env.DAYTONA_USE_DEPRECATED_POLLING, 'DAYTONA_USE_DEPRECATED_POLLING must not be set');
  return new sdk.Daytona({ apiUrl, apiKey });
}

// A label unique to this run, to find our sandboxes and only them.
const RUN = `${process.pid}-${Date.now()}`;

// Wait, at most ms, for check() to be true.
async function until(what, check, ms = 5000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Whether the SDK's Socket.IO link to isletd is up (a private field of the
// SDK 0.218.0, read only to tell "events work" from "it fell back to polling").
async function expectSocketConnected(daytona) {
  await until('the SDK connects its Socket.IO link', () => daytona.eventDispatcher?.isConnected === true);
}

async function expectNotFound(what, promise) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof sdk.DaytonaNotFoundError, `${what}: ${e.constructor.name}: ${e.message}`);
    return true;
  });
}

function main(name, fn) {
  const t0 = Date.now();
  fn().then(
    () => {
      // run.sh measures how long Node takes to exit after this line
      console.log(`ok ${name} (${Date.now() - t0} ms) done-at=${Date.now()}`);
    },
    (e) => {
      console.error(`FAIL ${name}:`, e);
      process.exit(1);
    },
  );
}

module.exports = { assert, sdk, client, RUN, until, expectSocketConnected, expectNotFound, main };
