/**
 * Bursts: 100 parallel creates (5 in quick mode, BENCH_BURST to choose) on docker and on shell, each
 * create→ready against the p50 of single creates on the same server (goal: 0 failures and burst p99
 * ≤ 3× single p50), with the control plane's peak memory (RSS) and event-loop delay read from its
 * /metrics during the burst; then as many parallel deletes, which must leave no container, volume or
 * directory behind.
 *
 * In the same run, the raw tools do the same creates as an equal-work baseline: per workspace a
 * fresh directory, a `git clone --no-hardlinks` of the project's repository into it and, on docker,
 * meanwhile a container created and started through the engine API on that directory, then an exec
 * of `echo ok` in it (shell: `sh -c 'echo ok'` in the clone). Like Berth's line of operations, the
 * raw burst runs at most RAW_CONCURRENCY workspaces at once (Berth's documented `maxConcurrentOps`
 * default), each latency counted from the burst's common start. The ratio of Berth's burst p99 to
 * the raw burst's p99 says how much of the distance to the 3× goal is the control plane's own.
 * Order: singles (the first a warm-up) and one raw warm-up workspace, then BENCH_BURST_ROUNDS (1)
 * rounds of one raw burst and one Berth burst, which goes first alternating from round to round.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { DEFAULT_MAX_CONCURRENT_OPS } from '../src/provisioners/provisioner.ts';
import type { BerthClient } from '../src/sdk/client.ts';
import { TestServer, makeRepo, tempDir, waitGone } from '../test/harness.ts';
import { cleanupEngines, containersWith, installationOf, testEnv, volumesWith } from '../test/docker/env.ts';
import { execEchoOk } from './engine-exec.ts';
import { QUICK, burst, burstRounds, runs, timeMs, type Burst, type BurstSide } from './harness.ts';
import { makeResult, percentile, reachPhase, type Result } from './lib.ts';

const execFileAsync = promisify(execFile);
const N = Number(process.env.BENCH_BURST ?? (QUICK ? 5 : 100));
const ROUNDS = Number(process.env.BENCH_BURST_ROUNDS ?? 1);
/** Workspaces the raw burst works on at once: the `maxConcurrentOps` default of Berth's docker and shell provisioners. */
const RAW_CONCURRENCY = DEFAULT_MAX_CONCURRENT_OPS;
/** Marks the raw burst's containers, so its clean-up finds them all. */
const LABEL = 'berth-bench.run';
const RUN = `burst-${process.pid}`;

/** What the control plane used while a burst ran: peak RSS and event-loop delay (max and p99), from /metrics. */
interface ServerFacts {
  rssMiB: number;
  lagMs: number;
  lagP99Ms: number;
}

/** Peak RSS and event-loop delay of the server, sampled from /metrics while `work` runs. */
async function watchServer<T>(server: TestServer, work: () => Promise<T>): Promise<{ value: T } & ServerFacts> {
  let rss = 0;
  let lag = 0;
  let lagP99 = 0;
  let on = true;
  const read = (text: string, name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? 0);
  const scrape = async () => (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } })).text().catch(() => '');
  // The event-loop figures cover the time since the previous scrape: one first, so the server's start-up is not counted.
  await scrape();
  const sample = async () => {
    const text = await scrape();
    rss = Math.max(rss, read(text, 'process_resident_memory_bytes'));
    lag = Math.max(lag, read(text, 'nodejs_eventloop_lag_max_seconds'), read(text, 'nodejs_eventloop_lag_seconds'));
    lagP99 = Math.max(lagP99, read(text, 'nodejs_eventloop_lag_p99_seconds'));
  };
  // Once a second, and once more at the end: each scrape reports the maximum delay since the previous one, so none is missed, and scrapes cost the server too.
  const poll = (async () => {
    while (on) {
      await new Promise((r) => setTimeout(r, 1000));
      await sample();
    }
  })();
  let value: T;
  try {
    value = await work();
  } finally {
    on = false;
    await poll;
  }
  await sample();
  return { value, rssMiB: rss / 2 ** 20, lagMs: lag * 1000, lagP99Ms: lagP99 * 1000 };
}

