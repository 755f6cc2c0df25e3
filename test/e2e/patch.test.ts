/**
 * `PATCH /workspaces/{ref}` (SDK updateWorkspace): a running workspace is provisioned again with the
 * new spec on the same storage, so a file written in it survives (docker: a new container of the
 * new image on the same volume; shell: its processes restart). The change is in the event log by
 * names only, a secret value appears nowhere, and a bad patch is a 400 that changes nothing.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import { containerName } from '../../src/provisioners/docker/runtime.ts';
import type { BerthClient } from '../../src/sdk/client.ts';
import { cleanupEngines, docker, inspect, installationOf, removeWorkspaces, testEnv } from '../docker/env.ts';
import { TestServer, makeRepo, rejectsWith, runCli, waitPhase } from '../harness.ts';

const env = testEnv();
let server: TestServer;
let installation: string;
const workspaces: string[] = [];
/** The image a docker workspace changes to. */
const next = env.BERTH_TEST_IMAGE_BUSYBOX;

before(async () => {
  server = await TestServer.start();
  installation = installationOf(server);
  await server.client().createProject({ name: 'demo', repo: makeRepo() });
});

after(async () => {
  if (server) await removeWorkspaces(server.client(), ...workspaces).catch(() => undefined);
  await server?.stop();
  if (installation) cleanupEngines(installation);
});

async function sh(c: BerthClient, ws: string, script: string): Promise<string> {
  const r = await c.run(ws, ['sh', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

for (const provisioner of ['shell', 'docker']) {
  test(`a spec change keeps the workspace's files; a bad one changes nothing (${provisioner})`, async () => {
    const c = server.client();
    const isDocker = provisioner === 'docker';
    const w = await c.createWorkspace({ name: `patch-${provisioner}`, project: 'demo', provisioner, spec: isDocker ? { image: env.BERTH_TEST_IMAGE, resources: { memory: '256MiB' } } : {} });
    workspaces.push(w.id);
    await waitPhase(c, w.id, 'running', 120_000);
    await sh(c, w.name, 'echo kept > "$BERTH_WORKDIR/notes.txt"');
    const oldContainer = isDocker ? inspect<{ Id: string }>('container', containerName(w.id))!.Id : '';

    // Bad patches: each a 400 with a sentence, and afterwards the spec, phase and log are as they were.
    const before = await c.getWorkspace(w.id);
    const logBefore = (await c.events(w.id)).length;
    await rejectsWith(c.updateWorkspace(w.id, { unsetEnv: ['NOT_SET'] }), 400, /no variable NOT_SET/);
    await rejectsWith(c.updateWorkspace(w.id, { resources: { memory: '1KiB' } }), 400, /at least 6MiB/);
    await rejectsWith(c.updateWorkspace(w.id, { env: [{ name: 'BERTH_WORKDIR', value: '/' }] }), 400, /BERTH_WORKDIR/);
    await rejectsWith(c.updateWorkspace(w.id, {}), 400, /Nothing to change/);
    if (!isDocker) await rejectsWith(c.updateWorkspace(w.id, { image: 'alpine:3.20' }), 400, /cannot honour spec\.image/);
    const unchanged = await c.getWorkspace(w.id);
    assert.deepEqual([unchanged.spec, unchanged.phase], [before.spec, 'running']);
    assert.equal((await c.events(w.id)).length, logBefore, 'a refused patch writes nothing to the log');

    // A good patch through the CLI: image (docker), env with a secret, a config file.
    const canary = `canary-${crypto.randomBytes(8).toString('hex')}`;
    const res = await runCli(server, [
      'ws', 'update', w.name, ...(isDocker ? ['--image', next, '--memory', '512MiB'] : []),
      '--env', 'FOO=bar', '--secret-env', `TOKEN=${canary}`, '--wait', '--json',
    ], { timeoutMs: 180_000 });
    assert.equal(res.code, 0, res.stderr);
    assert.doesNotMatch(res.stdout, new RegExp(canary));
    const after = await waitPhase(c, w.id, 'running', 120_000);

    assert.equal(await sh(c, w.name, 'cat "$BERTH_WORKDIR/notes.txt"'), 'kept\n', 'the file written before the change is still there');
    assert.equal(await sh(c, w.name, 'echo "$FOO $TOKEN"'), `bar ${canary}\n`);
    if (isDocker) {
      const ctr = inspect<{ Id: string; Config: { Image: string }; HostConfig: { Memory: number } }>('container', containerName(w.id))!;
      assert.notEqual(ctr.Id, oldContainer, 'a new container');
      assert.equal(ctr.Config.Image, docker(['image', 'inspect', '--format', '{{.Id}}', next]).trim(), 'the container runs the new image');
      assert.equal(ctr.HostConfig.Memory, 512 * 1024 * 1024);
      assert.equal((after.spec as { image?: string }).image, next);
    }
    const log = (await c.events(w.id)).map((e) => e.message);
    const change = log.find((m) => m.startsWith('Spec changed:'));
    assert.ok(change, `a "Spec changed" event in ${JSON.stringify(log.slice(-20))}`);
    if (isDocker) assert.ok(change.includes(`image ${env.BERTH_TEST_IMAGE} → ${next}, memory 256MiB → 512MiB`), change);
    assert.match(change, /env \+FOO, env \+TOKEN/);
    assert.doesNotMatch(JSON.stringify([log, after]), new RegExp(canary), 'the secret value appears in no event and no API answer');
  });
}
