/**
 * Bad specs and bad provisioner options give clear errors and leave nothing behind: no container,
 * no volume, no directory, on the local and the remote engine.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { SpecInput } from '../../src/core/spec.ts';
import { ApiError } from '../../src/sdk/client.ts';
import { TestServer, makeRepo, runCli, waitPhase } from '../harness.ts';
import { cleanupEngines, containersWith, installationOf, proxyForRemoteEngine, removeWorkspaces, testEnv, volumesWith } from './env.ts';

const env = testEnv();
let server: TestServer;
let repo: string;
let installation: string;
let proxy: { url: string; close: () => Promise<void> } | undefined;
const login = (password: string) => ({ registry: env.BERTH_TEST_REGISTRY, username: env.BERTH_TEST_REGISTRY_USER, password });

before(async () => {
  server = await TestServer.start();
  installation = installationOf(server);
  repo = makeRepo();
  await server.client().createProject({ name: 'demo', repo });
  // Workspaces on the remote engine reach the loopback-only server through a proxy on its bridge.
  proxy = await proxyForRemoteEngine(server);
  const r = await runCli(server, ['provisioner', 'add', 'remote', '--type', 'docker', '--docker-host', env.BERTH_TEST_REMOTE_DOCKER_HOST, '--tls-cert-path', env.BERTH_TEST_REMOTE_DOCKER_CERT_PATH, '--server-url', proxy.url]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await proxy?.close();
  await server?.stop();
  if (installation) cleanupEngines(installation);
  fs.rmSync(repo, { recursive: true, force: true });
});

/** Nothing of this server remains on either engine, nor in the bind root. */
function assertNothingLeft(id: string): void {
  for (const remote of [false, true]) {
    assert.deepEqual(containersWith(`berth.installation=${installation}`, remote), [], `no container left (${remote ? 'remote' : 'local'})`);
    assert.deepEqual(volumesWith(`berth.installation=${installation}`, remote), [], `no volume left (${remote ? 'remote' : 'local'})`);
  }
  const root = path.join(server.dataDir, 'workspaces', 'docker');
  assert.equal(fs.existsSync(path.join(root, id)), false, 'no workspace directory left');
  assert.equal(fs.existsSync(path.join(root, '.meta', `${id}.json`)), false, 'no metadata left');
  const shared = path.join(root, 'shared');
  assert.deepEqual(fs.existsSync(shared) ? fs.readdirSync(shared) : [], [], 'no user data or cache directory left');
}

async function failsWith(provisioner: string, name: string, spec: SpecInput, message: RegExp): Promise<void> {
  const c = server.client();
  const w = await c.createWorkspace({ name, project: 'demo', provisioner, spec });
  const failed = await waitPhase(c, w.id, 'failed', 90_000);
  assert.match(failed.message ?? '', message);
  assertNothingLeft(w.id);
  await removeWorkspaces(c, w.id);
  assertNothingLeft(w.id);
}

test('an image missing from the registry fails with a clear message and leaves nothing', async () => {
  const spec = { image: `${env.BERTH_TEST_REGISTRY}/berth/no-such-image:1`, registryLogins: [login(env.BERTH_TEST_REGISTRY_PASSWORD)], caches: ['~/.cache/x'], userData: ['~/.ud'] };
  await failsWith('docker', 'missing', spec, /^The image 127\.0\.0\.1:5000\/berth\/no-such-image:1 was not found in registry 127\.0\.0\.1:5000; check its name and tag\.$/);
  await failsWith('remote', 'missing-remote', spec, /was not found in registry/);
});

test('an unknown local image name is reported at once, not retried for minutes', async () => {
  await failsWith('docker', 'typo', { image: 'berth-test/no-such-image:1' }, /is not on the Docker engine and its registry docker\.io cannot be resolved; check the image name/);
});

test('a wrong registry password fails with a clear message that does not contain it', async () => {
  const wrong = 'not-the-password-1234';
  const c = server.client();
  const w = await c.createWorkspace({ name: 'badpass', project: 'demo', provisioner: 'docker', spec: { image: env.BERTH_TEST_IMAGE_PRIVATE, registryLogins: [login(wrong)] } });
  const failed = await waitPhase(c, w.id, 'failed', 90_000);
  assert.equal(
    failed.message,
    `The registry ${env.BERTH_TEST_REGISTRY} rejected the credentials of user "${env.BERTH_TEST_REGISTRY_USER}" for image ${env.BERTH_TEST_IMAGE_PRIVATE}; fix the username or password in spec.registryLogins.`,
  );
  assert.ok(!JSON.stringify(await c.events(w.id)).includes(wrong));
  assert.ok(!server.logs.includes(wrong));
  assertNothingLeft(w.id);
  await removeWorkspaces(c, w.id);
  await failsWith('remote', 'badpass-remote', { image: env.BERTH_TEST_IMAGE_PRIVATE, registryLogins: [login(wrong)] }, /rejected the credentials/);
});

