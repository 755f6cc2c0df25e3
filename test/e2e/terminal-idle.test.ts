/**
 * A detached terminal costs the control plane nothing beyond its bounded scrollback: `yes` left
 * running in a TTY session nobody watches keeps the server's CPU time (utime + stime of its
 * process) under 5 % of a fixed observation window, on the shell provisioner and on the local
 * Docker engine; re-attaching shows the session alive and printing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cleanupEngines, installationOf, removeWorkspaces, testEnv } from '../docker/env.ts';
import { cpuOverWindow, detachedYes, reattachPrints } from '../detached-terminal.ts';
import { TestServer, makeRepo, waitPhase } from '../harness.ts';

const env = testEnv();
let server: TestServer;
let installation: string;
const workspaces: string[] = [];

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

for (const provisioner of ['shell', 'docker']) {
  test(`a detached terminal running yes costs the server almost no CPU (${provisioner})`, async () => {
    const c = server.client();
    const w = await c.createWorkspace({ name: `idle-${provisioner}`, project: 'demo', provisioner, spec: provisioner === 'docker' ? { image: env.BERTH_TEST_IMAGE } : {} });
    workspaces.push(w.id);
    await waitPhase(c, w.id, 'running', 120_000);

    const session = await detachedYes(c, w.name);
    const { cpu: [cpu], window } = await cpuOverWindow([server.proc.pid!]);
    assert.ok(cpu! < 0.05 * window, `the server used ${cpu!.toFixed(2)} s of CPU in ${window.toFixed(1)} s with a detached yes (limit 5 %)`);
    const { replay } = await reattachPrints(c, w.name, session);
    assert.match(replay, /berth-idle-mark/, 'the replay shows recent output');
  });
}
