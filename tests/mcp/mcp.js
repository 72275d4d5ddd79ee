// islet mcp against the official MCP TypeScript SDK client: list the tools
// and prompts, call every tool and check what really happened in the
// sandboxes; then a raw session for what the SDK never sends (bad JSON,
// an unknown method, an unsupported protocol version).
// Also: bytes through base64 both ways, host files beneath --host-dir (and
// nothing outside it), git_repo at creation, and persistent: what a session
// made without it is gone once the session ends.
// Usage: node mcp.js ISLET_BIN STATE_DIR HOST_DIR SEED_COMMIT
//   HOST_DIR holds a symlink `out` to a directory outside it; the sandboxes
//   see a bare repository /srv/seed.git whose main is SEED_COMMIT
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { ErrorCode, LATEST_PROTOCOL_VERSION, McpError } from '@modelcontextprotocol/sdk/types.js'

const [islet, state, hostDir, seed] = process.argv.slice(2)
const readJson = (rel) => JSON.parse(readFileSync(new URL(rel, import.meta.url)))
const pinned = readJson('./package.json').dependencies['@modelcontextprotocol/sdk']
const installed = readJson('./node_modules/@modelcontextprotocol/sdk/package.json').version
assert.equal(installed, pinned, 'npm ci did not install the pinned @modelcontextprotocol/sdk')
const CALL_TIMEOUT_MS = 60000
const t0 = Date.now()
const log = (msg) => console.error(`[mcp.js ${Date.now() - t0} ms] ${msg}`)

async function session (...extra) {
  const transport = new StdioClientTransport({
    command: islet,
    args: ['--state-dir', state, 'mcp', ...extra],
    stderr: 'inherit',
  })
  const c = new Client({ name: 'islet-mcp-test', version: '1.0.0' })
  await c.connect(transport, { timeout: CALL_TIMEOUT_MS })
  return c
}
let client = await session('--host-dir', hostDir)

async function call (name, args) {
  return client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS })
}

// a successful call: structuredContent, and the same object as the text item
async function ok (name, args) {
  const r = await call(name, args)
  assert.equal(r.isError, false, `${name}: ${JSON.stringify(r)}`)
  assert.equal(r.content[0].type, 'text')
  assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent)
  return r.structuredContent
}

async function rpcError (name, args, code, re = /./) {
  await assert.rejects(call(name, args), (e) => {
    assert.ok(e instanceof McpError, `${name}: ${e}`)
    assert.equal(e.code, code, `${name}: ${e.message}`)
    assert.match(e.message, re)
    return true
  })
}

const EXEC_FIELDS = ['exit_code', 'stdout', 'stderr', 'wall_ms', 'cpu_ms', 'memory_peak_bytes',
  'timed_out', 'oom_killed', 'truncated']

// ---- handshake, listings ----
assert.equal(client.getServerVersion().name, 'islet')
assert.ok(client.getServerCapabilities().tools)
assert.ok(client.getServerCapabilities().prompts)
await client.ping({ timeout: CALL_TIMEOUT_MS })

const { tools } = await client.listTools(undefined, { timeout: CALL_TIMEOUT_MS })
const names = tools.map((t) => t.name).sort()
assert.deepEqual(names, ['create_sandbox', 'delete_sandbox', 'execute_code', 'execute_shell',
  'file_operation', 'get_sandbox_info', 'git_operation', 'list_sandboxes'])
for (const t of tools) {
  assert.equal(t.inputSchema.type, 'object', t.name)
  assert.ok(t.description.length > 40, t.name)
}
const codeTool = tools.find((t) => t.name === 'execute_code')
assert.deepEqual(codeTool.inputSchema.required.sort(), ['code', 'language'])
assert.deepEqual(codeTool.inputSchema.properties.language.enum, ['python', 'javascript', 'bash'])
const fileTool = tools.find((t) => t.name === 'file_operation')
assert.equal(fileTool.inputSchema.properties.file_path.type, 'string')
assert.equal(fileTool.inputSchema.additionalProperties, false)
assert.equal(tools.find((t) => t.name === 'create_sandbox').inputSchema.properties.image.type, 'string')
log(`tools: ${names.join(' ')}`)