/**
 * Deletes a workspace and waits until it is gone as `berth ws rm --wait` does: following its events
 * until the server ends the stream, then one read to confirm (a 404). Polling every workspace ten
 * times a second instead would load the server it measures.
 */
async function removeWorkspace(c: BerthClient, id: string): Promise<void> {
  await c.deleteWorkspace(id);
  await c.followEvents(id, () => false).catch((err: unknown) => {
    if ((err as { status?: number }).status !== 404) throw err;
  });
  await waitGone(c, id, 300_000);
}

/** The larger of each figure over several bursts. */
function peak(a: ServerFacts, b: ServerFacts): ServerFacts {
  return { rssMiB: Math.max(a.rssMiB, b.rssMiB), lagMs: Math.max(a.lagMs, b.lagMs), lagP99Ms: Math.max(a.lagP99Ms, b.lagP99Ms) };
}

/** What a provisioner left on its backend: containers and volumes of this server, directories under its data directory. */
function leftovers(server: TestServer, installation: string, provisioner: string): string[] {
  const label = `berth.installation=${installation}`;
  const dir = path.join(server.dataDir, 'workspaces', provisioner);
  const dirs = fs.existsSync(dir) ? fs.readdirSync(dir).filter((d) => d.startsWith('ws_')) : [];
  return [...containersWith(label), ...volumesWith(label), ...dirs];
}

/** Starts `n` items of `fn`, at most `limit` at a time; each item's latency counts from the common start. */
async function boundedBurst(n: number, limit: number, fn: () => Promise<unknown>): Promise<Burst> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return burst(n, async () => {
    if (running >= limit) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  });
}

/** The raw tools doing one burst's creates: a clone per workspace and, on docker, a container through the engine API and an exec in it. */
class RawCreates {
  private readonly engine = new Docker({ socketPath: new URL(testEnv().BERTH_TEST_DOCKER_HOST).pathname });
  private readonly scratch = tempDir('berth-bench-burst-');
  private n = 0;

  /** `image` undefined: shell's work, the clone and `sh -c 'echo ok'` in it. */
  constructor(private readonly repo: string, private readonly image: string | undefined) {}

  /** One workspace: a fresh directory, the clone ‖ container create+start, then `echo ok` in it. */
  async create(): Promise<void> {
    const dir = path.join(this.scratch, `d${this.n++}`);
    fs.mkdirSync(dir);
    const clone = execFileAsync('git', ['clone', '-q', '--no-hardlinks', this.repo, path.join(dir, 'work')]);
    if (!this.image) {
      await clone;
      const { stdout } = await execFileAsync('sh', ['-c', 'echo ok'], { cwd: path.join(dir, 'work') });
      if (!stdout.includes('ok')) throw new Error('sh gave no output');
      return;
    }
    const [container] = await Promise.all([this.start(dir), clone]);
    await execEchoOk(container);
  }

  private async start(dir: string): Promise<Docker.Container> {
    const c = await this.engine.createContainer({ Image: this.image, Cmd: ['sleep', 'infinity'], Labels: { [LABEL]: RUN }, WorkingDir: '/workspace/work', HostConfig: { Binds: [`${dir}:/workspace`] } });
    await c.start();
    return c;
  }

  /** Removes the containers and directories made so far (and the scratch directory itself with `all`). */
  async remove(all = false): Promise<void> {
    if (this.image) {
      const list = await this.engine.listContainers({ all: true, filters: { label: [`${LABEL}=${RUN}`] } });
      await Promise.all(list.map((c) => this.engine.getContainer(c.Id).remove({ force: true })));
    }
    if (all) fs.rmSync(this.scratch, { recursive: true, force: true });
    else for (const d of fs.readdirSync(this.scratch)) fs.rmSync(path.join(this.scratch, d), { recursive: true, force: true });
  }
}

