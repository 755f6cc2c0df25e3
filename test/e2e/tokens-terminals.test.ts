/** Workspace-token scoping, token rotation, and terminal sessions that survive a disconnect. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { BerthClient } from '../../src/sdk/client.ts';
import { TestServer, eventually, makeRepo, waitPhase } from '../harness.ts';

let server: TestServer;
let repo: string;

before(async () => {
  server = await TestServer.start();
  repo = makeRepo();
  const c = server.client();
  await c.createProject({ name: 'demo', repo });
  await c.createWorkspace({ name: 'wa', project: 'demo' });
  await c.createWorkspace({ name: 'wb', project: 'demo' });
  await waitPhase(c, 'wa', 'running');
  await waitPhase(c, 'wb', 'running');
});
after(async () => {
  await server?.stop();
  fs.rmSync(repo, { recursive: true, force: true });
});

async function tokenOf(ref: string): Promise<string> {
  return (await server.client().run(ref, ['printenv', 'BERTH_WORKSPACE_TOKEN'])).stdout.trim();
}

test('a workspace token reads and execs its own workspace and nothing else', async () => {
  const admin = server.client();
  const wb = await admin.getWorkspace('wb');
  const ta = new BerthClient(server.url, await tokenOf('wa'));
  const me = await ta.me();
  assert.equal(me.tokenKind, 'workspace');
  assert.equal((await ta.getWorkspace(me.workspaceId!)).name, 'wa');
  assert.equal((await ta.run(me.workspaceId!, ['echo', 'ok'])).stdout, 'ok\n');

  await assert.rejects(ta.getWorkspace(wb.id), (e: { status: number }) => e.status === 403);
  await assert.rejects(ta.run(wb.id, ['touch', 'pwned']), (e: { code: string }) => e.code === 'forbidden');
  await assert.rejects(ta.stopWorkspace(wb.id), (e: { status: number }) => e.status === 403);
  await assert.rejects(ta.listProjects(), (e: { status: number }) => e.status === 403);
  assert.deepEqual((await ta.listWorkspaces()).map((w) => w.name), ['wa']);
  const files = await admin.run('wb', ['ls']);
  assert.equal(files.stdout.includes('pwned'), false);
});

test('the workspace token rotates on every provision and the old one stops working', async () => {
  const admin = server.client();
  const before = await tokenOf('wa');
  await admin.stopWorkspace('wa');
  await waitPhase(admin, 'wa', 'stopped');
  await admin.startWorkspace('wa');
  await waitPhase(admin, 'wa', 'running');
  const afterRotation = await tokenOf('wa');
  assert.notEqual(afterRotation, before);
  await assert.rejects(new BerthClient(server.url, before).me(), (e: { status: number }) => e.status === 401);
  assert.equal((await new BerthClient(server.url, afterRotation).me()).tokenKind, 'workspace');
  // The token is not written into the workspace's files.
  const w = await admin.getWorkspace('wa');
  const grep = await admin.run('wa', ['grep', '-rl', afterRotation, String(w.details.directory)]);
  assert.equal(grep.code, 1, `grep exits 1 when nothing matches: ${grep.stdout}${grep.stderr}`);
  assert.equal(grep.stdout, '');
});

test('a TTY session survives a disconnect and replays its output on re-attach', async () => {
  const c = server.client();
  let out = '';
  let session = '';
  const first = c.exec('wa', { cmd: ['/bin/bash', '--norc', '-i'], tty: true, cols: 100, rows: 30 }, { stdout: (d) => (out += d.toString()), session: (id) => (session = id) });
  first.write('export PS1="$ "; echo "cols=$(tput cols 2>/dev/null || stty size)"\n');
  await eventually(() => /cols=(100|30 100)/.test(out), 'the shell to report its size', 10_000);
  first.write('X=remembered; echo before-detach\n');
  await eventually(() => out.includes('before-detach\r\n'), 'output before detach', 10_000);
  first.detach();
  await assert.rejects(first.done);
  assert.match(session, /^term_/);

  let replay = '';
  const second = c.exec('wa', { cmd: [], tty: true, session }, { stdout: (d) => (replay += d.toString()) });
  await eventually(() => replay.includes('before-detach'), 'buffered output replayed', 10_000);
  second.resize(120, 40);
  second.write('echo "again $X $(stty size)"\n');
  await eventually(() => replay.includes('again remembered 40 120'), 'the same shell, resized', 10_000);
  second.write('exit 5\n');
  assert.equal((await second.done).code, 5);
});

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

test("a client that stops reading holds the command back instead of growing the server's memory", async () => {
  const pid = server.proc.pid!;
  const base = rssBytes(pid);
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/api/v1/workspaces/wa/exec`, { headers: { authorization: `Bearer ${server.adminToken}` } });
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => ws.send(JSON.stringify({ cmd: ['head', '-c', '400000000', '/dev/zero'], tty: false })));
    ws.once('message', () => {
      // Stop reading at the TCP level, like a client on a slow link.
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
      resolve();
    });
    ws.once('error', reject);
  });
  ws.on('message', (d: Buffer) => (received += d.length));
  await new Promise((r) => setTimeout(r, 3000));
  const grown = rssBytes(pid) - base;
  ws.terminate();
  assert.ok(grown < 120 * 1024 * 1024, `server memory grew by ${Math.round(grown / 1048576)} MiB`);
  assert.ok(received < 400_000_000);
  // The abandoned command is ended with its connection.
  await eventually(async () => !(await server.client().run('wa', ['sh', '-c', 'ps -eo args | grep -c "[h]ead -c 400000000" || true'])).stdout.startsWith('1'), 'the command to end', 10_000);
});
