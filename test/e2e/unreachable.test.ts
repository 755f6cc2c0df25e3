/**
 * An engine outage is not a workspace failure: a docker provisioner reached through a proxy the test
 * cuts for longer than the failure threshold shows `unreachable` with its reason, and once the
 * engine answers again the workspace is running in the SAME container, its processes alive and its
 * terminal session taken over again. A delete asked during the outage happens once it is over.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestServer, eventually, makeRepo, runCli, waitGone, waitPhase } from '../harness.ts';
import { cleanupEngines, containersWith, inspect, installationOf, testEnv } from '../docker/env.ts';
import { EngineProxy, engineSocket } from '../faults/proxy.ts';

const env = testEnv();
let proxy: EngineProxy;
let server: TestServer;
let installation = '';

// Small retry settings: before outages were told apart, two failed checks marked a workspace failed.
const RETRY = { BERTH_RECONCILE_ATTEMPTS: '2', BERTH_RECONCILE_BACKOFF: '200ms' };
/** Longer than the old failure threshold under RETRY (0.2 s + 0.4 s of back-off, checks every second). */
const OUTAGE_MS = Number(process.env.BERTH_TEST_OUTAGE_MS ?? 6000);

before(async () => {
  proxy = await EngineProxy.open(engineSocket(env.BERTH_TEST_DOCKER_HOST));
  server = await TestServer.start({ args: ['--local-docker', 'off'], env: RETRY });
  installation = installationOf(server);
  await server.client().createProvisioner({ name: 'dk', type: 'docker', options: { dockerHost: proxy.dockerHost } });
  const repo = makeRepo({ 'README.md': '# outage\n' });
  const r = await runCli(server, ['project', 'add', 'demo', '--repo', repo]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await proxy?.restore();
  await server?.stop();
  if (installation) cleanupEngines(installation);
  await proxy?.close();
});

test('an unreachable engine is shown as such, never failed; on its return the same container runs on with its processes and terminal', async () => {
  const c = server.client();
  const w = await c.createWorkspace({ name: 'out', project: 'demo', provisioner: 'dk', spec: { image: env.BERTH_TEST_IMAGE, user: 'dev' } });
  await waitPhase(c, w.id, 'running', 120_000);
  const containerId = inspect<{ Id: string }>('container', `berth-${w.id}`)!.Id;

  // A live terminal with a job, and a process started by exec.
  let out = '';
  const term = c.exec(w.id, { cmd: [], tty: true, cols: 100, rows: 30 }, { stdout: (d) => (out += d.toString()) });
  term.done.catch(() => undefined); // its connection to the engine is cut below
  await eventually(() => out.includes('$'), 'a prompt', 15_000);
  term.write('echo "marker-$((6*7))"; sleep 1001 &\r');
  await eventually(() => out.includes('marker-42'), 'the marker echoed in the terminal', 15_000);
  const bg = await c.run(w.id, ['sh', '-c', 'sleep 1000 >/dev/null 2>&1 < /dev/null & echo $!']);
  const pid = bg.stdout.trim();
  assert.match(pid, /^\d+$/, JSON.stringify(bg));

  await proxy.cut();
  const down = await eventually(async () => {
    const x = await c.getWorkspace(w.id);
    return x.phase === 'unreachable' ? x : undefined;
  }, 'the workspace to be shown unreachable', 20_000);
  assert.match(down.message ?? '', /Cannot reach the Docker engine at unix:\/\/\S+: connect ECONNREFUSED/);
  assert.ok(down.unreachableSince && Date.parse(down.unreachableSince) <= Date.now());
  // Held well past the old threshold: still unreachable, never failed, nothing counted.
  const until = Date.now() + OUTAGE_MS;
  while (Date.now() < until) {
    const x = await c.getWorkspace(w.id);
    assert.equal(x.phase, 'unreachable', `phase during the outage: ${x.phase} (${x.message})`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const shown = await runCli(server, ['ws', 'show', 'out']);
  assert.match(shown.stdout, /Phase: +unreachable \(desired: running\)/);
  assert.match(shown.stdout, /unreachable for \d+s: Cannot reach the Docker engine/);
  const listed = await runCli(server, ['ws', 'list']);
  assert.match(listed.stdout, /out .*unreachable->running .*unreachable for \d+s: /);

  await proxy.restore();
  const back = await waitPhase(c, w.id, 'running', 30_000);
  assert.equal(back.unreachableSince, undefined);
  assert.equal(back.message, null);
  assert.equal(inspect<{ Id: string }>('container', `berth-${w.id}`)!.Id, containerId, 'the same container, not a replacement');
  const alive = await c.run(w.id, ['sh', '-c', `kill -0 ${pid} && echo alive; for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null; echo; done | grep "^sleep 100[01]"`]);
  assert.match(alive.stdout, /alive/, 'the exec-started process kept running');
  assert.match(alive.stdout, /sleep 1001/, "the terminal's job kept running");
  const events = (await c.events(w.id)).map((e) => `${e.kind}:${e.message}`);
  assert.ok(events.includes('phase:unreachable'), 'an event when it became unreachable');
  assert.ok(events.some((e) => /can be observed again after \d+s; it is running/.test(e)), 'an event when it came back');
  assert.ok(!events.includes('phase:failed') && !events.includes('phase:provisioning', events.indexOf('phase:unreachable')), events.join('\n'));

  // A new terminal takes over the earlier session: its screen comes back.
  let again = '';
  const term2 = c.exec(w.id, { cmd: [], tty: true, cols: 100, rows: 30 }, { stdout: (d) => (again += d.toString()) });
  await eventually(() => again.includes('marker-42'), 'the earlier terminal screen in the re-attached session', 15_000);
  term2.write('exit\r');
  await term2.done.catch(() => undefined);
  term.detach();
});

test('a delete asked while the engine is unreachable keeps the workspace until its resources are destroyed', async () => {
  const c = server.client();
  const w = await c.createWorkspace({ name: 'del', project: 'demo', provisioner: 'dk', spec: { image: env.BERTH_TEST_IMAGE } });
  await waitPhase(c, w.id, 'running', 120_000);
  await proxy.cut();
  await waitPhase(c, w.id, 'unreachable', 20_000);
  await c.deleteWorkspace(w.id);
  await new Promise((r) => setTimeout(r, 3000)); // several reconcile intervals of 1 s
  const x = await c.getWorkspace(w.id);
  assert.equal(x.desired, 'deleted');
  assert.equal(x.phase, 'unreachable');
  assert.equal(containersWith(`berth.workspace=${w.id}`).length, 1, 'the container is still there');
  await proxy.restore();
  await waitGone(c, w.id, 60_000);
  assert.deepEqual(containersWith(`berth.workspace=${w.id}`), [], 'destroyed once reachable');
});