const { prompts } = await client.listPrompts(undefined, { timeout: CALL_TIMEOUT_MS })
assert.deepEqual(prompts.map((p) => p.name).sort(), ['clean_up', 'run_and_test', 'setup_dev_environment'])
const pr = await client.getPrompt({ name: 'setup_dev_environment', arguments: { language: 'python' } })
assert.equal(pr.messages[0].role, 'user')
assert.match(pr.messages[0].content.text, /python project/)
const pr2 = await client.getPrompt({ name: 'run_and_test', arguments: { sandbox_id: 'box', test_command: 'pytest -q' } })
assert.match(pr2.messages[0].content.text, /sandbox box.*pytest -q/s)
await assert.rejects(client.getPrompt({ name: 'run_and_test', arguments: {} }),
  (e) => e.code === ErrorCode.InvalidParams)
await assert.rejects(client.getPrompt({ name: 'no_such_prompt' }), (e) => e.code === ErrorCode.InvalidParams)
// clean_up without an argument: what a model is told keeps persistent sandboxes
for (const args of [{}, { keep: 'web' }]) {
  const text = (await client.getPrompt({ name: 'clean_up', arguments: args })).messages[0].content.text
  assert.match(text, /only the sandboxes whose persistent is false/, text)
  assert.match(text, /Keep every sandbox whose persistent is true/, text)
  assert.doesNotMatch(text, /for every sandbox except/, text)
}
log('prompts checked')

// ---- one-off code, no sandbox left behind ----
let r = await ok('execute_code', { language: 'python', code: 'import sys\nprint(6*7)\nprint("e", file=sys.stderr)' })
for (const f of EXEC_FIELDS) assert.ok(f in r, `execute_code result lacks ${f}`)
assert.equal(r.exit_code, 0)
assert.equal(r.stdout, '42\n')
assert.equal(r.stderr, 'e\n')
assert.equal(r.sandbox_deleted, true)
r = await ok('execute_code', { language: 'javascript', code: 'console.log([1,2,3].map(x => x * 2).join(","))' })
assert.equal(r.stdout, '2,4,6\n')
r = await ok('execute_code', { language: 'bash', code: 'exit 5' })
assert.equal(r.exit_code, 5)
r = await ok('execute_code', { language: 'bash', code: 'sleep 30', timeout: 0.5 })
assert.equal(r.timed_out, true)
assert.ok(r.wall_ms < 10000, `timeout took ${r.wall_ms} ms`)
r = await ok('list_sandboxes', {})
assert.equal(r.count, 0, 'execute_code without sandbox_id left a sandbox')
log('execute_code in fresh sandboxes checked')

// ---- a sandbox on an image of the store (run.sh imported it) ----
const imaged = await ok('create_sandbox', { name: 'mcp-img', image: process.env.MCP_IMAGE })
assert.match(imaged.image, /^sha256:[0-9a-f]{64}$/)
r = await ok('file_operation', { sandbox_id: 'mcp-img', operation: 'read', path: '/srv/app/only-in-the-image' })
assert.equal(r.content, 'image file\n')
await ok('delete_sandbox', { sandbox_id: 'mcp-img' })
log('create_sandbox with an image checked')

// ---- a kept sandbox ----
const sb = await ok('create_sandbox', {
  name: 'mcp-box', language: 'python', environment_vars: { GREETING: 'hello' },
  limits: { memory_mb: 256, cpus: 0.5, disk_mb: 512, timeout_s: 20 },
})
assert.equal(sb.name, 'mcp-box')
assert.equal(sb.state, 'running')
assert.equal(sb.limits.memory_mb, 256)
assert.equal(sb.limits.cpu_millis, 500)
assert.equal(sb.limits.timeout_s, 20)
r = await ok('list_sandboxes', {})
assert.deepEqual(r.sandboxes.map((s) => s.id), [sb.id])
r = await ok('get_sandbox_info', { sandbox_id: 'mcp-box' })
assert.equal(r.id, sb.id)
assert.equal(r.language, 'python')
assert.deepEqual(r.environment_vars, { GREETING: 'hello' })

