/** End to end on a real `berth server` process with the shell provisioner and the real CLI. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { TestServer, makeRepo, runCli, waitGone, waitPhase } from '../harness.ts';

let server: TestServer;
let repo: string;

before(async () => {
  server = await TestServer.start();
  repo = makeRepo({ 'README.md': '# demo\n', 'src/main.txt': 'hello\n' });
});
after(async () => {
  await server?.stop();
  fs.rmSync(repo, { recursive: true, force: true });
});

test('project add, ws create --wait, exec, stop, start, rm through the CLI', async () => {
  let r = await runCli(server, ['project', 'add', 'demo', '--repo', repo]);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(server, ['project', 'list', '--json']);
  assert.equal(JSON.parse(r.stdout)[0].name, 'demo');

  r = await runCli(server, ['ws', 'create', 'w1', '--project', 'demo', '--wait']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /==> provisioning/);
  assert.match(r.stderr, /==> running/);

  r = await runCli(server, ['ws', 'exec', 'w1', '--', 'git', 'log', '--format=%s']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'initial commit');

  // Exit codes and separate streams come through.
  r = await runCli(server, ['ws', 'exec', 'w1', '--', 'sh', '-c', 'echo to-out; echo to-err >&2; exit 7']);
  assert.equal(r.code, 7);
  assert.equal(r.stdout, 'to-out\n');
  assert.equal(r.stderr, 'to-err\n');

  // Standard input is forwarded.
  r = await runCli(server, ['ws', 'exec', 'w1', '--', 'sh', '-c', 'cat > notes.txt'], { input: 'kept across stop/start\n' });
  assert.equal(r.code, 0, r.stderr);

  const w = (await server.client().getWorkspace('w1'));
  const dir = String(w.details.directory);
  assert.ok(fs.existsSync(path.join(dir, 'work', 'notes.txt')));

  r = await runCli(server, ['ws', 'stop', 'w1', '--wait']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await server.client().getWorkspace('w1')).phase, 'stopped');
  r = await runCli(server, ['ws', 'exec', 'w1', '--', 'true']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not running/);

  r = await runCli(server, ['ws', 'start', 'w1', '--wait']);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(server, ['ws', 'exec', 'w1', '--', 'cat', 'notes.txt']);
  assert.equal(r.stdout, 'kept across stop/start\n');

  r = await runCli(server, ['ws', 'list', '--json']);
  assert.deepEqual(JSON.parse(r.stdout).map((x: { name: string; phase: string }) => [x.name, x.phase]), [['w1', 'running']]);

  r = await runCli(server, ['ws', 'logs', 'w1']);
  assert.match(r.stdout, /Cloning demo into work/);

  r = await runCli(server, ['ws', 'rm', 'w1']);
  assert.notEqual(r.code, 0, 'rm without --yes on a non-TTY must refuse');
  assert.ok(fs.existsSync(dir));
  r = await runCli(server, ['ws', 'rm', 'w1', '--yes', '--wait']);
  assert.equal(r.code, 0, r.stderr);
  await waitGone(server.client(), 'w1');
  assert.equal(fs.existsSync(dir), false, 'the storage directory is gone');
});

test('setup commands, config files and env reach the workspace', async () => {
  const c = server.client();
  await c.createWorkspace({
    name: 'w2',
    project: 'demo',
    spec: {
      env: [
        { name: 'GREETING', value: 'hi' },
        { name: 'API_KEY', value: 'sekret-value-123', secret: true },
      ],
      files: [{ path: '/workspace/work/.tool.conf', content: 'x=1\n', mode: 0o600 }],
      setup: ['echo "setup ran in $PWD" > setup.log'],
    },
  });
  const w = await waitPhase(c, 'w2', 'running');
  assert.equal(JSON.stringify(w).includes('sekret-value-123'), false, 'secret env values are not returned');
  const out = await c.run('w2', ['sh', '-c', 'echo $GREETING $API_KEY $BERTH_WORKSPACE_ID; cat .tool.conf; cat setup.log']);
  assert.equal(out.code, 0, out.stderr);
  const lines = out.stdout.trim().split('\n');
  assert.equal(lines[0], `hi sekret-value-123 ${w.id}`);
  assert.equal(lines[1], 'x=1');
  assert.match(lines[2]!, /setup ran in .*\/work$/);
  const events = await c.events('w2');
  assert.ok(events.some((e) => e.kind === 'phase' && e.message === 'running'));
  assert.equal(server.logs.includes('sekret-value-123'), false, 'secrets never reach the log');
  await c.deleteWorkspace('w2');
  await waitGone(c, 'w2');
});

test('a failing setup command marks the workspace failed with the reason, and start retries', async () => {
  const c = server.client();
  await c.createWorkspace({ name: 'w3', project: 'demo', spec: { setup: ['echo about to fail; exit 4'] } });
  const w = await waitPhase(c, 'w3', 'failed');
  assert.match(w.message ?? '', /Setup command 1 exited with code 4/);
  const events = await c.events('w3');
  assert.ok(events.some((e) => e.message === 'about to fail'), 'setup output is in the event log');
  // A failed workspace waits for its owner; an explicit start is a fresh attempt.
  const before = events.filter((e) => e.kind === 'phase' && e.message === 'provisioning').length;
  await c.startWorkspace('w3');
  await waitPhase(c, 'w3', 'failed');
  const again = (await c.events('w3')).filter((e) => e.kind === 'phase' && e.message === 'provisioning').length;
  assert.equal(again, before + 1);
  await c.deleteWorkspace('w3');
  await waitGone(c, 'w3');
});

test('a start racing a delete never undoes the delete', async () => {
  const c = server.client();
  await c.createWorkspace({ name: 'race', project: 'demo' });
  await waitPhase(c, 'race', 'running');
  const results = await Promise.allSettled([c.startWorkspace('race'), c.deleteWorkspace('race'), c.startWorkspace('race'), c.stopWorkspace('race'), c.startWorkspace('race')]);
  assert.equal(results[1].status, 'fulfilled');
  for (const r of results) {
    if (r.status === "rejected") assert.match(`${(r.reason as { status?: number }).status} ${(r.reason as Error).message}`, /is being deleted|No workspace/);
  }
  await waitGone(c, 'race');
});
