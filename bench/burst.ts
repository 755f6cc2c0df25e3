/**
 * Bursts: 100 parallel creates (5 in quick mode, BENCH_BURST to choose) on docker and on shell, each
 * create→ready against the p50 of single creates on the same server (goal: 0 failures and burst p99
 * ≤ 3× single p50), with the control plane's peak memory (RSS) and event-loop delay read from its
 * /metrics during the burst; then as many parallel deletes, which must leave no container, volume or
 * directory behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BerthClient } from '../src/sdk/client.ts';
import { TestServer, makeRepo, waitGone } from '../test/harness.ts';
import { cleanupEngines, containersWith, installationOf, testEnv, volumesWith } from '../test/docker/env.ts';
import { QUICK, burst, runs, timeMs } from './harness.ts';
import { makeResult, percentile, reachPhase, type Result } from './lib.ts';

const N = Number(process.env.BENCH_BURST ?? (QUICK ? 5 : 100));

/** Peak RSS and event-loop delay of the server, sampled from /metrics while `work` runs. */
async function watchServer<T>(server: TestServer, work: () => Promise<T>): Promise<{ value: T; rssMiB: number; lagMs: number; lagP99Ms: number }> {
  let rss = 0;
  let lag = 0;
  let lagP99 = 0;
  let on = true;
  const read = (text: string, name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? 0);
  const scrape = async () => (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } })).text().catch(() => '');
  // The event-loop figures cover the time since the previous scrape: one first, so the server's start-up is not counted.
  await scrape();
  const poll = (async () => {
    while (on) {
      const text = await scrape();
      rss = Math.max(rss, read(text, 'process_resident_memory_bytes'));
      lag = Math.max(lag, read(text, 'nodejs_eventloop_lag_max_seconds'), read(text, 'nodejs_eventloop_lag_seconds'));
      lagP99 = Math.max(lagP99, read(text, 'nodejs_eventloop_lag_p99_seconds'));
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    return { value: await work(), rssMiB: rss / 2 ** 20, lagMs: lag * 1000, lagP99Ms: lagP99 * 1000 };
  } finally {
    on = false;
    await poll;
  }
}

/** What a provisioner left on its backend: containers and volumes of this server, directories under its data directory. */
function leftovers(server: TestServer, installation: string, provisioner: string): string[] {
  const label = `berth.installation=${installation}`;
  const dir = path.join(server.dataDir, 'workspaces', provisioner);
  const dirs = fs.existsSync(dir) ? fs.readdirSync(dir).filter((d) => d.startsWith('ws_')) : [];
  return [...containersWith(label), ...volumesWith(label), ...dirs];
}

/** Singles, then a burst of creates and one of deletes, on one provisioner. */
async function burstOn(server: TestServer, installation: string, provisioner: string, spec: Record<string, unknown>): Promise<Result[]> {
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
    const del = await timeMs(async () => {
      await c.deleteWorkspace(id);
      await waitGone(c, id, 120_000);
    });
    // The first is a warm-up (the project's mirror is made then).
    if (i === 0) continue;
    single.push(ms);
    singleDelete.push(del);
  }

  const ids: string[] = [];
  const made = await watchServer(server, () => burst(N, async (k) => ids.push(await create(`b${k}`))));
  const gone = await watchServer(server, () =>
    burst(ids.length, async (k) => {
      await c.deleteWorkspace(ids[k]!);
      await waitGone(c, ids[k]!, 300_000);
    }),
  );
  const left = leftovers(server, installation, provisioner);
  const p99 = percentile(made.value.latencies, 99);
  const p50 = percentile(single, 50);
  for (const f of [...made.value.failures, ...gone.value.failures].slice(0, 5)) process.stderr.write(`${provisioner} burst failure: ${f}\n`);
  const serverFacts = (w: typeof made) => ({ peakRssMiB: Math.round(w.rssMiB), peakEventLoopLagMs: Math.round(w.lagMs), peakEventLoopLagP99Ms: Math.round(w.lagP99Ms) });
  process.stdout.write(`  ${provisioner} burst of ${N}: server peak RSS ${made.rssMiB.toFixed(0)} MiB, event-loop delay max ${made.lagMs.toFixed(0)} ms (p99 ${made.lagP99Ms.toFixed(0)} ms); deletes: RSS ${gone.rssMiB.toFixed(0)} MiB, delay max ${gone.lagMs.toFixed(0)} ms\n`);
  return [
    makeResult({
      name: `${provisioner} ${N} parallel creates, each create→ready`,
      berth: made.value.latencies.length ? made.value.latencies : [Number.NaN],
      baseline: single,
      baselineName: 'single create→ready (same server)',
      ratioOf: 'p99',
      goal: { also: { text: `0 failures (${made.value.failures.length}) and burst p99 <= 3x single p50 (${(p99 / p50).toFixed(2)}x)`, met: made.value.failures.length === 0 && p99 <= 3 * p50 } },
      warmup: 1,
      order: 'singles first, then the burst',
      extra: { parallel: N, failures: made.value.failures, server: serverFacts(made), p99OverSingleP50: p99 / p50 },
    }),
    makeResult({
      name: `${provisioner} ${N} parallel deletes, each delete→gone`,
      berth: gone.value.latencies.length ? gone.value.latencies : [Number.NaN],
      baseline: singleDelete,
      baselineName: 'single delete→gone (same server)',
      ratioOf: 'p99',
      goal: { also: { text: `0 failures (${gone.value.failures.length}) and nothing left (${left.length})`, met: gone.value.failures.length === 0 && left.length === 0 } },
      warmup: 1,
      order: 'singles first, then the burst',
      extra: { parallel: N, failures: gone.value.failures, left, server: serverFacts(gone) },
    }),
  ];
}

/** Runs the bursts on docker and shell against one server. */
export async function run(): Promise<Result[]> {
  const repo = makeRepo({ 'README.md': '# burst\n' });
  const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
  const installation = installationOf(server);
  try {
    await server.client().createProject({ name: 'bench', repo });
    return [...(await burstOn(server, installation, 'docker', { image: testEnv().BERTH_TEST_IMAGE })), ...(await burstOn(server, installation, 'shell', {}))];
  } finally {
    await server.stop();
    cleanupEngines(installation);
    fs.rmSync(repo, { recursive: true, force: true });
  }
}
