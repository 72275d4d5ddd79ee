'use strict';
// A time to live through the SDK: ttlMinutes at create and setTtl after
// it show in autoDestroyAt (from now); setTtl(0) takes it away.  The
// destroy itself, with a short "minute", is tests/server/api_ttl.sh's.
const { assert, client, main } = require('./lib');

function minutesOn(iso) {
  return (new Date(iso) - Date.now()) / 60000;
}

main('ttl', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', autoStopInterval: 0, ttlMinutes: 30 });
  const at = minutesOn(sb.autoDestroyAt);
  assert.ok(at > 29 && at <= 30.1, `autoDestroyAt ${sb.autoDestroyAt}: ${at} minutes on`);

  await sb.setTtl(120);
  await sb.refreshData();
  const later = minutesOn(sb.autoDestroyAt);
  assert.ok(later > 119 && later <= 120.1, `after setTtl(120): ${sb.autoDestroyAt}`);

  await sb.setTtl(0);
  await sb.refreshData();
  assert.equal(sb.autoDestroyAt, undefined, 'setTtl(0) takes the time to live away');
  await sb.delete();
});