test('a private image without a login says a login is needed', async () => {
  await failsWith('docker', 'nologin', { image: `${env.BERTH_TEST_REGISTRY}/berth/bookworm:does-not-matter` }, /requires a login to pull .*; add it to spec\.registryLogins\./);
});

test('invalid limits are refused before anything is created', async () => {
  const c = server.client();
  const cases: [SpecInput['resources'], RegExp][] = [
    [{ cpus: 64 }, /^spec\.resources\.cpus is 64, but the Docker engine at unix:\/\/\/var\/run\/docker\.sock has only \d+ CPUs?\.$/],
    [{ cpus: 0.001 }, /spec\.resources\.cpus must be at least 0\.01/],
    [{ memory: '64TiB' }, /^spec\.resources\.memory is 64TiB, more than the .* the Docker engine at .* has\.$/],
    [{ memory: '1MiB' }, /spec\.resources\.memory must be at least 6MiB/],
    [{ disk: '1GiB' }, /spec\.resources\.disk is not supported by the docker provisioner/],
    [{ pids: 1 }, /pids/],
  ];
  for (const [resources, message] of cases) {
    const err = await c.createWorkspace({ name: 'limits', project: 'demo', provisioner: 'docker', spec: { image: env.BERTH_TEST_IMAGE, resources } }).then(
      () => assert.fail(`accepted ${JSON.stringify(resources)}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 400, err.message);
    assert.match(err.message, message);
  }
  assert.deepEqual(await c.listWorkspaces(), []);
  const noImage = await c.createWorkspace({ name: 'noimage', project: 'demo', provisioner: 'docker' }).catch((e: unknown) => e);
  assert.ok(noImage instanceof ApiError && noImage.status === 400);
  assert.match(noImage.message, /needs an image: pass --image IMAGE/);
  assertNothingLeft('ws_none');
});

test('a setup command that fails marks the workspace failed with its exit code, and leaves nothing', async () => {
  await failsWith('docker', 'setupfail', { image: env.BERTH_TEST_IMAGE, setup: ['echo about to fail; exit 3'] }, /^Setup command 1 exited with code 3: echo about to fail; exit 3$/);
});

test('bad provisioner options are refused with clear errors', async () => {
  const c = server.client();
  const add = (body: Parameters<typeof c.createProvisioner>[0]) => c.createProvisioner(body).then(() => undefined, (e: unknown) => e as ApiError);
  let e = await add({ name: 'x', type: 'podman' });
  assert.equal(e?.status, 400);
  assert.match(e.message, /^Unknown provisioner type "podman"\. Known types: .*docker/);
  e = await add({ name: 'x', type: 'docker', options: { dockerHost: 'tcp://127.0.0.1:1' } });
  assert.equal(e?.status, 400);
  assert.match(e.message, /^Cannot use provisioner "x": Cannot reach the Docker engine at tcp:\/\/127\.0\.0\.1:1/);
  e = await add({ name: 'x', type: 'docker', options: { colour: 'blue' } });
  assert.match(e!.message, /Unknown docker provisioner option "colour"/);
  e = await add({ name: 'x', type: 'docker', options: { dockerHost: 'tcp://127.0.0.1:2376', storage: 'bind' } });
  assert.match(e!.message, /Bind storage needs an engine on this machine/);
  e = await add({ name: 'x', type: 'docker', options: { network: 'no-such-network' } });
  assert.match(e!.message, /has no network "no-such-network"/);
  e = await add({ name: 'docker', type: 'docker' });
  assert.equal(e?.status, 409);
  // Only admins add provisioners.
  const { token } = await c.createUser('alice');
  e = await server.client(token).createProvisioner({ name: 'y', type: 'docker' }).then(() => undefined, (x: unknown) => x as ApiError);
  assert.equal(e?.status, 403);
  const names = (await c.listProvisioners()).map((p) => p.name);
  assert.ok(!names.includes('x') && !names.includes('y'));
});
