'use strict';
// docs/INTEGRATIONS.md's TypeScript agent, run as written against the
// isletd under test: its output must show the model's two commands done.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { assert, main } = require('./lib');

main('docs', async () => {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'INTEGRATIONS.md'), 'utf8');
  const blocks = [...doc.matchAll(/```js\n(\/\/ agent\.js[^\n]*\n[\s\S]*?)```/g)];
  assert.equal(blocks.length, 1, 'one agent.js example in docs/INTEGRATIONS.md');
  // beside node_modules, so that require('@daytonaio/sdk') resolves
  const file = path.join(__dirname, `.agent-${process.pid}.js`);
  fs.writeFileSync(file, blocks[0][1]);
  try {
    const out = execFileSync('node', [file], {
      env: {
        ...process.env,
        ISLET_URL: process.env.ISLET_COMPAT_API_URL.replace(/\/api$/, ''),
        ISLET_API_KEY: process.env.ISLET_COMPAT_KEY,
      },
      timeout: 120000,
    }).toString();
    assert.match(out, /^write ok/m, out);
    assert.match(out, /^execute ok 55\n/m, out);
  } finally {
    fs.unlinkSync(file);
  }
});
