/**
 * Agent benchmarks: the `agent` provisioner with `berth agent run` in the testenv's network
 * namespace (over the veth pair), each against a baseline on the same Docker engine:
 *  - create→ready through the agent vs the local `docker` provisioner driving that engine directly
 *    (ratio ≤ 1.15 on p50);
 *  - terminal echo round-trip (one byte to `cat` and back) through the agent vs `docker exec -i`
 *    (p99 within 2× of direct and under 5 ms);
 *  - `cat` of a 100 MB file through the agent vs `docker exec` (at least half the throughput: time
 *    ratio ≤ 2).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import crypto from 'node:crypto';
import type { ExecProcess, Provisioner, WorkspaceContext } from '../src/provisioners/provisioner.ts';
import { tempDir } from '../test/harness.ts';
import { MemoryAgentDirectory, agentProvisioner, agentRoot, agentTestEnv, startAgent, testPki, writeAgentKeys, type AgentTestEnv } from '../test/agent/fixtures.ts';
import { buildProvisioner, bundleProject, op, testRepo, workspaceContext, workspaceId } from '../test/provisioners/fixtures.ts';
import { QUICK, compareTimes, rotationOrder, runs, sampleRounds, timeMs } from './harness.ts';
import { makeResult, type Result } from './lib.ts';

const BIG_MB = QUICK ? 8 : 100;

/** Resolves once `stream` has delivered `n` bytes in all. */
function readBytes(stream: NodeJS.ReadableStream, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const on = (d: Buffer) => {
      got += d.length;
      if (got >= n) {
        stream.off('data', on);
        stream.off('error', reject);
        resolve();
      }
    };
    stream.on('data', on);
    stream.once('error', reject);
  });
}

/** A long-running `cat` both ways: through the agent, and as `docker exec -i` on the agent's engine. */
async function echoPair(p: Provisioner, ws: WorkspaceContext, env: AgentTestEnv): Promise<{ berth: ExecProcess; direct: ChildProcess }> {
  const berth = await p.exec(ws, { cmd: ['cat'], tty: false });
  const direct = spawn('docker', ['-H', env.BERTH_TEST_AGENT_DOCKER_HOST, 'exec', '-i', `berth-${ws.id}`, 'cat'], { stdio: ['pipe', 'pipe', 'ignore'] });
  return { berth, direct };
}

/** Round-trips of one byte through a `cat`: the time from write to its echo. */
async function echo(stdin: NodeJS.WritableStream, stdout: NodeJS.ReadableStream): Promise<number> {
  const back = readBytes(stdout, 1);
  const t0 = process.hrtime.bigint();
  stdin.write('x');
  await back;
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Runs the agent benchmarks. */
export async function run(): Promise<Result[]> {
  const env = agentTestEnv();
  const root = agentRoot();
  const pki = await testPki();
  const fingerprint = await writeAgentKeys(root, pki, env.BERTH_TEST_AGENT_AGENT_IP);
  const agent = await startAgent(env, root, { extraEnv: { BERTH_AGENT_LOG_LEVEL: 'warn' } });
  const directory = new MemoryAgentDirectory(pki);
  directory.add('bench', agent.url, fingerprint);
  const viaAgent = await agentProvisioner(directory, root, {}, `bench${process.pid}`);
  const dataDir = tempDir('berth-bench-agent-docker-');
  const direct = await buildProvisioner('docker', { dockerHost: env.BERTH_TEST_AGENT_DOCKER_HOST }, dataDir, `benchd${process.pid}`);
  const repo = testRepo().dir;
  const made: { p: Provisioner; ws: WorkspaceContext }[] = [];
  const create = async (p: Provisioner) => {
    const ws = workspaceContext(workspaceId(), bundleProject(repo), { image: env.BERTH_TEST_IMAGE });
    made.push({ p, ws });
    return timeMs(() => p.provision(ws, op()));
  };
  const results: Result[] = [];
  try {
    results.push(
      await compareTimes({
        name: 'agent create→ready',
        berth: () => create(viaAgent),
        baseline: { name: 'docker provisioner on the same engine', sample: () => create(direct) },
        runs: runs(10, 1),
        goal: { maxRatio: 1.15 },
      }),
    );

    const main = made[0]!.ws;
    const pair = await echoPair(viaAgent, main, env);
    // Judged on p99 (the goal is about the tail), so sampled here rather than through compareTimes.
    const baselineName = 'docker exec -i on the agent host';
    const [b, d] = await sampleRounds(
      [
        { name: 'berth', sample: () => echo(pair.berth.stdin, pair.berth.stdout) },
        { name: baselineName, sample: () => echo(pair.direct.stdin!, pair.direct.stdout!) },
      ],
      runs(2000, 20),
      50,
    );
    results.push(makeResult({ name: 'terminal echo round-trip through the agent', berth: b!, baseline: d!, baselineName, ratioOf: 'p99', goal: { maxRatio: 2, maxBerthP99: 5 }, warmup: 50, order: rotationOrder(2) }));
    pair.berth.stdin.end();
    pair.direct.stdin!.end();

    // A file of incompressible bytes inside the workspace, read to the end both ways.
    fs.writeFileSync(`${root}/workspaces/${main.id}/big.bin`, crypto.randomBytes(BIG_MB * 1024 * 1024));
    const bytes = BIG_MB * 1024 * 1024;
    results.push(
      await compareTimes({
        name: `cat of ${BIG_MB} MB through the agent`,
        berth: async () => {
          const proc = await viaAgent.exec(main, { cmd: ['cat', '/workspace/big.bin'], tty: false });
          proc.stdin.end();
          await readBytes(proc.stdout, bytes);
          await proc.exited;
        },
        baseline: {
          name: 'docker exec cat on the agent host',
          sample: async () => {
            const c = spawn('docker', ['-H', env.BERTH_TEST_AGENT_DOCKER_HOST, 'exec', `berth-${main.id}`, 'cat', '/workspace/big.bin'], { stdio: ['ignore', 'pipe', 'ignore'] });
            await readBytes(c.stdout, bytes);
            await new Promise((r) => c.once('close', r));
          },
        },
        runs: runs(10, 1),
        goal: { maxRatio: 2 },
      }),
    );
  } finally {
    for (const { p, ws } of made) await p.destroy(ws, op()).catch(() => undefined);
    await viaAgent.close();
    await direct.close();
    await agent.stop();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}