r = await ok('execute_shell', { sandbox_id: sb.id, command: 'echo "$GREETING $WHO from $(pwd)"; exit 3', env: { WHO: 'mcp' } })
assert.equal(r.exit_code, 3)
assert.equal(r.stdout, 'hello mcp from /workspace\n')
r = await ok('execute_shell', { sandbox_id: 'mcp-box', command: 'mkdir -p /tmp/w && cd /tmp && pwd', cwd: '/tmp' })
assert.equal(r.stdout, '/tmp\n')
r = await ok('execute_shell', { sandbox_id: 'mcp-box', command: 'no-such-command-xyz' })
assert.equal(r.exit_code, 127)

// files: write, read back, info, list, run, mkdir, delete
const content = 'def add(a, b):\n    return a + b\nprint(add(2, 3), "é")\n'
r = await ok('file_operation', { sandbox_id: 'mcp-box', operation: 'write', path: 'src/app.py', content })
assert.equal(r.bytes_written, Buffer.byteLength(content))
r = await ok('file_operation', { sandbox_id: 'mcp-box', operation: 'read', path: '/workspace/src/app.py' })
assert.equal(r.content, content)
r = await ok('file_operation', { sandbox_id: 'mcp-box', operation: 'info', path: 'src/app.py' })
assert.equal(r.size, Buffer.byteLength(content))
assert.equal(r.is_dir, false)
r = await ok('execute_code', { sandbox_id: 'mcp-box', language: 'python', code: 'exec(open("src/app.py").read())' })
assert.equal(r.stdout, '5 é\n')
assert.equal(r.sandbox_id, sb.id)
// persistent: the kept interpreter is isletd's; without it the call says so
r = await call('execute_code', { sandbox_id: 'mcp-box', language: 'python', persistent: true, code: 'x = 1' })
assert.equal(r.isError, true, JSON.stringify(r))
assert.match(r.content[0].text, /persistent: the kept python interpreter lives in isletd.*islet --url URL mcp/)
r = await ok('file_operation', { sandbox_id: 'mcp-box', operation: 'mkdir', path: 'out' })
r = await ok('file_operation', { sandbox_id: 'mcp-box', operation: 'list', path: '/workspace' })
assert.deepEqual(r.entries.map((e) => e.name).sort(), ['out', 'src'])
r = await ok('file_operation', { sandbox_id: 'mcp-box', operation: 'list', path: '/workspace', recursive: true })
assert.ok(r.entries.some((e) => e.path === '/workspace/src/app.py'), JSON.stringify(r.entries))
r = await ok('execute_shell', { sandbox_id: 'mcp-box', command: 'cat src/app.py | wc -l' })
assert.equal(r.stdout.trim(), '3')
r = await ok('file_operation', { sandbox_id: 'mcp-box', operation: 'delete', path: 'src', recursive: true })
r = await ok('execute_shell', { sandbox_id: 'mcp-box', command: 'test -e src; echo $?' })
assert.equal(r.stdout, '1\n')
log('kept sandbox: shell, env and files checked')

