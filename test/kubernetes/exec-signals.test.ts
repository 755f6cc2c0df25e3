/**
 * Exit statuses and stdin EOF on Kubernetes, through the real CLI: a command killed by a signal
 * exits 128 + its number (137, 130, 129), `berth ws exec` with stdin at EOF ends the command, and
 * `berth ws shell < script` runs the script and ends.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeRepo, runCli, waitPhase } from '../harness.ts';
import { K8sSuite, env } from './env.ts';

let suite: K8sSuite;

before(async () => {
  suite = await K8sSuite.start();
  await suite.addProject('demo', makeRepo());
  await suite.addProvisioner('k8s');
});

after(async () => {
  await suite?.close();
});

test('a command killed by a signal exits 128 + its number, and stdin at EOF ends exec and shell (kubernetes)', async () => {
  const c = suite.server.client();
  const w = await c.createWorkspace({ name: 'sigs', project: 'demo', provisioner: 'k8s', spec: { image: env.BERTH_TEST_IMAGE } });
  await waitPhase(c, w.id, 'running', 180_000);
  for (const [sig, status] of [['KILL', 137], ['INT', 130], ['HUP', 129]] as const) {
    const res = await runCli(suite.server, ['ws', 'exec', w.name, '--', 'sh', '-c', `kill -${sig} $$`]);
    assert.equal(res.code, status, `kill -${sig}: ${res.stderr}`);
  }
  const cat = await runCli(suite.server, ['ws', 'exec', w.name, '--', 'cat'], { input: 'last line\n', timeoutMs: 30_000 });
  assert.deepEqual([cat.code, cat.stdout], [0, 'last line\n']);
  const shell = await runCli(suite.server, ['ws', 'shell', w.name], { input: 'echo shell-$((6 * 7))\n', timeoutMs: 30_000 });
  assert.equal(shell.code, 0, `ws shell with stdin at EOF ends; stderr: ${shell.stderr}`);
  assert.match(shell.stdout, /shell-42/);
});
