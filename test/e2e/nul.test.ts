/**
 * E2E: a NUL character in any string that would reach a process (env, commands, shell, paths, refs,
 * URLs, git operations, exec) is refused at the edge with 400 and a sentence naming the field; nothing
 * is created and nothing is logged at error level.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { EXEC_PROTOCOL } from '../../src/sdk/wire.ts';
import { TestServer, makeRepo, waitPhase } from '../harness.ts';

let server: TestServer;
let repo: string;

before(async () => {
  server = await TestServer.start();
  repo = makeRepo();
  const admin = server.client();
  await admin.createProject({ name: 'demo', repo });
  // A project without workspaces, whose URL may change.
  await admin.createProject({ name: 'spare', repo: 'https://git.example.com/spare.git' });
  await admin.createWorkspace({ name: 'mine', project: 'demo' });
  await waitPhase(admin, 'mine', 'running');
});
after(async () => {
  await server?.stop();
  fs.rmSync(repo, { recursive: true, force: true });
});

const N = '\0';
const ws = { name: 'nul-ws', project: 'demo' };

/** [what, method, path, body, message] */
const cases: [string, string, string, unknown, RegExp][] = [
  ['env value', 'POST', '/api/v1/workspaces', { ...ws, spec: { env: [{ name: 'FOO', value: `a${N}b` }] } }, /^spec\.env\[0\]\.value \(FOO\) contains a NUL character/],
  ['env name', 'POST', '/api/v1/workspaces', { ...ws, spec: { env: [{ name: `F${N}OO`, value: 'x' }] } }, /spec\.env\.0\.name/],
  ['secret env value', 'POST', '/api/v1/workspaces', { ...ws, spec: { env: [{ name: 'OK', value: 'x' }, { name: 'TOKEN', value: `s${N}`, secret: true }] } }, /^spec\.env\[1\]\.value \(TOKEN\) contains a NUL/],
  ['setup command', 'POST', '/api/v1/workspaces', { ...ws, spec: { setup: ['echo ok', `echo ${N}`] } }, /^spec\.setup\[1\] contains a NUL character/],
  ['teardown command', 'POST', '/api/v1/workspaces', { ...ws, spec: { teardown: [`rm ${N}`] } }, /^spec\.teardown\[0\] contains a NUL/],
  ['shell', 'POST', '/api/v1/workspaces', { ...ws, spec: { shell: `/bin/ba${N}sh` } }, /^spec\.shell contains a NUL/],
  ['file path', 'POST', '/api/v1/workspaces', { ...ws, spec: { files: [{ path: `/workspace/a${N}b`, content: 'x' }] } }, /^spec\.files\[0\]\.path contains a NUL/],
  ['user data path', 'POST', '/api/v1/workspaces', { ...ws, spec: { userData: [`~/.a${N}`] } }, /^spec\.userData\[0\] contains a NUL/],
  ['cache path', 'POST', '/api/v1/workspaces', { ...ws, spec: { caches: [`~/.c${N}`] } }, /^spec\.caches\[0\] contains a NUL/],
  ['mount path', 'POST', '/api/v1/workspaces', { ...ws, spec: { mountPath: `/work${N}` } }, /^spec\.mountPath contains a NUL/],
  ['registry password', 'POST', '/api/v1/workspaces', { ...ws, spec: { registryLogins: [{ registry: 'r.example.com', username: 'u', password: `p${N}` }] } }, /^spec\.registryLogins\[0\]\.password contains a NUL/],
  ['workspace ref', 'POST', '/api/v1/workspaces', { ...ws, ref: `ma${N}in` }, /ref has an invalid format/],
  ['project URL', 'POST', '/api/v1/projects', { name: 'p1', repo: `https://git.example.com/a${N}.git` }, /repository URL must not contain spaces or control characters/],
  ['project branch', 'POST', '/api/v1/projects', { name: 'p2', repo: 'https://git.example.com/a.git', branch: `ma${N}in` }, /branch has an invalid format/],
  ['project password', 'POST', '/api/v1/projects', { name: 'p3', repo: 'https://git.example.com/a.git', credentials: { username: 'u', password: `p${N}w` } }, /password must not contain line breaks or NUL/],
  ['project URL update', 'PATCH', '/api/v1/projects/spare', { repo: `https://git.example.com/${N}` }, /repository URL must not contain/],
  ['commit message', 'POST', '/api/v1/workspaces/mine/git/commit', { message: `fix${N}`, all: true }, /^message contains a NUL character/],
  ['git stage path', 'POST', '/api/v1/workspaces/mine/git/stage', { paths: [`a${N}b`] }, /NUL/],
  ['git diff path', 'GET', `/api/v1/workspaces/mine/git/diff?path=${encodeURIComponent(`a${N}b`)}`, undefined, /NUL/],
];

test('NUL in every field that reaches a process gets 400 naming the field; nothing is created, nothing logged at error level', async () => {
  const admin = server.client();
  const before = JSON.stringify([(await admin.listWorkspaces(true)).map((w) => w.name), (await admin.listProjects()).map((p) => [p.name, p.repo, p.branch])]);
  const logStart = server.logs.length;
  const failures: string[] = [];
  for (const [what, method, path, body, message] of cases) {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${server.adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    const msg = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? '';
    if (res.status !== 400 || !message.test(msg) || /\n\s+at /.test(msg)) failures.push(`${what}: got ${res.status} ${text}; want 400 ${message}`);
  }
  assert.deepEqual(failures, []);
  const after = JSON.stringify([(await admin.listWorkspaces(true)).map((w) => w.name), (await admin.listProjects()).map((p) => [p.name, p.repo, p.branch])]);
  assert.equal(after, before, 'nothing was created or changed');
  const errors = server.logs
    .slice(logStart)
    .split('\n')
    .filter((l) => /"level":(50|60)/.test(l));
  assert.deepEqual(errors, [], 'no error-level log line for an input problem');
});

/** Opens an exec connection with `start` as its first message and returns the server's first text message. */
async function execFirstMessage(start: unknown): Promise<string> {
  const socket = new WebSocket(`${server.url.replace('http', 'ws')}/api/v1/workspaces/mine/exec`, EXEC_PROTOCOL, { headers: { authorization: `Bearer ${server.adminToken}` } });
  return new Promise<string>((resolve, reject) => {
    socket.on('open', () => socket.send(JSON.stringify(start)));
    socket.on('message', (d: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        resolve(d.toString());
        socket.close();
      }
    });
    socket.on('error', reject);
  });
}

test('exec with NUL in an argument or an env value is refused with the field named, before anything runs', async () => {
  const arg = JSON.parse(await execFirstMessage({ cmd: ['echo', `a${N}b`], tty: false })) as { type: string; code: string; message: string };
  assert.equal(arg.type, 'error');
  assert.equal(arg.code, 'invalid_input');
  assert.match(arg.message, /^cmd\[1\] contains a NUL character/);
  const env = JSON.parse(await execFirstMessage({ cmd: ['true'], tty: false, env: { FOO: `x${N}` } })) as { message: string };
  assert.match(env.message, /^env FOO contains a NUL character/);
  // The workspace still runs commands.
  assert.equal((await server.client().run('mine', ['echo', 'ok'])).stdout, 'ok\n');
});
