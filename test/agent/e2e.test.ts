/**
 * The agent end to end, as a team uses it: a control plane listening on the host's end of the veth
 * (10.220.0.1), an agent enrolled with `berth agent add` / `berth agent enroll` and run as its own
 * process inside the netns `berth-agent` (its own root, the netns's Docker engine), a provisioner of
 * type `agent`, and a workspace created through the API: its files survive stop/start and a
 * `docker rm -f`; a terminal goes control plane → agent → container; a commit pushed from inside the
 * workspace reaches the upstream through the control plane's git gateway; with the control plane
 * stopped for a minute, the workspace keeps running, the agent alone repairs a `docker rm -f`, and the
 * control plane's view catches up after its restart.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BerthClient } from '../../src/sdk/client.ts';
import { BERTH_BIN, TestServer, eventually, git, makeRepo, runCli, tempDir, waitGone, waitPhase } from '../harness.ts';
import { agentDocker, agentRoot, agentTestEnv, startAgent, type RunningAgent } from './fixtures.ts';

const env = agentTestEnv();

/** Runs a command in a workspace through the control plane; resolves with its exit code and output. */
async function sh(c: BerthClient, ws: string, script: string): Promise<{ code: number | null; out: string }> {
  let out = '';
  const conn = c.exec(ws, { cmd: ['sh', '-c', script], tty: false }, { stdout: (d) => (out += d.toString()), stderr: (d) => (out += d.toString()) });
  conn.eof();
  const { code } = await conn.done;
  return { code, out };
}

/** Opens a TTY shell in a workspace through the control plane and waits until it answers a sum. */
async function shellAnswers(c: BerthClient, ws: string): Promise<{ conn: ReturnType<BerthClient['exec']>; out: () => string }> {
  let out = '';
  const conn = c.exec(ws, { cmd: [], tty: true, cols: 80, rows: 24 }, { stdout: (d) => (out += d.toString()) });
  conn.write('echo $((6*7))\n');
  await eventually(() => /[^0-9]42\r\n/.test(out), 'the shell to answer', 20_000, 50).catch((err: Error) => {
    throw new Error(`${err.message}; the terminal showed ${JSON.stringify(out)}`);
  });
  return { conn, out: () => out };
}

