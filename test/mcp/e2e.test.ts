/**
 * E2E: the MCP server driven by the SDK's own Client, over stdio (`berth mcp`) and over Streamable
 * HTTP (/mcp) against a real server: create a shell workspace, exec, write a file, see it in the
 * diff, commit and push (the upstream has the commit); a viewer's create is a tool error with the
 * API's sentence; a workspace token reaches only its own workspace; tools/list schemas are the API's.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ApiError } from '../../src/sdk/client.ts';
import { RunTaskSchema } from '../../src/sdk/tasks.ts';
import { CreateWorkspaceSchema, ForkWorkspaceSchema, GitCommitSchema, GitPathsSchema, WorkspaceRefSchema } from '../../src/sdk/wire.ts';
import { eventually, git, TestServer } from '../harness.ts';
import { bareUpstream, revParse, upstreamRoot } from '../git/fixtures.ts';
import { call, connectMcp, ok, text, type McpTransport } from './client.ts';

let server: TestServer;
let root: string;
let bare: string;
let viewerToken: string;

before(async () => {
  root = upstreamRoot();
  bare = bareUpstream(root, 'app', { 'README.md': '# app\n' });
  server = await TestServer.start();
  const c = server.client();
  await c.createProject({ name: 'app', repo: bare });
  viewerToken = (await c.createUser('vera')).token;
  await c.setMember('app', 'vera', 'viewer');
});
after(async () => {
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

for (const via of ['stdio', 'http'] as const satisfies McpTransport[]) {
  describe(`MCP over ${via}`, () => {
    let mcp: Client;
    const ws = `mcp-${via}`;
    const branch = `agent-${via}`;
    before(async () => {
      mcp = await connectMcp(server, via, server.adminToken);
    });
    after(async () => {
      await mcp?.close();
    });

    test('create, exec, write a file, diff, commit and push reach the upstream', async () => {
      const created = await ok(mcp, 'create_workspace', { name: ws, project: 'app' });
      assert.equal((created.structuredContent as { name: string }).name, ws);
      const running = await ok(mcp, 'wait_workspace', { ref: ws, timeoutSeconds: 120 });
      assert.equal((running.structuredContent as { phase: string }).phase, 'running');

      const failed = await ok(mcp, 'exec', { ref: ws, command: 'echo out; echo err >&2; exit 3' });
      assert.deepEqual(
        [failed.structuredContent?.exitCode, failed.structuredContent?.stdout, failed.structuredContent?.stderr],
        [3, 'out\n', 'err\n'],
      );
      assert.match(text(failed), /^exit code 3\n/);
      await ok(mcp, 'exec', { ref: ws, cmd: ['git', 'checkout', '-q', '-b', branch] });

      await ok(mcp, 'write_file', { ref: ws, path: 'README.md', content: `# app\nedited over ${via}\n` });
      await ok(mcp, 'write_file', { ref: ws, path: 'notes/new.txt', content: 'a new file\n' });
      const read = await ok(mcp, 'read_file', { ref: ws, path: 'notes/new.txt' });
      assert.equal(text(read), 'a new file\n');

      const diff = await ok(mcp, 'git_diff', { ref: ws });
      assert.match(text(diff), /^\+edited over (stdio|http)$/m);
      assert.deepEqual((diff.structuredContent as { unstaged: { path: string }[] }).unstaged.map((f) => f.path), ['README.md']);

      await ok(mcp, 'git_stage', { ref: ws, all: true });
      const commit = await ok(mcp, 'git_commit', { ref: ws, message: `work over ${via}` });
      const sha = (commit.structuredContent as { commit: string }).commit;
      assert.match(sha, /^[0-9a-f]{40}$/);
      await ok(mcp, 'git_push', { ref: ws });
      assert.equal(revParse(bare, `refs/heads/${branch}`), sha);
      assert.equal(git(root, '--git-dir', bare, 'show', `${branch}:notes/new.txt`), 'a new file\n');
    });

    test('bounded output, timeouts and paths outside the checkout', async () => {
      const big = await ok(mcp, 'exec', { ref: ws, command: 'head -c 200000 /dev/zero | tr "\\0" x' });
      assert.equal((big.structuredContent as { stdout: string }).stdout.length, 64 * 1024);
      assert.equal(big.structuredContent?.stdoutTruncated, true);
      assert.match(text(big), /\[stdout truncated: 200000 bytes printed, the first 65536 shown\]/);

      const slow = await ok(mcp, 'exec', { ref: ws, cmd: ['sleep', '30'], timeoutSeconds: 1 });
      assert.equal(slow.structuredContent?.timedOut, true);
      assert.match(text(slow), /^timed out after 1 s and was killed/);

      for (const p of ['/etc/passwd', '../outside.txt']) {
        const r = await call(mcp, 'write_file', { ref: ws, path: p, content: 'x' });
        assert.equal(r.isError, true, p);
        assert.match(text(r), /relative to the workspace's checkout|leaves the workspace's checkout/);
      }
      await ok(mcp, 'exec', { ref: ws, command: 'ln -s /etc linked' });
      const linked = await call(mcp, 'read_file', { ref: ws, path: 'linked/hostname' });
      assert.equal(linked.isError, true);
      assert.match(text(linked), /linked\/hostname is outside the workspace checkout\./);
      const missing = await call(mcp, 'read_file', { ref: ws, path: 'no-such-file' });
      assert.equal(missing.isError, true);
      assert.match(text(missing), /No such file/);
    });

    test("a viewer's create is a tool error with the API's sentence", async () => {
      const apiSays = await server
        .client(viewerToken)
        .createWorkspace({ name: `denied-${via}`, project: 'app' })
        .then(
          () => assert.fail('the API let a viewer create a workspace'),
          (err: unknown) => (err as ApiError).message,
        );
      const viewer = await connectMcp(server, via, viewerToken);
      try {
        const r = await call(viewer, 'create_workspace', { name: `denied-${via}`, project: 'app' });
        assert.equal(r.isError, true);
        assert.equal(text(r), apiSays);
        assert.doesNotMatch(text(r), /\n\s+at /);
      } finally {
        await viewer.close();
      }
    });

    test('a workspace token reaches its own workspace only', async () => {
      const token = (await ok(mcp, 'exec', { ref: ws, cmd: ['printenv', 'BERTH_WORKSPACE_TOKEN'] })).structuredContent?.stdout as string;
      const inside = await connectMcp(server, via, token.trim());
      try {
        await ok(inside, 'get_workspace', { ref: ws });
        const other = via === 'stdio' ? 'mcp-http' : 'mcp-stdio';
        const r = await call(inside, 'delete_workspace', { ref: other });
        assert.equal(r.isError, true);
        assert.equal(text(r), await server.client(token.trim()).deleteWorkspace(other).then(() => 'deleted', (e: unknown) => (e as ApiError).message));
      } finally {
        await inside.close();
      }
    });
  });
}

test('fork a workspace and fan out a task', async () => {
  const mcp = await connectMcp(server, 'http', server.adminToken);
  try {
    await ok(mcp, 'write_file', { ref: 'mcp-http', path: 'uncommitted.txt', content: 'not committed yet\n' });
    const forked = await ok(mcp, 'fork_workspace', { ref: 'mcp-http', name: 'mcp-fork' });
    assert.deepEqual((forked.structuredContent as { items: { name: string }[] }).items.map((w) => w.name), ['mcp-fork']);
    await ok(mcp, 'wait_workspace', { ref: 'mcp-fork', timeoutSeconds: 120 });
    assert.equal(text(await ok(mcp, 'read_file', { ref: 'mcp-fork', path: 'uncommitted.txt' })), 'not committed yet\n');

    const started = await ok(mcp, 'run_task', { project: 'app', count: 2, cmd: ['sh', '-c', 'echo run $BERTH_TASK_INDEX'], cleanup: 'delete-all' });
    const id = (started.structuredContent as { id: string }).id;
    const done = await eventually(async () => {
      const t = (await ok(mcp, 'get_task', { id })).structuredContent as { state: string; summary: { succeeded: number; failed: number } };
      return t.state === 'done' ? t : undefined;
    }, `task ${id} to finish`, 180_000, 500);
    assert.deepEqual([done.summary.succeeded, done.summary.failed], [2, 0]);
    const listed = (await ok(mcp, 'list_tasks', {})).structuredContent as { items: { id: string }[] };
    assert.ok(listed.items.some((t) => t.id === id));
    assert.match(text(await ok(mcp, 'get_task_logs', { id, index: 1 })), /run 1/);
    const bad = await call(mcp, 'get_task', { id: 'tk-nope' });
    assert.equal(bad.isError, true);
    assert.equal(text(bad), 'id has an invalid format.');
  } finally {
    await mcp.close();
  }
});

test('tools/list input schemas are the API schemas', async () => {
  const mcp = await connectMcp(server, 'http', server.adminToken);
  try {
    const tools = new Map((await mcp.listTools()).tools.map((t) => [t.name, t.inputSchema as { properties: Record<string, unknown>; required?: string[] }]));
    const plain = (schema: unknown) => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
    // The body the API validates a create with is the whole input of create_workspace.
    assert.deepEqual(tools.get('create_workspace'), plain(CreateWorkspaceSchema));
    // A body's fields beside the workspace's ref: the same schemas, field by field.
    assert.deepEqual(tools.get('run_task'), plain(RunTaskSchema));
    for (const [tool, schema] of [['git_commit', GitCommitSchema], ['git_stage', GitPathsSchema], ['fork_workspace', ForkWorkspaceSchema]] as const) {
      const input = tools.get(tool)!;
      assert.deepEqual(Object.keys(input.properties).sort(), ['ref', ...Object.keys(schema.properties)].sort(), tool);
      for (const [k, v] of Object.entries(schema.properties)) assert.deepEqual(input.properties[k], plain(v), `${tool}.${k}`);
    }
    // The ref is the path parameter the API validates and documents.
    const doc = await server.client().request<{ paths: Record<string, Record<string, { parameters?: { name: string; in: string; schema: unknown }[] }>> }>('GET', '/api/v1/openapi.json');
    const refParam = doc.paths['/api/v1/workspaces/{ref}']!.get!.parameters!.find((p) => p.name === 'ref' && p.in === 'path')!.schema;
    for (const [name, input] of tools) {
      // In the bodies of create_workspace and run_task, ref is a git branch, not a workspace.
      if ('ref' in input.properties && name !== 'create_workspace' && name !== 'run_task') {
        assert.deepEqual(input.properties.ref, plain(WorkspaceRefSchema), `${name}.ref`);
        // OpenAPI puts a parameter's description beside its schema.
        assert.deepEqual({ ...(input.properties.ref as object), description: undefined }, { ...(refParam as object), description: undefined }, `${name}.ref`);
      }
    }
  } finally {
    await mcp.close();
  }
});

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });

/** A POST to /mcp with these headers and body, an MCP initialize by default (node:http, which sends the Host given). */
function postInit(headers: Record<string, string>, body = INIT): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('/mcp refuses a missing token and a name that could be rebound to it, before any tool runs', async () => {
  const auth = { authorization: `Bearer ${server.adminToken}` };
  assert.equal((await postInit({})).status, 401);
  const port = new URL(server.url).port;
  const rebound = await postInit({ ...auth, host: `evil.example.com:${port}` });
  assert.equal(rebound.status, 403);
  assert.match(rebound.body, /The Host header \\"evil.example.com:\d+\\" does not name this server/);
  const foreign = await postInit({ ...auth, origin: 'https://evil.example.com' });
  assert.equal(foreign.status, 403);
  assert.match(foreign.body, /Requests from the origin \\"https:\/\/evil.example.com\\" are refused/);
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) assert.equal((await postInit({ ...auth, host, origin: `http://${host}` })).status, 200, host);
});

