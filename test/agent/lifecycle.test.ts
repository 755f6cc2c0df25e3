/**
 * The agent as an operator relies on it, through the `agent` provisioner and a real `berth agent
 * run` in the testenv's network namespace: files survive stop/start and a `docker rm -f` (which the
 * agent repairs by itself, without the control plane); a kill -9 of the agent leaves the workspace
 * running, is reported as "unreachable" (never as absent), and the restarted agent adopts it; and
 * the refusals: no or foreign client certificates, a server certificate other than the enrolled one,
 * and ids or keys that would leave the agent's root.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { AgentClient } from '../../src/provisioners/agent/client.ts';
import type { Provisioner, WorkspaceContext } from '../../src/provisioners/provisioner.ts';
import { EXEC_PROTOCOL } from '../../src/sdk/protocol.ts';
import { eventually } from '../harness.ts';
import { bundleProject, op, run, testRepo, workspaceContext, workspaceId } from '../provisioners/fixtures.ts';
import { issue, selfSigned } from './certs.ts';
import { MemoryAgentDirectory, agentDocker, agentProvisioner, agentRoot, agentTestEnv, startAgent, testPki, writeAgentKeys, type RunningAgent, type TestPki } from './fixtures.ts';

const env = agentTestEnv();

describe('agent: lifecycle, restarts and refusals (berth agent run in netns berth-agent)', () => {
  const root = agentRoot();
  let agent: RunningAgent;
  let directory: MemoryAgentDirectory;
  let pki: TestPki;
  let fingerprint: string;
  let p: Provisioner;
  let ws: WorkspaceContext;
  const start = (port = 0) => startAgent(env, root, { port, labels: { zone: 'test' }, extraEnv: { BERTH_AGENT_RESYNC_MS: '1000' } });
  const containers = (id: string) => agentDocker(env, ['ps', '-a', '--filter', `name=^berth-${id}$`, '--format', '{{.Names}} {{.State}}']).split('\n').filter(Boolean);

  before(async () => {
    pki = await testPki();
    fingerprint = await writeAgentKeys(root, pki, env.BERTH_TEST_AGENT_AGENT_IP);
    agent = await start();
    directory = new MemoryAgentDirectory(pki);
    directory.add('a1', agent.url, fingerprint);
    p = await agentProvisioner(directory, root, { labels: 'zone=test' });
    ws = workspaceContext(workspaceId(), bundleProject(testRepo().dir), { image: env.BERTH_TEST_IMAGE });
  });
  after(async () => {
    await p?.destroy(ws, op()).catch(() => undefined);
    await p?.close();
    await agent?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('placed by labels and pinned; a file survives stop/start, and a docker rm -f that the agent repairs by itself', async () => {
    const status = await p.provision(ws, op());
    assert.equal(status.state, 'running');
    assert.equal(await directory.pinOf(ws.id), 'a1', 'the workspace is pinned to the agent that holds its files');
    assert.ok(fs.existsSync(path.join(root, 'workspaces', ws.id, 'work', '.git')), "the checkout is under the agent's root");
    assert.equal((await run(p, ws, ['sh', '-c', 'echo kept > /workspace/work/keep.txt'])).code, 0);

    // The event stream tells a listener what happens, as it happens.
    const events: { type: string; id: string }[] = [];
    const client = new AgentClient('a1', agent.url, directory.tls('a1'), 'test');
    const stream = client.websocket('/v1/events');
    await new Promise((r) => stream.once('open', r));
    stream.on('message', (d: Buffer) => events.push(JSON.parse(d.toString()) as { type: string; id: string }));
    await p.stop(ws, op());
    assert.deepEqual([(await p.inspect(ws.id)).state, (await p.inspect(ws.id)).storage], ['stopped', true]);
    await p.provision(ws, op());
    await eventually(() => events.some((e) => e.id === ws.id && e.type === 'status') && events.some((e) => e.id === ws.id && e.type === 'progress'), 'status and progress events', 10_000, 50);
    stream.close();
    client.close();
    assert.equal((await run(p, ws, ['cat', '/workspace/work/keep.txt'])).stdout, 'kept\n');

    const before = agentDocker(env, ['inspect', '-f', '{{.Id}}', `berth-${ws.id}`]);
    agentDocker(env, ['rm', '-f', `berth-${ws.id}`]);
    // No call from the control plane: the agent's own reconciler notices and brings it back.
    await eventually(() => agentDocker(env, ['inspect', '-f', '{{.State.Running}} {{.Id}}', `berth-${ws.id}`], true).startsWith('true ') || undefined, 'the agent re-creates the removed container', 60_000, 250);
    assert.notEqual(agentDocker(env, ['inspect', '-f', '{{.Id}}', `berth-${ws.id}`]), before, 'a new container');
    assert.equal((await run(p, ws, ['cat', '/workspace/work/keep.txt'])).stdout, 'kept\n', 'the file survived');
    assert.equal(containers(ws.id).length, 1);

    // The workspace container gets nothing of the host but its own directories under the agent's root.
    const [c] = JSON.parse(agentDocker(env, ['inspect', `berth-${ws.id}`])) as { Mounts: { Source: string }[]; HostConfig: { Privileged: boolean; NetworkMode: string } }[];
    assert.ok(c!.Mounts.length > 0 && c!.Mounts.every((m) => m.Source.startsWith(`${root}/`)), JSON.stringify(c!.Mounts));
    assert.deepEqual([c!.HostConfig.Privileged, c!.HostConfig.NetworkMode], [false, 'bridge']);
  });

  test('kill -9 of the agent: the workspace keeps running, is reported unreachable (not absent), and is adopted after the restart', async () => {
    await p.provision(ws, op());
    const port = Number(new URL(agent.url).port);
    await agent.kill();
    await assert.rejects(p.inspect(ws.id), (err: Error) => /agent "a1" at .* is unreachable: nothing listens on its control port/.test(err.message));
    assert.match(containers(ws.id).join('\n'), /running/, 'the workspace runs on while the agent is away');
    agent = await start(port);
    const status = await p.inspect(ws.id);
    assert.equal(status.state, 'running');
    assert.equal((await run(p, ws, ['cat', '/workspace/work/keep.txt'])).stdout, 'kept\n');
    assert.deepEqual(containers(ws.id), [`berth-${ws.id} running`], 'adopted: still one container');
  });

  test("exec runs in the cwd asked for inside the workspace's mount; a cwd outside it is refused by the agent", async () => {
    assert.equal((await run(p, ws, ['sh', '-c', 'mkdir -p /workspace/work/sub && pwd'])).stdout, '/workspace/work\n', 'the checkout by default');
    assert.equal((await run(p, ws, ['pwd'], { cwd: '/workspace/work/sub' })).stdout, '/workspace/work/sub\n');
    for (const cwd of ['/etc', '/workspace/../etc']) {
      await assert.rejects(run(p, ws, ['pwd'], { cwd }), /cwd must be a directory inside the workspace's mount \/workspace/, cwd);
    }
  });

  test('terminal streams are not compressed: the agent declines permessage-deflate even when a client offers it', async () => {
    const tls = directory.tls('a1');
    const u = new URL(`/v1/workspaces/${ws.id}/exec`, agent.url);
    u.protocol = 'wss:';
    const sock = new WebSocket(u, [EXEC_PROTOCOL], { key: tls.key, cert: tls.cert, ca: tls.ca, checkServerIdentity: (() => undefined) as unknown as () => boolean, perMessageDeflate: true });
    try {
      await new Promise((resolve, reject) => sock.once('open', resolve).once('error', reject));
      assert.equal(sock.extensions, '', 'no extension negotiated');
    } finally {
      sock.close();
    }
  });

  test('client certificates: none, self-signed and from another CA are refused; so is a server certificate other than the enrolled one', async () => {
    const url = new URL('/v1/info', agent.url);
    const bare = (o: https.RequestOptions) =>
      new Promise<string>((resolve, reject) => {
        const req = https.request(url, { ...o, ca: pki.ca.cert, checkServerIdentity: () => undefined }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        });
        req.on('error', reject);
        req.end();
      });
    assert.match(await bare({}), /^401 .*requires a client certificate issued by its control plane's CA; none was presented/);
    const self = await selfSigned('intruder', false);
    assert.match(await bare({ key: self.key, cert: self.cert }), /^401 .*refuses the client certificate \\"intruder\\": it is self-signed/);
    const otherCa = await selfSigned('another CA');
    const foreign = await issue(otherCa, 'another control plane', {});
    assert.match(await bare({ key: foreign.key, cert: foreign.cert }), /^401 .*it was issued by another CA/);
    const expired = await issue(pki.ca, 'old control plane', { notAfter: new Date(Date.now() - 30_000) });
    assert.match(await bare({ key: expired.key, cert: expired.cert }), /^401 .*it has expired/);
    assert.match(await bare({ key: pki.client.key, cert: pki.client.cert }), /^200 /, 'the control plane itself is let in');
    // Enrollment pins the control plane's client certificate: another one from the same CA is refused.
    const sibling = await issue(pki.ca, 'another client of the same CA', {});
    fs.writeFileSync(path.join(root, 'keys', 'clients'), `${new crypto.X509Certificate(pki.client.cert).fingerprint256}\n`);
    try {
      assert.match(await bare({ key: sibling.key, cert: sibling.cert }), /^401 .*not the one its enrollment pinned/);
      assert.match(await bare({ key: pki.client.key, cert: pki.client.cert }), /^200 /);
    } finally {
      fs.rmSync(path.join(root, 'keys', 'clients'));
    }

    const foreignClient = new AgentClient('a1', agent.url, { key: foreign.key, cert: foreign.cert, ca: pki.ca.cert, fingerprint }, 'test');
    await assert.rejects(foreignClient.json('GET', '/v1/info'), /The agent "a1" refused: This agent refuses the client certificate "another control plane": it was issued by another CA/);
    const wsFrom = (c: AgentClient) =>
      new Promise<string>((resolve) => {
        const s = c.websocket('/v1/events');
        s.on('open', () => resolve('open'));
        s.on('error', (err) => resolve(err.message));
      });
    assert.match(await wsFrom(foreignClient), /401/, 'the WebSocket routes refuse it too');
    foreignClient.close();
    const wrongPin = new AgentClient('a1', agent.url, { key: pki.client.key, cert: pki.client.cert, ca: pki.ca.cert, fingerprint: crypto.randomBytes(32).toString('hex') }, 'test');
    await assert.rejects(wrongPin.json('GET', '/v1/info'), /is not the one enrolled for agent "a1"/);
    wrongPin.close();
  });

  test('no agent matching the label selector: the provision is refused saying why, and nothing is pinned', async () => {
    const elsewhere = await agentProvisioner(directory, root, { labels: 'zone=elsewhere' });
    const other = workspaceContext(workspaceId(), bundleProject(testRepo().dir), { image: env.BERTH_TEST_IMAGE });
    await assert.rejects(elsewhere.provision(other, op()), /No agent can take a new workspace for provisioner "agents" \(labels zone=elsewhere\): a1: labels do not match\./);
    assert.equal(await directory.pinOf(other.id), undefined);
    await elsewhere.close();
  });

  test('spec.ports are not published: the agent runs without --allow-ports', async () => {
    const withPorts = workspaceContext(workspaceId(), bundleProject(testRepo().dir), { image: env.BERTH_TEST_IMAGE, ports: [{ port: 8080 }] });
    try {
      await p.provision(withPorts, op());
      assert.equal(agentDocker(env, ['inspect', '-f', '{{json .HostConfig.PortBindings}}', `berth-${withPorts.id}`]).replace('null', '{}'), '{}');
      assert.equal(agentDocker(env, ['port', `berth-${withPorts.id}`]), '');
    } finally {
      await p.destroy(withPorts, op());
    }
  });

  test('a control plane speaking another protocol version is refused in words', async () => {
    const tls = directory.tls('a1');
    const answer = await new Promise<string>((resolve, reject) => {
      const req = https.request(new URL('/v1/info', agent.url), { key: tls.key, cert: tls.cert, ca: tls.ca, checkServerIdentity: () => undefined, headers: { 'berth-protocol': '2', 'berth-version': '9.0.0' } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      });
      req.on('error', reject);
      req.end();
    });
    assert.match(answer, /^400 .*The agent \(Berth [0-9.]+\) speaks agent protocol v1 and the control plane \(Berth 9\.0\.0\) speaks v2; upgrade the agent to a Berth release with protocol v2\./);
  });

  test('the workspace token stays out of the agent\'s log; its desired state (which holds it) is readable by the agent alone', async () => {
    assert.ok(!agent.output().includes(ws.env.BERTH_WORKSPACE_TOKEN!), 'not in the log');
    assert.equal(fs.statSync(path.join(root, 'state', `${ws.id}.json`)).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(root, 'state')).mode & 0o777, 0o700);
  });

  test("ids, user ids and project names that would leave the agent's root are refused", async () => {
    const c = new AgentClient('a1', agent.url, directory.tls('a1'), 'test');
    try {
      await assert.rejects(c.json('GET', '/v1/workspaces/..%2F..%2Fetc'), /Refused workspace id/);
      const bad = (patch: (w: ReturnType<typeof wire>) => void) => {
        const w = wire();
        patch(w);
        return c.json('PUT', `/v1/workspaces/${w.id}`, { body: { desired: 'running', workspace: w } });
      };
      await assert.rejects(bad((w) => (w.owner.id = '../../../etc')), /Refused user id/);
      await assert.rejects(bad((w) => (w.project.name = '..')), /Refused project name/);
      await assert.rejects(bad((w) => (w.spec.userData = ['/proc/self'])), /userData/);
      assert.deepEqual(fs.readdirSync(path.join(root, 'userdata')), [], 'nothing was created');
    } finally {
      c.close();
    }
    function wire() {
      const w = workspaceContext(workspaceId(), { name: 'p', cloneUrl: 'file:///nonexistent' }, { image: env.BERTH_TEST_IMAGE });
      return { id: w.id, name: w.name, owner: { ...w.owner }, project: { name: 'p', cloneUrl: 'file:///nonexistent' }, spec: { ...w.spec }, env: w.env };
    }
  });
});
