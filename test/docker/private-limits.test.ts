/**
 * Private images from the authenticated registry, resource limits (visible in `docker inspect`,
 * effective inside, an out-of-memory kill reported in clear words), and published ports.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { TestServer, eventually, makeRepo, runCli, waitPhase } from '../harness.ts';
import { cleanupEngines, inspect, installationOf, removeWorkspaces, testEnv } from './env.ts';

const env = testEnv();
// The test environment may be rebuilt (new image tags) while suites run: read it again for each test.
const current = () => testEnv();
let server: TestServer;
let repo: string;
let installation: string;
const login = { registry: env.BERTH_TEST_REGISTRY, username: env.BERTH_TEST_REGISTRY_USER, password: env.BERTH_TEST_REGISTRY_PASSWORD };

before(async () => {
  server = await TestServer.start();
  installation = installationOf(server);
  repo = makeRepo({ 'README.md': '# limits\n' });
  await server.client().createProject({ name: 'demo', repo });
});

after(async () => {
  await server?.stop();
  if (installation) cleanupEngines(installation);
  fs.rmSync(repo, { recursive: true, force: true });
});

interface HostConfig {
  NanoCpus: number;
  Memory: number;
  MemorySwap: number;
  PidsLimit: number;
}

test('a private image is pulled with the spec registry login; the password appears nowhere', async () => {
  const c = server.client();
  const w = await c.createWorkspace({ name: 'private', project: 'demo', provisioner: 'docker', spec: { image: current().BERTH_TEST_IMAGE_PRIVATE, registryLogins: [login] } });
  await waitPhase(c, w.id, 'running', 120_000);
  const events = await c.events(w.id);
  assert.ok(events.some((e) => e.message.includes(`Pulling image ${current().BERTH_TEST_IMAGE_PRIVATE} as ${login.username}`)));
  const r = await c.run(w.id, ['cat', 'README.md']);
  assert.equal(r.stdout, '# limits\n');
  const shown = JSON.stringify(await c.getWorkspace(w.id));
  assert.ok(!shown.includes(login.password), 'the API never shows the registry password');
  assert.ok(!JSON.stringify(events).includes(login.password), 'the event log never shows it');
  assert.ok(!JSON.stringify(inspect('container', `berth-${w.id}`)).includes(login.password), 'the container (labels, env) never holds it');
  assert.ok(!server.logs.includes(login.password), 'the server log never shows it');
  await removeWorkspaces(c, w.id);
});

test('limits are visible in docker inspect and effective inside; an OOM kill is reported in clear words', async () => {
  const c = server.client();
  const w = await c.createWorkspace({
    name: 'limited',
    project: 'demo',
    provisioner: 'docker',
    spec: { image: env.BERTH_TEST_IMAGE, resources: { cpus: 0.5, memory: '64MiB', pids: 100 } },
  });
  await waitPhase(c, w.id, 'running', 90_000);
  const hc = inspect<{ HostConfig: HostConfig }>('container', `berth-${w.id}`)!.HostConfig;
  assert.equal(hc.NanoCpus, 500_000_000);
  assert.equal(hc.Memory, 64 * 1024 * 1024);
  assert.equal(hc.MemorySwap, 64 * 1024 * 1024, 'no swap beyond the memory limit');
  assert.equal(hc.PidsLimit, 100);

  // Effective inside: the cgroup carries the limits (cgroup v1 or v2 layout).
  const r = await c.run(w.id, [
    'sh',
    '-c',
    'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [mem, pids, ...cpu] = r.stdout.trim().split(/\s+/);
  assert.equal(Number(mem), 64 * 1024 * 1024);
  assert.equal(Number(pids), 100);
  assert.equal(Number(cpu[0]) / Number(cpu[1]), 0.5);

  // A memory hog is killed by the kernel and the exec says why.
  const hog = await c.run(w.id, ['sh', '-c', 'head -c 400000000 /dev/zero | tail > /dev/null']);
  assert.equal(hog.code, 137);
  assert.match(hog.stderr, /berth: the process was killed because the workspace ran out of memory \(limit 64MiB\)/);
  const after = await eventually(async () => {
    const x = await c.getWorkspace(w.id);
    return Number(x.details.oomKills ?? 0) > 0 ? x : undefined;
  }, 'the workspace details to count the OOM kill', 15_000);
  assert.equal(after.phase, 'running', 'the workspace itself keeps running');

  // More processes than the pids limit cannot be started.
  const fork = await c.run(w.id, ['bash', '-c', 'for i in $(seq 150); do sleep 5 & done 2>&1 | grep -c "fork" ; wait']);
  assert.ok(Number(fork.stdout.trim()) > 0, `forks beyond the pids limit fail: ${fork.stdout} ${fork.stderr}`);
  await removeWorkspaces(c, w.id);
});

test('a setup command killed for memory fails the workspace with that reason as its message', async () => {
  const c = server.client();
  const w = await c.createWorkspace({
    name: 'hog',
    project: 'demo',
    provisioner: 'docker',
    spec: { image: env.BERTH_TEST_IMAGE, resources: { memory: '64MiB' }, setup: ['head -c 400000000 /dev/zero | tail > /dev/null'] },
  });
  const failed = await waitPhase(c, w.id, 'failed', 90_000);
  assert.match(failed.message ?? '', /^Setup command 1 was killed because the workspace ran out of memory \(limit 64MiB\); raise spec\.resources\.memory/);
  await removeWorkspaces(c, w.id);
});

test('ports are published on 127.0.0.1 only when the provisioner allows it, and reported', async () => {
  let r = await runCli(server, ['provisioner', 'add', 'docker-ports', '--type', 'docker', '--allow-ports']);
  assert.equal(r.code, 0, r.stderr);
  const c = server.client();
  const spec = { image: current().BERTH_TEST_IMAGE_BUSYBOX, ports: [{ port: 8080, name: 'web' }], setup: ['mkdir -p /workspace/www && echo served-from-workspace > /workspace/www/index.html'] };
  const open = await c.createWorkspace({ name: 'web', project: 'demo', provisioner: 'docker-ports', spec });
  const closed = await c.createWorkspace({ name: 'web-closed', project: 'demo', provisioner: 'docker', spec });
  const w = await waitPhase(c, open.id, 'running', 90_000);
  const wc = await waitPhase(c, closed.id, 'running', 90_000);
  const p = w.ports.find((x) => x.port === 8080);
  assert.ok(p?.hostPort, `port 8080 is published: ${JSON.stringify(w.ports)}`);
  assert.equal(p.hostIp, '127.0.0.1');
  assert.deepEqual(wc.ports, [{ port: 8080, protocol: 'tcp' }], 'without --allow-ports nothing is published');
  // A server in the workspace answers on the published port.
  const srv = c.exec(open.id, { cmd: ['httpd', '-f', '-p', '8080', '-h', '/workspace/www'], tty: false }, { stdout: () => undefined });
  srv.done.catch(() => undefined);
  const body = await eventually(async () => {
    const res = await fetch(`http://127.0.0.1:${p.hostPort}/index.html`).catch(() => undefined);
    return res?.ok ? res.text() : undefined;
  }, 'the published port to answer', 15_000);
  assert.equal(body, 'served-from-workspace\n');
  srv.signal('SIGTERM');
  r = await runCli(server, ['ws', 'show', 'web']);
  assert.match(r.stdout, new RegExp(`Port: +8080/tcp -> 127\\.0\\.0\\.1:${p.hostPort}`));
  await removeWorkspaces(c, open.id, closed.id);
});

test('the Docker socket is mounted only by a provisioner that allows it', async () => {
  const r = await runCli(server, ['provisioner', 'add', 'docker-sock', '--type', 'docker', '--allow-docker-socket']);
  assert.equal(r.code, 0, r.stderr);
  const c = server.client();
  const spec = { image: current().BERTH_TEST_IMAGE_BUSYBOX };
  const [a, b] = await Promise.all([
    c.createWorkspace({ name: 'sock', project: 'demo', provisioner: 'docker-sock', spec }),
    c.createWorkspace({ name: 'nosock', project: 'demo', provisioner: 'docker', spec }),
  ]);
  await waitPhase(c, a.id, 'running', 90_000);
  await waitPhase(c, b.id, 'running', 90_000);
  const probe = ['sh', '-c', 'test -S /var/run/docker.sock && echo present || echo absent'];
  assert.equal((await c.run(a.id, probe)).stdout, 'present\n');
  assert.equal((await c.run(b.id, probe)).stdout, 'absent\n');
  await removeWorkspaces(c, a.id, b.id);
});
