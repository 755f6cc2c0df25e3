/**
 * Shell provisioner and API benchmarks:
 *  - create→ready of a shell workspace vs `git clone --no-hardlinks` of the same repository
 *    (about 1,000 files and 500 commits; objects copied, as the workspace's clone copies them),
 *    target ratio ≤ 1.5;
 *  - GET /api/v1/workspaces/:id throughput with 1,000 workspaces in the store vs a bare node:http
 *    server answering the same JSON in a process of its own, target ≥ 2,000 requests/s.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { normalizeSpec } from '../src/core/spec.ts';
import { SqlStore } from '../src/store/sql-store.ts';
import { newWorkspaceRow } from '../src/store/store.ts';
import { TestServer, tempDir, waitGone } from '../test/harness.ts';
import { QUICK, compareTimes, rotationOrder, runs, sampleRounds, warmups } from './harness.ts';
import { makeResult, reachPhase, type Result } from './lib.ts';
import { generatedRepo } from './repo.ts';

async function createToReady(server: TestServer, repo: string): Promise<Result> {
  const c = server.client();
  await c.createProject({ name: 'bench', repo });
  const scratch = tempDir('berth-bench-clone-');
  const made: string[] = [];
  try {
    return await compareTimes({
      name: 'shell create→ready',
      runs: runs(15),
      goal: { maxRatio: 1.5 },
      baseline: {
        name: 'git clone --no-hardlinks',
        sample: async (i) => void execFileSync('git', ['clone', '-q', '--no-hardlinks', repo, path.join(scratch, `c${i}`)]),
      },
      berth: async (i) => {
        const w = await c.createWorkspace({ name: `b${i < 0 ? `warm${-i}` : i}`, project: 'bench' });
        made.push(w.id);
        await reachPhase(c, w.id, 'running');
      },
    });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
    for (const id of made) await c.deleteWorkspace(id);
    for (const id of made) await waitGone(c, id);
  }
}

/** Writes `n` stopped workspaces straight into the store of a data directory. */
async function seed(dataDir: string, n: number): Promise<void> {
  const store = await SqlStore.create({ kind: 'sqlite', file: path.join(dataDir, 'berth.db') });
  const [admin] = await store.listUsers();
  const now = new Date().toISOString();
  const project = await store.createProject({ id: 'prj_seed0000000000000000', name: 'seed', repo_url: '/dev/null', branch: null, owner_id: admin!.id, credentials_enc: null, created_at: now });
  // An empty spec has no secrets, so its stored form is the plain JSON of the normalized spec.
  const spec = JSON.stringify(normalizeSpec({}));
  await store.transaction(async (tx) => {
    for (let i = 0; i < n; i++) {
      const id = `ws_${i.toString(16).padStart(20, '0')}`;
      await tx.createWorkspace(newWorkspaceRow({ id, name: `seed-${i}`, owner_id: admin!.id, project_id: project.id, provisioner: 'shell', spec_json: spec, desired: 'stopped', phase: 'stopped' }, now));
    }
  });
  await store.close();
}

/** Requests per second over one autocannon round; any error or non-2xx answer fails the benchmark. */
async function load(url: string, token: string | undefined, paths: string[], seconds: number): Promise<number> {
  const r = await autocannon({
    url,
    connections: 16,
    duration: seconds,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    requests: paths.map((p) => ({ method: 'GET', path: p })),
  });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`load test of ${url} saw ${r.non2xx} non-2xx answers and ${r.errors} errors`);
  return r.requests.average;
}

/** Starts bench/bare-server.ts as its own process answering `body`; resolves with its URL and a stop function. */
async function bareServer(body: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'bare-server.ts')], { env: { ...process.env, BENCH_BARE_BODY: body }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the bare baseline server did not start within 30 s')), 30_000);
    proc.stdout.on('data', (d: Buffer) => {
      const m = /port (\d+)/.exec((out += d.toString()));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => reject(new Error(`the bare baseline server exited with ${code}`)));
  });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  };
  return { url: `http://127.0.0.1:${port}`, stop };
}

async function getThroughput(): Promise<Result> {
  const N = 1000;
  const first = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
  await first.stop({ keep: true });
  await seed(first.dataDir, N);
  const server = await TestServer.start({ dataDir: first.dataDir, env: { BERTH_LOG_LEVEL: 'warn' } });
  let bare: Awaited<ReturnType<typeof bareServer>> | undefined;
  try {
    const c = server.client();
    const ids = Array.from({ length: 50 }, (_, i) => `ws_${((i * 37) % N).toString(16).padStart(20, '0')}`);
    bare = await bareServer(JSON.stringify(await c.getWorkspace(ids[0]!)));
    const paths = ids.map((id) => `/api/v1/workspaces/${id}`);
    const seconds = Number(process.env.BENCH_SECONDS ?? (QUICK ? 1 : 5));
    const warmup = warmups(1);
    const sides = [
      { name: 'berth', sample: () => load(server.url, server.adminToken, paths, seconds) },
      { name: 'bare node:http (own process)', sample: () => load(bare!.url, undefined, paths, seconds) },
    ];
    const [berth, baseline] = await sampleRounds(sides, runs(4), warmup);
    return makeResult({
      name: `GET /api/v1/workspaces/:id (${N} workspaces)`,
      unit: 'req/s',
      higherIsBetter: true,
      berth: berth!,
      baseline: baseline!,
      baselineName: sides[1]!.name,
      goal: { minBerthP50: 2000 },
      warmup,
      order: rotationOrder(2),
      extra: { secondsPerSample: seconds, connections: 16 },
    });
  } finally {
    await bare?.stop();
    await server.stop();
    fs.rmSync(first.dataDir, { recursive: true, force: true });
  }
}

/** Runs both benchmarks. */
export async function run(): Promise<Result[]> {
  const repo = generatedRepo(1000, 500);
  const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
  let results: Result[];
  try {
    results = [await createToReady(server, repo)];
  } finally {
    await server.stop();
  }
  results.push(await getThroughput());
  return results;
}