describe('agent end to end: enrolled agent in netns berth-agent behind a control plane on the veth', () => {
  const root = agentRoot();
  let server: TestServer;
  let agent: RunningAgent;
  let c: BerthClient;
  let upstream: string;

  before(async () => {
    // A fixed port: workspaces keep the URL they were given across the control plane's restart.
    server = await TestServer.start({ args: ['--listen', `${env.BERTH_TEST_AGENT_HOST_IP}:${30_000 + crypto.randomInt(10_000)}`, '--local-docker', 'off'] });
    c = server.client();
    const port = 40_000 + crypto.randomInt(20_000);
    const add = await runCli(server, ['agent', 'add', 'edge', '--url', `https://${env.BERTH_TEST_AGENT_AGENT_IP}:${port}`, '--label', 'zone=test', '--json']);
    assert.equal(add.code, 0, add.stderr);
    const token = (JSON.parse(add.stdout) as { token: string }).token;
    // Enrolled from inside the netns: the key is made there, and only the veth leads to the control plane.
    const enroll = spawnSync('ip', ['netns', 'exec', env.BERTH_TEST_AGENT_NETNS, process.execPath, BERTH_BIN, 'agent', 'enroll', '--server', server.url, '--token', token, '--root', root], { encoding: 'utf8' });
    assert.equal(enroll.status, 0, enroll.stderr);
    assert.ok(fs.existsSync(path.join(root, 'keys', 'agent.key')));
    agent = await startAgent(env, root, { port, extraEnv: { BERTH_AGENT_RESYNC_MS: '1000' } });
    const added = await runCli(server, ['provisioner', 'add', 'remote', '--type', 'agent', '--labels', 'zone=test']);
    assert.equal(added.code, 0, added.stderr);
    upstream = path.join(tempDir('berth-upstream-'), 'app.git');
    git(path.dirname(upstream), 'clone', '-q', '--bare', makeRepo({ 'README.md': '# app\n' }), upstream);
    await c.createProject({ name: 'app', repo: upstream });
  });
  after(async () => {
    await agent?.stop();
    await server?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('a workspace on the agent: files survive stop/start and docker rm -f', async () => {
    await c.createWorkspace({ name: 'w1', project: 'app', provisioner: 'remote', spec: { image: env.BERTH_TEST_IMAGE } });
    const w = await waitPhase(c, 'w1', 'running', 180_000);
    assert.ok(fs.existsSync(path.join(root, 'workspaces', w.id, 'work', 'README.md')), "the checkout is in the agent's root");
    assert.deepEqual(await sh(c, 'w1', 'echo kept > /workspace/work/keep.txt && cat /workspace/work/README.md'), { code: 0, out: '# app\n' });

    await c.stopWorkspace('w1');
    await waitPhase(c, 'w1', 'stopped');
    assert.equal(agentDocker(env, ['inspect', '-f', '{{.State.Running}}', `berth-${w.id}`], true), '', 'no container while stopped');
    await c.startWorkspace('w1');
    await waitPhase(c, 'w1', 'running');
    assert.deepEqual(await sh(c, 'w1', 'cat /workspace/work/keep.txt'), { code: 0, out: 'kept\n' });

    agentDocker(env, ['rm', '-f', `berth-${w.id}`]);
    await eventually(async () => (await sh(c, 'w1', 'cat /workspace/work/keep.txt').catch(() => undefined))?.out === 'kept\n', 'the workspace to come back with its file', 60_000, 250);
  });

  test('a terminal: control plane → agent → container, with resize', async () => {
    const { conn, out } = await shellAnswers(c, 'w1');
    conn.resize(132, 43);
    // tmux's status line takes one row of the 43.
    // The resize travels apart from the input (an engine API call on the agent): ask until the shell sees it.
    await eventually(
      () => {
        if (/[^0-9]4[23] 132\r\n/.test(out())) return true;
        conn.write('stty size\n');
        return false;
      },
      'the resize to reach the process',
      20_000,
      500,
    );
    // The workspace shell runs in tmux: leaving it ends the session.
    conn.write('exit\n');
    assert.equal(typeof (await conn.done).code, 'number');
  });

  test("a commit pushed from inside the workspace reaches the upstream through the control plane's gateway", async () => {
    const r = await sh(c, 'w1', 'cd /workspace/work && git -c user.email=dev@example.com -c user.name=dev commit -q --allow-empty -m from-the-agent && git push -q origin HEAD 2>&1');
    assert.equal(r.code, 0, r.out);
    const branch = git(upstream, 'symbolic-ref', '--short', 'HEAD').trim();
    assert.equal(git(upstream, 'log', '-1', '--format=%s', branch).trim(), 'from-the-agent');
  });

  test('the link to the agent goes down during a terminal session: the terminal says so, and carries on with what it missed once the link is back', async () => {
    let out = '';
    const conn = c.exec('w1', { cmd: [], tty: true, cols: 100, rows: 30 }, { stdout: (d) => (out += d.toString()) });
    const seen = (re: RegExp, what: string, ms = 30_000) =>
      eventually(() => re.test(out), what, ms, 50).catch((err: Error) => {
        throw new Error(`${err.message}; the terminal showed ${JSON.stringify(out.slice(-2000))}`);
      });
    conn.write('echo before-$((1+1))\n');
    await seen(/before-2\r\n/, 'the shell to answer');
    conn.write('sleep 10; echo during-$((2+2))\n');
    await seen(/sleep 10; echo during/, 'the command to be typed');
    const link = (state: 'up' | 'down') => execFileSync('ip', ['link', 'set', 'berthag0', state]);
    link('down');
    try {
      await seen(/berth: The agent "edge" at \S+ is unreachable: [^\r]*; the session keeps running there, reconnecting…/, 'the terminal to say the link is lost');
    } finally {
      link('up');
    }
    await seen(/berth: reconnected to the agent\./, 'the terminal to re-attach', 60_000);
    await seen(/during-4\r\n/, 'the output printed while the link was down', 30_000);
    const after = out.slice(out.indexOf('reconnected to the agent'));
    assert.doesNotMatch(after, /before-2\r\n/, 'what was shown before is not shown again');
    conn.write('echo after-$((3+3))\n');
    await seen(/after-6\r\n/, 'the shell to answer after the outage');
    conn.write('exit\n');
    await conn.done;
  });

  test('the control plane stopped for a minute: the workspace keeps running, the agent repairs it alone, and everything re-syncs after the restart', async () => {
    const w = await c.getWorkspace('w1');
    const heartbeat = path.join(root, 'workspaces', w.id, 'heartbeat');
    const lastBeat = () => Number(fs.readFileSync(heartbeat, 'utf8').trim().split('\n').at(-1));
    const container = () => agentDocker(env, ['inspect', '-f', '{{.State.Running}} {{.Id}}', `berth-${w.id}`], true);
    // A process started before the outage writes the time every second, in its own session so that the exec's end leaves it be.
    assert.equal((await sh(c, 'w1', "setsid sh -c 'while :; do date +%s >> /workspace/heartbeat; sleep 1; done' </dev/null >/dev/null 2>&1 &")).code, 0);
    await eventually(() => fs.existsSync(heartbeat) && lastBeat() > 0, 'the heartbeat to start', 20_000, 100);
    const first = container();

    await server.kill9();
    const stoppedAt = Date.now();
    const since = (s: number) => Math.floor(stoppedAt / 1000) + s;
    // Half the minute: the process keeps writing, in the same container.
    await eventually(() => lastBeat() >= since(30), 'the heartbeat to go on for 30 s without the control plane', 60_000, 500);
    assert.equal(container(), first, 'the same container, never restarted');

    // Behind everyone's back; only the agent can notice.
    agentDocker(env, ['rm', '-f', `berth-${w.id}`]);
    const repaired = await eventually(() => (container().startsWith('true ') ? container().slice(5) : undefined), 'the agent to bring the workspace back without the control plane', 60_000, 250);
    assert.notEqual(`true ${repaired}`, first, 'a new container');
    // The rest of the minute: the repaired workspace keeps running (checked every second) while the control plane is still away.
    await eventually(
      () => {
        assert.equal(container(), `true ${repaired}`, 'the repaired workspace stays up');
        return Date.now() - stoppedAt >= 60_000;
      },
      'a minute without the control plane',
      60_000,
      1_000,
    );

    await server.restart();
    c = server.client();
    assert.equal((await waitPhase(c, 'w1', 'running')).id, w.id);
    // The control plane's view follows what the agent did meanwhile: the container it made in the outage.
    await eventually(async () => (await c.getWorkspace('w1')).details.container === repaired.slice(0, 12), "the control plane's view to show the repaired container", 60_000, 250);
    const beats = await sh(c, 'w1', 'tail -n 1 /workspace/heartbeat; cat /workspace/work/keep.txt');
    assert.equal(beats.code, 0);
    assert.ok(Number(beats.out.split('\n')[0]) >= since(30), `the heartbeat written during the outage is in the workspace: ${beats.out}`);
    assert.equal(beats.out.split('\n')[1], 'kept');
    const term = await shellAnswers(c, 'w1');
    term.conn.write('exit\n');
    assert.equal(typeof (await term.conn.done).code, 'number');
  });

  test("rm removes the workspace's container and files from the agent", async () => {
    const w = await c.getWorkspace('w1');
    await c.deleteWorkspace('w1');
    await waitGone(c, 'w1', 120_000);
    assert.equal(agentDocker(env, ['ps', '-aq', '--filter', `name=^berth-${w.id}$`]), '');
    assert.equal(fs.existsSync(path.join(root, 'workspaces', w.id)), false);
  });

  test('a revoked agent is refused at once: exec says so, and rm lets the workspace go', async () => {
    await c.createWorkspace({ name: 'w2', project: 'app', provisioner: 'remote', spec: { image: env.BERTH_TEST_IMAGE } });
    await waitPhase(c, 'w2', 'running', 180_000);
    await c.request('POST', '/api/v1/agents/edge/revoke');
    // Exec is refused at once: by the agent provisioner (revoked), or by the control plane once the reconciler saw it (failed).
    await assert.rejects(sh(c, 'w2', 'true'), /revoked|is failed/);
    await eventually(async () => /revoked/.test((await c.getWorkspace('w2')).message ?? ''), 'the workspace to say its agent was revoked', 30_000, 250);
    await c.deleteWorkspace('w2');
    await waitGone(c, 'w2', 60_000);
  });
});
