'use strict';
// A script that keeps its sandbox: no delete, no dispose of the client.
// Node must still exit at once (run.sh measures it): the SDK's Socket.IO
// link to isletd is up and unref'd, so nothing is left to retry.
const { assert, client, RUN, expectSocketConnected, main } = require('./lib');

main('keep', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', labels: { run: RUN } });
  await expectSocketConnected(daytona);
  const r = await sb.process.executeCommand('echo kept');
  assert.equal(r.result.trim(), 'kept');
  console.log(`kept=${sb.id}`);
});