// ---- git, run inside the sandbox, against a bare repository there ----
r = await ok('execute_shell', { sandbox_id: 'mcp-box', command: 'git init -q --bare -b main /tmp/remote.git && git init -q -b main r && git -C r remote add origin /tmp/remote.git' })
assert.equal(r.exit_code, 0, r.stderr)
await ok('file_operation', { sandbox_id: 'mcp-box', operation: 'write', path: 'r/a.txt', content: 'one\n' })
r = await ok('git_operation', { sandbox_id: 'mcp-box', operation: 'status', path: 'r' })
assert.match(r.stdout, /^\?\? a\.txt$/m)
r = await ok('git_operation', { sandbox_id: 'mcp-box', operation: 'add', path: 'r', files: ['a.txt'] })
assert.equal(r.exit_code, 0, r.stderr)
r = await ok('git_operation', { sandbox_id: 'mcp-box', operation: 'commit', path: 'r', message: 'first', author: 'Ada', email: 'ada@example.org' })
assert.equal(r.exit_code, 0, r.stderr)
assert.match(r.commit, /^[0-9a-f]{40}$/)
const head = (await ok('execute_shell', { sandbox_id: 'mcp-box', command: 'git -C r log -1 --format="%H %an %s"' })).stdout
assert.equal(head, `${r.commit} Ada first\n`)
r = await ok('git_operation', { sandbox_id: 'mcp-box', operation: 'push', path: 'r', branch: 'main' })
assert.equal(r.exit_code, 0, r.stderr)
assert.equal((await ok('execute_shell', { sandbox_id: 'mcp-box', command: 'git --git-dir=/tmp/remote.git rev-parse main' })).stdout.trim(), head.split(' ')[0])
r = await ok('git_operation', { sandbox_id: 'mcp-box', operation: 'branches', path: 'r', branch: 'feature' })
r = await ok('git_operation', { sandbox_id: 'mcp-box', operation: 'branches', path: 'r' })
assert.match(r.stdout, /feature/)
r = await ok('git_operation', { sandbox_id: 'mcp-box', operation: 'checkout', path: 'r', branch: 'feature' })
assert.equal(r.exit_code, 0, r.stderr)
// a clone with credentials: they reach git's askpass only, and are gone after
r = await ok('git_operation', { sandbox_id: 'mcp-box', operation: 'clone', url: '/tmp/remote.git', path: 'c', username: 'u', password: 's3cret' })
assert.equal(r.exit_code, 0, r.stderr)
r = await ok('execute_shell', { sandbox_id: 'mcp-box', command: 'cat c/a.txt; ls /tmp | grep -c askpass; grep -rc s3cret c/.git/config || true' })
assert.equal(r.stdout, 'one\n0\n0\n')
r = await ok('git_operation', { sandbox_id: 'mcp-box', operation: 'pull', path: 'c', branch: 'main' })
assert.equal(r.exit_code, 0, r.stderr)
r = await call('git_operation', { sandbox_id: 'mcp-box', operation: 'checkout', path: 'r' })
assert.equal(r.isError, true)
r = await call('git_operation', { sandbox_id: 'mcp-box', operation: 'clone', url: '--upload-pack=touch /tmp/x' })
assert.equal(r.isError, true)
await rpcError('git_operation', { sandbox_id: 'mcp-box', operation: 'rebase' }, ErrorCode.InvalidParams)
await rpcError('git_operation', { sandbox_id: 'mcp-box', operation: 'add', files: 'a.txt' }, ErrorCode.InvalidParams)
log('git: status, add, commit, push, branches, checkout, clone with credentials, pull')

// ---- bytes: base64 both ways, and host files beneath --host-dir ----
const sha = (b) => createHash('sha256').update(b).digest('hex')
const bytes = randomBytes(200000)
r = await ok('file_operation', { sandbox_id: 'mcp-box', operation: 'upload', path: 'bin/b.dat', content_base64: bytes.toString('base64') })
assert.equal(r.bytes_written, bytes.length)
assert.equal((await ok('execute_shell', { sandbox_id: 'mcp-box', command: 'sha256sum < bin/b.dat' })).stdout.split(' ')[0], sha(bytes))
r = await ok('file_operation', { sandbox_id: 'mcp-box', operation: 'download', path: 'bin/b.dat' })
assert.ok(Buffer.from(r.content_base64, 'base64').equals(bytes))
const hostBytes = randomBytes(50000)
writeFileSync(join(hostDir, 'in.bin'), hostBytes)
r = await ok('file_operation', { sandbox_id: 'mcp-box', operation: 'upload', path: 'h.bin', host_path: 'in.bin' })
assert.equal(r.bytes_written, hostBytes.length)
assert.equal((await ok('execute_shell', { sandbox_id: 'mcp-box', command: 'sha256sum < h.bin' })).stdout.split(' ')[0], sha(hostBytes))
r = await ok('file_operation', { sandbox_id: 'mcp-box', operation: 'download', path: 'bin/b.dat', host_path: join(hostDir, 'copy.bin') })
assert.ok(readFileSync(join(hostDir, 'copy.bin')).equals(bytes))
for (const [op, hp] of [['upload', '/etc/hostname'], ['upload', '../x'], ['upload', 'out/secret'], ['download', 'out/new'], ['download', '/tmp/new-file']]) {
  r = await call('file_operation', { sandbox_id: 'mcp-box', operation: op, path: 'bin/b.dat', host_path: hp })
  assert.equal(r.isError, true, `${op} ${hp}: ${JSON.stringify(r)}`)
  assert.match(r.content[0].text, /outside the host directory|No such file/, `${op} ${hp}`)
}
assert.ok(!existsSync(join(hostDir, 'out', 'new')), 'a download went through the symlink')
r = await call('file_operation', { sandbox_id: 'mcp-box', operation: 'upload', path: 'x', content_base64: 'A'.repeat(12 << 20) })
assert.equal(r.isError, true)
assert.match(r.content[0].text, /limit/)
log('bytes: base64 upload and download, host files beneath --host-dir, nothing outside it')

