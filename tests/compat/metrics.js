'use strict';
// getMetricsLatest through the SDK: the sandbox's limits as totals, memory
// held by a process (100 MB written and kept) in memUsed, a busy loop's CPU
// in cpuUsedPct, the volume's bytes in diskUsed.
const { assert, client, main } = require('./lib');

main('metrics', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', autoStopInterval: 0, resources: { cpu: 1, memory: 1, disk: 3 } });
  const m0 = await sb.getMetricsLatest();
  assert.equal(m0.cpuCount, 1);
  assert.equal(m0.memTotal, 1024 * 2 ** 20);
  assert.equal(m0.diskTotal, 3 * 1024 * 2 ** 20);
  assert.ok(m0.timestamp instanceof Date && Math.abs(m0.timestamp - Date.now()) < 60000, String(m0.timestamp));
  assert.ok(m0.memUsed < 50e6, `an idle sandbox uses ${m0.memUsed} bytes`);

  await sb.process.createSession('hog');
  await sb.process.executeSessionCommand('hog', {
    command: 'python3 -c "import time; b = b\'x\' * 100000000; time.sleep(30)"',
    runAsync: true,
  });
  let m1 = m0;
  for (let i = 0; i < 40 && m1.memUsed < m0.memUsed + 80e6; i++) {
    await new Promise((r) => setTimeout(r, 250));
    m1 = await sb.getMetricsLatest();
  }
  assert.ok(m1.memUsed >= m0.memUsed + 80e6, `memUsed ${m0.memUsed} then ${m1.memUsed} with 100 MB held`);

  // CPU: over 2 s with the hog asleep, then over 2 s of a busy loop (each
  // from the previous call, 0.1 to 10 s before)
  await new Promise((r) => setTimeout(r, 2000));
  const idle = (await sb.getMetricsLatest()).cpuUsedPct;
  await sb.process.executeSessionCommand('hog', { command: 'timeout 6 sh -c "while :; do :; done"', runAsync: true });
  await sb.getMetricsLatest();
  await new Promise((r) => setTimeout(r, 2000));
  const busy = (await sb.getMetricsLatest()).cpuUsedPct;
  assert.ok(busy > 10 && busy > idle + 5, `cpuUsedPct ${idle} idle, ${busy} in a busy loop`);

  // 20 MB of files, synced so that the quota's count has them
  const w = await sb.process.executeCommand('sh -c "dd if=/dev/urandom of=/workspace/f bs=1M count=20 && sync"');
  assert.equal(w.exitCode, 0, w.result);
  const m2 = await sb.getMetricsLatest();
  assert.ok(m2.diskUsed >= 20e6 && m2.diskUsed < m2.diskTotal, `diskUsed ${m2.diskUsed} with 20 MB of files`);
  console.log(`memUsed ${m0.memUsed} -> ${m1.memUsed}; cpuUsedPct ${idle} -> ${busy}; diskUsed ${m2.diskUsed}`);
  await sb.delete();
});
