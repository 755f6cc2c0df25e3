/**
 * CLI start-up benchmarks, each against `docker exec C true` in a plain container of the same
 * image, on the real local engine of testenv (target ratio ≤ 1.5, issue 8):
 *  - `berth --help`: start-up alone, no server round trip;
 *  - `berth ws exec W -- true` in a docker workspace: start-up, WebSocket, exec in the container.
 * Every sample is a fresh process, as a person or a script would run them; the order of the two
 * sides alternates each round so machine noise falls evenly. BENCH_QUICK=1 takes few samples.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { BERTH_BIN, TestServer, makeRepo } from '../test/harness.ts';
import { cleanupEngines, docker, installationOf, removeWorkspaces, testEnv } from '../test/docker/env.ts';
import { median, percentile, reachPhase, report, timeMs, type Result } from './lib.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const RUNS = Number(process.env.BENCH_RUNS ?? (QUICK ? 5 : 30));
const WARMUP = QUICK ? 2 : 5;
const MAX_RATIO = 1.5;
/** No single sample may hang the benchmark. */
const SAMPLE_TIMEOUT_MS = 30_000;

const execFileAsync = promisify(execFile);

/** A command timed as a child process, failing loudly when it does not exit 0. */
type Cmd = { file: string; args: string[]; env: NodeJS.ProcessEnv };

async function timeCmd(c: Cmd): Promise<number> {
  return timeMs(() => execFileAsync(c.file, c.args, { env: c.env, timeout: SAMPLE_TIMEOUT_MS, killSignal: 'SIGKILL' }));
}

function spread(xs: number[]): Record<string, number> {
  const r = (n: number) => Math.round(n * 10) / 10;
  return { p50: r(median(xs)), p95: r(percentile(xs, 95)), p99: r(percentile(xs, 99)), max: r(Math.max(...xs)) };
}

/** Warm-up, then `RUNS` rounds of both commands, berth first in even rounds and baseline first in odd ones. */
async function compareCommands(name: string, berth: Cmd, baseline: Cmd, baselineName: string): Promise<Result> {
  for (let i = 0; i < WARMUP; i++) {
    await timeCmd(berth);
    await timeCmd(baseline);
  }
  const r: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    if (i % 2 === 0) {
      r.push(await timeCmd(berth));
      b.push(await timeCmd(baseline));
    } else {
      b.push(await timeCmd(baseline));
      r.push(await timeCmd(berth));
    }
  }
  const ratio = median(r) / median(b);
  return {
    name,
    unit: 'ms',
    berth: median(r),
    baseline: median(b),
    baselineName,
    ratio,
    target: `<= ${MAX_RATIO}`,
    met: ratio <= MAX_RATIO,
    runs: RUNS,
    samples: { berth: r, baseline: b },
    extra: { berth: spread(r), baseline: spread(b), warmup: WARMUP },
  };
}

/** Runs both comparisons against one server, one docker workspace and one plain container. */
export async function run(): Promise<Result[]> {
  const env = testEnv();
  const image = env.BERTH_TEST_IMAGE;
  const repo = makeRepo();
  const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
  const installation = installationOf(server);
  const container = `berth-bench-cli-${process.pid}`;
  let workspace: string | undefined;
  try {
    const c = server.client();
    await c.createProject({ name: 'bench', repo });
    const w = await c.createWorkspace({ name: 'cli', project: 'bench', provisioner: 'docker', spec: { image } });
    workspace = w.id;
    await reachPhase(c, w.id, 'running');
    docker(['run', '-d', '--name', container, image, 'sleep', 'infinity']);

    // The CLI as a user runs it, logged in through the environment; no login file is read.
    const cliEnv = { ...process.env, BERTH_URL: server.url, BERTH_TOKEN: server.adminToken, BERTH_CONFIG: path.join(server.dataDir, 'no-cli-config.json') };
    const berth = (...args: string[]): Cmd => ({ file: process.execPath, args: [BERTH_BIN, ...args], env: cliEnv });
    const dockerEnv = { ...process.env, DOCKER_HOST: env.BERTH_TEST_DOCKER_HOST };
    const baseline: Cmd = { file: 'docker', args: ['exec', container, 'true'], env: dockerEnv };
    const baselineName = 'docker exec C true';

    const results = [
      await compareCommands('berth --help', berth('--help'), baseline, baselineName),
      await compareCommands('berth ws exec W -- true', berth('ws', 'exec', 'cli', '--', 'true'), baseline, baselineName),
    ];
    for (const r of results) {
      const e = r.extra as { berth: Record<string, number>; baseline: Record<string, number> };
      process.stdout.write(`  ${r.name}: berth p50/p95/p99 ${e.berth.p50}/${e.berth.p95}/${e.berth.p99} ms; ${baselineName} ${e.baseline.p50}/${e.baseline.p95}/${e.baseline.p99} ms\n`);
    }
    return results;
  } finally {
    docker(['rm', '-f', container], { allowFail: true });
    if (workspace) await removeWorkspaces(server.client(), workspace).catch((err: unknown) => process.stderr.write(`workspace removal failed: ${(err as Error).message}\n`));
    await server.stop();
    cleanupEngines(installation);
    fs.rmSync(repo, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) report(await run());
