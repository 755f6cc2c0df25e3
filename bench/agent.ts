/**
 * Agent benchmarks: the `agent` provisioner with `berth agent run` in the testenv's network
 * namespace (over the veth pair), each against a baseline on the same Docker engine:
 *  - create→ready through the agent vs the local `docker` provisioner driving that engine directly
 *    (ratio ≤ 1.15 on p50);
 *  - terminal echo round-trip (one byte to `cat` and back) through the agent vs `docker exec -i`
 *    (p99 within 2× of direct and under 5 ms), with its two legs timed in the same rounds (the
 *    engine's exec stream from Node, and a ping over the agent's TLS WebSocket);
 *  - `cat` of a 100 MB file through the agent vs `docker exec` (at least half the throughput: time
 *    ratio ≤ 2);
 *  - 200 concurrent sessions, each sending 1 KB to `cat` at 10 Hz for 60 s, through the agent vs as
 *    many `docker exec -i` sessions: round-trip latency, zero disconnects, and the memory of the
 *    control plane's side (this process) and of the agent printed. The baseline's tail is that of
 *    200 docker CLI processes on the same cores, so a ratio far below 1 there is flagged, not trusted;
 *  - time to first command through an enrolled agent and the SDK (agent-ttfc.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import crypto from 'node:crypto';
import os from 'node:os';
import Docker from 'dockerode';
import { AgentClient } from '../src/provisioners/agent/client.ts';
import type { AgentTlsMaterial } from '../src/provisioners/agent/directory.ts';
import { EXEC_PROTOCOL } from '../src/sdk/protocol.ts';
import type { ExecProcess, Provisioner, WorkspaceContext } from '../src/provisioners/provisioner.ts';
import { tempDir } from '../test/harness.ts';
import { MemoryAgentDirectory, agentProvisioner, agentRoot, agentTestEnv, startAgent, testPki, writeAgentKeys, type AgentTestEnv } from '../test/agent/fixtures.ts';
import { buildProvisioner, bundleProject, op, testRepo, workspaceContext, workspaceId } from '../test/provisioners/fixtures.ts';
import { QUICK, compareTimes, rotationOrder, runs, sampleRounds, timeMs } from './harness.ts';
import { agentTtfc } from './agent-ttfc.ts';
import { makeResult, type Result } from './lib.ts';

const BIG_MB = QUICK ? 8 : 100;
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? (QUICK ? 5 : 200));
const SESSION_SECONDS = Number(process.env.BENCH_SESSION_SECONDS ?? (QUICK ? 3 : 60));
/** Echo round-trips per side; BENCH_ECHO_RUNS samples the echo alone more (or less) than BENCH_RUNS does the rest. */
const ECHO_RUNS = Number(process.env.BENCH_ECHO_RUNS ?? runs(2000, 20));

/** A session of `cat` to load: its input, its output, and how it ended. */
interface LoadSession {
  stdin: NodeJS.WritableStream;
  stdout: NodeJS.ReadableStream;
  ended: Promise<unknown>;
}

/**
 * Opens `n` sessions, sends each 1 KB every 100 ms for `seconds`, and times every 1 KB's way back;
 * a session whose output ends before its input did counts as a disconnect.
 */
async function sessionLoad(open: () => Promise<LoadSession>, n: number, seconds: number): Promise<{ latencies: number[]; disconnects: number }> {
  const sessions: LoadSession[] = [];
  for (let i = 0; i < n; i += 20) sessions.push(...(await Promise.all(Array.from({ length: Math.min(20, n - i) }, open))));
  const latencies: number[] = [];
  let disconnects = 0;
  let stopping = false;
  const chunk = Buffer.alloc(1024, 'x');
  await Promise.all(
    sessions.map(async (s) => {
      const sent: bigint[] = [];
      let got = 0;
      let lost = false;
      s.stdout.on('data', (d: Buffer) => {
        got += d.length;
        while (sent.length && got >= 1024) {
          got -= 1024;
          latencies.push(Number(process.hrtime.bigint() - sent.shift()!) / 1e6);
        }
      });
      s.stdout.once('end', () => {
        if (!stopping) lost = true;
      });
      const deadline = Date.now() + seconds * 1000;
      // Spread the sessions' ticks over the period, as independent terminals would be.
      await new Promise((r) => setTimeout(r, Math.random() * 100));
      while (Date.now() < deadline && !lost) {
        sent.push(process.hrtime.bigint());
        s.stdin.write(chunk);
        await new Promise((r) => setTimeout(r, 100));
      }
      if (lost) disconnects++;
    }),
  );
  stopping = true;
  for (const s of sessions) s.stdin.end();
  await Promise.all(sessions.map((s) => s.ended));
  return { latencies, disconnects };
}

/** Resident memory of a process in MiB, from /proc. */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

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

