/**
 * Remote mode: a second dockerd with its own data root, reached over TLS on tcp://127.0.0.1:2376.
 * Storage is a named volume per workspace, prepared through the engine (no host paths). Its
 * workspaces reach the loopback-only control plane through a proxy on that engine's bridge, given
 * as --server-url; without one, adding the provisioner is refused.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { TestServer, git, makeRepo, runCli, waitGone, waitPhase } from '../harness.ts';
import { cleanupEngines, containersWith, inspect, installationOf, proxyForRemoteEngine, removeWorkspaces, testEnv, volumesWith } from './env.ts';

const env = testEnv();
let server: TestServer;
let repo: string;
let installation: string;
let proxy: { url: string; close: () => Promise<void> };

before(async () => {
  server = await TestServer.start();
  installation = installationOf(server);
  proxy = await proxyForRemoteEngine(server);
  repo = makeRepo({ 'README.md': '# remote\n', 'bin/tool.sh': '#!/bin/sh\necho tool\n' });
  fs.chmodSync(`${repo}/bin/tool.sh`, 0o755);
  git(repo, 'update-index', '--chmod=+x', 'bin/tool.sh');
  git(repo, 'commit', '-q', '-m', 'make the tool executable');
  await server.client().createProject({ name: 'demo', repo });
});

after(async () => {
  await proxy?.close();
  await server?.stop();
  if (installation) cleanupEngines(installation);
  fs.rmSync(repo, { recursive: true, force: true });
});

test('provisioner add checks that workspaces on the remote engine reach the control plane', async () => {
  const remote = ['--type', 'docker', '--docker-host', env.BERTH_TEST_REMOTE_DOCKER_HOST, '--tls-cert-path', env.BERTH_TEST_REMOTE_DOCKER_CERT_PATH];
  // The server listens on loopback, which containers on another engine cannot reach: refused, naming the way out.
  let r = await runCli(server, ['provisioner', 'add', 'remote', ...remote]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`Workspaces on ${env.BERTH_TEST_REMOTE_DOCKER_HOST} cannot reach the control plane at ${server.url} \\(.*\\), .* with --server-url URL\\.`));
  // A URL nothing answers at is found out by a probe from a container on that engine.
  const dead = proxy.url.replace(/:\d+$/, ':1');
  r = await runCli(server, ['provisioner', 'add', 'remote', ...remote, '--server-url', dead]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`cannot reach the control plane at ${dead} \\(a probe from .* says: .*\\).*--server-url URL\\.`));
  r = await runCli(server, ['provisioner', 'list', '--json']);
  assert.ok(!(JSON.parse(r.stdout) as { name: string }[]).some((p) => p.name === 'remote'), 'a refused provisioner is not registered');
});

test('provisioner add checks the TLS engine; workspaces live in named volumes that persist across stop/start and reach the control plane', async () => {
  let r = await runCli(server, ['provisioner', 'add', 'remote', '--type', 'docker', '--docker-host', env.BERTH_TEST_REMOTE_DOCKER_HOST, '--tls-cert-path', env.BERTH_TEST_REMOTE_DOCKER_CERT_PATH, '--server-url', proxy.url, '--default']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Provisioner remote (docker) added as the default.\n');
  // Without client certificates the TLS engine refuses, and the admin is told so.
  r = await runCli(server, ['provisioner', 'add', 'remote-nocert', '--type', 'docker', '--docker-host', env.BERTH_TEST_REMOTE_DOCKER_HOST]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Cannot use provisioner "remote-nocert"/);

  const c = server.client();
  const spec = {
    image: env.BERTH_TEST_IMAGE,
    user: 'dev',
    files: [{ path: '~/.gitconfig', content: '[user]\n\tname = Remote Dev\n' }],
    setup: ['echo "setup ran" > /workspace/setup.txt'],
    caches: ['~/.cache/remote'],
  };
  const w = await c.createWorkspace({ name: 'far', project: 'demo', provisioner: 'remote', spec });
  const running = await waitPhase(c, w.id, 'running', 120_000);
  assert.equal(running.details.storage, `volume berth-ws-${w.id}`);
  assert.equal(running.details.engine, env.BERTH_TEST_REMOTE_DOCKER_HOST);

  // The container and volume are on the remote engine, not the local one.
  assert.deepEqual(containersWith(`berth.workspace=${w.id}`, true), [`berth-${w.id}`]);
  assert.deepEqual(containersWith(`berth.workspace=${w.id}`, false), []);
  const vol = inspect<{ Labels: Record<string, string> }>('volume', `berth-ws-${w.id}`, true);
  assert.equal(vol?.Labels['berth.workspace'], w.id);
  const mounts = inspect<{ Mounts: { Type: string; Name?: string; Destination: string }[] }>('container', `berth-${w.id}`, true)!.Mounts;
  assert.ok(mounts.some((m) => m.Type === 'volume' && m.Name === `berth-ws-${w.id}` && m.Destination === '/workspace'));

  r = await runCli(server, ['ws', 'exec', 'far', '--', 'sh', '-c', 'id -un; ./bin/tool.sh; stat -c "%U" . README.md /workspace ~/.cache/remote; git config user.name; cat /workspace/setup.txt; git log -1 --format=%s']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['dev', 'tool', 'dev', 'dev', 'dev', 'dev', 'Remote Dev', 'setup ran', 'make the tool executable']);
  r = await runCli(server, ['ws', 'exec', 'far', '--', 'sh', '-c', 'echo remote-data > notes.txt']);
  assert.equal(r.code, 0, r.stderr);
  // From inside, origin is the control plane at the URL the admin gave.
  r = await runCli(server, ['ws', 'exec', 'far', '--', 'sh', '-c', 'echo "$BERTH_SERVER_URL"; git remote get-url origin; git ls-remote origin']);
  assert.equal(r.code, 0, r.stderr);
  const [serverUrl, origin, ...refs] = r.stdout.trim().split('\n');
  assert.equal(serverUrl, proxy.url);
  assert.ok(origin?.startsWith(`${proxy.url}/git/`), origin);
  assert.ok(refs.some((l) => /\trefs\/heads\/main$/.test(l)), r.stdout);
  r = await runCli(server, ['ws', 'show', 'far']);
  assert.match(r.stdout, new RegExp(`^serverUrl: +${proxy.url}$`, 'm'));
  assert.doesNotMatch(r.stdout, /serverReachable/);

  r = await runCli(server, ['ws', 'stop', 'far', '--wait']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(containersWith(`berth.workspace=${w.id}`, true), []);
  assert.ok(inspect('volume', `berth-ws-${w.id}`, true), 'the volume outlives the container');
  r = await runCli(server, ['ws', 'start', 'far', '--wait']);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(server, ['ws', 'exec', 'far', '--', 'cat', 'notes.txt']);
  assert.equal(r.stdout, 'remote-data\n');
  const events = await c.events(w.id);
  assert.ok(events.some((e) => /Repository already present/.test(e.message)), 'the checkout is not cloned again');

  r = await runCli(server, ['ws', 'rm', 'far', '--yes', '--wait']);
  assert.equal(r.code, 0, r.stderr);
  await waitGone(c, w.id);
  assert.deepEqual(containersWith(`berth.workspace=${w.id}`, true), []);
  assert.deepEqual(volumesWith(`berth.installation=${installation}`, true), [], 'workspace volume and unshared cache volume are removed');
});

test('the remote provisioner is restored from the store after a restart, still the default', async () => {
  await server.restart();
  const r = await runCli(server, ['provisioner', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as { name: string; default: boolean }[];
  assert.deepEqual(list.filter((p) => p.default).map((p) => p.name), ['remote']);
  const c = server.client();
  const w = await c.createWorkspace({ name: 'again', project: 'demo', spec: { image: env.BERTH_TEST_IMAGE_BUSYBOX } });
  assert.equal(w.provisioner, 'remote', 'workspaces without --provisioner go to the default');
  await waitPhase(c, w.id, 'running', 120_000);
  const out = await c.run(w.id, ['cat', 'README.md']);
  assert.equal(out.stdout, '# remote\n');
  await removeWorkspaces(c, w.id);
});