/** A Berth burst's result: its latencies against single operations on the same server (p99), with the goal it is held to. */
function burstResult(o: { name: string; made: Burst; single: number[]; singleName: string; others?: { name: string; samples: number[] }[]; goal: { text: string; met: boolean }; order: string; extra: Record<string, unknown> }): Result {
  return makeResult({
    name: o.name,
    berth: o.made.latencies.length ? o.made.latencies : [Number.NaN],
    baseline: o.single,
    baselineName: o.singleName,
    ...(o.others ? { others: o.others } : {}),
    ratioOf: 'p99',
    goal: { also: o.goal },
    warmup: 1,
    order: o.order,
    extra: { parallel: N, failures: o.made.failures, ...o.extra },
  });
}

/** The figures recorded with a result, whole numbers. */
function serverFacts(f: ServerFacts): Record<string, number> {
  return { peakRssMiB: Math.round(f.rssMiB), peakEventLoopLagMs: Math.round(f.lagMs), peakEventLoopLagP99Ms: Math.round(f.lagP99Ms) };
}

const NONE: ServerFacts = { rssMiB: 0, lagMs: 0, lagP99Ms: 0 };

/** Singles, then rounds of one raw burst and one Berth burst of creates (each Berth burst followed by one of deletes), on one provisioner. */
async function burstOn(server: TestServer, installation: string, provisioner: string, spec: Record<string, unknown>, raw: RawCreates): Promise<Result[]> {
  const c: BerthClient = server.client();
  const create = async (name: string) => {
    const w = await c.createWorkspace({ name, project: 'bench', provisioner, spec });
    await reachPhase(c, w.id, 'running');
    return w.id;
  };
  const single: number[] = [];
  const singleDelete: number[] = [];
  for (let i = 0; i < runs(10, 2) + 1; i++) {
    let id = '';
    const ms = await timeMs(async () => (id = await create(`s${i}`)));
    const del = await timeMs(() => removeWorkspace(c, id));
    // The first is a warm-up (the project's mirror is made then).
    if (i === 0) continue;
    single.push(ms);
    singleDelete.push(del);
  }
  // The raw side's warm-up: one workspace, untimed.
  await raw.create();
  await raw.remove();

  let ids: string[] = [];
  let made = NONE;
  let gone = NONE;
  const deletes: Burst = { latencies: [], failures: [] };
  const left: string[] = [];
  const berthSide: BurstSide = {
    name: 'berth',
    burst: async (round) => {
      ids = [];
      const w = await watchServer(server, () => burst(N, async (k) => ids.push(await create(`b${round}-${k}`))));
      made = peak(made, w);
      return w.value;
    },
    // The deletes are a burst of their own, timed here; what they leave is checked after each.
    cleanup: async () => {
      const w = await watchServer(server, () => burst(ids.length, (k) => removeWorkspace(c, ids[k]!)));
      gone = peak(gone, w);
      deletes.latencies.push(...w.value.latencies);
      deletes.failures.push(...w.value.failures);
      left.push(...leftovers(server, installation, provisioner));
    },
  };
  const rawSide: BurstSide = { name: 'raw', burst: () => boundedBurst(N, RAW_CONCURRENCY, () => raw.create()), cleanup: () => raw.remove() };
  // The machine's 1-minute load average after each burst: on a shared machine, what a reader needs to weigh the figures.
  const load: { raw: number[]; berth: number[] } = { raw: [], berth: [] };
  const loaded = (side: BurstSide, into: number[]): BurstSide => ({ ...side, burst: (round) => side.burst(round).finally(() => into.push(os.loadavg()[0]!)) });
  const [rawMade, berthMade] = await burstRounds([loaded(rawSide, load.raw), loaded(berthSide, load.berth)], ROUNDS);
  if (rawMade!.failures.length) throw new Error(`the raw baseline failed: ${rawMade!.failures[0]}`);
  for (const f of [...berthMade!.failures, ...deletes.failures].slice(0, 5)) process.stderr.write(`${provisioner} burst failure: ${f}\n`);

  const p99 = percentile(berthMade!.latencies, 99);
  const rawP99 = percentile(rawMade!.latencies, 99);
  const p50 = percentile(single, 50);
  const order = `singles first (the first a warm-up) and one raw warm-up workspace, then ${ROUNDS} round(s) of one raw burst and one Berth burst (raw first in even rounds)`;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  process.stdout.write(
    `  ${provisioner} burst of ${N}: berth p99 ${s(p99)} = ${(p99 / p50).toFixed(1)}x single p50; raw tools ${RAW_CONCURRENCY} at a time p99 ${s(rawP99)} = ${(rawP99 / p50).toFixed(1)}x single p50; berth/raw p99 ${(p99 / rawP99).toFixed(2)}\n` +
      `  load average after the raw burst ${load.raw.map((l) => l.toFixed(1)).join(', ')}, after Berth's ${load.berth.map((l) => l.toFixed(1)).join(', ')}; server peak RSS ${made.rssMiB.toFixed(0)} MiB, event-loop delay max ${made.lagMs.toFixed(0)} ms (p99 ${made.lagP99Ms.toFixed(0)} ms); deletes: RSS ${gone.rssMiB.toFixed(0)} MiB, delay max ${gone.lagMs.toFixed(0)} ms\n`,
  );
  const rawName = provisioner === 'docker' ? 'engine API create+start ‖ git clone, then exec' : 'git clone, then sh -c echo ok';
  return [
    burstResult({
      name: `${provisioner} ${N} parallel creates, each create→ready`,
      made: berthMade!,
      single,
      singleName: 'single create→ready (same server)',
      others: [{ name: `raw burst: ${rawName}, ${RAW_CONCURRENCY} at a time`, samples: rawMade!.latencies }],
      goal: { text: `0 failures (${berthMade!.failures.length}) and burst p99 <= 3x single p50 (${(p99 / p50).toFixed(2)}x)`, met: berthMade!.failures.length === 0 && p99 <= 3 * p50 },
      order,
      extra: { rounds: ROUNDS, rawConcurrency: RAW_CONCURRENCY, loadAfter: load, server: serverFacts(made), p99OverSingleP50: p99 / p50, rawP99OverSingleP50: rawP99 / p50, p99OverRawP99: p99 / rawP99 },
    }),
    burstResult({
      name: `${provisioner} ${N} parallel deletes, each delete→gone`,
      made: deletes,
      single: singleDelete,
      singleName: 'single delete→gone (same server)',
      goal: { text: `0 failures (${deletes.failures.length}) and nothing left (${left.length})`, met: deletes.failures.length === 0 && left.length === 0 },
      order,
      extra: { left, server: serverFacts(gone) },
    }),
  ];
}

