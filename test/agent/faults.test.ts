/**
 * The agent killed with SIGKILL in the middle of its work: mid-provision (during setup) and
 * mid-delete (during teardown). After a restart it converges by itself on the desired state it
 * persisted: one container and every file after a provision, nothing at all after a delete. And
 * the agent's Docker engine restarted under it: the workspace comes back on its files.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { OpOptions, Provisioner, WorkspaceContext } from '../../src/provisioners/provisioner.ts';
import { ROOT, eventually } from '../harness.ts';
import { bundleProject, op, run, testRepo, workspaceContext, workspaceId } from '../provisioners/fixtures.ts';
import { MemoryAgentDirectory, agentDocker, agentProvisioner, agentRoot, agentTestEnv, startAgent, testPki, writeAgentKeys, type RunningAgent } from './fixtures.ts';

const env = agentTestEnv();

describe('agent: kill -9 mid-provision and mid-delete, and its engine restarted', () => {
  const root = agentRoot();
  let agent: RunningAgent;
  let port: number;
  let p: Provisioner;
  let ws: WorkspaceContext;
  const start = () => startAgent(env, root, { port, extraEnv: { BERTH_AGENT_RESYNC_MS: '1000' } });
  const containers = () => agentDocker(env, ['ps', '-a', '--filter', `name=^berth-${ws.id}$`, '--format', '{{.State}}']).split('\n').filter(Boolean);
  /** Operation options that kill the agent as soon as a progress line matches `re`. */
  const killOn = (re: RegExp): OpOptions & { killed: Promise<void> } => {
    let fire!: () => void;
    const killed = new Promise<void>((r) => (fire = r));
    let done = false;
    return {
      ...op(),
      progress: (line) => {
        if (done || !re.test(line)) return;
        done = true;
        void agent.kill().then(fire);
      },
      killed,
    };
  };

  before(async () => {
    const pki = await testPki();
    const fingerprint = await writeAgentKeys(root, pki, env.BERTH_TEST_AGENT_AGENT_IP);
    agent = await startAgent(env, root);
    port = Number(new URL(agent.url).port);
    const directory = new MemoryAgentDirectory(pki);
    directory.add('a1', agent.url, fingerprint);
    p = await agentProvisioner(directory, root);
    ws = workspaceContext(workspaceId(), bundleProject(testRepo().dir), {
      image: env.BERTH_TEST_IMAGE,
      setup: ['echo setup-begins', 'sleep 3', 'date +%s%N > /workspace/setup-done'],
      teardown: ['echo teardown-begins', 'sleep 3'],
    });
  });
  after(async () => {
    await agent?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('mid-provision: the restarted agent finishes the provision; one container, no file lost', async () => {
    await p.provision(ws, op());
    assert.equal((await run(p, ws, ['sh', '-c', 'echo kept > /workspace/work/keep.txt'])).code, 0);
    const setupBefore = fs.readFileSync(path.join(root, 'workspaces', ws.id, 'setup-done'), 'utf8');

    const o = killOn(/setup-begins/);
    await assert.rejects(p.provision(ws, o), /unreachable/);
    await o.killed;
    agent = await start();
    // No call from the control plane: the agent resumes the provision it had persisted.
    await eventually(() => fs.readFileSync(path.join(root, 'workspaces', ws.id, 'setup-done'), 'utf8') !== setupBefore, 'the restarted agent to finish the setup', 60_000, 200);
    assert.equal((await p.provision(ws, op())).state, 'running');
    assert.deepEqual(containers(), ['running'], 'one container');
    assert.equal((await run(p, ws, ['cat', '/workspace/work/keep.txt'])).stdout, 'kept\n');
  });

  test("the agent's Docker engine restarted: the agent brings the workspace back on its files", async () => {
    const before = agentDocker(env, ['inspect', '-f', '{{.State.StartedAt}}', `berth-${ws.id}`]);
    execFileSync(path.join(ROOT, 'testenv', 'berth-testenv'), ['restart-agent-docker'], { stdio: 'ignore' });
    await eventually(
      () => {
        const now = agentDocker(env, ['inspect', '-f', '{{.State.Running}} {{.State.StartedAt}}', `berth-${ws.id}`], true);
        return now.startsWith('true ') && !now.endsWith(before);
      },
      'the agent to start the workspace again after its engine came back',
      90_000,
      250,
    );
    assert.equal((await p.inspect(ws.id)).state, 'running');
    assert.equal((await run(p, ws, ['cat', '/workspace/work/keep.txt'])).stdout, 'kept\n');
    assert.deepEqual(containers(), ['running'], 'one container');
  });

  test('mid-delete: the restarted agent finishes the delete; nothing is left', async () => {
    const o = killOn(/teardown-begins/);
    await assert.rejects(p.destroy(ws, o), /unreachable/);
    await o.killed;
    agent = await start();
    // Done when its desired state is gone: the agent removes that last.
    await eventually(() => !fs.existsSync(path.join(root, 'state', `${ws.id}.json`)), 'the restarted agent to finish the delete', 60_000, 200);
    assert.deepEqual(containers(), [], 'no container');
    assert.equal(fs.existsSync(path.join(root, 'workspaces', ws.id)), false, 'no files');
    await p.destroy(ws, op());
    assert.deepEqual(await p.inspect(ws.id), { state: 'absent', storage: false });
  });
});
