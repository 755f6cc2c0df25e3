/**
 * Docker provisioner benchmarks on the real local engine of testenv, each against a baseline that
 * does the same work with the raw tools:
 *  - create→ready vs engine-API create+start of a container on a bind directory while a plain
 *    `git clone --no-hardlinks` runs into that directory at the same time, as Berth does it
 *    (target ratio ≤ 1.2); the naive script `docker run` then `docker exec … git clone` is shown
 *    as a second, labelled figure;
 *  - stop→start (a fresh container on kept storage) vs engine-API create+start of a fresh
 *    container on the kept directory (≤ 1.2); `docker start` of a stopped container shown too;
 *  - parallel creates (20; 3 in quick mode) vs as many raw creates with clones: 0 failures.
 * Berth is driven through its API client (what the CLI and the web UI use).
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import type { BerthClient } from '../src/sdk/client.ts';
import { TestServer, tempDir, waitGone } from '../test/harness.ts';
import { cleanupEngines, installationOf, testEnv } from '../test/docker/env.ts';
import { QUICK, burst, burstRounds, compareTimes, runs, timeMs } from './harness.ts';
import { makeResult, reachPhase, type Result } from './lib.ts';
import { generatedRepo } from './repo.ts';

const PARALLEL = Number(process.env.BENCH_PARALLEL ?? (QUICK ? 3 : 20));
/** Marks every raw container of this run, so clean-up finds them all. */
const LABEL = 'berth-bench.run';
const RUN = `docker-${process.pid}`;
const execFileAsync = promisify(execFile);

function dockerCli(...args: string[]): Promise<unknown> {
  return execFileAsync('docker', args, { env: { ...process.env, DOCKER_HOST: testEnv().BERTH_TEST_DOCKER_HOST } });
}

/** `git clone --no-hardlinks` on this host: objects copied, as a workspace checkout copies them from the mirror. */
function gitClone(src: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('git', ['clone', '-q', '--no-hardlinks', src, dest], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('error', reject);
    p.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`git clone failed (${code}): ${err}`))));
  });
}

/** The raw tools' side: containers through the engine API, clones on the host. */
class Raw {
  private readonly engine = new Docker({ socketPath: new URL(testEnv().BERTH_TEST_DOCKER_HOST).pathname });
  private readonly scratch = tempDir('berth-bench-docker-');
  private n = 0;

  constructor(
    private readonly image: string,
    private readonly repo: string,
  ) {}

  /** A fresh bind directory. */
  dir(): string {
    const d = path.join(this.scratch, `d${this.n++}`);
    fs.mkdirSync(d);
    return d;
  }

  /** Engine API create+start of a container on `dir` (mounted at /workspace); returns its id. */
  async start(dir: string, name?: string): Promise<string> {
    const c = await this.engine.createContainer({ name, Image: this.image, Cmd: ['sleep', 'infinity'], Labels: { [LABEL]: RUN }, HostConfig: { Binds: [`${dir}:/workspace`] } });
    await c.start();
    return c.id;
  }

  /** What Berth does for a create, with the raw tools: the container starts while the clone runs. */
  async create(): Promise<string> {
    const dir = this.dir();
    const [id] = await Promise.all([this.start(dir), gitClone(this.repo, path.join(dir, 'work'))]);
    return id;
  }

  /** The naive script: `docker run`, then `docker exec … git clone` inside, one after the other. */
  async naive(): Promise<void> {
    const dir = this.dir();
    const name = `berth-bench-naive-${process.pid}-${this.n}`;
    await dockerCli('run', '-d', '--label', `${LABEL}=${RUN}`, '--name', name, '-v', `${this.repo}:/src:ro`, '-v', `${dir}:/workspace`, this.image, 'sleep', 'infinity');
    await dockerCli('exec', name, 'git', 'clone', '-q', '/src', '/workspace/work');
  }

  /** Force-removes the named containers, or all of this run and their bind directories (and, with `all`, the scratch directory itself). */
  async remove(ids?: string[], all = false): Promise<void> {
    const list = ids ?? (await this.engine.listContainers({ all: true, filters: { label: [`${LABEL}=${RUN}`] } })).map((c) => c.Id);
    await Promise.all(list.map((id) => this.engine.getContainer(id).remove({ force: true }).catch(() => undefined)));
    if (ids) return;
    if (all) fs.rmSync(this.scratch, { recursive: true, force: true });
    else for (const d of fs.readdirSync(this.scratch)) fs.rmSync(path.join(this.scratch, d), { recursive: true, force: true });
  }
}

/** Deletes workspaces and waits until they are gone. */
async function removeAll(c: BerthClient, ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => c.deleteWorkspace(id)));
  await Promise.all(ids.map((id) => waitGone(c, id, 120_000)));
  ids.length = 0;
}