test('/mcp answers hostile bodies with a client error and no stack trace', async () => {
  const auth = { authorization: `Bearer ${server.adminToken}` };
  const call = (params: unknown) => JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params });
  for (const [what, headers, body] of [
    ['not JSON', auth, '{"jsonrpc":'],
    ['not JSON-RPC', auth, '{"hello":"world"}'],
    ['an empty batch', auth, '[]'],
    ['a text body', { ...auth, 'content-type': 'text/plain' }, 'hello'],
    ['arguments that are a string', auth, call({ name: 'get_workspace', arguments: 'w1' })],
    ['a call without a name', auth, call({ arguments: {} })],
    ['a ref with NUL', auth, call({ name: 'get_workspace', arguments: { ref: 'a\u0000b' } })],
    ['a huge write', auth, call({ name: 'write_file', arguments: { ref: 'mcp-http', path: 'big', content: 'x'.repeat(2 * 1024 * 1024) } })],
  ] as const) {
    const r = await postInit(headers, body);
    assert.ok(r.status >= 200 && r.status < 500, `${what}: ${r.status} ${r.body}`);
    assert.doesNotMatch(r.body, /\n\s+at |node_modules|\.ts:\d+/, what);
    if (r.status === 200) assert.match(r.body, /"error"|"isError":true/, what);
  }
});

