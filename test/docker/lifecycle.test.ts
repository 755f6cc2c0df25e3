/**
 * The docker provisioner on the real local engine, through a real `berth server` and the real CLI:
 * lifecycle, files across stop/start and across `docker rm -f` behind Berth's back, hardening and
 * labels, reaching the control plane from inside, exec streams and TTY shells in tmux that survive
 * a control-plane restart, convergence after kill -9 mid-provision, orphan collection.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { Workspace } from '../../src/sdk/wire.ts';
import { TestServer, eventually, runCli, tempDir, waitGone, waitPhase } from '../harness.ts';
import { containersWith, docker, inspect, removeWorkspaces, testEnv, startDemo, stopDemo } from './env.ts';

const env = testEnv();
let server: TestServer;
let repo: string;
let installation: string;
const specDir = tempDir('berth-docker-spec-');

function specFile(name: string, spec: unknown): string {
  const f = path.join(specDir, `${name}.json`);
  fs.writeFileSync(f, JSON.stringify(spec));
  return f;
}

before(async () => ({ server, repo, installation } = await startDemo({ 'README.md': '# docker demo\n', 'src/app.txt': 'hello from the repo\n' })));
after(async () => {
  await stopDemo({ server, repo, installation });
  fs.rmSync(specDir, { recursive: true, force: true });
});

interface Inspected {
  Id: string;
  Config: { Labels: Record<string, string>; User: string; Env: string[] };
  HostConfig: { CapDrop: string[]; CapAdd: string[]; SecurityOpt: string[]; Privileged: boolean; Init: boolean; NetworkMode: string };
  Mounts: { Type: string; Source: string; Destination: string }[];
}

test('full lifecycle: create, exec, files across stop/start and across docker rm -f, delete leaves nothing', async () => {
  let r = await runCli(server, ['provisioner', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok((JSON.parse(r.stdout) as { name: string; type: string }[]).some((p) => p.name === 'docker' && p.type === 'docker'), 'a local docker provisioner is registered automatically');

  const spec = specFile('life', {
    image: env.BERTH_TEST_IMAGE,
    user: 'dev',
    env: [{ name: 'GREETING', value: 'hi' }, { name: 'API_KEY', value: 'k-123', secret: true }],
    files: [
      { path: '~/.config/tool/settings', content: 'color=on\n' },
      { path: '/workspace/work/.env', content: 'X=1\n', mode: 0o600 },
    ],
    setup: ['echo "setup as $(id -un) in $(pwd)" > /workspace/setup.log'],
    teardown: ['echo teardown-ran >> /workspace/teardown.log'],
    userData: ['~/.local/share/notes'],
    caches: ['~/.cache/pkg'],
  });
  r = await runCli(server, ['ws', 'create', 'life', '--project', 'demo', '--provisioner', 'docker', '--spec', spec, '--wait'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Cloning demo into work\//);
  assert.match(r.stderr, /==> running/);
  const c = server.client();
  let w = await c.getWorkspace('life');
  const name = `berth-${w.id}`;

  // Labels identify it, hardening is in place, no secret leaks into labels.
  const ci = inspect<Inspected>('container', name)!;
  assert.equal(ci.Config.Labels['berth.workspace'], w.id);
  assert.equal(ci.Config.Labels['berth.provisioner'], 'docker');
  assert.equal(ci.Config.Labels['berth.installation'], installation);
  assert.ok(!JSON.stringify(ci.Config.Labels).includes('k-123'));
  assert.deepEqual(ci.HostConfig.CapDrop, ['ALL']);
  assert.ok(!ci.HostConfig.CapAdd.includes('SYS_ADMIN') && !ci.HostConfig.CapAdd.includes('NET_RAW'));
  assert.ok(ci.HostConfig.SecurityOpt.some((o) => o.startsWith('no-new-privileges')));
  assert.equal(ci.HostConfig.Privileged, false);
  assert.ok(!ci.Mounts.some((m) => m.Source.includes('docker.sock')), 'no docker socket without --allow-docker-socket');
  const dir = String(w.details.storage);
  assert.equal(ci.Mounts.find((m) => m.Destination === '/workspace')?.Source, dir);

  // Runs as the spec's user with the repo checked out, env and config files in place.
  r = await runCli(server, ['ws', 'exec', 'life', '--', 'sh', '-c', 'id -un; pwd; cat src/app.txt; echo "$GREETING $API_KEY $BERTH_WORKDIR"; cat ~/.config/tool/settings; stat -c "%U %a" .env ~/.local/share/notes ~/.cache/pkg /workspace; cat /workspace/setup.log']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'dev',
    '/workspace/work',
    'hello from the repo',
    'hi k-123 /workspace/work',
    'color=on',
    'dev 600',
    'dev 755',
    'dev 755',
    'dev 755',
    'setup as dev in /workspace/work',
  ]);

  // Separate streams, exit codes and stdin.
  r = await runCli(server, ['ws', 'exec', 'life', '--', 'sh', '-c', 'echo to-out; echo to-err >&2; exit 7']);
  assert.equal(r.code, 7);
  assert.equal(r.stdout, 'to-out\n');
  assert.equal(r.stderr, 'to-err\n');
  r = await runCli(server, ['ws', 'exec', 'life', '--', 'sh', '-c', 'cat > notes.txt; echo kept >> ~/.local/share/notes/n.txt'], { input: 'written before stop\n' });
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(server, ['ws', 'exec', 'life', '--', 'no-such-command']);
  assert.equal(r.code, 127);

  // Stop: teardown runs, the container goes, the files stay.
  r = await runCli(server, ['ws', 'stop', 'life', '--wait']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(inspect('container', name), null, 'stop removes the container');
  assert.equal(fs.readFileSync(path.join(dir, 'work', 'notes.txt'), 'utf8'), 'written before stop\n');
  assert.equal(fs.readFileSync(path.join(dir, 'teardown.log'), 'utf8'), 'teardown-ran\n');

  // Start: a fresh container on the same storage.
  r = await runCli(server, ['ws', 'start', 'life', '--wait']);
  assert.equal(r.code, 0, r.stderr);
  w = await c.getWorkspace('life');
  const second = String(w.details.container);
  assert.notEqual(second, ci.Id.slice(0, 12));
  r = await runCli(server, ['ws', 'exec', 'life', '--', 'sh', '-c', 'cat notes.txt; git status --porcelain; cat ~/.local/share/notes/n.txt']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'written before stop\n?? .env\n?? notes.txt\nkept\n');

  // docker rm -f behind Berth's back: the reconciler notices and recreates it, files intact.
  docker(['rm', '-f', name]);
  w = await eventually(
    async () => {
      const x = await c.getWorkspace('life');
      return x.phase === 'running' && x.details.container !== second && inspect('container', name) ? x : undefined;
    },
    'the reconciler to recreate the removed container',
    60_000,
  );
  const events = await c.events('life');
  assert.ok(events.some((e) => /runtime is gone/.test(e.message)), 'the event log says why it was recreated');
  r = await runCli(server, ['ws', 'exec', 'life', '--', 'cat', 'notes.txt']);
  assert.equal(r.stdout, 'written before stop\n');

  // Delete: container, storage and the (unshared) user data and cache go.
  const meta = path.join(path.dirname(dir), '.meta', `${w.id}.json`);
  const shared = (JSON.parse(fs.readFileSync(meta, 'utf8')) as { shared: string[] }).shared.map((k) => path.join(path.dirname(dir), 'shared', k));
  assert.equal(shared.length, 2);
  assert.ok(shared.every((s) => fs.existsSync(s)));
  r = await runCli(server, ['ws', 'rm', 'life', '--yes', '--wait']);
  assert.equal(r.code, 0, r.stderr);
  await waitGone(c, w.id);
  assert.equal(inspect('container', name), null);
  assert.equal(fs.existsSync(dir), false);
  assert.equal(fs.existsSync(meta), false);
  assert.ok(shared.every((s) => !fs.existsSync(s)), 'unshared user data and caches are removed');
});

test('user data and caches shared with another workspace survive its deletion', async () => {
  const c = server.client();
  const spec = { image: env.BERTH_TEST_IMAGE, user: 'dev', caches: ['~/.cache/shared'] };
  const [a, b] = await Promise.all([
    c.createWorkspace({ name: 'share-a', project: 'demo', provisioner: 'docker', spec }),
    c.createWorkspace({ name: 'share-b', project: 'demo', provisioner: 'docker', spec }),
  ]);
  await waitPhase(c, a.id, 'running', 90_000);
  await waitPhase(c, b.id, 'running', 90_000);
  let r = await c.run(a.id, ['sh', '-c', 'echo from-a > ~/.cache/shared/x']);
  assert.equal(r.code, 0, r.stderr);
  r = await c.run(b.id, ['cat', '/home/dev/.cache/shared/x']);
  assert.equal(r.stdout, 'from-a\n', 'a cache is shared by the workspaces of one project');
  await removeWorkspaces(c, a.id);
  r = await c.run(b.id, ['cat', '/home/dev/.cache/shared/x']);
  assert.equal(r.stdout, 'from-a\n', 'the cache outlives a workspace while another one uses it');
  await removeWorkspaces(c, b.id);
});

test('workspaces reach the control plane through BERTH_SERVER_URL, authenticated by their token', async () => {
  const c = server.client();
  const w = await c.createWorkspace({ name: 'net', project: 'demo', provisioner: 'docker', spec: { image: env.BERTH_TEST_IMAGE } });
  await waitPhase(c, w.id, 'running', 90_000);
  const script = [
    'u=${BERTH_SERVER_URL#http://}; host=${u%%:*}; port=${u##*:}',
    'exec 3<>/dev/tcp/$host/$port',
    'printf "GET /api/v1/me HTTP/1.0\\r\\nAuthorization: Bearer %s\\r\\n\\r\\n" "$BERTH_WORKSPACE_TOKEN" >&3',
    'cat <&3 | tail -n 1',
  ].join('\n');
  const r = await c.run(w.id, ['bash', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  const me = JSON.parse(r.stdout) as { tokenKind: string; workspaceId: string };
  assert.equal(me.tokenKind, 'workspace');
  assert.equal(me.workspaceId, w.id);
  // git in the checkout talks to the gateway at the same address.
  const remote = await c.run(w.id, ['git', 'remote', 'get-url', 'origin']);
  const url = (await c.run(w.id, ['sh', '-c', 'echo $BERTH_SERVER_URL'])).stdout.trim();
  assert.ok(remote.stdout.startsWith(url), `origin ${remote.stdout} uses ${url}`);
  const ls = await c.run(w.id, ['git', 'ls-remote', 'origin']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /refs\/heads\/main/);
  // The server listens on loopback: workspaces get a forwarder on the bridge, and ws show says which URL.
  assert.match(url, /^http:\/\/host\.docker\.internal:\d+$/);
  const show = await runCli(server, ['ws', 'show', 'net']);
  assert.match(show.stdout, new RegExp(`^serverUrl: +${url}$`, 'm'));
  assert.doesNotMatch(show.stdout, /serverReachable/);
  assert.ok(!(await c.events(w.id)).some((e) => /cannot reach the control plane/.test(e.message)));
  await removeWorkspaces(c, w.id);
});

test('an admin-added provisioner is probed from a container; one whose workspaces have no network says so in their events and ws show', async () => {
  // A provisioner on the local engine passes the probe through the bridge forwarder.
  let r = await runCli(server, ['provisioner', 'add', 'docker-b', '--type', 'docker']);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(server, ['provisioner', 'add', 'offline', '--type', 'docker', '--network', 'none']);
  assert.equal(r.code, 0, r.stderr);
  const c = server.client();
  const w = await c.createWorkspace({ name: 'offline', project: 'demo', provisioner: 'offline', spec: { image: env.BERTH_TEST_IMAGE_BUSYBOX } });
  await waitPhase(c, w.id, 'running', 90_000);
  const said = (await c.events(w.id)).filter((e) => /cannot reach the control plane/.test(e.message)).map((e) => e.message);
  assert.deepEqual(said, [`Workspaces on unix:///var/run/docker.sock cannot reach the control plane at ${server.url} (the provisioner gives them no network: --network none), so git and BERTH_SERVER_URL do not work from inside them.`]);
  r = await runCli(server, ['ws', 'show', 'offline']);
  assert.match(r.stdout, /^serverReachable: false$/m);
  await removeWorkspaces(c, w.id);
  for (const name of ['docker-b', 'offline']) assert.equal((await runCli(server, ['provisioner', 'rm', name])).code, 0);
});

test('a TTY shell runs in tmux with resize, and survives a control-plane restart', async () => {
  const c = server.client();
  const w = await c.createWorkspace({ name: 'tty', project: 'demo', provisioner: 'docker', spec: { image: env.BERTH_TEST_IMAGE, user: 'dev' } });
  await waitPhase(c, w.id, 'running', 90_000);
  let out = '';
  const conn = c.exec(w.id, { cmd: [], tty: true, cols: 100, rows: 30 }, { stdout: (d) => (out += d.toString()) });
  conn.done.catch(() => undefined); // ends with the server restart below
  await eventually(() => /\$ ?$/m.test(out) || out.includes('$'), 'a prompt', 15_000);
  conn.resize(120, 40);
  await new Promise((r) => setTimeout(r, 200));
  conn.write('echo "size $(stty size) in $TMUX_PANE marker-$((6*7))"\r');
  await eventually(() => /size \d+ 120 in %\d+ marker-42/.test(out), 'the command output with the new size inside tmux', 15_000);
  conn.write('sleep 1000 &\r');
  await new Promise((r) => setTimeout(r, 300));

  await server.restart();
  const c2 = server.client();
  await waitPhase(c2, w.id, 'running', 60_000);
  const ls = await c2.run(w.id, ['sh', '-c', 'tmux ls; for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null; echo; done | grep "^sleep 1000"']);
  assert.match(ls.stdout, /berth-/);
  assert.match(ls.stdout, /sleep 1000/, 'the shell and its job survived the restart');

  // A new terminal takes the session over: the earlier output is on screen again.
  let again = '';
  const conn2 = c2.exec(w.id, { cmd: [], tty: true, cols: 120, rows: 40 }, { stdout: (d) => (again += d.toString()) });
  await eventually(() => again.includes('marker-42'), 'the previous screen in the re-attached session', 15_000);
  conn2.write('exit\r');
  await conn2.done;
  conn.detach();
  await removeWorkspaces(c2, w.id);
});

test('busybox images work: plain sh, no tmux', async () => {
  const c = server.client();
  const w = await c.createWorkspace({ name: 'bb', project: 'demo', provisioner: 'docker', spec: { image: env.BERTH_TEST_IMAGE_BUSYBOX, setup: ['echo ok > /workspace/bb.txt'] } });
  await waitPhase(c, w.id, 'running', 90_000);
  const r = await c.run(w.id, ['sh', '-c', 'cat /workspace/bb.txt; cat README.md']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ok\n# docker demo\n');
  let out = '';
  const conn = c.exec(w.id, { cmd: [], tty: true }, { stdout: (d) => (out += d.toString()) });
  conn.write('echo tty-$((2+3))\r');
  await eventually(() => out.includes('tty-5'), 'output of a TTY shell without tmux', 15_000);
  conn.write('exit\r');
  const done = await conn.done;
  assert.equal(done.code, 0);
  await removeWorkspaces(c, w.id);
});

test('kill -9 of the server mid-provision converges to one container', async () => {
  const c = server.client();
  const w = await c.createWorkspace({ name: 'crash', project: 'demo', provisioner: 'docker', spec: { image: env.BERTH_TEST_IMAGE, setup: ['sleep 3', 'echo done > /workspace/setup-done'] } });
  await eventually(async () => (await c.events(w.id)).some((e) => /setup command 1/.test(e.message)), 'setup to start', 60_000);
  await server.kill9();
  assert.equal(containersWith(`berth.workspace=${w.id}`).length, 1);
  await server.restart();
  const c2 = server.client();
  await waitPhase(c2, w.id, 'running', 90_000);
  assert.equal(containersWith(`berth.workspace=${w.id}`).length, 1, 'exactly one container after convergence');
  const r = await c2.run(w.id, ['cat', '/workspace/setup-done']);
  assert.equal(r.stdout, 'done\n');
  await removeWorkspaces(c2, w.id);
});

test('containers of workspaces the store no longer knows are stopped at start, their storage kept until admin gc', async () => {
  const c = server.client();
  const w: Workspace = await c.createWorkspace({ name: 'orphan', project: 'demo', provisioner: 'docker', spec: { image: env.BERTH_TEST_IMAGE } });
  const running = await waitPhase(c, w.id, 'running', 90_000);
  const dir = String(running.details.storage);
  await server.stop({ keep: true });
  const db = new Database(path.join(server.dataDir, 'berth.db'));
  db.prepare('delete from workspaces where id = ?').run(w.id);
  db.close();
  await server.restart();
  await eventually(() => containersWith(`berth.workspace=${w.id}`).length === 0, 'the orphaned container to be stopped', 30_000);
  assert.ok(fs.existsSync(dir), 'the quarantined storage is kept');
  const gc = await runCli(server, ['admin', 'gc']);
  assert.equal(gc.code, 0, gc.stderr);
  assert.match(gc.stdout, new RegExp(`${w.id}\\s+docker\\b.*removed`));
  assert.equal(fs.existsSync(dir), false, 'gc removed the storage');
});
