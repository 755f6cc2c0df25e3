/**
 * Terminals and exit statuses through an enrolled agent (control plane → agent → container): a
 * detached `yes` costs the control plane under 5 % of a CPU over a fixed window (the agent, whose
 * session stays attached to the control plane and is held by back-pressure only, under 20 %), and
 * is alive on re-attach; a command killed by a signal exits 128 + its number; stdin at
 * EOF ends `ws exec` and `ws shell < script`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { BerthClient } from '../../src/sdk/client.ts';
import { cpuOverWindow, detachedYes, reattachPrints } from '../detached-terminal.ts';
import { TestServer, makeRepo, runCli, waitGone, waitPhase } from '../harness.ts';
import { agentRoot, agentTestEnv, enrollAgent, type RunningAgent } from './fixtures.ts';

const env = agentTestEnv();
const root = agentRoot();
let server: TestServer;
let agent: RunningAgent;
let c: BerthClient;

before(async () => {
  server = await TestServer.start({ args: ['--listen', `${env.BERTH_TEST_AGENT_HOST_IP}:0`, '--local-docker', 'off'] });
  c = server.client();
  agent = await enrollAgent(env, server, root);
  await c.createProject({ name: 'app', repo: makeRepo() });
  await c.createWorkspace({ name: 'w1', project: 'app', provisioner: 'remote', spec: { image: env.BERTH_TEST_IMAGE } });
  await waitPhase(c, 'w1', 'running', 180_000);
});

after(async () => {
  // The agent must see the delete through: a container left on its engine would keep `yes` running.
  await c?.deleteWorkspace('w1').then(() => waitGone(c, 'w1', 120_000)).catch(() => undefined);
  await agent?.stop();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

test('a detached yes on an agent costs the control plane almost nothing, and is alive on re-attach', async () => {
  const session = await detachedYes(c, 'w1');
  const { cpu, window } = await cpuOverWindow([server.proc.pid!, agent.proc.pid!]);
  assert.ok(cpu[0]! < 0.05 * window, `the control plane used ${cpu[0]!.toFixed(2)} s of CPU in ${window.toFixed(1)} s (limit 5 %)`);
  assert.ok(cpu[1]! < 0.2 * window, `the agent used ${cpu[1]!.toFixed(2)} s of CPU in ${window.toFixed(1)} s (limit 20 %)`);
  const { replay } = await reattachPrints(c, 'w1', session);
  assert.match(replay, /berth-idle-mark/, 'the replay shows recent output');
});

test('on an agent, a command killed by a signal exits 128 + its number, and stdin at EOF ends exec and shell', async () => {
  for (const [sig, status] of [['KILL', 137], ['INT', 130], ['HUP', 129]] as const) {
    const res = await runCli(server, ['ws', 'exec', 'w1', '--', 'sh', '-c', `kill -${sig} $$`]);
    assert.equal(res.code, status, `kill -${sig}: ${res.stderr}`);
  }
  const cat = await runCli(server, ['ws', 'exec', 'w1', '--', 'cat'], { input: 'last line\n', timeoutMs: 30_000 });
  assert.deepEqual([cat.code, cat.stdout], [0, 'last line\n']);
  const shell = await runCli(server, ['ws', 'shell', 'w1'], { input: 'echo shell-$((6 * 7))\n', timeoutMs: 30_000 });
  assert.equal(shell.code, 0, `ws shell with stdin at EOF ends; stderr: ${shell.stderr}`);
  assert.match(shell.stdout, /shell-42/);
});
