/**
 * Ctrl-C through the real CLI: `berth ws exec W -- CMD` interrupted by SIGINT ends the remote
 * command by SIGINT and exits 130, as the same command would in a local shell (not 143, the status
 * of SIGTERM), on the shell provisioner and on the local Docker engine.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cleanupEngines, installationOf, removeWorkspaces, testEnv } from '../docker/env.ts';
import { BERTH_BIN, TestServer, eventually, makeRepo, runCli, waitPhase } from '../harness.ts';

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
  test(`berth ws exec interrupted by SIGINT exits 130 (${provisioner})`, async () => {
    const c = server.client();
    const w = await c.createWorkspace({ name: `sig-${provisioner}`, project: 'demo', provisioner, spec: provisioner === 'docker' ? { image: env.BERTH_TEST_IMAGE } : {} });
    workspaces.push(w.id);
    await waitPhase(c, w.id, 'running', 120_000);

    const cli = spawn(process.execPath, [BERTH_BIN, 'ws', 'exec', w.name, '--', 'sh', '-c', 'echo started; exec sleep 100'], {
      env: { ...process.env, BERTH_URL: server.url, BERTH_TOKEN: server.adminToken, BERTH_CONFIG: path.join(server.dataDir, 'cli-config.json') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    cli.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => cli.once('close', (code) => resolve(code)));
    cli.stdin.end();
    try {
      await eventually(() => stdout.includes('started'), 'the remote command to start', 30_000);
      const t0 = Date.now();
      cli.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 130, `exit status of Ctrl-C; stderr: ${stderr}`);
      assert.ok(Date.now() - t0 < 10_000, 'the command ended promptly, not after sleep 100');
    } finally {
      cli.kill('SIGKILL');
    }
  });
}

for (const provisioner of ['shell', 'docker']) {
  test(`a command killed by a signal exits 128 + its number, and stdin at EOF ends exec and shell (${provisioner})`, async () => {
    const c = server.client();
    const w = await c.createWorkspace({ name: `sigs-${provisioner}`, project: 'demo', provisioner, spec: provisioner === 'docker' ? { image: env.BERTH_TEST_IMAGE } : {} });
    workspaces.push(w.id);
    await waitPhase(c, w.id, 'running', 120_000);
    for (const [sig, status] of [['KILL', 137], ['INT', 130], ['HUP', 129], ['USR1', 138], ['TERM', 143]] as const) {
      const res = await runCli(server, ['ws', 'exec', w.name, '--', 'sh', '-c', `kill -${sig} $$`]);
      assert.equal(res.code, status, `kill -${sig}: ${res.stderr}`);
    }
    // stdin at EOF: the remote side sees the end of its input and the command ends.
    const cat = await runCli(server, ['ws', 'exec', w.name, '--', 'cat'], { input: 'last line\n', timeoutMs: 30_000 });
    assert.deepEqual([cat.code, cat.stdout], [0, 'last line\n']);
    // `berth ws shell < script`: the shell runs what it reads, then the end of input ends it.
    const shell = await runCli(server, ['ws', 'shell', w.name], { input: 'echo shell-$((6 * 7))\n', timeoutMs: 30_000 });
    assert.equal(shell.code, 0, `ws shell with stdin at EOF ends; stderr: ${shell.stderr}`);
    assert.match(shell.stdout, /shell-42/);
  });
}
