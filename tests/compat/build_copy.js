'use strict';
// COPY with wildcards through the official SDK: Image.fromDockerfile globs
// a COPY's sources itself (fast-glob, dotfiles included) and uploads each
// match; isletd's build matches the same pattern in that context, so the
// sandbox has exactly the matched files, where Docker would put them.  The
// SDK (0.218.0) finds a pattern's files only when the pattern is quoted or
// in the JSON form; unquoted, it uploads none, and the build says so.
// Image.pipInstallFromRequirements's COPY (an absolute local path onto
// /.requirements.txt) is built too: its build gets past the COPY to the
// RUN (the test image has no python, so that RUN is the step that fails).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { assert, sdk, client, RUN, main } = require('./lib');

main('build_copy', async () => {
  const daytona = client();
  const base = process.env.ISLET_COMPAT_IMAGE;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-copy-'));
  try {
    fs.mkdirSync(path.join(dir, 'src'));
    for (const f of ['a.py', 'b.py', '.hidden.py', 'notes.md', 'src/x.txt', 'src/y.txt', 'src/z.md', 'requirements.txt']) {
      fs.writeFileSync(path.join(dir, f), `${f}\n`);
    }
    fs.writeFileSync(path.join(dir, 'Dockerfile'),
      `FROM ${base}\nCOPY ["*.py", "/app/"]\nCOPY "src/*.txt" /srv/app/dst/\nCOPY ["src/?.md", "/md/"]\n`);
    const sb = await daytona.create(
      { image: sdk.Image.fromDockerfile(path.join(dir, 'Dockerfile')), labels: { run: RUN } }, { timeout: 150 });
    const r = await sb.process.executeCommand(
      'sh -c "for d in /app /srv/app/dst /md; do echo $d: $(busybox ls -A $d); done; cat /app/a.py"');
    assert.equal(r.exitCode, 0, r.result);
    assert.equal(r.result, '/app: .hidden.py a.py b.py\n/srv/app/dst: x.txt y.txt\n/md: z.md\na.py\n');
    await sb.delete();

    // unquoted, the SDK's own reading of the line (shell-quote) takes the
    // pattern for a shell glob and uploads nothing for it: the build says
    // which pattern matched nothing
    fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${base}\nCOPY notes.md /n/\nCOPY *.py /app/\n`);
    await assert.rejects(daytona.create(
      { image: sdk.Image.fromDockerfile(path.join(dir, 'Dockerfile')), labels: { run: RUN } }, { timeout: 150 }), (e) => {
      assert.match(e.message, /line 3: COPY source `\*\.py` matches no file in the build context/, e.message);
      return true;
    });

    const req = sdk.Image.base(base).pipInstallFromRequirements(path.join(dir, 'requirements.txt'));
    await assert.rejects(daytona.create({ image: req, labels: { run: RUN } }, { timeout: 150 }), (e) => {
      assert.match(e.message, /step 3\/3 .*RUN python -m pip install -r \/.requirements.txt/s, e.message);
      return true;
    });
    for await (const s of daytona.list({ labels: { run: RUN } })) await s.delete();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