// ---- the agent framework's names: file_path, environment_vars ----
r = await ok('file_operation', { sandbox_id: sb.id, operation: 'write', file_path: 'notes/plan.md', content: '# plan\n' })
assert.equal(r.path, 'notes/plan.md')
r = await ok('file_operation', { sandbox_id: sb.id, operation: 'read', file_path: 'notes/plan.md' })
assert.equal(r.content, '# plan\n')
r = await ok('execute_shell', { sandbox_id: 'mcp-box', command: 'cat /workspace/notes/plan.md; echo "$GREETING $X"', environment_vars: { X: 'there' } })
assert.equal(r.stdout, '# plan\nhello there\n')

// ---- a tool's own failure: a normal result, isError, a reason ----
for (const [name, args, re] of [
  ['file_operation', { sandbox_id: 'mcp-box', operation: 'read', path: 'missing.txt' }, /missing\.txt/],
  ['file_operation', { sandbox_id: 'mcp-box', operation: 'write', path: 'x' }, /content/],
  ['get_sandbox_info', { sandbox_id: 'no-such-box' }, /no sandbox 'no-such-box'/],
  ['execute_shell', { sandbox_id: 'mcp-box', command: 'true', timeout: 0 }, /timeout/],
  ['create_sandbox', { name: 'mcp-box' }, /mcp-box/],
  ['create_sandbox', { name: 'x', limits: { memory_mb: 0 } }, /memory/],
  // an image not on this machine is refused, not swapped for the default
  ['create_sandbox', { name: 'imaged', image: 'python:3.12-slim' }, /no image `python:3.12-slim`/],
]) {
  r = await call(name, args)
  assert.equal(r.isError, true, `${name} ${JSON.stringify(args)}: ${JSON.stringify(r)}`)
  assert.match(r.content[0].text, re)
}

// ---- bad calls: JSON-RPC errors ----
await rpcError('no_such_tool', {}, ErrorCode.InvalidParams)
await rpcError('execute_code', { language: 'python' }, ErrorCode.InvalidParams)
await rpcError('execute_code', { language: 'cobol', code: 'x' }, ErrorCode.InvalidParams)
await rpcError('execute_shell', { sandbox_id: 'mcp-box', command: 42 }, ErrorCode.InvalidParams)
await rpcError('file_operation', { sandbox_id: 'mcp-box', operation: 'chmod', path: 'x' }, ErrorCode.InvalidParams)
await rpcError('create_sandbox', { limits: { cpus: 'two' } }, ErrorCode.InvalidParams)
// an argument a tool does not take is named, never dropped
await rpcError('create_sandbox', { name: 'x', limits: { memory: 64 } }, ErrorCode.InvalidParams, /unknown argument 'memory'/)
await rpcError('execute_code', { language: 'python', code: '1', environment_vars: {} }, ErrorCode.InvalidParams,
  /unknown argument 'environment_vars'/)
await rpcError('list_sandboxes', { state: 'stopped' }, ErrorCode.InvalidParams, /unknown argument 'state'/)
await rpcError('file_operation', { sandbox_id: 'mcp-box', operation: 'read', path: 'a', file_path: 'b' },
  ErrorCode.InvalidParams, /'path' and 'file_path'/)
await rpcError('file_operation', { sandbox_id: 'mcp-box', operation: 'read' }, ErrorCode.InvalidParams,
  /'path' \(or 'file_path'\) is required/)
