'use strict';
// daytona.list() with filters, against a mix of started and stopped
// sandboxes: states, cpu/memory/disk ranges, name and id prefixes, creation
// and activity times, snapshots, targets, isPublic, sort and order across
// pages; and the clean-up script that lists the stopped sandboxes and
// deletes them, which must leave the started ones alone.
const { assert, client, RUN, main } = require('./lib');

main('list', async () => {
  const daytona = client();
  const labels = { run: RUN, suite: 'list' };
  const mk = (n, cpu, memory, disk) =>
    daytona.create({ name: `list-${RUN}-${n}`, labels, resources: { cpu, memory, disk } });
  const a = await mk('a', 1, 1, 1);
  const b = await mk('b', 2, 1.5, 2);
  await new Promise((r) => setTimeout(r, 20));
  const mid = new Date();
  await new Promise((r) => setTimeout(r, 20));
  const c = await mk('c', 0.5, 0.5, 1);
  const d = await mk('d', 1, 1, 3);
  await b.stop();
  await d.stop();
  const byId = { [a.id]: 'a', [b.id]: 'b', [c.id]: 'c', [d.id]: 'd' };

  // the names (a, b, c, d) listed for query, in the order given
  const names = async (query) => {
    const out = [];
    for await (const s of daytona.list({ labels, ...query })) {
      assert.ok(byId[s.id], `list gave a sandbox of another run: ${s.id} ${s.name}`);
      out.push(byId[s.id]);
    }
    return out;
  };
  const set = async (query) => (await names(query)).sort();

  assert.deepEqual(await set({}), ['a', 'b', 'c', 'd']);
  assert.deepEqual(await set({ states: ['stopped'] }), ['b', 'd']);
  assert.deepEqual(await set({ states: ['started'] }), ['a', 'c']);
  assert.deepEqual(await set({ states: ['started', 'stopped'] }), ['a', 'b', 'c', 'd']);
  assert.deepEqual(await set({ states: ['archived'] }), []);
  for await (const s of daytona.list({ labels, states: ['stopped'] })) assert.equal(s.state, 'stopped');

  assert.deepEqual(await set({ minCpu: 1 }), ['a', 'b', 'd']);
  assert.deepEqual(await set({ maxCpu: 0.5 }), ['c']);
  assert.deepEqual(await set({ minCpu: 1, maxCpu: 1 }), ['a', 'd']);
  assert.deepEqual(await set({ minMemoryGib: 1.5 }), ['b']);
  assert.deepEqual(await set({ maxMemoryGib: 1 }), ['a', 'c', 'd']);
  assert.deepEqual(await set({ minDiskGib: 2, maxDiskGib: 2 }), ['b']);
  assert.deepEqual(await set({ maxDiskGib: 1, states: ['started'] }), ['a', 'c']);

  assert.deepEqual(await set({ name: `list-${RUN}-` }), ['a', 'b', 'c', 'd']);
  assert.deepEqual(await set({ name: `LIST-${RUN}-B` }), ['b'], 'name is a case-insensitive prefix');
  assert.deepEqual(await set({ id: b.id.slice(0, 9).toUpperCase() }), ['b'], 'id is a prefix');

  assert.deepEqual(await set({ createdAtAfter: mid }), ['c', 'd']);
  assert.deepEqual(await set({ createdAtBefore: mid }), ['a', 'b']);
  assert.deepEqual(await set({ lastActivityAfter: new Date(Date.now() - 3600e3) }), ['a', 'b', 'c', 'd']);
  assert.deepEqual(await set({ lastActivityBefore: new Date(Date.now() - 3600e3) }), []);
  assert.deepEqual(await set({ snapshots: [a.snapshot] }), ['a', 'b', 'c', 'd']);
  assert.deepEqual(await set({ snapshots: ['no-such-image'] }), []);
  assert.deepEqual(await set({ targets: [a.target] }), ['a', 'b', 'c', 'd']);
  assert.deepEqual(await set({ targets: ['eu'] }), []);
  assert.deepEqual(await set({ isPublic: true }), []);
  assert.deepEqual(await set({ isPublic: false, isRecoverable: false }), ['a', 'b', 'c', 'd']);

  // sort and order, one sandbox a page: the SDK follows nextCursor
  assert.deepEqual(await names({ sort: 'name', order: 'asc', limit: 1 }), ['a', 'b', 'c', 'd']);
  assert.deepEqual(await names({ sort: 'name', order: 'desc', limit: 1 }), ['d', 'c', 'b', 'a']);
  assert.deepEqual(await names({ sort: 'createdAt', order: 'desc', limit: 3 }), ['d', 'c', 'b', 'a']);
  const cpu = await names({ sort: 'cpu', order: 'asc', limit: 1 });
  assert.equal(cpu[0], 'c');
  assert.equal(cpu[3], 'b');
  assert.deepEqual(cpu.slice(1, 3).sort(), ['a', 'd']);
  assert.deepEqual(await names({ sort: 'memoryGib', order: 'desc', limit: 2, states: ['started'] }), ['a', 'c']);
  assert.deepEqual(await names({ sort: 'diskGib', order: 'asc', limit: 1, states: ['stopped'] }), ['b', 'd']);

  // the clean-up script: delete what is stopped
  for await (const s of daytona.list({ labels, states: ['stopped'] })) await s.delete();
  assert.deepEqual(await set({}), ['a', 'c']);
  assert.equal((await daytona.get(a.id)).state, 'started');
  assert.equal((await daytona.get(c.id)).state, 'started');
  const r = await a.process.executeCommand('echo alive');
  assert.equal(r.result.trim(), 'alive');
  await a.delete();
  await c.delete();
});
