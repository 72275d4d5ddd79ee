'use strict';
// Resize through the SDK: seen in the sandbox's cgroup files (read from the
// host: memory.limit_in_bytes and cpu.cfs_quota_us on v1, memory.max and
// cpu.max on v2), kept across a stop and a start, and refused below use (a
// disk smaller than the files the sandbox holds).
const fs = require('node:fs');
const { assert, client, main } = require('./lib');

function cgroup(id) {
  const v1 = `/sys/fs/cgroup/memory/islet/${id}`;
  if (fs.existsSync(v1)) {
    const quota = Number(fs.readFileSync(`/sys/fs/cgroup/cpu/islet/${id}/cpu.cfs_quota_us`, 'utf8'));
    const mem = Number(fs.readFileSync(`${v1}/memory.limit_in_bytes`, 'utf8'));
    return { mem, cpuMillis: quota / 100 };
  }
  const v2 = `/sys/fs/cgroup/islet/${id}`;
  const [quota, period] = fs.readFileSync(`${v2}/cpu.max`, 'utf8').trim().split(' ').map(Number);
  return { mem: Number(fs.readFileSync(`${v2}/memory.max`, 'utf8')), cpuMillis: (quota * 1000) / period };
}

main('resize', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', autoStopInterval: 0, resources: { cpu: 1, memory: 1 } });
  assert.deepEqual(cgroup(sb.id), { mem: 1024 * 2 ** 20, cpuMillis: 1000 });

  await sb.resize({ cpu: 2, memory: 2 });
  assert.equal(sb.cpu, 2);
  assert.equal(sb.memory, 2);
  assert.deepEqual(cgroup(sb.id), { mem: 2048 * 2 ** 20, cpuMillis: 2000 }, 'the live cgroup');

  // 100 MiB of files, then a disk of 0.05 GB: refused, and nothing changed
  const w = await sb.process.executeCommand('sh -c "dd if=/dev/zero of=/workspace/f bs=1M count=100 && sync"');
  assert.equal(w.exitCode, 0, w.result);
  await assert.rejects(sb.resize({ disk: 0.05 }), /below the \d+ MiB the sandbox's files use/);
  assert.equal((await daytona.get(sb.id)).disk, 3);

  await sb.stop();
  await sb.resize({ memory: 1.5 });
  await sb.start();
  assert.deepEqual(cgroup(sb.id), { mem: 1536 * 2 ** 20, cpuMillis: 2000 }, 'kept across stop and start');
  await sb.delete();
});
