/**
 * Docker provisioner benchmarks, each against its raw baseline in the same run, on the real local
 * engine of testenv:
 *  - create→ready of a docker workspace vs `docker run` + `git clone` of the same repository in the
 *    same image (target ratio ≤ 1.2);
 *  - start of a stopped workspace (a fresh container on kept storage) vs `docker start` of a
 *    stopped container (≤ 1.2);
 *  - 20 workspaces created in parallel: total time and failures (target: 0 failures).
 * Berth is driven through its API client (what the CLI and the web UI use); the baselines through
 * the docker CLI, as a person would type them.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { BerthClient } from '../src/sdk/client.ts';
import { TestServer, tempDir } from '../test/harness.ts';
import { cleanupEngines, installationOf, testEnv } from '../test/docker/env.ts';
import { compareTimes, median, reachPhase, report, timeMs, type Result } from './lib.ts';
import { generatedRepo } from './repo.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const PARALLEL = Number(process.env.BENCH_PARALLEL ?? 20);

function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: testEnv().BERTH_TEST_DOCKER_HOST }, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function createToReady(c: BerthClient, repo: string, image: string): Promise<Result> {
  const scratch = tempDir('berth-bench-docker-');
  const names: string[] = [];
  try {
    const res = await compareTimes({
      name: 'docker create→ready',
      baselineName: 'docker run + git clone',
      runs: RUNS,
      maxRatio: 1.2,
      baseline: async (i) => {
        const dir = path.join(scratch, `b${i}`);
        fs.mkdirSync(dir);
        const name = `berth-bench-baseline-${process.pid}-${i}`;
        names.push(name);
        docker('run', '-d', '--name', name, '-v', `${repo}:/src:ro`, '-v', `${dir}:/workspace`, image, 'sleep', 'infinity');
        docker('exec', name, 'git', 'clone', '-q', '/src', '/workspace/work');
      },
      berth: async (i) => {
        const w = await c.createWorkspace({ name: `b${i}`, project: 'bench', provisioner: 'docker', spec: { image } });
        await reachPhase(c, w.id, 'running');
      },
    });
    return res;
  } finally {
    if (names.length) docker('rm', '-f', ...names);
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** Start of a stopped workspace vs `docker start`; only the start is timed (compareTimes would time the stop that precedes it too). */
async function stopToStartTimed(c: BerthClient, image: string): Promise<Result> {
  const w = await c.createWorkspace({ name: 'restart', project: 'bench', provisioner: 'docker', spec: { image } });
  await reachPhase(c, w.id, 'running');
  const base = `berth-bench-start-${process.pid}`;
  docker('run', '-d', '--name', base, image, 'sleep', 'infinity');
  const b: number[] = [];
  const r: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      docker('stop', '-t', '0', base);
      b.push(await timeMs(async () => docker('start', base)));
      const last = (await c.lastEvent(w.id))?.id ?? 0;
      await c.stopWorkspace(w.id);
      await reachPhase(c, w.id, 'stopped', last);
      const t0 = (await c.lastEvent(w.id))?.id ?? 0;
      r.push(
        await timeMs(async () => {
          await c.startWorkspace(w.id);
          await reachPhase(c, w.id, 'running', t0);
        }),
      );
    }
  } finally {
    docker('rm', '-f', base);
  }
  const berth = median(r);
  const baseline = median(b);
  return { name: 'docker stop→start', unit: 'ms', berth, baseline, baselineName: 'docker start', ratio: berth / baseline, target: '<= 1.2', met: berth / baseline <= 1.2, runs: RUNS, samples: { berth: r, baseline: b } };
}

/** Runs a docker CLI command asynchronously (for the parallel baseline). */
function dockerAsync(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { env: { ...process.env, DOCKER_HOST: testEnv().BERTH_TEST_DOCKER_HOST } }, (err) => {
      if (err) reject(new Error(err.message));
      else resolve();
    });
  });
}

/** 20 workspaces created at once vs 20 parallel `docker run` + `git clone`; Berth must have no failures. */
async function parallelCreates(c: BerthClient, repo: string, image: string): Promise<Result> {
  let failures = 0;
  const messages: string[] = [];
  const scratch = tempDir('berth-bench-parallel-');
  const names = Array.from({ length: PARALLEL }, (_, i) => `berth-bench-par-${process.pid}-${i}`);
  let baselineFailures = 0;
  const baseline = await timeMs(async () => {
    await Promise.all(
      names.map(async (name, i) => {
        const dir = path.join(scratch, `p${i}`);
        fs.mkdirSync(dir);
        try {
          await dockerAsync('run', '-d', '--name', name, '-v', `${repo}:/src:ro`, '-v', `${dir}:/workspace`, image, 'sleep', 'infinity');
          await dockerAsync('exec', name, 'git', 'clone', '-q', '/src', '/workspace/work');
        } catch {
          baselineFailures++;
        }
      }),
    );
  });
  docker('rm', '-f', ...names);
  fs.rmSync(scratch, { recursive: true, force: true });
  const berth = await timeMs(async () => {
    const ws = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => c.createWorkspace({ name: `p${i}`, project: 'bench', provisioner: 'docker', spec: { image } })));
    await Promise.all(
      ws.map((w) =>
        reachPhase(c, w.id, 'running').catch((err: unknown) => {
          failures++;
          messages.push((err as Error).message);
        }),
      ),
    );
  });
  if (messages.length) process.stderr.write(`parallel create failures:\n${messages.join('\n')}\n`);
  return {
    name: `docker ${PARALLEL} parallel creates (${failures} failures; baseline ${baselineFailures})`,
    unit: 'ms',
    berth,
    baseline,
    baselineName: `${PARALLEL} parallel docker run + git clone`,
    ratio: berth / baseline,
    target: '0 failures',
    met: failures === 0,
    runs: 1,
    samples: { berth: [berth], baseline: [baseline] },
    extra: { failures, baselineFailures, perWorkspaceMs: Math.round(berth / PARALLEL) },
  };
}

/** Runs the three docker benchmarks against one server. */
export async function run(): Promise<Result[]> {
  const image = testEnv().BERTH_TEST_IMAGE;
  const repo = generatedRepo(1000, 500);
  const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
  const installation = installationOf(server);
  try {
    const c = server.client();
    await c.createProject({ name: 'bench', repo });
    // Warm-up outside the measurements: image metadata and the project mirror.
    const warm = await c.createWorkspace({ name: 'warm', project: 'bench', provisioner: 'docker', spec: { image } });
    await reachPhase(c, warm.id, 'running');
    docker('run', '--rm', image, 'true');
    const results = [await createToReady(c, repo, image), await stopToStartTimed(c, image), await parallelCreates(c, repo, image)];
    const par = results[2]!;
    process.stdout.write(`${PARALLEL} parallel creates: ${Math.round(par.berth)} ms total, ${String(par.extra?.failures)} failure(s)\n`);
    return results;
  } finally {
    await server.stop();
    cleanupEngines(installation);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) report(await run());