const label = (i: number) => (i < 0 ? `warm${-i}` : String(i));

async function createToReady(c: BerthClient, raw: Raw, image: string): Promise<Result> {
  const made: string[] = [];
  try {
    return await compareTimes({
      name: 'docker create→ready',
      runs: runs(15),
      goal: { maxRatio: 1.2 },
      berth: async (i) => {
        const w = await c.createWorkspace({ name: `c${label(i)}`, project: 'bench', provisioner: 'docker', spec: { image } });
        made.push(w.id);
        await reachPhase(c, w.id, 'running');
      },
      baseline: { name: 'engine API create+start ‖ git clone', sample: async () => void (await raw.create()) },
      others: [{ name: 'naive CLI: docker run; docker exec git clone', sample: () => raw.naive() }],
    });
  } finally {
    await raw.remove();
    await removeAll(c, made);
  }
}

/** Start of a stopped workspace vs a fresh container on a kept directory; only the start is timed. */
async function stopToStart(c: BerthClient, raw: Raw, image: string): Promise<Result> {
  const w = await c.createWorkspace({ name: 'restart', project: 'bench', provisioner: 'docker', spec: { image } });
  await reachPhase(c, w.id, 'running');
  const dir = raw.dir();
  let fresh = await raw.start(dir);
  const stopped = await raw.start(raw.dir());
  try {
    return await compareTimes({
      name: 'docker stop→start',
      runs: runs(15),
      goal: { maxRatio: 1.2 },
      berth: async () => {
        const last = (await c.lastEvent(w.id))?.id ?? 0;
        await c.stopWorkspace(w.id);
        await reachPhase(c, w.id, 'stopped', last);
        const t0 = (await c.lastEvent(w.id))?.id ?? 0;
        return timeMs(async () => {
          await c.startWorkspace(w.id);
          await reachPhase(c, w.id, 'running', t0);
        });
      },
      baseline: {
        name: 'engine API create+start on the kept directory',
        sample: async () => {
          await raw.remove([fresh]);
          return timeMs(async () => (fresh = await raw.start(dir)));
        },
      },
      others: [
        {
          name: 'docker start of a stopped container',
          sample: async () => {
            await dockerCli('stop', '-t', '0', stopped);
            return timeMs(() => dockerCli('start', stopped));
          },
        },
      ],
    });
  } finally {
    await raw.remove();
    await removeAll(c, [w.id]);
  }
}

/** PARALLEL creates at once through Berth vs as many raw creates; Berth must have no failures. */
async function parallelCreates(c: BerthClient, raw: Raw, image: string): Promise<Result> {
  const made: string[] = [];
  const rounds = runs(2);
  const [berth, baseline] = await burstRounds(
    [
      {
        name: 'berth',
        burst: (round) =>
          burst(PARALLEL, async (k) => {
            const w = await c.createWorkspace({ name: `p${round}-${k}`, project: 'bench', provisioner: 'docker', spec: { image } });
            made.push(w.id);
            await reachPhase(c, w.id, 'running');
          }),
        cleanup: () => removeAll(c, made),
      },
      { name: 'raw', burst: () => burst(PARALLEL, () => raw.create()), cleanup: () => raw.remove() },
    ],
    rounds,
  );
  if (berth!.failures.length) process.stderr.write(`parallel create failures:\n${berth!.failures.join('\n')}\n`);
  return makeResult({
    name: `docker ${PARALLEL} parallel creates, each create→ready`,
    berth: berth!.latencies,
    baseline: baseline!.latencies,
    baselineName: `${PARALLEL} parallel engine API create+start ‖ git clone`,
    goal: { also: { text: `0 failures (${berth!.failures.length}; baseline ${baseline!.failures.length})`, met: berth!.failures.length === 0 } },
    warmup: 0,
    order: `${rounds} burst round(s), the side going first alternating`,
    extra: { parallel: PARALLEL, failures: berth!.failures, baselineFailures: baseline!.failures },
  });
}

/** Runs the three docker benchmarks against one server. */
export async function run(): Promise<Result[]> {
  const image = testEnv().BERTH_TEST_IMAGE;
  const repo = generatedRepo(1000, 500);
  const raw = new Raw(image, repo);
  const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
  const installation = installationOf(server);
  try {
    const c = server.client();
    await c.createProject({ name: 'bench', repo });
    return [await createToReady(c, raw, image), await stopToStart(c, raw, image), await parallelCreates(c, raw, image)];
  } finally {
    await server.stop();
    cleanupEngines(installation);
    await raw.remove(undefined, true);
  }
}
