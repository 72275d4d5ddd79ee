'use strict';
// process.executeCommand and process.codeRun, with their real output.
const { assert, client, RUN, main } = require('./lib');

main('process', async () => {
  const daytona = client();
  const py = await daytona.create({ language: 'python', labels: { run: RUN } });
  try {
    let r = await py.process.executeCommand('echo hello world');
    assert.equal(r.exitCode, 0);
    assert.equal(r.result, 'hello world\n');
    // no shell: the words are the program's arguments, quotes group them
    r = await py.process.executeCommand('printf "%s|%s" "a b" c');
    assert.equal(r.result, 'a b|c');
    r = await py.process.executeCommand("sh -c 'echo out; echo err >&2; exit 3'");
    assert.equal(r.exitCode, 3);
    assert.match(r.result, /out/);
    r = await py.process.executeCommand('pwd', '/tmp');
    assert.equal(r.result.trim(), '/tmp');
    r = await py.process.executeCommand('printenv ONE', undefined, { ONE: 'un' });
    assert.equal(r.result.trim(), 'un');

    r = await py.process.codeRun('import sys\nprint(6 * 7)\nprint(sys.version_info[0])');
    assert.equal(r.exitCode, 0);
    assert.equal(r.result, '42\n3\n');
    r = await py.process.codeRun('raise SystemExit(5)');
    assert.equal(r.exitCode, 5);

    // output past the sandbox's output limit (1 MiB a stream) is cut, and
    // the result says so at its end, with the exit status kept
    const cut = /\n\[islet: output cut at 1048576 bytes per stream; outputLimit raises it, up to \d+\]\n$/;
    r = await py.process.executeCommand(`python3 -c "import sys; sys.stdout.write('x' * 3000000)"`);
    assert.equal(r.exitCode, 0);
    assert.match(r.result, cut);
    assert.equal(r.result.indexOf('\n'), 1048576, 'the kept output is 1 MiB of it');
    r = await py.process.codeRun("import sys\nsys.stdout.write('y' * 2000000 + '\\n')\nsys.exit(4)");
    assert.equal(r.exitCode, 4);
    assert.match(r.result, cut);
    assert.ok(r.result.startsWith('y'.repeat(1048576) + '\n[islet: output cut'), 'codeRun: the marker follows the kept output');
    // under the limit: no marker
    r = await py.process.executeCommand(`python3 -c "print('z' * 1000000)"`);
    assert.equal(r.result, 'z'.repeat(1000000) + '\n');
  } finally {
    await py.delete();
  }

  const js = await daytona.create({ language: 'javascript', labels: { run: RUN } });
  try {
    assert.equal(js.labels['code-toolbox-language'], 'javascript');
    const r = await js.process.codeRun('console.log([1, 2, 3].map((x) => x * 2).join(","))');
    assert.equal(r.exitCode, 0);
    assert.equal(r.result, '2,4,6\n');
  } finally {
    await js.delete();
  }

  // TypeScript: transpiled in the sandbox (Debian's node-typescript), then run by node
  const ts = await daytona.create({ language: 'typescript', labels: { run: RUN } });
  try {
    let r = await ts.process.codeRun(
      'interface Point { x: number; y: number }\n' +
        'const p: Point = { x: 6, y: 7 };\n' +
        'console.log(p.x * p.y, process.argv.slice(2).join(","));',
      { argv: ['one', 'two'] },
    );
    assert.equal(r.exitCode, 0, r.result);
    assert.equal(r.result, '42 one,two\n');
    r = await ts.process.codeRun('const broken: number = ;');
    assert.equal(r.exitCode, 1);
    assert.match(r.result, /main\.ts:1:\d+: error: Expression expected/);
  } finally {
    await ts.delete();
  }
});
