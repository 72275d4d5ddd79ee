// isletd's /mcp against the official MCP TypeScript SDK client over
// streamable HTTP: two API keys (two organizations), every tool called with
// real checks, tenancy both ways, auth, the session's end, and raw requests
// for what the SDK never sends.
// Usage: node http.js SERVER_URL KEY_A KEY_B SEED_COMMIT
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js'

const [server, keyA, keyB, seed] = process.argv.slice(2)
const mcpUrl = new URL('/mcp', server)
const readJson = (rel) => JSON.parse(readFileSync(new URL(rel, import.meta.url)))
const pinned = readJson('./package.json').dependencies['@modelcontextprotocol/sdk']
assert.equal(readJson('./node_modules/@modelcontextprotocol/sdk/package.json').version, pinned)
const CALL_TIMEOUT_MS = 60000
const t0 = Date.now()
const log = (msg) => console.error(`[http.js ${Date.now() - t0} ms] ${msg}`)

async function connect (key) {
  const headers = key ? { Authorization: `Bearer ${key}` } : {}
  const transport = new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers } })
  const client = new Client({ name: 'islet-mcp-http-test', version: '1.0.0' })
  await client.connect(transport, { timeout: CALL_TIMEOUT_MS })
  return { client, transport }
}

function tools (client) {
  const call = (name, args) => client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS })
  const ok = async (name, args) => {
    const r = await call(name, args)
    assert.equal(r.isError, false, `${name}: ${JSON.stringify(r)}`)
    assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent)
    return r.structuredContent
  }
  const toolError = async (name, args, re) => {
    const r = await call(name, args)
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)}: ${JSON.stringify(r)}`)
    assert.match(r.content[0].text, re)
    return r.structuredContent
  }
  return { call, ok, toolError }
}

// the REST side of the same server, as a key sees it
async function rest (key, method, path) {
  const res = await fetch(new URL(path, server), { method, headers: { Authorization: `Bearer ${key}` } })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null }
}

// one raw POST to /mcp
async function raw (key, body, headers = {}) {
  const res = await fetch(mcpUrl, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null }
}

// ---- auth: no key, a wrong key ----
for (const key of [undefined, 'islet_' + '0'.repeat(48)]) {
  await assert.rejects(connect(key), (e) => {
    assert.equal(e.code, 401, `${e}`)
    return true
  })
}
log('401 without a valid key')

// ---- key A: tools ----
const a = await connect(keyA)
const A = tools(a.client)
assert.equal(a.client.getServerVersion().name, 'islet')
assert.ok(a.transport.sessionId, 'no Mcp-Session-Id after initialize')
const { tools: list } = await a.client.listTools(undefined, { timeout: CALL_TIMEOUT_MS })
assert.deepEqual(list.map((t) => t.name).sort(), ['create_sandbox', 'delete_sandbox', 'execute_code',
  'execute_shell', 'file_operation', 'get_sandbox_info', 'git_operation', 'list_sandboxes'])
const fileTool = list.find((t) => t.name === 'file_operation')
assert.ok(fileTool.inputSchema.properties.operation.enum.includes('upload'))
assert.ok(fileTool.inputSchema.properties.operation.enum.includes('download'))
const createTool = list.find((t) => t.name === 'create_sandbox')
assert.equal(createTool.inputSchema.properties.persistent.type, 'boolean')
assert.match(createTool.inputSchema.properties.persistent.description, /session/)
assert.match(createTool.inputSchema.properties.git_repo.description, /clone/)
// the network: a mode and an allow-list (what each reaches: tests/server/mcp_net.sh)
assert.deepEqual(createTool.inputSchema.properties.network.enum, ['none', 'all', 'allow'])
assert.equal(createTool.inputSchema.properties.allow_list.type, 'array')
const { prompts } = await a.client.listPrompts(undefined, { timeout: CALL_TIMEOUT_MS })
assert.equal(prompts.length, 3)
await a.client.ping({ timeout: CALL_TIMEOUT_MS })

let r = await A.ok('execute_code', { language: 'python', code: 'print(6*7)' })
assert.equal(r.stdout, '42\n')
assert.equal(r.sandbox_deleted, true)
r = await A.ok('list_sandboxes', {})
assert.equal(r.count, 0, 'execute_code left a sandbox')

const box = await A.ok('create_sandbox', { name: 'box', persistent: true, language: 'python', environment_vars: { GREETING: 'hi' }, limits: { memory_mb: 256 } })
assert.equal(box.name, 'box')
assert.equal(box.persistent, true)
assert.equal(box.limits.memory_mb, 256)
r = await A.ok('execute_shell', { sandbox_id: 'box', command: 'echo "$GREETING from $(pwd)"' })
assert.equal(r.stdout, 'hi from /workspace\n')
r = await A.ok('execute_code', { sandbox_id: box.id, language: 'javascript', code: 'console.log(1 + 1)' })
assert.equal(r.stdout, '2\n')
r = await A.ok('get_sandbox_info', { sandbox_id: 'box' })
assert.equal(r.id, box.id)
assert.deepEqual(r.environment_vars, { GREETING: 'hi' })

// files: text, then bytes through base64 both ways
await A.ok('file_operation', { sandbox_id: 'box', operation: 'write', path: 'a/t.txt', content: 'text\n' })
// the agent framework's documented call: file_path for path
r = await A.ok('file_operation', { sandbox_id: box.id, operation: 'write', file_path: 'a/f.txt', content: 'via file_path' })
assert.equal((await A.ok('file_operation', { sandbox_id: 'box', operation: 'read', path: 'a/f.txt' })).content, 'via file_path')
await A.ok('file_operation', { sandbox_id: 'box', operation: 'delete', file_path: 'a/f.txt' })
// a list with network none is refused, and nothing is made
await A.toolError('create_sandbox', { name: 'netted', network: 'none', allow_list: ['example.com'] },
  /needs network mode allow/)
assert.ok(!(await A.ok('list_sandboxes', {})).sandboxes.some((s) => s.name === 'netted'))
// an image not on this machine is refused, naming the pull that gets it,
// and nothing is made
await A.toolError('create_sandbox', { name: 'imaged', image: 'node:20' },
  /image `node:20` is not on this machine.*islet image pull node:20/)
assert.ok(!(await A.ok('list_sandboxes', {})).sandboxes.some((s) => s.name === 'imaged'))
// an image of the store (http.sh imported it): its files, its WorkingDir
const imaged = await A.ok('create_sandbox', { name: 'imaged', image: process.env.MCP_IMAGE })
assert.match(imaged.image, /^sha256:[0-9a-f]{64}$/)
r = await A.ok('file_operation', { sandbox_id: 'imaged', operation: 'read', path: '/srv/app/only-in-the-image' })
assert.equal(r.content, 'image file\n')
await A.ok('delete_sandbox', { sandbox_id: 'imaged' })
r = await A.ok('file_operation', { sandbox_id: 'box', operation: 'read', path: 'a/t.txt' })
assert.equal(r.content, 'text\n')
const bytes = randomBytes(300000)
bytes[0] = 0; bytes[1] = 0xff
r = await A.ok('file_operation', { sandbox_id: 'box', operation: 'upload', path: 'a/blob.bin', content_base64: bytes.toString('base64') })
assert.equal(r.bytes_written, bytes.length)
r = await A.ok('execute_shell', { sandbox_id: 'box', command: 'sha256sum < a/blob.bin | cut -d" " -f1' })
const { createHash } = await import('node:crypto')
assert.equal(r.stdout.trim(), createHash('sha256').update(bytes).digest('hex'))
r = await A.ok('file_operation', { sandbox_id: 'box', operation: 'download', path: 'a/blob.bin' })
assert.ok(Buffer.from(r.content_base64, 'base64').equals(bytes), 'download differs from upload')
assert.equal(r.size, bytes.length)
r = await A.ok('file_operation', { sandbox_id: 'box', operation: 'list', path: 'a' })
assert.deepEqual(r.entries.map((e) => e.name).sort(), ['blob.bin', 't.txt'])
r = await A.ok('file_operation', { sandbox_id: 'box', operation: 'info', path: 'a/blob.bin' })
assert.equal(r.size, bytes.length)
await A.ok('file_operation', { sandbox_id: 'box', operation: 'mkdir', path: 'b' })
await A.ok('file_operation', { sandbox_id: 'box', operation: 'delete', path: 'b' })
await A.toolError('file_operation', { sandbox_id: 'box', operation: 'upload', path: 'big', content_base64: 'A'.repeat(12 << 20) }, /limit/)
await A.toolError('file_operation', { sandbox_id: 'box', operation: 'upload', path: 'x', content_base64: '@@@@' }, /base64/)
await A.toolError('file_operation', { sandbox_id: 'box', operation: 'upload', path: 'x', host_path: '/etc/passwd' }, /never reachable over HTTP/)
await A.toolError('file_operation', { sandbox_id: 'box', operation: 'download', path: 'a/t.txt', host_path: '/tmp/x' }, /never reachable over HTTP/)
r = await A.ok('execute_shell', { sandbox_id: 'box', command: 'dd if=/dev/zero of=huge bs=1M count=9 status=none && echo done' })
assert.equal(r.stdout, 'done\n')
await A.toolError('file_operation', { sandbox_id: 'box', operation: 'download', path: 'huge' }, /limit/)
log('files: text, base64 upload and download (300 kB, sha256 checked), limits, host paths refused')

// git inside the sandbox: a commit's hash
r = await A.ok('execute_shell', { sandbox_id: 'box', command: 'git init -q -b main r && echo one > r/f' })
await A.ok('git_operation', { sandbox_id: 'box', operation: 'add', path: 'r' })
r = await A.ok('git_operation', { sandbox_id: 'box', operation: 'commit', path: 'r', message: 'first' })
assert.match(r.commit, /^[0-9a-f]{40}$/)
assert.equal((await A.ok('execute_shell', { sandbox_id: 'box', command: 'git -C r rev-parse HEAD' })).stdout.trim(), r.commit)

// git_repo at creation, and a failing one leaves nothing
const cloned = await A.ok('create_sandbox', { name: 'cloned', persistent: true, git_repo: '/srv/seed.git' })
assert.deepEqual(cloned.git_repo, { url: '/srv/seed.git', path: '/workspace' })
r = await A.ok('execute_shell', { sandbox_id: 'cloned', command: 'git log -1 --format=%H && cat README' })
assert.equal(r.stdout, `${seed}\nseed\n`)
r = await A.ok('create_sandbox', { persistent: true, git_repo: '/srv/seed.git', git_path: '/tmp/src' })
assert.equal((await A.ok('execute_shell', { sandbox_id: r.id, command: 'cat /tmp/src/README' })).stdout, 'seed\n')
await A.ok('delete_sandbox', { sandbox_id: r.id })
const before = (await rest(keyA, 'GET', '/api/sandbox')).body.items.length
await A.toolError('create_sandbox', { name: 'badclone', persistent: true, git_repo: '/no/such/repo.git' }, /git clone/)
assert.equal((await rest(keyA, 'GET', '/api/sandbox')).body.items.length, before, 'a failed clone left a sandbox')
assert.equal((await rest(keyA, 'GET', '/api/sandbox/badclone')).status, 404)
log('git: commit hash, git_repo clones (seed commit), a failed clone leaves nothing')

// execute_code with persistent: python's variables and imports kept from
// call to call in box's kept interpreter; a timeout interrupts the run and
// keeps them; an exception comes back with its name and traceback
const kept = (code, extra = {}) => ({ sandbox_id: 'box', language: 'python', persistent: true, code, ...extra })
r = await A.ok('execute_code', kept('import math\nkept = 41\nprint("set")'))
assert.deepEqual([r.exit_code, r.stdout, r.persistent, r.timed_out], [0, 'set\n', true, false])
r = await A.ok('execute_code', kept('print(kept + 1, math.pi > 3)'))
assert.equal(r.stdout, '42 True\n')
r = await A.ok('execute_code', kept('import time\nkept += 1\ntime.sleep(60)', { timeout: 1 }))
assert.equal(r.timed_out, true, JSON.stringify(r))
r = await A.ok('execute_code', kept('1/0'))
assert.equal(r.exit_code, 1)
assert.equal(r.error.name, 'ZeroDivisionError', JSON.stringify(r))
assert.match(r.error.traceback, /ZeroDivisionError/)
r = await A.ok('execute_code', kept('print(kept)'))
assert.equal(r.stdout, '42\n', 'the state outlived the timeout and the exception')
r = await A.ok('execute_code', { sandbox_id: 'box', language: 'python', code: 'print("kept" in globals())' })
assert.equal(r.stdout, 'False\n', 'without persistent: a new process')
await A.toolError('execute_code', kept('echo', { language: 'bash' }), /kept interpreter runs python, not bash/)
await A.toolError('execute_code', { language: 'python', persistent: true, code: 'x = 1' }, /give sandbox_id/)
// the same interpreter through islet mcp --url (stdio, as key A)
{
  const transport = new StdioClientTransport({
    command: process.env.ISLET_BIN,
    args: ['--url', server, 'mcp'],
    env: { ...process.env, ISLET_API_KEY: keyA },
    stderr: 'inherit',
  })
  const c = new Client({ name: 'islet-mcp-url-test', version: '1.0.0' })
  await c.connect(transport, { timeout: CALL_TIMEOUT_MS })
  r = await tools(c).ok('execute_code', kept('kept *= 2\nprint(kept)'))
  assert.equal(r.stdout, '84\n', 'islet mcp --url reaches the same kept interpreter')
  await c.close()
}
r = await A.ok('execute_code', kept('print(kept)'))
assert.equal(r.stdout, '84\n')
log('execute_code persistent: state kept over /mcp and islet mcp --url, timeout and exception keep it')

// what /mcp made is an isletd sandbox of key A
let items = (await rest(keyA, 'GET', '/api/sandbox')).body.items
assert.deepEqual(items.map((s) => s.name).sort(), ['box', 'cloned'])
const restBox = items.find((s) => s.name === 'box')
assert.equal(restBox.id, box.id)
assert.equal(restBox.autoDeleteInterval, -1, 'a persistent sandbox has no auto-delete')

// ---- a second session of A: a non-persistent sandbox goes with it ----
const a2 = await connect(keyA)
const A2 = tools(a2.client)
const eph = await A2.ok('create_sandbox', { name: 'eph' })
assert.equal(eph.persistent, false)
let restEph = (await rest(keyA, 'GET', '/api/sandbox/eph')).body
assert.equal(restEph.autoStopInterval, 15)
assert.equal(restEph.autoDeleteInterval, 0)
r = await A.ok('list_sandboxes', {})
assert.equal(r.count, 3, 'a session sees every sandbox of its key')
await a2.transport.terminateSession()
await a2.client.close()
assert.equal((await rest(keyA, 'GET', '/api/sandbox/eph')).status, 404, 'the session ended, its sandbox stayed')
assert.equal((await A.ok('list_sandboxes', {})).count, 2)
log('a non-persistent sandbox: auto-stop 15, auto-delete 0, removed at the session end')

// ---- key B: nothing of A's is visible or reachable ----
const b = await connect(keyB)
const B = tools(b.client)
r = await B.ok('list_sandboxes', {})
assert.equal(r.count, 0, `key B sees: ${JSON.stringify(r)}`)
for (const ref of ['box', box.id]) {
  await B.toolError('get_sandbox_info', { sandbox_id: ref }, new RegExp(`no sandbox '${ref}'`))
  await B.toolError('execute_shell', { sandbox_id: ref, command: 'echo leak' }, /no sandbox/)
  await B.toolError('file_operation', { sandbox_id: ref, operation: 'download', path: 'a/blob.bin' }, /no sandbox/)
  await B.toolError('file_operation', { sandbox_id: ref, operation: 'write', path: 'x', content: 'y' }, /no sandbox/)
  await B.toolError('git_operation', { sandbox_id: ref, operation: 'status' }, /no sandbox/)
  await B.toolError('execute_code', { sandbox_id: ref, language: 'bash', code: 'echo leak' }, /no sandbox/)
  await B.toolError('delete_sandbox', { sandbox_id: ref }, /no sandbox/)
}
// an id prefix names nothing either
await B.toolError('get_sandbox_info', { sandbox_id: box.id.slice(0, 6) }, /no sandbox/)
// B's own "box": the same name, another sandbox
const boxB = await B.ok('create_sandbox', { name: 'box', persistent: true })
assert.notEqual(boxB.id, box.id)
assert.equal((await A.ok('get_sandbox_info', { sandbox_id: 'box' })).id, box.id)
assert.equal((await A.ok('file_operation', { sandbox_id: 'box', operation: 'read', path: 'a/t.txt' })).content, 'text\n')
assert.equal((await rest(keyB, 'GET', `/api/sandbox/${box.id}`)).status, 404)
// A's session is not B's
r = await raw(keyB, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'Mcp-Session-Id': a.transport.sessionId, 'MCP-Protocol-Version': '2025-11-25' })
assert.equal(r.status, 404)
log('tenancy: key B cannot list, read, run in, write to or delete key A\'s sandbox, nor use its session')

// ---- the audit log ----
const auditA = (await rest(keyA, 'GET', '/api/audit?limit=1000')).body.items
for (const action of ['mcp.create_sandbox', 'mcp.execute_shell', 'mcp.file_operation.upload', 'mcp.git_operation.commit', 'mcp.session-end']) {
  assert.ok(auditA.some((x) => x.action === action), `no audit record ${action}`)
}
assert.ok(auditA.some((x) => x.action === 'mcp.create_sandbox' && x.sandboxId === box.id && x.status === 200))
assert.ok(auditA.some((x) => x.action === 'mcp.create_sandbox' && x.status !== 200), 'the failed clone is not audited')
const auditB = (await rest(keyB, 'GET', '/api/audit?limit=1000')).body.items
assert.ok(auditB.every((x) => x.sandboxId !== box.id), 'key B sees a record of key A\'s sandbox')
assert.ok(auditB.some((x) => x.action === 'mcp.delete_sandbox' && x.status === 404))

// ---- raw transport ----
const init = (version) => ({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '0' } } })
r = await raw(keyA, init('2025-03-26'))
assert.equal(r.status, 200)
assert.equal(r.body.result.protocolVersion, '2025-03-26')
const sid = r.headers.get('mcp-session-id')
assert.match(sid, /^[0-9a-f]{32}$/)
r = await raw(keyA, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'Mcp-Session-Id': sid })
assert.equal(r.status, 202)
assert.equal(r.body, null)
r = await raw(keyA, [{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', method: 'notifications/x' }, { jsonrpc: '2.0', id: 2, method: 'nope' }], { 'Mcp-Session-Id': sid })
assert.equal(r.status, 200)
assert.deepEqual(r.body.map((x) => x.id), [1, 2])
assert.equal(r.body[1].error.code, ErrorCode.MethodNotFound)
r = await raw(keyA, { jsonrpc: '2.0', id: 3, method: 'ping' }, { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '1999-01-01' })
assert.equal(r.status, 400)
r = await raw(keyA, { jsonrpc: '2.0', id: 3, method: 'ping' }, { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' })
assert.equal(r.status, 400, 'a version other than the session\'s')
r = await raw(keyA, { jsonrpc: '2.0', id: 3, method: 'ping' }, { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-03-26' })
assert.equal(r.status, 200)
r = await raw(keyA, { jsonrpc: '2.0', id: 3, method: 'ping' })
assert.equal(r.status, 400, 'no session id')
r = await raw(keyA, { jsonrpc: '2.0', id: 3, method: 'ping' }, { 'Mcp-Session-Id': 'f'.repeat(32) })
assert.equal(r.status, 404)
r = await raw(keyA, { jsonrpc: '2.0', id: 3, method: 'ping' }, { 'Mcp-Session-Id': sid, Origin: 'http://evil.example' })
assert.equal(r.status, 403)
for (const origin of ['http://localhost:3000', 'http://127.0.0.1', 'http://app.example', 'https://agents.example:8443']) {
  r = await raw(keyA, { jsonrpc: '2.0', id: 3, method: 'ping' }, { 'Mcp-Session-Id': sid, Origin: origin })
  assert.equal(r.status, 200, origin)
}
for (const origin of ['http://app.example.evil', 'https://app.example', 'http://localhost.evil', 'null']) {
  r = await raw(keyA, { jsonrpc: '2.0', id: 3, method: 'ping' }, { 'Mcp-Session-Id': sid, Origin: origin })
  assert.equal(r.status, 403, origin)
}
r = await raw(keyA, '{"jsonrpc":', { 'Mcp-Session-Id': sid })
assert.equal(r.status, 400)
assert.equal(r.body.error.code, ErrorCode.ParseError)
r = await raw(keyA, { jsonrpc: '2.0', id: 4, method: 'ping' }, { 'Mcp-Session-Id': sid, Authorization: '' })
assert.equal(r.status, 401)
let res = await fetch(mcpUrl, { headers: { Authorization: `Bearer ${keyA}` } })
assert.equal(res.status, 405)
res = await fetch(mcpUrl, { method: 'DELETE', headers: { Authorization: `Bearer ${keyB}`, 'Mcp-Session-Id': sid } })
assert.equal(res.status, 404, 'key B ended key A\'s session')
res = await fetch(mcpUrl, { method: 'DELETE', headers: { Authorization: `Bearer ${keyA}`, 'Mcp-Session-Id': sid } })
assert.equal(res.status, 204)
r = await raw(keyA, { jsonrpc: '2.0', id: 5, method: 'ping' }, { 'Mcp-Session-Id': sid })
assert.equal(r.status, 404, 'an ended session still answers')
// a batch where the version has none
r = await raw(keyA, [{ jsonrpc: '2.0', id: 1, method: 'ping' }], { 'Mcp-Session-Id': a.transport.sessionId })
assert.equal(r.body.error.code, ErrorCode.InvalidRequest)
log('raw: 202, batches (2025-03-26 only), 400, 403, 404, 405, 401, DELETE')

// ---- bad calls are JSON-RPC errors over HTTP too ----
await assert.rejects(A.call('execute_code', { language: 'cobol', code: 'x' }), (e) => e instanceof McpError && e.code === ErrorCode.InvalidParams)

// ---- deletes: nothing left ----
for (const [T, ref] of [[A, 'box'], [A, 'cloned'], [B, 'box']]) {
  r = await T.ok('delete_sandbox', { sandbox_id: ref })
  assert.equal(r.deleted, true)
}
assert.equal((await A.ok('list_sandboxes', {})).count, 0)
assert.equal((await B.ok('list_sandboxes', {})).count, 0)
items = (await rest(keyA, 'GET', '/api/sandbox')).body.items
assert.equal(items.length, 0)
await a.transport.terminateSession()
await a.client.close()
await b.transport.terminateSession()
await b.client.close()
log('deleted; nothing left')
console.log('ok mcp http')
