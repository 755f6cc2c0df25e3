/** Malformed requests get the right 4xx and a clear message; none crashes the server or changes state. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { TestServer, makeRepo, tempDir, waitPhase } from '../harness.ts';

let server: TestServer;
let repo: string;
let userToken: string;
let wsToken: string;

before(async () => {
  server = await TestServer.start();
  repo = makeRepo();
  const admin = server.client();
  await admin.createProject({ name: 'demo', repo });
  await admin.createWorkspace({ name: 'mine', project: 'demo' });
  await waitPhase(admin, 'mine', 'running');
  userToken = (await admin.createUser('bob')).token;
  // A developer of the project, so the provisioner rule is what refuses his shell workspace.
  await admin.setMember('demo', 'bob', 'developer');
  wsToken = (await admin.run('mine', ['printenv', 'BERTH_WORKSPACE_TOKEN'])).stdout.trim();
});
after(async () => {
  await server?.stop();
  fs.rmSync(repo, { recursive: true, force: true });
});

interface Case {
  name: string;
  method?: string;
  path: string;
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  token?: string | null;
  status: number;
  message: RegExp;
}

const goodWs = { name: 'new-ws', project: 'demo' };

function cases(): Case[] {
  const ws = (body: unknown, status: number, message: RegExp, name: string): Case => ({ name, method: 'POST', path: '/api/v1/workspaces', body, status, message });
  return [
    ws({ ...goodWs, name: 'Bad_Name' }, 400, /name is not a valid name/, 'uppercase and underscore in name'),
    ws({ ...goodWs, name: '-lead' }, 400, /not a valid name/, 'leading dash'),
    ws({ ...goodWs, name: 'a'.repeat(64) }, 400, /too long|not a valid name/, 'name of 64 characters'),
    ws({ name: 'x' }, 400, /Missing required field "project"/, 'missing project'),
    ws({ ...goodWs, project: 'ghost' }, 404, /No project named "ghost"/, 'unknown project'),
    ws({ ...goodWs, provisioner: 'nope' }, 400, /No provisioner named "nope"/, 'unknown provisioner'),
    ws({ ...goodWs, colour: 'red' }, 400, /Unknown field "colour"/, 'unknown top-level field'),
    ws({ ...goodWs, spec: { bogus: 1 } }, 400, /Unknown field "bogus" in spec/, 'unknown spec field'),
    ws({ ...goodWs, spec: { files: [{ path: '/workspace/../etc/passwd', content: 'x' }] } }, 400, /must not contain '\.\.'/, 'path traversal in config file'),
    ws({ ...goodWs, spec: { files: [{ path: 'etc/passwd', content: 'x' }] } }, 400, /must be absolute/, 'relative config file path'),
    ws({ ...goodWs, spec: { files: [{ path: '/workspace/.berth/pids/x', content: 'x' }] } }, 400, /reserves/, 'config file in Berth\'s own directory'),
    ws({ ...goodWs, spec: { files: [{ path: '/etc/profile.d/x.sh', content: 'x' }] } }, 400, /shell provisioner writes config files under/, 'config file outside workspace for shell'),
    ws({ ...goodWs, spec: { userData: ['~/../../root'] } }, 400, /'\.\.'/, 'user data escaping home'),
    ws({ ...goodWs, spec: { env: [{ name: '1ABC', value: 'x' }] } }, 400, /spec\.env\.0\.name must be an environment variable name/, 'invalid env name'),
    ws({ ...goodWs, spec: { env: [{ name: 'BERTH_WORKSPACE_TOKEN', value: 'x' }] } }, 400, /Berth sets it itself/, 'reserved env name'),
    ws({ ...goodWs, spec: { resources: { memory: 'lots' } } }, 400, /not a size/, 'unparseable memory size'),
    ws({ ...goodWs, spec: { resources: { cpus: -1 } } }, 400, /cpus/, 'negative cpus'),
    ws({ ...goodWs, spec: { image: 'debian:12' } }, 400, /cannot honour spec\.image/, 'image on shell provisioner'),
    ws({ ...goodWs, spec: { setup: 'echo hi' } }, 400, /setup must be of type array/, 'setup not an array'),
    ws({ ...goodWs, ref: 'bad ref' }, 400, /ref has an invalid format/, 'ref with a space'),
    ws({ ...goodWs, name: 'mine' }, 409, /already exists/, 'duplicate workspace name'),
    { name: 'oversized body', method: 'POST', path: '/api/v1/workspaces', rawBody: JSON.stringify({ ...goodWs, spec: { files: [{ path: '/workspace/x', content: 'x'.repeat(2 * 1024 * 1024) }] } }), status: 413, message: /larger than this server accepts/ },
    { name: 'invalid JSON', method: 'POST', path: '/api/v1/workspaces', rawBody: '{"name": ', status: 400, message: /not valid JSON/ },
    { name: 'wrong content type', method: 'POST', path: '/api/v1/workspaces', rawBody: 'name=x', contentType: 'text/plain', status: 415, message: /application\/json/ },
    { name: 'no token', path: '/api/v1/workspaces', token: null, status: 401, message: /Authentication required/ },
    { name: 'malformed token', path: '/api/v1/workspaces', token: 'hello', status: 401, message: /malformed/ },
    { name: 'well-formed but unknown token', path: '/api/v1/workspaces', token: `berth_u_${'A'.repeat(43)}`, status: 401, message: /not valid/ },
    { name: "another user's workspace", path: '/api/v1/workspaces/admin%2Fmine', token: 'bob', status: 404, message: /No workspace "admin\/mine"/ },
    { name: "deleting another user's workspace", method: 'DELETE', path: '/api/v1/workspaces/admin%2Fmine', token: 'bob', status: 404, message: /No workspace/ },
    { name: "stopping another user's workspace by name", method: 'POST', path: '/api/v1/workspaces/mine/stop', token: 'bob', status: 404, message: /No workspace "mine"/ },
    { name: 'invalid workspace reference', path: '/api/v1/workspaces/Bad..Name', status: 400, message: /ref/ },
    { name: 'non-admin creating a user', method: 'POST', path: '/api/v1/users', body: { name: 'eve' }, token: 'bob', status: 403, message: /Only an admin/ },
    { name: 'non-admin asking for a shell workspace', method: 'POST', path: '/api/v1/workspaces', body: { ...goodWs, provisioner: 'shell' }, token: 'bob', status: 403, message: /only admins may use it/ },
    { name: 'workspace token creating a workspace', method: 'POST', path: '/api/v1/workspaces', body: goodWs, token: 'ws', status: 403, message: /workspace token cannot create/ },
    { name: 'unknown route', path: '/api/v1/nothing-here', status: 404, message: /No route GET \/api\/v1\/nothing-here/ },
    { name: 'duplicate project', method: 'POST', path: '/api/v1/projects', body: { name: 'demo', repo }, status: 409, message: /already exists/ },
    { name: 'project repo that is not a URL', method: 'POST', path: '/api/v1/projects', body: { name: 'p2', repo: 'not a url' }, status: 400, message: /must not contain spaces/ },
    { name: 'project repo injecting a git option', method: 'POST', path: '/api/v1/projects', body: { name: 'p3', repo: '--upload-pack=touch' }, status: 400, message: /must not start with "-"/ },
    { name: 'project local path that does not exist', method: 'POST', path: '/api/v1/projects', body: { name: 'p4', repo: '/nonexistent/repo' }, status: 400, message: /does not exist/ },
    { name: 'events with a non-numeric cursor', path: '/api/v1/workspaces/mine/events?after=abc', status: 400, message: /after has an invalid format/ },
    { name: 'unknown query parameter', path: '/api/v1/workspaces?colour=red', status: 400, message: /Unknown field "colour"/ },
    { name: 'token with an unparseable ttl', method: 'POST', path: '/api/v1/tokens', body: { name: 't', ttl: 'forever' }, status: 400, message: /not a duration/ },
    { name: 'revoking an unknown token', method: 'DELETE', path: '/api/v1/tokens/tok_00000000000000000000', status: 404, message: /No token/ },
  ];
}

async function send(c: Case): Promise<{ status: number; body: { error?: { code?: string; message?: string } } }> {
  const token = c.token === null ? undefined : c.token === 'bob' ? userToken : c.token === 'ws' ? wsToken : (c.token ?? server.adminToken);
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (c.rawBody !== undefined || c.body !== undefined) {
    headers['content-type'] = c.contentType ?? 'application/json';
    body = c.rawBody ?? JSON.stringify(c.body);
  }
  const res = await fetch(`${server.url}${c.path}`, { method: c.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
  return { status: res.status, body: (await res.json()) as { error?: { code?: string; message?: string } } };
}

async function snapshot() {
  const c = server.client();
  return JSON.stringify({
    ws: (await c.listWorkspaces(true)).map((w) => [w.name, w.desired, w.phase]),
    projects: (await c.listProjects()).map((p) => p.name),
    tokens: (await c.listTokens()).length,
  });
}

test('at least 30 malformed requests each get the right 4xx and a clear message, and change nothing', async () => {
  const all = cases();
  assert.ok(all.length >= 30);
  const before = await snapshot();
  const failures: string[] = [];
  for (const c of all) {
    const r = await send(c);
    const msg = r.body.error?.message ?? '';
    if (r.status !== c.status || !c.message.test(msg) || typeof r.body.error?.code !== 'string' || /\n\s+at /.test(msg)) {
      failures.push(`${c.name}: got ${r.status} ${JSON.stringify(r.body)}; want ${c.status} ${c.message}`);
    }
  }
  assert.deepEqual(failures, []);
  assert.equal(await snapshot(), before, 'no state changed');
  assert.equal((await server.client().health()).status, 'ok');
  assert.equal(server.proc.exitCode, null, 'server still running');
});

test('revoked and expired tokens are refused', async () => {
  const admin = server.client();
  const t = await admin.createToken('short', '1s');
  const r = await admin.createToken('revoke-me');
  assert.equal((await server.client(r.token).me()).user.name, 'admin');
  await admin.revokeToken(r.info.id);
  await assert.rejects(server.client(r.token).me(), (e: { status: number; message: string }) => e.status === 401 && /revoked/.test(e.message));
  await new Promise((res) => setTimeout(res, 1100));
  await assert.rejects(server.client(t.token).me(), (e: { status: number; message: string }) => e.status === 401 && /expired/.test(e.message));
  const listed = JSON.stringify(await admin.listTokens());
  assert.equal(listed.includes(r.token), false, 'token values are never listed');
});

test("exec into another user's workspace is refused before anything runs", async () => {
  const marker = path.join(tempDir('berth-exec-refused-'), 'should-not-exist');
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/api/v1/workspaces/admin%2Fmine/exec`, { headers: { authorization: `Bearer ${userToken}` } });
  const result = await new Promise<string>((resolve) => {
    ws.on('open', () => ws.send(JSON.stringify({ cmd: ['touch', marker], tty: false })));
    ws.on('message', (d: Buffer) => resolve(d.toString()));
    ws.on('unexpected-response', (_q, res) => resolve(`HTTP ${res.statusCode}`));
  });
  assert.match(result, /"code":"not_found"/);
  assert.equal(fs.existsSync(marker), false);
});

test('a body far over the limit gets its 413 while the client is still sending, never a reset connection', async () => {
  const rawBody = JSON.stringify({ name: 'big', project: 'demo', spec: { files: [{ path: '/workspace/x', content: 'x'.repeat(16 * 1024 * 1024) }] } });
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await send({ name: 'huge body', method: 'POST', path: '/api/v1/workspaces', rawBody, status: 413, message: /larger/ });
    statuses.push(r.status);
  }
  assert.deepEqual(statuses, Array(20).fill(413));
});