test('a command whose caller goes away is killed: the HTTP connection closed, or the call cancelled over stdio', async () => {
  const admin = await connectMcp(server, 'stdio', server.adminToken);
  const alive = async (pidFile: string) => (await call(admin, 'exec', { ref: 'mcp-http', command: `kill -0 $(cat ${pidFile})` })).structuredContent?.exitCode === 0;
  try {
    // HTTP: the request's connection is dropped while the command runs.
    const gone = new AbortController();
    const body = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'exec', arguments: { ref: 'mcp-http', command: 'echo $$ > http.pid; exec sleep 120' } } });
    const pending = fetch(`${server.url}/mcp`, {
      method: 'POST',
      signal: gone.signal,
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body,
    }).catch(() => undefined);
    await eventually(() => alive('http.pid'), 'the HTTP exec to start');
    gone.abort();
    await pending;
    await eventually(async () => !(await alive('http.pid')), 'the HTTP exec to be killed');

    // stdio: the client cancels the call.
    const cancel = new AbortController();
    const call2 = admin.callTool({ name: 'exec', arguments: { ref: 'mcp-http', command: 'echo $$ > stdio.pid; exec sleep 120' } }, undefined, { signal: cancel.signal }).catch(() => undefined);
    await eventually(() => alive('stdio.pid'), 'the stdio exec to start');
    cancel.abort();
    await call2;
    await eventually(async () => !(await alive('stdio.pid')), 'the stdio exec to be killed');
  } finally {
    await admin.close();
  }
});