assert.deepEqual((await ok('list_sandboxes', {})).sandboxes.map((s) => s.name), ['mcp-box'],
  'a refused create made a sandbox')
log('tool failures and bad calls checked')

// ---- delete ----
r = await ok('delete_sandbox', { sandbox_id: 'mcp-box' })
assert.equal(r.id, sb.id)
r = await ok('list_sandboxes', {})
assert.equal(r.count, 0)
r = await call('delete_sandbox', { sandbox_id: 'mcp-box' })
assert.equal(r.isError, true)

// ---- git_repo and persistent ----
r = await ok('create_sandbox', { name: 'keeper', persistent: true })
assert.equal(r.persistent, true)
r = await ok('create_sandbox', { name: 'temp' })
assert.equal(r.persistent, false)
r = await ok('create_sandbox', { name: 'cloned', git_repo: '/srv/seed.git' })
assert.deepEqual(r.git_repo, { url: '/srv/seed.git', path: '/workspace' })
r = await ok('execute_shell', { sandbox_id: 'cloned', command: 'git log -1 --format=%H; cat README' })
assert.equal(r.stdout, `${seed}\nseed\n`)
r = await call('create_sandbox', { name: 'badclone', git_repo: '/srv/none.git' })
assert.equal(r.isError, true)
assert.match(r.content[0].text, /git clone/)
assert.deepEqual((await ok('list_sandboxes', {})).sandboxes.map((s) => s.name).sort(), ['cloned', 'keeper', 'temp'])
assert.equal((await ok('get_sandbox_info', { sandbox_id: 'keeper' })).persistent, true)
await client.close()
log('SDK session done')

// the session's end removed what was not persistent
client = await session()
assert.deepEqual((await ok('list_sandboxes', {})).sandboxes.map((s) => s.name), ['keeper'])
r = await call('file_operation', { sandbox_id: 'keeper', operation: 'upload', path: 'x', host_path: join(hostDir, 'in.bin') })
assert.equal(r.isError, true)
assert.match(r.content[0].text, /--host-dir/)
await ok('delete_sandbox', { sandbox_id: 'keeper' })
await client.close()
log('git_repo, persistent, and no host files without --host-dir')

// ---- raw: what the SDK never sends ----
function rawSession (lines) {
  return new Promise((resolve, reject) => {
    const child = spawn(islet, ['--state-dir', state, 'mcp'], { stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('raw session timed out')) }, CALL_TIMEOUT_MS)
    child.stdout.on('data', (d) => { out += d })
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`islet mcp exited with ${code}`))
      resolve(out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)))
    })
    child.stdin.end(lines.join('\n') + '\n')
  })
}

const answers = await rawSession([
  JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '1999-01-01', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } }),
  JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  '{"jsonrpc":"2.0","id":2,"method":',
  '[1,2]',
  JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'resources/list' }),
  JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ping' }),
  JSON.stringify({ jsonrpc: '1.0', id: 5, method: 'ping' }),
  JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'tools/call', params: [] }),
  JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'initialize', params: { protocolVersion: '2025-03-26' } }),
])
assert.equal(answers.length, 8, JSON.stringify(answers))
assert.equal(answers[0].id, 1)
assert.equal(answers[0].result.protocolVersion, LATEST_PROTOCOL_VERSION)
assert.deepEqual(answers[0].result.serverInfo.name, 'islet')
assert.equal(answers[1].error.code, ErrorCode.ParseError)
assert.equal(answers[1].id, null)
assert.equal(answers[2].error.code, ErrorCode.InvalidRequest)
assert.equal(answers[3].id, 3)
assert.equal(answers[3].error.code, ErrorCode.MethodNotFound)
assert.deepEqual(answers[4], { jsonrpc: '2.0', id: 4, result: {} })
assert.equal(answers[5].error.code, ErrorCode.InvalidRequest)
assert.equal(answers[6].error.code, ErrorCode.InvalidParams)
assert.equal(answers[7].result.protocolVersion, '2025-03-26')
log('raw JSON-RPC checked')
console.log('ok mcp')