/** The provisioners to run on: BENCH_BURST_ON (e.g. `shell`) narrows it, for profiling one of them. */
const ON = (process.env.BENCH_BURST_ON ?? 'docker shell').split(/[\s,]+/).filter(Boolean);

/** Runs the bursts on docker and shell against one server. */
export async function run(): Promise<Result[]> {
  const repo = makeRepo({ 'README.md': '# burst\n' });
  // BENCH_SERVER_NODE_OPTIONS reaches the server only, e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile it under the burst.
  const nodeOptions = process.env.BENCH_SERVER_NODE_OPTIONS;
  // The server's default re-check interval, as users run it: the test harness's 1 s would inspect every finished workspace each second of the burst.
  const server = await TestServer.start({ args: ['--reconcile-interval', '10s'], env: { BERTH_LOG_LEVEL: 'warn', ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) } });
  const installation = installationOf(server);
  const image = testEnv().BERTH_TEST_IMAGE;
  const raws = { docker: new RawCreates(repo, image), shell: new RawCreates(repo, undefined) };
  try {
    await server.client().createProject({ name: 'bench', repo });
    const out: Result[] = [];
    if (ON.includes('docker')) out.push(...(await burstOn(server, installation, 'docker', { image }, raws.docker)));
    if (ON.includes('shell')) out.push(...(await burstOn(server, installation, 'shell', {}, raws.shell)));
    return out;
  } finally {
    await server.stop();
    cleanupEngines(installation);
    await Promise.allSettled([raws.docker.remove(true), raws.shell.remove(true)]);
    fs.rmSync(repo, { recursive: true, force: true });
  }
}
