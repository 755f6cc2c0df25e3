/**
 * Time to first command: from the create request to the first `exec` returning output, with a warm
 * pool (`--warm-pool`), on the real local Docker engine of testenv and on shell, through the SDK and
 * through the CLI, each against the raw tools doing the same on a checkout cloned beforehand:
 *  - docker, SDK: engine API create+start of a container on a pre-cloned directory, then an exec
 *    of `echo ok` (goal: berth p50 ≤ 110 ms and p95 ≤ 280 ms, Daytona's published figures); the
 *    naive `docker run -d` + `docker exec`, a cold Berth create (no pool entry) and the raw tools'
 *    own warm pool (an exec in a container started beforehand: Berth's overhead) shown too;
 *  - docker, CLI: `berth ws create --wait` + `berth ws exec -- echo ok` vs `docker run -d` + `docker exec`;
 *  - shell, SDK and CLI: against `sh -c 'echo ok'` in a pre-cloned directory (what the host gives for free);
 *  - the cold path for a large repository (5,000 commits): CLI-inclusive `berth ws create --wait`
 *    vs `docker run -d` while `git clone --no-hardlinks` runs (goal: ratio ≤ 1.2);
 *  - the first command on a cold workspace of the large repository: docker through the SDK against
 *    engine API create+start while `git clone --no-hardlinks` runs, then an exec; shell through the
 *    SDK and the CLI against `git clone --no-hardlinks` then `sh -c 'echo ok'`.
 * Kubernetes and the agent have their ttfc in bench/kubernetes-ttfc.ts and bench/agent-ttfc.ts.
 * Before every Berth sample the pool is full again (untimed); each workspace is deleted after its
 * sample (untimed), so the machine carries the same load in every round.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import type { BerthClient } from '../src/sdk/client.ts';
import { BERTH_BIN, TestServer, eventually, makeRepo, tempDir, waitGone } from '../test/harness.ts';
import { cleanupEngines, installationOf, testEnv } from '../test/docker/env.ts';
import { execEchoOk } from './engine-exec.ts';
import { compareTimes, runs, timeMs, warmups } from './harness.ts';
import { firstOutput, reachPhase, type Result } from './lib.ts';
import { generatedRepo } from './repo.ts';

const execFileAsync = promisify(execFile);
/** Entries per pool: a claim's refill need not finish before the next sample's pool check. */
const POOL = 2;
/** Marks every raw container of this run, so clean-up finds them all. */
const LABEL = 'berth-bench.run';
const RUN = `ttfc-${process.pid}`;

const label = (i: number) => (i < 0 ? `w${-i}` : String(i));

/** Runtimes ready in the pool of `provisioner` for project `small`, from /metrics. */
async function poolReady(server: TestServer, provisioner: string): Promise<number> {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } });
  const m = new RegExp(`^berth_warm_pool_ready\\{provisioner="${provisioner}",project="small"\\} (\\d+)$`, 'm').exec(await res.text());
  return m ? Number(m[1]) : 0;
}

/** The raw tools: containers through the engine API or the docker CLI, on directories cloned beforehand. */
class Raw {
  private readonly engine = new Docker({ socketPath: new URL(testEnv().BERTH_TEST_DOCKER_HOST).pathname });
  private readonly scratch = tempDir('berth-bench-ttfc-');
  private readonly dockerEnv = { ...process.env, DOCKER_HOST: testEnv().BERTH_TEST_DOCKER_HOST };
  private n = 0;

  constructor(private readonly image: string) {}

  /** A fresh directory with a clone of `repo` (untimed preparation, as a pool's checkout is). */
  async cloned(repo: string): Promise<string> {
    const d = path.join(this.scratch, `d${this.n++}`);
    await execFileAsync('git', ['clone', '-q', '--no-hardlinks', repo, path.join(d, 'work')]);
    return d;
  }

  /** Engine API create+start on `dir`, then an exec of `echo ok` read to its output. */
  async apiRunExec(dir: string): Promise<void> {
    await this.apiExec(await this.apiStart(dir));
  }

  /** Engine API create+start of a container on `dir`. */
  async apiStart(dir: string): Promise<Docker.Container> {
    const c = await this.engine.createContainer({ Image: this.image, Cmd: ['sleep', 'infinity'], Labels: { [LABEL]: RUN }, WorkingDir: '/workspace/work', HostConfig: { Binds: [`${dir}:/workspace`] } });
    await c.start();
    return c;
  }

