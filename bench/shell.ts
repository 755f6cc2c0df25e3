/**
 * Shell provisioner and API benchmarks:
 *  - create→ready of a shell workspace vs a plain `git clone` of the same repository
 *    (about 1,000 files and 500 commits), target ratio ≤ 1.5;
 *  - GET /api/v1/workspaces/:id throughput with 1,000 workspaces in the store vs a bare
 *    node:http server answering the same JSON, target ≥ 2,000 requests/s.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import autocannon from 'autocannon';
import { normalizeSpec } from '../src/core/spec.ts';
import { SqlStore } from '../src/store/sql-store.ts';
import { newWorkspaceRow } from '../src/store/store.ts';
import { TestServer, tempDir } from '../test/harness.ts';
import { compareTimes, median, reachPhase, report, type Result } from './lib.ts';
import { generatedRepo } from './repo.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);

async function createToReady(server: TestServer, repo: string): Promise<Result> {
  const c = server.client();
  await c.createProject({ name: 'bench', repo });
  const scratch = tempDir('berth-bench-clone-');
  const res = await compareTimes({
    name: 'shell create→ready',
    baselineName: 'git clone',
    runs: RUNS,
    maxRatio: 1.5,
    baseline: async (i) => {
      execFileSync('git', ['clone', '-q', repo, path.join(scratch, `c${i}`)]);
    },
    berth: async (i) => {
      const w = await c.createWorkspace({ name: `b${i}`, project: 'bench' });
      await reachPhase(c, w.id, 'running');
    },
  });
  fs.rmSync(scratch, { recursive: true, force: true });
  for (let i = 0; i < RUNS; i++) await c.deleteWorkspace(`b${i}`);
  return res;
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

async function load(url: string, token: string | undefined, paths: string[], seconds: number): Promise<number> {
  const samples: number[] = [];
  for (let round = 0; round < 3; round++) {
    const r = await autocannon({
      url,
      connections: 16,
      duration: seconds,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      requests: paths.map((p) => ({ method: 'GET', path: p })),
    });
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`load test saw ${r.non2xx} non-2xx answers and ${r.errors} errors`);
    samples.push(r.requests.average);
  }
  return median(samples);
}

async function getThroughput(): Promise<Result> {
  const N = 1000;
  const first = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
  await first.stop({ keep: true });
  await seed(first.dataDir, N);
  const server = await TestServer.start({ dataDir: first.dataDir, env: { BERTH_LOG_LEVEL: 'warn' } });
  const c = server.client();
  const ids = Array.from({ length: 50 }, (_, i) => `ws_${((i * 37) % N).toString(16).padStart(20, '0')}`);
  const sample = JSON.stringify(await c.getWorkspace(ids[0]!));
  const paths = ids.map((id) => `/api/v1/workspaces/${id}`);

  // Baseline: a bare node:http server answering the same JSON, no auth, no database.
  const bare = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(sample);
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}`;
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const baseline = await load(bareUrl, undefined, paths, seconds);
  const berth = await load(server.url, server.adminToken, paths, seconds);
  bare.close();
  await server.stop();
  fs.rmSync(first.dataDir, { recursive: true, force: true });
  return {
    name: `GET /api/v1/workspaces/:id (${N} workspaces)`,
    unit: 'req/s',
    berth,
    baseline,
    baselineName: 'bare node:http',
    ratio: berth / baseline,
    target: '>= 2000 req/s',
    met: berth >= 2000,
    runs: 3,
    samples: { berth: [berth], baseline: [baseline] },
  };
}

/** Runs both benchmarks. */
export async function run(): Promise<Result[]> {
  const repo = generatedRepo(1000, 500);
  const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
  try {
    const results = [await createToReady(server, repo)];
    await server.stop();
    results.push(await getThroughput());
    return results;
  } finally {
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) report(await run());
