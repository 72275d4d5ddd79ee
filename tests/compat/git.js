'use strict';
// Git through the SDK, git running inside the sandbox: clone (of a bare
// repository in the sandbox: it has no network), status, add, commit,
// push, branches, checkout; init, remotes, config (global and local),
// configureUser, reset (soft, hard, of a file) and restore, each checked by
// git itself in the sandbox.
const { assert, client, RUN, main } = require('./lib');

main('git', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', labels: { run: RUN } });
  try {
    const seed = await sb.process.executeCommand(
      "sh -c 'git init -q --bare -b main /tmp/origin.git && git init -q -b main /tmp/seed && cd /tmp/seed" +
        ' && echo hi > a.txt && git add a.txt && git -c user.name=t -c user.email=t@example.com commit -qm one' +
        " && git push -q /tmp/origin.git main'",
    );
    assert.equal(seed.exitCode, 0, seed.result);

    const git = sb.git;
    await git.clone('/tmp/origin.git', '/workspace/repo');
    let st = await git.status('/workspace/repo');
    assert.equal(st.currentBranch, 'main');
    assert.deepEqual(st.fileStatus, []);

    await sb.fs.uploadFile(Buffer.from('two\n'), '/workspace/repo/b.txt');
    st = await git.status('/workspace/repo');
    assert.deepEqual(st.fileStatus.map((f) => [f.name, f.worktree]), [['b.txt', 'Untracked']]);
    await git.add('/workspace/repo', ['b.txt']);
    const commit = await git.commit('/workspace/repo', 'add b', 'Compat Test', 'compat@example.com');
    assert.match(commit.sha, /^[0-9a-f]{40}$/);
    st = await git.status('/workspace/repo');
    assert.equal(st.ahead, 1);
    await git.push('/workspace/repo');
    const log = await sb.process.executeCommand('git -C /tmp/origin.git log --format=%H:%an:%s main');
    assert.equal(log.result.split('\n')[0], `${commit.sha}:Compat Test:add b`);

    await git.createBranch('/workspace/repo', 'feature/x');
    assert.deepEqual((await git.branches('/workspace/repo')).branches.sort(), ['feature/x', 'main']);
    await git.checkoutBranch('/workspace/repo', 'feature/x');
    assert.equal((await git.status('/workspace/repo')).currentBranch, 'feature/x');
    await git.checkoutBranch('/workspace/repo', 'main');
    await git.deleteBranch('/workspace/repo', 'feature/x');
    assert.deepEqual((await git.branches('/workspace/repo')).branches, ['main']);

    // init, with its initial branch; remotes
    await git.init('/workspace/fresh', false, 'trunk');
    const head = await sb.process.executeCommand('git -C /workspace/fresh symbolic-ref HEAD');
    assert.equal(head.result.trim(), 'refs/heads/trunk');
    assert.deepEqual((await git.remotes('/workspace/fresh')).remotes, []);
    await git.remoteAdd('/workspace/fresh', 'up', '/tmp/origin.git', true);
    assert.deepEqual((await git.remotes('/workspace/fresh')).remotes, [{ name: 'up', url: '/tmp/origin.git' }]);
    assert.equal(await git.remoteGet('/workspace/fresh', 'up'), '/tmp/origin.git');
    const fetched = await sb.process.executeCommand('git -C /workspace/fresh rev-parse up/main');
    assert.equal(fetched.result.trim(), commit.sha, 'fetch: true fetched the remote');
    await assert.rejects(git.remoteAdd('/workspace/fresh', 'up', '/tmp/other.git'), /remote 'up' exists/);
    await git.remoteAdd('/workspace/fresh', 'up', '/tmp/other.git', false, true);
    assert.equal(await git.remoteGet('/workspace/fresh', 'up'), '/tmp/other.git');

    // config: global (the sandbox's /root/.gitconfig) and local, read back by git
    await git.setConfig('core.editor', 'nano');
    assert.equal(await git.getConfig('core.editor'), 'nano');
    const glob = await sb.process.executeCommand('git config --global core.editor');
    assert.equal(glob.result.trim(), 'nano');
    await git.setConfig('islet.mark', 'local value', 'local', '/workspace/repo');
    assert.equal(await git.getConfig('islet.mark', 'local', '/workspace/repo'), 'local value');
    assert.equal(await git.getConfig('islet.mark'), undefined, 'not in the global scope');
    await git.configureUser('Config User', 'config@example.com', 'local', '/workspace/repo');
    const who = await sb.process.executeCommand('git -C /workspace/repo config --local user.email');
    assert.equal(who.result.trim(), 'config@example.com');
    await assert.rejects(git.setConfig('a.b', 'c', 'local'), /scope must be/);

    // reset --soft keeps the change staged; --hard puts the file back
    await sb.fs.uploadFile(Buffer.from('changed\n'), '/workspace/repo/a.txt');
    await git.add('/workspace/repo', ['a.txt']);
    const c2 = await git.commit('/workspace/repo', 'change a', 'Compat Test', 'compat@example.com');
    await git.reset('/workspace/repo', 'soft', 'HEAD~1');
    st = await git.status('/workspace/repo');
    assert.deepEqual(st.fileStatus.map((f) => [f.name, f.staging]), [['a.txt', 'Modified']]);
    await git.reset('/workspace/repo', 'hard', 'HEAD');
    assert.equal((await sb.fs.downloadFile('/workspace/repo/a.txt')).toString(), 'hi\n');
    assert.deepEqual((await git.status('/workspace/repo')).fileStatus, []);
    assert.notEqual((await sb.process.executeCommand('git -C /workspace/repo rev-parse HEAD')).result.trim(), c2.sha);
    await assert.rejects(git.reset('/workspace/repo', 'sideways'), /mode 'sideways'/);

    // reset of one file unstages it; restore puts the worktree's back
    await sb.fs.uploadFile(Buffer.from('again\n'), '/workspace/repo/a.txt');
    await git.add('/workspace/repo', ['a.txt']);
    await git.reset('/workspace/repo', undefined, undefined, ['a.txt']);
    st = await git.status('/workspace/repo');
    assert.deepEqual(st.fileStatus.map((f) => [f.name, f.staging, f.worktree]), [['a.txt', 'Unmodified', 'Modified']]);
    await git.restore('/workspace/repo', ['a.txt']);
    assert.equal((await sb.fs.downloadFile('/workspace/repo/a.txt')).toString(), 'hi\n');
    assert.deepEqual((await git.status('/workspace/repo')).fileStatus, []);
  } finally {
    await sb.delete();
  }
});