  /** An exec of `echo ok` in a running container, read to its output. */
  async apiExec(c: Docker.Container): Promise<void> {
    await execEchoOk(c);
  }

  /** `docker run -d` on `dir`, then `docker exec C echo ok`. */
  async cliRunExec(dir: string): Promise<void> {
    const name = `berth-bench-ttfc-${process.pid}-${this.n++}`;
    await execFileAsync('docker', ['run', '-d', '--label', `${LABEL}=${RUN}`, '--name', name, '-v', `${dir}:/workspace`, '-w', '/workspace/work', this.image, 'sleep', 'infinity'], { env: this.dockerEnv });
    const { stdout } = await execFileAsync('docker', ['exec', name, 'echo', 'ok'], { env: this.dockerEnv });
    if (!stdout.includes('ok')) throw new Error('docker exec gave no output');
  }

  /** `docker run -d` while `git clone --no-hardlinks` of `repo` runs on this host: the cold create, raw. */
  async cliRunClone(repo: string): Promise<void> {
    const d = path.join(this.scratch, `d${this.n++}`);
    fs.mkdirSync(d);
    const run = execFileAsync('docker', ['run', '-d', '--label', `${LABEL}=${RUN}`, '-v', `${d}:/workspace`, this.image, 'sleep', 'infinity'], { env: this.dockerEnv });
    await Promise.all([run, execFileAsync('git', ['clone', '-q', '--no-hardlinks', repo, path.join(d, 'work')])]);
  }

  /** Engine API create+start while `git clone --no-hardlinks` of `repo` runs, then an exec of `echo ok`: the cold create and first command, raw. */
  async apiCloneExec(repo: string): Promise<void> {
    const d = path.join(this.scratch, `d${this.n++}`);
    fs.mkdirSync(d);
    const [c] = await Promise.all([this.apiStart(d), execFileAsync('git', ['clone', '-q', '--no-hardlinks', repo, path.join(d, 'work')])]);
    await this.apiExec(c);
  }

  /** `git clone --no-hardlinks` of `repo`, then `sh -c 'echo ok'` in it: a cold shell workspace, raw. */
  async cloneShellExec(repo: string): Promise<void> {
    const d = path.join(this.scratch, `d${this.n++}`);
    await execFileAsync('git', ['clone', '-q', '--no-hardlinks', repo, path.join(d, 'work')]);
    await this.shellExec(d);
  }

