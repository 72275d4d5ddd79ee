'use strict';
// Git through the SDK, git running inside the sandbox: clone (of a bare
// repository in the sandbox: it has no network), status, add, commit,
// push, branches, checkout.
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
  } finally {
    await sb.delete();
  }
});
