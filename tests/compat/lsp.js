'use strict';
// LSP through the SDK (createLspServer, then start, didOpen, completions,
// documentSymbols, sandboxSymbols, didClose, stop), answered by real
// language servers inside a sandbox on the default image: pylsp for python,
// typescript-language-server for typescript.  A completion names a function
// defined in the file; a server killed from inside is reported as dead and
// can be started again; a sandbox on the `host` image, which has neither
// server, answers an error that names what is missing.  run.sh imports the
// default image for this script (COMPAT_DEFAULT_IMAGE=1).
const { assert, sdk, client, RUN, main } = require('./lib');

async function refused(what, promise, re) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof sdk.DaytonaError, `${what}: ${e?.constructor?.name}: ${e?.message}`);
    assert.match(e.message, re, `${what}: the error says why`);
    return true;
  });
}

function labels(items) {
  return items.map((i) => i.label);
}

async function python(sb) {
  await sb.fs.uploadFile(
    Buffer.from('def compute_total(a, b):\n    return a + b\n\n\nvalue = compute_t\n'),
    '/workspace/pyproj/calc.py',
  );
  // a relative project path is taken from the working directory
  const lsp = await sb.createLspServer('python', 'pyproj');
  await refused('completions before start', lsp.completions('calc.py', { line: 4, character: 17 }),
    /no python language server started/);
  await lsp.start();
  await lsp.start(); // a second start of a live server is no error
  await lsp.didOpen('/workspace/pyproj/calc.py');
  const c = await lsp.completions('/workspace/pyproj/calc.py', { line: 4, character: 17 });
  assert.equal(typeof c.isIncomplete, 'boolean');
  assert.ok(labels(c.items).some((l) => l.startsWith('compute_total')),
    `python completions name compute_total: ${JSON.stringify(labels(c.items).slice(0, 20))}`);
  const syms = await lsp.documentSymbols('/workspace/pyproj/calc.py');
  const f = syms.find((s) => s.name === 'compute_total');
  assert.ok(f, `documentSymbols lists compute_total: ${JSON.stringify(syms)}`);
  assert.equal(f.kind, 12, 'a function (SymbolKind 12)');
  assert.equal(f.location.range.start.line, 0);
  assert.equal(f.location.uri, 'file:///workspace/pyproj/calc.py');
  const found = await lsp.sandboxSymbols('comp');
  assert.ok(found.some((s) => s.name === 'compute_total'), `sandboxSymbols: ${JSON.stringify(found)}`);

  // the file changes: the next answer is about the file as it is now
  await sb.fs.uploadFile(Buffer.from('def other_name():\n    pass\n'), '/workspace/pyproj/calc.py');
  const again = await lsp.documentSymbols('/workspace/pyproj/calc.py');
  assert.deepEqual(again.map((s) => s.name), ['other_name']);
  await lsp.didClose('/workspace/pyproj/calc.py');

  // the server dies (killed from inside): the next call says so; start replaces it
  await sb.process.executeCommand('pkill -KILL -x pylsp');
  await refused('a call to a dead server', lsp.documentSymbols('/workspace/pyproj/calc.py'),
    /python language server of project '\/workspace\/pyproj' died: it (was killed by signal 9|exited with code 137)/);
  await lsp.start();
  assert.equal((await lsp.documentSymbols('/workspace/pyproj/calc.py'))[0].name, 'other_name');
  // it runs inside the sandbox, as the sandbox's own process
  const ps = await sb.process.executeCommand('ps -eo comm');
  assert.match(ps.result, /^pylsp$/m, 'pylsp is a process of the sandbox');
  await lsp.stop();
  await refused('a call after stop', lsp.completions('calc.py', { line: 0, character: 0 }),
    /no python language server started for project '\/workspace\/pyproj'/);
  let left = 'pylsp';
  for (let i = 0; i < 50 && /^pylsp$/m.test(left); i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = (await sb.process.executeCommand('ps -eo comm')).result;
  }
  assert.doesNotMatch(left, /^pylsp$/m, 'stop ended pylsp');
  await refused('a project that is not there', sb.createLspServer('python', '/nowhere').then((l) => l.start()),
    /project '\/nowhere' is not a directory/);
}

async function typescript(sb) {
  await sb.fs.uploadFile(
    Buffer.from('export function greetPerson(name: string): string {\n  return "hi " + name;\n}\n' +
      'export class Greeter {}\nconst said = greetP\n'),
    '/workspace/tsproj/src/greet.ts',
  );
  const lsp = await sb.createLspServer('typescript', '/workspace/tsproj');
  await lsp.start();
  await lsp.didOpen('/workspace/tsproj/src/greet.ts');
  const c = await lsp.completions('/workspace/tsproj/src/greet.ts', { line: 4, character: 19 });
  assert.ok(labels(c.items).includes('greetPerson'),
    `typescript completions name greetPerson: ${JSON.stringify(labels(c.items).slice(0, 20))}`);
  const syms = await lsp.documentSymbols('/workspace/tsproj/src/greet.ts');
  const names = syms.map((s) => s.name);
  assert.ok(names.includes('greetPerson') && names.includes('Greeter'), `documentSymbols: ${JSON.stringify(names)}`);
  assert.equal(syms.find((s) => s.name === 'greetPerson').kind, 12);
  assert.equal(syms.find((s) => s.name === 'Greeter').kind, 5, 'a class (SymbolKind 5)');
  const found = await lsp.sandboxSymbols('greet');
  assert.ok(found.some((s) => s.name === 'greetPerson'), `sandboxSymbols: ${JSON.stringify(found)}`);
  await lsp.didClose('/workspace/tsproj/src/greet.ts');
  await lsp.stop();
}

main('lsp', async () => {
  const daytona = client();
  const sb = await daytona.create({ language: 'python', labels: { run: RUN } });
  const bare = await daytona.create({ snapshot: 'host', labels: { run: RUN } });
  try {
    await python(sb);
    await typescript(sb);
    await refused('an unknown language', sb.createLspServer('cobol', '/workspace'), /Invalid languageId/);

    // the host image has neither server: the error names the one missing
    await bare.fs.createFolder('/workspace/p', '755');
    await refused('python without pylsp', (await bare.createLspServer('python', '/workspace/p')).start(),
      /no python language server: pylsp \(Debian's package python3-pylsp\) is not installed/);
    await refused('typescript without its server',
      (await bare.createLspServer('typescript', '/workspace/p')).start(),
      /no typescript language server: typescript-language-server .* is not installed/);
  } finally {
    await sb.delete();
    await bare.delete();
  }
});