  /** `sh -c 'echo ok'` in `dir`: what a shell workspace amounts to, on this host. */
  async shellExec(dir: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const p = spawn('sh', ['-c', 'echo ok'], { cwd: path.join(dir, 'work'), stdio: ['ignore', 'pipe', 'inherit'] });
      p.stdout.once('data', () => resolve());
      p.once('error', reject);
    });
  }

  /** Removes every container and directory of this run (and the scratch directory itself with `all`). */
  async remove(all = false): Promise<void> {
    const list = await this.engine.listContainers({ all: true, filters: { label: [`${LABEL}=${RUN}`] } });
    await Promise.all(list.map((c) => this.engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    if (all) fs.rmSync(this.scratch, { recursive: true, force: true });
    else for (const d of fs.readdirSync(this.scratch)) fs.rmSync(path.join(this.scratch, d), { recursive: true, force: true });
  }
}

/** One ttfc suite's context. */
interface Ctx {
  server: TestServer;
  c: BerthClient;
  raw: Raw;
  image: string;
  small: string;
}

/** A Berth sample: waits (untimed) for a full pool, times `fn`, then deletes the workspace (untimed). */
function berthSample(ctx: Ctx, provisioner: string | undefined, fn: (name: string) => Promise<string>): (i: number) => Promise<number> {
  return async (i) => {
    if (provisioner) await eventually(async () => (await poolReady(ctx.server, provisioner)) >= POOL, `the ${provisioner} pool to refill`, 120_000, 20);
    let id = '';
    const ms = await timeMs(async () => (id = await fn(`t${label(i)}-${Math.random().toString(36).slice(2, 6)}`)));
    await ctx.c.deleteWorkspace(id);
    await waitGone(ctx.c, id, 120_000);
    return ms;
  };
}

/** A raw sample: a clone made first (untimed), the timed work on it, then its container and directory removed (untimed). */
function rawSample(ctx: Ctx, fn: (dir: string) => Promise<void>): () => Promise<number> {
  return async () => {
    const dir = await ctx.raw.cloned(ctx.small);
    const ms = await timeMs(() => fn(dir));
    await ctx.raw.remove();
    return ms;
  };
}

/** Through the SDK: create, follow its events to running, exec; returns the id. */
function sdkTtfc(ctx: Ctx, project: string, provisioner: string, spec: Record<string, unknown>): (name: string) => Promise<string> {
  return async (name) => {
    const w = await ctx.c.createWorkspace({ name, project, provisioner, spec });
    await reachPhase(ctx.c, w.id, 'running');
    await firstOutput(ctx.c, w.id);
    return w.id;
  };
}

/** Through the CLI: `berth ws create --wait`, then (unless `cold`: create→ready only) `berth ws exec -- echo ok`; returns the id. */
function cliTtfc(ctx: Ctx, project: string, provisioner: 'docker' | 'shell', cold = false): (name: string) => Promise<string> {
  const env = { ...process.env, BERTH_URL: ctx.server.url, BERTH_TOKEN: ctx.server.adminToken, BERTH_CONFIG: path.join(ctx.server.dataDir, 'no-cli-config.json') };
  const image = provisioner === 'docker' ? ['--image', ctx.image] : [];
  return async (name) => {
    const { stdout } = await execFileAsync(process.execPath, [BERTH_BIN, 'ws', 'create', name, '--project', project, '--provisioner', provisioner, ...image, '--wait', '--json'], { env });
    const id = (JSON.parse(stdout) as { id: string }).id;
    if (!cold) {
      const r = await execFileAsync(process.execPath, [BERTH_BIN, 'ws', 'exec', name, '--', 'echo', 'ok'], { env });
      if (!r.stdout.includes('ok')) throw new Error('berth ws exec gave no output');
    }
    return id;
  };
}

/** p50 ≤ 110 ms and p95 ≤ 280 ms, judged on berth's samples. */
function daytonaGoal(samples: number[]): { text: string; met: boolean } {
  const s = [...samples].sort((a, b) => a - b);
  const p = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  return { text: 'berth p50 <= 110 ms and p95 <= 280 ms', met: p(0.5) <= 110 && p(0.95) <= 280 };
}

async function dockerSdk(ctx: Ctx): Promise<Result> {
  const samples: number[] = [];
  const berth = berthSample(ctx, 'docker', sdkTtfc(ctx, 'small', 'docker', { image: ctx.image }));
  const r = await compareTimes({
    name: 'ttfc docker small repo, SDK, warm pool',
    runs: runs(30),
    warmup: warmups(3),
    goal: { also: { text: 'judged below', met: true } },
    berth: async (i) => {
      const ms = await berth(i);
      if (i >= 0) samples.push(ms);
      return ms;
    },
    baseline: { name: 'engine API create+start, exec echo (pre-cloned)', sample: rawSample(ctx, (d) => ctx.raw.apiRunExec(d)) },
    others: [
      { name: 'naive CLI: docker run -d; docker exec echo (pre-cloned)', sample: rawSample(ctx, (d) => ctx.raw.cliRunExec(d)) },
      { name: 'berth cold create (no pool entry), SDK', sample: berthSample(ctx, undefined, sdkTtfc(ctx, 'cold', 'docker', { image: ctx.image })) },
      {
        name: 'raw warm: engine API exec echo in a container started beforehand',
        sample: async () => {
          const dir = await ctx.raw.cloned(ctx.small);
          const c = await ctx.raw.apiStart(dir);
          const ms = await timeMs(() => ctx.raw.apiExec(c));
          await ctx.raw.remove();
          return ms;
        },
      },
    ],
  });
  const goal = daytonaGoal(samples);
  return { ...r, goal: goal.text, met: goal.met };
}

async function dockerCli(ctx: Ctx): Promise<Result> {
  const r = await compareTimes({
    name: 'ttfc docker small repo, CLI, warm pool',
    runs: runs(30),
    warmup: warmups(2),
    goal: { also: { text: 'reported (CLI start-up is in both sides twice)', met: true } },
    berth: berthSample(ctx, 'docker', cliTtfc(ctx, 'small', 'docker')),
    baseline: { name: 'docker run -d; docker exec echo (pre-cloned)', sample: rawSample(ctx, (d) => ctx.raw.cliRunExec(d)) },
  });
  return r;
}

/** Shell with a warm pool through the SDK (a cold create shown alongside) or the CLI, against a bare process in a pre-cloned directory. */
async function shellSmall(ctx: Ctx, via: 'SDK' | 'CLI'): Promise<Result> {
  const sdk = via === 'SDK';
  return compareTimes({
    name: `ttfc shell small repo, ${via}, warm pool`,
    runs: runs(30),
    warmup: warmups(sdk ? 3 : 2),
    goal: { also: { text: `reported (the baseline is a bare process on this host${sdk ? '' : ', with no CLI start-up'})`, met: true } },
    berth: berthSample(ctx, 'shell', sdk ? sdkTtfc(ctx, 'small', 'shell', {}) : cliTtfc(ctx, 'small', 'shell')),
    baseline: { name: "sh -c 'echo ok' in a pre-cloned directory", sample: rawSample(ctx, (d) => ctx.raw.shellExec(d)) },
    ...(sdk ? { others: [{ name: 'berth cold create (no pool entry), SDK', sample: berthSample(ctx, undefined, sdkTtfc(ctx, 'cold', 'shell', {})) }] } : {}),
  });
}

/** A raw sample with nothing prepared: times `work`, then removes its containers and directories (untimed). */
function rawTimed(ctx: Ctx, work: () => Promise<void>): () => Promise<number> {
  return async () => {
    const ms = await timeMs(work);
    await ctx.raw.remove();
    return ms;
  };
}

async function largeCold(ctx: Ctx, large: string): Promise<Result> {
  const r = await compareTimes({
    name: 'docker create→ready, 5,000-commit repo, CLI, cold',
    runs: runs(30),
    warmup: warmups(2),
    goal: { maxRatio: 1.2 },
    berth: berthSample(ctx, undefined, cliTtfc(ctx, 'large', 'docker', true)),
    baseline: { name: 'docker run -d ‖ git clone --no-hardlinks', sample: rawTimed(ctx, () => ctx.raw.cliRunClone(large)) },
  });
  return r;
}

/** The first command on a cold workspace of the 5,000-commit repository, through the SDK (docker and shell) and the CLI (shell). */
async function largeTtfc(ctx: Ctx, large: string): Promise<Result[]> {
  const docker = await compareTimes({
    name: 'ttfc docker 5,000-commit repo, SDK, cold',
    runs: runs(30),
    warmup: warmups(2),
    goal: { also: { text: 'reported', met: true } },
    berth: berthSample(ctx, undefined, sdkTtfc(ctx, 'large', 'docker', { image: ctx.image })),
    baseline: { name: 'engine API create+start ‖ git clone --no-hardlinks, then exec echo', sample: rawTimed(ctx, () => ctx.raw.apiCloneExec(large)) },
  });
  const shellRaw = { name: "git clone --no-hardlinks, then sh -c 'echo ok' in it", sample: rawTimed(ctx, () => ctx.raw.cloneShellExec(large)) };
  const shellSdk = await compareTimes({
    name: 'ttfc shell 5,000-commit repo, SDK, cold',
    runs: runs(30),
    warmup: warmups(2),
    goal: { also: { text: 'reported', met: true } },
    berth: berthSample(ctx, undefined, sdkTtfc(ctx, 'large', 'shell', {})),
    baseline: shellRaw,
  });
  const shellCliLarge = await compareTimes({
    name: 'ttfc shell 5,000-commit repo, CLI, cold',
    runs: runs(30),
    warmup: warmups(2),
    goal: { also: { text: 'reported (CLI start-up twice on the Berth side only)', met: true } },
    berth: berthSample(ctx, undefined, cliTtfc(ctx, 'large', 'shell')),
    baseline: shellRaw,
  });
  return [docker, shellSdk, shellCliLarge];
}

/** Runs the ttfc comparisons against one server with a docker and a shell pool. */
export async function run(): Promise<Result[]> {
  const image = testEnv().BERTH_TEST_IMAGE;
  const small = makeRepo({ 'README.md': '# ttfc\n' });
  const large = generatedRepo(1000, 5000);
  const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' }, args: ['--warm-pool', `docker:small=${POOL}:${image} shell:small=${POOL}`] });
  const installation = installationOf(server);
  const raw = new Raw(image);
  try {
    const c = server.client();
    await c.createProject({ name: 'small', repo: small });
    await c.createProject({ name: 'cold', repo: small });
    await c.createProject({ name: 'large', repo: large });
    const ctx: Ctx = { server, c, raw, image, small };
    return [await dockerSdk(ctx), await dockerCli(ctx), await shellSmall(ctx, 'SDK'), await shellSmall(ctx, 'CLI'), await largeCold(ctx, large), ...(await largeTtfc(ctx, large))];
  } finally {
    await server.stop();
    cleanupEngines(installation);
    await raw.remove(true);
    fs.rmSync(small, { recursive: true, force: true });
  }
}