/**
 * The two legs of the path through the agent, each timed on its own so that a slow run says where
 * the time went: the engine's hijacked exec stream as the agent's Node process drives it (here, from
 * this process, without the agent), and a ping over the agent's mutual-TLS WebSocket (the hop the
 * agent adds). Closes both with `close`.
 */
async function echoLegs(ws: WorkspaceContext, env: AgentTestEnv, tls: AgentTlsMaterial, url: string): Promise<{ engine: () => Promise<number>; hop: () => Promise<number>; close: () => void }> {
  const docker = new Docker({ socketPath: new URL(env.BERTH_TEST_AGENT_DOCKER_HOST).pathname });
  const exec = await docker.getContainer(`berth-${ws.id}`).exec({ Cmd: ['cat'], AttachStdin: true, AttachStdout: true });
  const engine = await exec.start({ hijack: true, stdin: true });
  const client = new AgentClient('bench', url, tls, 'bench');
  const sock = client.websocket(`/v1/workspaces/${ws.id}/exec`, EXEC_PROTOCOL);
  await new Promise((resolve, reject) => sock.once('open', resolve).once('error', reject));
  // An exec connection idles until its first message; a started `cat` keeps it open for the pings.
  sock.send(JSON.stringify({ cmd: ['cat'], tty: false }));
  await new Promise((resolve) => sock.once('message', resolve));
  const hop = () =>
    new Promise<number>((resolve) => {
      const t0 = process.hrtime.bigint();
      sock.once('pong', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
      sock.ping();
    });
  return {
    engine: () => echo(engine, engine),
    hop,
    close: () => {
      engine.end();
      sock.close();
      client.close();
    },
  };
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
    const legs = await echoLegs(main, env, directory.tls('bench'), agent.url);
    // Judged on p99 (the goal is about the tail), so sampled here rather than through compareTimes.
    const baselineName = 'docker exec -i on the agent host';
    const engineLeg = "leg 1: the engine's exec stream from Node (no agent)";
    const hopLeg = "leg 2: ping over the agent's mutual-TLS WebSocket";
    const [b, d, e, h] = await sampleRounds(
      [
        { name: 'berth', sample: () => echo(pair.berth.stdin, pair.berth.stdout) },
        { name: baselineName, sample: () => echo(pair.direct.stdin!, pair.direct.stdout!) },
        { name: engineLeg, sample: legs.engine },
        { name: hopLeg, sample: legs.hop },
      ],
      ECHO_RUNS,
      50,
    );
    results.push(
      makeResult({
        name: 'terminal echo round-trip through the agent',
        berth: b!,
        baseline: d!,
        baselineName,
        others: [
          { name: engineLeg, samples: e! },
          { name: hopLeg, samples: h! },
        ],
        ratioOf: 'p99',
        goal: { maxRatio: 2, maxBerthP99: 5 },
        warmup: 50,
        order: rotationOrder(4),
        extra: { loadavg: os.loadavg() },
      }),
    );
    pair.berth.stdin.end();
    pair.direct.stdin!.end();
    legs.close();

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

    const viaAgentLoad = await sessionLoad(
      async () => {
        const proc = await viaAgent.exec(main, { cmd: ['cat'], tty: false });
        return { stdin: proc.stdin, stdout: proc.stdout, ended: proc.exited };
      },
      SESSIONS,
      SESSION_SECONDS,
    );
    const memory = { controlPlaneSideMiB: rssMiB(process.pid), agentMiB: rssMiB(agent.proc.pid!) };
    process.stdout.write(`  ${SESSIONS} sessions through the agent: memory of the control plane's side ${memory.controlPlaneSideMiB} MiB, of the agent ${memory.agentMiB} MiB\n`);
    const directLoad = await sessionLoad(
      async () => {
        const c = spawn('docker', ['-H', env.BERTH_TEST_AGENT_DOCKER_HOST, 'exec', '-i', `berth-${main.id}`, 'cat'], { stdio: ['pipe', 'pipe', 'ignore'] });
        return { stdin: c.stdin, stdout: c.stdout, ended: new Promise((r) => c.once('close', r)) };
      },
      SESSIONS,
      SESSION_SECONDS,
    );
    const disconnects = viaAgentLoad.disconnects + directLoad.disconnects;
    results.push(
      makeResult({
        name: `${SESSIONS} sessions × 1 KB at 10 Hz for ${SESSION_SECONDS} s through the agent`,
        berth: viaAgentLoad.latencies,
        baseline: directLoad.latencies,
        baselineName: `as many docker exec -i sessions on the agent host`,
        ratioOf: 'p99',
        goal: { also: { text: '0 disconnects', met: viaAgentLoad.disconnects === 0 } },
        warmup: 0,
        order: 'berth first, then the baseline (each its own period of load)',
        extra: { memory, disconnects: { berth: viaAgentLoad.disconnects, baseline: directLoad.disconnects }, total: disconnects },
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
  return [...results, ...(await agentTtfc(env))];
}
