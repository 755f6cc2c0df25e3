/**
 * API latency while a large workspace is deleted: GET /api/v1/workspaces/:id latency of another
 * workspace (p50/p95/p99/max) on an idle server vs while the shell provisioner removes a checkout
 * of 200,000 small files (a large node_modules). A delete that blocks the event loop shows up as a
 * p99 of seconds; the goal is a p99 at most 5× the idle one. Quick mode uses 2,000 files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApiError, type BerthClient } from '../src/sdk/client.ts';
import { TestServer, makeRepo } from '../test/harness.ts';
import { QUICK } from './harness.ts';
import { makeResult, reachPhase, type Result } from './lib.ts';

const FILES = QUICK ? 2_000 : 200_000;
/** Requests are sent on a fixed schedule, not one after the other, so a stalled server delays every request due meanwhile. */
const INTERVAL_MS = 5;
const IDLE_SAMPLES = QUICK ? 50 : 1000;
const WARMUP_SAMPLES = QUICK ? 10 : 50;
/** Upper bound on the probe during the delete (samples and time), so a delete that never ends cannot hang the run. */
const MAX_SAMPLES = 200_000;
const MAX_DELETE_MS = 10 * 60_000;
const PER_DIR = 1000;

/** Writes `n` small files into `dir/node_modules`, `PER_DIR` to a directory, as an installed dependency tree would. */
function fill(dir: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const pkg = path.join(dir, 'node_modules', `pkg${Math.floor(i / PER_DIR)}`);
    if (i % PER_DIR === 0) fs.mkdirSync(pkg, { recursive: true });
    fs.writeFileSync(path.join(pkg, `f${i % PER_DIR}.js`), `module.exports = ${i};\n`);
  }
}

/** GETs the workspace every INTERVAL_MS until `stop()` says so or MAX_SAMPLES were sent; returns the latencies (ms). */
async function probe(c: BerthClient, id: string, stop: (sent: number) => boolean): Promise<number[]> {
  const samples: number[] = [];
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  for (let sent = 0; sent < MAX_SAMPLES && failure === undefined && !stop(sent); sent++) {
    const t0 = performance.now();
    const p: Promise<void> = c.getWorkspace(id).then(
      () => void samples.push(performance.now() - t0),
      (err: unknown) => void (failure ??= err),
    );
    inflight.add(p);
    void p.then(() => inflight.delete(p));
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
  }
  await Promise.all(inflight);
  if (failure !== undefined) throw failure;
  return samples;
}

/** Resolves once the workspace is gone (GET answers 404), polling every 20 ms for at most MAX_DELETE_MS. */
async function gone(c: BerthClient, id: string): Promise<void> {
  for (const deadline = performance.now() + MAX_DELETE_MS; performance.now() < deadline; ) {
    try {
      await c.getWorkspace(id);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return;
      throw err;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`the workspace was not deleted within ${MAX_DELETE_MS / 1000} s`);
}

/** Runs the benchmark. */
export async function run(): Promise<Result[]> {
  const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
  try {
    const c = server.client();
    await c.createProject({ name: 'bench-delete', repo: makeRepo() });
    const w = await c.createWorkspace({ name: 'big', project: 'bench-delete' });
    const other = await c.createWorkspace({ name: 'probed', project: 'bench-delete' });
    await reachPhase(c, w.id, 'running');
    await reachPhase(c, other.id, 'running');
    const dir = (await c.getWorkspace(w.id)).details.directory;
    if (typeof dir !== 'string') throw new Error('the shell provisioner reported no workspace directory');
    const t0 = performance.now();
    fill(path.join(dir, 'work'), FILES);
    process.stdout.write(`Wrote ${FILES} files in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

    // Warm-up, then the idle baseline, then the same probe while the other workspace is deleted.
    await probe(c, other.id, (sent) => sent >= WARMUP_SAMPLES);
    const idle = await probe(c, other.id, (sent) => sent >= IDLE_SAMPLES);
    let deleted = false;
    const started = performance.now();
    const during = probe(c, other.id, () => deleted);
    await c.deleteWorkspace(w.id);
    await gone(c, w.id).finally(() => (deleted = true));
    const deleteMs = performance.now() - started;
    const busy = await during;
    if (fs.existsSync(dir)) throw new Error(`the workspace directory ${dir} is still there after the delete`);

    process.stdout.write(`  deleted ${FILES} files in ${(deleteMs / 1000).toFixed(1)} s\n`);
    return [
      makeResult({
        name: `GET /api/v1/workspaces/:id while deleting ${FILES} files`,
        berth: busy,
        baseline: idle,
        baselineName: 'the same GETs on an idle server',
        ratioOf: 'p99',
        goal: { maxRatio: 5 },
        warmup: WARMUP_SAMPLES,
        order: 'idle probe, then the same probe during the delete (one fixed-rate series each)',
        extra: { files: FILES, deleteMs, intervalMs: INTERVAL_MS },
      }),
    ];
  } finally {
    await server.stop();
  }
}
