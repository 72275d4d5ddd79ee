'use strict';
// Pause and resume through the SDK.  The sandbox runs a counter (a loop
// writing a number to a file every 10 ms) and 50 sleeping processes; its
// group's processes are read from the host (this test runs as root beside
// isletd), and so is the counter, through /proc/PID/root, since a paused
// sandbox answers no file request.  Paused, the counter stands still and
// exec and file requests fail at once with a clear error; after start it
// moves again.  Pause and resume are timed (the SDK's round trips, a GET
// included in each).  A paused sandbox can be stopped and deleted.  The
// auto-pause interval is kept and shown (its timer: tests/server/api_autopause.sh).
const fs = require('node:fs');
const path = require('node:path');
const { assert, client, main } = require('./lib');

// The host pids of the sandbox's processes, from its cgroup (v1: the pids
// hierarchy; v2: the one tree).
function hostPids(id) {
  const roots = [`/sys/fs/cgroup/pids/islet/${id}`, `/sys/fs/cgroup/islet/${id}`];
  const pids = [];
  const walk = (dir, depth) => {
    if (depth > 4) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name), depth + 1);
      else if (e.name === 'cgroup.procs')
        pids.push(...fs.readFileSync(path.join(dir, e.name), 'utf8').split('\n').filter(Boolean));
    }
  };
  for (const r of roots) if (fs.existsSync(r)) walk(r, 0);
  return pids;
}

// The host pids of the sandbox's `sleep 600` processes, sorted.
function sleepers(id) {
  return hostPids(id)
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\x00600\x00';
      } catch {
        return false;
      }
    })
    .sort();
}

function freezerState(id) {
  for (const [f, frozen] of [[`/sys/fs/cgroup/freezer/islet/${id}/freezer.state`, 'FROZEN'],
                             [`/sys/fs/cgroup/islet/${id}/cgroup.freeze`, '1']])
    if (fs.existsSync(f)) return fs.readFileSync(f, 'utf8').trim() === frozen ? 'frozen' : 'thawed';
  return 'none';
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function refusedAtOnce(what, promise) {
  const t0 = Date.now();
  await assert.rejects(promise, (e) => {
    assert.match(String(e.message), /paused/, `${what}: the error says why: ${e.message}`);
    return true;
  });
  assert.ok(Date.now() - t0 < 5000, `${what}: refused after ${Date.now() - t0} ms`);
}

main('lifecycle', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', autoStopInterval: 0 });
  // auto-pause: kept and shown; at most one of auto-stop and auto-pause set
  await sb.setAutoPauseInterval(30);
  assert.equal((await daytona.get(sb.id)).autoPauseInterval, 30);
  await assert.rejects(sb.setAutostopInterval(5), /at most one of them/);
  await sb.setAutoPauseInterval(0);
  assert.equal((await daytona.get(sb.id)).autoPauseInterval, 0);
  await sb.fs.uploadFile(
    Buffer.from(
      'i=0; while :; do i=$((i+1)); echo $i > /workspace/count; sleep 0.01; done\n',
    ),
    '/workspace/count.sh',
  );
  const bg = await sb.process.executeCommand(
    'sh -c \'nohup sh /workspace/count.sh >/dev/null 2>&1 & ' +
      'for n in $(seq 50); do nohup sleep 600 >/dev/null 2>&1 & done; echo started\'',
  );
  assert.equal(bg.result.trim(), 'started', bg.result);
  const pids = hostPids(sb.id);
  assert.ok(pids.length >= 51, `the sandbox's processes seen from the host: ${pids.length}`);
  const countFile = `/proc/${pids[0]}/root/workspace/count`;
  const count = () => Number(fs.existsSync(countFile) ? fs.readFileSync(countFile, 'utf8') : 0);
  const t0 = Date.now();
  while (count() < 3 && Date.now() - t0 < 5000) await sleep(20);
  assert.ok(count() >= 3, `the counter moves before the pause: ${count()}`);

  const t2 = Date.now();
  while (sleepers(sb.id).length < 50 && Date.now() - t2 < 5000) await sleep(20);
  const before = sleepers(sb.id);
  assert.equal(before.length, 50, 'the sleepers seen from the host');
  const pauseMs = await timed(() => sb.pause());
  assert.equal(sb.state, 'paused');
  assert.equal((await daytona.get(sb.id)).state, 'paused');
  assert.equal(freezerState(sb.id), 'frozen');
  const c1 = count();
  await sleep(500);
  assert.equal(count(), c1, 'the counter stands still while paused');

  await refusedAtOnce('exec while paused', sb.process.executeCommand('true'));
  await refusedAtOnce('file read while paused', sb.fs.downloadFile('/workspace/count'));
  await assert.rejects(sb.pause(), /already paused/);

  const resumeMs = await timed(() => sb.start());
  assert.equal(sb.state, 'started');
  assert.equal(freezerState(sb.id), 'thawed');
  const t1 = Date.now();
  while (count() <= c1 && Date.now() - t1 < 5000) await sleep(20);
  assert.ok(count() > c1, `the counter moves after start: ${count()} (was ${c1})`);
  const after = sleepers(sb.id);
  assert.deepEqual(after, before, 'every sleeper is there after pause and resume, the same processes');
  console.log(`pause of a sandbox with ${pids.length} processes: ${pauseMs.toFixed(1)} ms, ` +
    `resume: ${resumeMs.toFixed(1)} ms (SDK round trips, a GET in each; target 20 ms each)`);
  assert.ok(pauseMs < 2000 && resumeMs < 2000, 'pause and resume are quick');

  await sb.pause();
  await sb.stop();
  assert.equal(sb.state, 'stopped');
  assert.equal(freezerState(sb.id), 'none');
  assert.equal(hostPids(sb.id).length, 0, 'no process left after stopping a paused sandbox');
  await sb.start();
  await sb.pause();
  await sb.delete();
  assert.equal(freezerState(sb.id), 'none');
});
