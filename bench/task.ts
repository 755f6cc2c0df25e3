/**
 * Benchmark: `task run` of N = 50 runs on one machine (shell provisioner, concurrency 4) against the
 * same work done with raw tools: N directories, each a `git clone` of the upstream, a branch, the
 * command, a commit, `git diff --stat` and a push of the branch, 4 at a time (removal untimed on
 * both sides). Berth does the same through workspaces: create, clone through the gateway, exec, commit,
 * diff, push through the gateway, delete. A one-run task is timed in the same rounds, so the time
 * each extra workspace adds is printed against the time of a single workspace. Goal: 0 failed runs.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { BerthClient } from '../src/sdk/client.ts';
import type { Task } from '../src/sdk/tasks.ts';
import { tempDir, TestServer } from '../test/harness.ts';
import { QUICK, compareTimes, rotationOrder, runs, warmups } from './harness.ts';
import { makeResult, type Result } from './lib.ts';
import { generatedRepo } from './repo.ts';

/** Runs per task; quick mode keeps the shape with a handful. */
const N = QUICK ? 4 : 50;
const CONCURRENCY = 4;
const CMD = 'echo $BERTH_TASK_INDEX > out.txt && git add -A && git commit -qm t';
const IDENTITY = { GIT_AUTHOR_NAME: 'Bench', GIT_AUTHOR_EMAIL: 'bench@example.com', GIT_COMMITTER_NAME: 'Bench', GIT_COMMITTER_EMAIL: 'bench@example.com' };

/** Runs a task to its end; returns its duration (from the request to the finished task) and its failed runs. */
async function timedTask(c: BerthClient, count: number, failures: string[]): Promise<number> {
  const t0 = performance.now();
  const started = await c.tasks.runTask({ project: 'bench', count, provisioner: 'shell', concurrency: CONCURRENCY, cmd: ['sh', '-c', CMD] });
  let done: Task | undefined;
  await c.tasks.followTask(started.id, (e) => {
    if (e.kind === 'task' && e.task.state !== 'running') done = e.task;
    return done !== undefined;
  });
  const ms = performance.now() - t0;
  done ??= await c.tasks.getTask(started.id);
  for (const r of done.runs.filter((x) => x.phase !== 'succeeded')) failures.push(`${started.id} run ${r.index}: ${r.message ?? r.phase}`);
  // Untimed: the workspaces are deleted before the next sample starts, so samples do not overlap.
  for (let left = 1; left > 0; ) {
    left = (await c.listWorkspaces()).filter((w) => w.name.startsWith(started.id)).length;
    if (left) await new Promise((r) => setTimeout(r, 200));
  }
  return ms;
}

function sh(script: string, cwd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', script, 'sh', ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...IDENTITY } });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('error', reject);
    p.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`raw run failed (${code}): ${err}`))));
  });
}

/**
 * The same work with raw tools: clone, branch, command, commit, diff --stat, push; `CONCURRENCY` at
 * a time. Returns the time of that work: the directories are removed afterwards, untimed, as a
 * task's workspaces are deleted after the task has ended.
 */
async function rawRuns(upstream: string, root: string, round: number, failures: string[]): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < N) {
      const i = next++;
      const dir = path.join(root, `raw-${round}-${i}`);
      const script = `git clone -q "$1" "$2" && cd "$2" && git checkout -q -B "$3" && start=$(git rev-parse HEAD) && BERTH_TASK_INDEX=$4 sh -c '${CMD}' && git diff --stat "$start" HEAD >/dev/null && git push -q origin "HEAD:refs/heads/$3"`;
      await sh(script, root, [upstream, dir, `raw/${round}/${i}`, String(i)]).catch((err: unknown) => void failures.push((err as Error).message));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const ms = performance.now() - t0;
  for (let i = 0; i < N; i++) fs.rmSync(path.join(root, `raw-${round}-${i}`), { recursive: true, force: true });
  return ms;
}

/** Runs the comparison and returns its results. */
export async function run(): Promise<Result[]> {
  const root = tempDir('berth-bench-task-');
  const upstream = path.join(root, 'upstream');
  fs.cpSync(generatedRepo(300, 50), upstream, { recursive: true });
  const server = await TestServer.start();
  const c = server.client();
  const failures: string[] = [];
  const rawFailures: string[] = [];
  const also = { text: `0 failed runs of ${N}`, met: true };
  try {
    await c.createProject({ name: 'bench', repo: upstream });
    let round = 0;
    const rounds = runs(3);
    const warmup = warmups(1);
    const single: number[] = [];
    const result = await compareTimes({
      name: `task run of ${N} workspaces (shell, ${CONCURRENCY} at a time)`,
      runs: rounds,
      warmup,
      goal: { maxRatio: 1.5, also },
      berth: async () => {
        const ms = await timedTask(c, N, failures);
        also.met = failures.length === 0;
        return ms;
      },
      baseline: { name: `raw git clone + command in ${N} directories, ${CONCURRENCY} at a time`, sample: () => rawRuns(upstream, root, round++, rawFailures) },
      others: [
        {
          name: 'task run of 1 workspace',
          sample: async (i) => {
            const ms = await timedTask(c, 1, failures);
            if (i >= 0) single.push(ms);
            return ms;
          },
        },
      ],
      extra: { n: N, concurrency: CONCURRENCY, failures, rawFailures },
    });
    // What each workspace beyond the first costs, from the same rounds: (T(N) - T(1)) / (N - 1).
    const perExtra = result.samples.berth!.map((t, i) => (t - single[i]!) / (N - 1));
    const extra = makeResult({
      name: `task run: time per extra workspace (N = ${N}) against a one-workspace task`,
      berth: perExtra.map((x) => Math.max(x, 0.001)),
      baseline: single,
      baselineName: 'task run of 1 workspace',
      goal: { maxRatio: 1, also },
      warmup,
      order: rotationOrder(3),
      extra: { n: N, concurrency: CONCURRENCY },
    });
    // Runs overlap CONCURRENCY at a time, so an extra workspace is meant to cost well under a whole
    // one: the "too good to believe" check of a Berth-against-baseline ratio does not apply here.
    delete extra.suspect;
    if (rawFailures.length) throw new Error(`the raw baseline failed: ${rawFailures[0]}`);
    return [result, extra];
  } finally {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
