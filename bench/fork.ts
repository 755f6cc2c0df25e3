/**
 * Fork benchmarks: forking a workspace whose checkout has 5,000 files (and uncommitted changes)
 * until the fork runs on its own branch, against the raw tools doing the copy of the same
 * workspace's storage:
 *  - shell (local directory): vs `cp -a --reflink=auto` of the workspace's directory;
 *  - docker with volume storage: vs a helper container copying the volume into a new one (engine
 *    API: volume create, container create/start/wait/remove) and a container started on the copy,
 *    which is what a fork's runtime is.
 * Berth is driven through its API client. The fork's time counts from the request to the running phase.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import type { BerthClient } from '../src/sdk/client.ts';
import { TestServer, tempDir, waitGone } from '../test/harness.ts';
import { cleanupEngines, installationOf, testEnv } from '../test/docker/env.ts';
import { compareTimes, runs, timeMs, type Side } from './harness.ts';
import { reachPhase, type Result } from './lib.ts';
import { generatedRepo } from './repo.ts';

/** Marks every raw container and volume of this run, so clean-up finds them all. */
const LABEL = 'berth-bench.run';
const RUN = `fork-${process.pid}`;

const label = (i: number) => (i < 0 ? `warm${-i}` : String(i));

/** Deletes workspaces and waits until they are gone. */
async function removeAll(c: BerthClient, ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => c.deleteWorkspace(id)));
  await Promise.all(ids.map((id) => waitGone(c, id, 120_000)));
}

/** A running source workspace with uncommitted and untracked changes; returns its id and storage detail. */
async function source(c: BerthClient, name: string, provisioner: string, spec: Record<string, unknown>): Promise<{ id: string; storage: string }> {
  const w = await c.createWorkspace({ name, project: 'bench', provisioner, spec });
  await reachPhase(c, w.id, 'running');
  const conn = c.exec(w.id, { cmd: ['sh', '-c', 'echo changed >> src/dir0/file0.txt && echo draft > notes.txt'], tty: false }, { stdout: () => undefined });
  const exit = await conn.done;
  if (exit.code !== 0) throw new Error(`preparing ${name} failed (exit ${String(exit.code)})`);
  const shown = await c.getWorkspace(w.id);
  return { id: w.id, storage: String(shown.details.directory ?? shown.details.storage) };
}

/** Times one fork from the request to running, then deletes it (untimed). */
async function timedFork(c: BerthClient, src: string, name: string): Promise<number> {
  let id = '';
  const ms = await timeMs(async () => {
    const [w] = await c.forkWorkspace(src, { name });
    id = w!.id;
    await reachPhase(c, id, 'running');
  });
  await removeAll(c, [id]);
  return ms;
}

/** The raw tools' copy of a source workspace's storage, and what removes all it left. */
interface RawCopy extends Side {
  cleanup(): Promise<void> | void;
}

/**
 * Forks of a source workspace (named prefix+round) against the raw tools' copy of its storage,
 * with the same goal for every provisioner; the source and the copies are removed after.
 */
async function forkBench(
  c: BerthClient,
  o: { title: string; provisioner: string; spec: Record<string, unknown>; prefix: string; runs: number; raw: (src: { id: string; storage: string }) => RawCopy },
): Promise<Result> {
  const src = await source(c, `${o.prefix}src`, o.provisioner, o.spec);
  const raw = o.raw(src);
  try {
    return await compareTimes({
      name: `${o.title} fork→running (5,000-file checkout)`,
      runs: o.runs,
      goal: { maxRatio: 1.5 },
      berth: (i) => timedFork(c, src.id, `${o.prefix}${label(i)}`),
      baseline: raw,
    });
  } finally {
    await raw.cleanup();
    await removeAll(c, [src.id]);
  }
}

function shellFork(c: BerthClient): Promise<Result> {
  return forkBench(c, {
    title: 'shell',
    provisioner: 'shell',
    spec: {},
    prefix: 'sh',
    runs: runs(15),
    raw: (src) => {
      const scratch = tempDir('berth-bench-fork-');
      return {
        name: 'cp -a --reflink=auto of the workspace directory',
        sample: async (i) => {
          const dest = path.join(scratch, `c${label(i)}`);
          const ms = await timeMs(async () => void execFileSync('cp', ['-a', '--reflink=auto', '--', src.storage, dest]));
          fs.rmSync(dest, { recursive: true, force: true });
          return ms;
        },
        cleanup: () => fs.rmSync(scratch, { recursive: true, force: true }),
      };
    },
  });
}

/** The raw tools' volume copy: a new volume filled by a helper container, then a container started on it. */
class RawVolumeCopy {
  private readonly engine = new Docker({ socketPath: new URL(testEnv().BERTH_TEST_DOCKER_HOST).pathname });

  constructor(private readonly image: string) {}

  async copy(from: string, to: string): Promise<void> {
    await this.engine.createVolume({ Name: to, Labels: { [LABEL]: RUN } });
    const helper = await this.engine.createContainer({
      Image: this.image,
      User: '0',
      Entrypoint: ['/bin/sh', '-c', 'cp -a /from/. /to/'],
      Labels: { [LABEL]: RUN },
      HostConfig: { Mounts: [{ Type: 'volume', Source: from, Target: '/from', ReadOnly: true }, { Type: 'volume', Source: to, Target: '/to' }], NetworkMode: 'none' },
    });
    await helper.start();
    const { StatusCode } = (await helper.wait()) as { StatusCode: number };
    await helper.remove({ force: true });
    if (StatusCode !== 0) throw new Error(`the helper copy exited with ${StatusCode}`);
    const run = await this.engine.createContainer({
      Image: this.image,
      Entrypoint: ['sleep', 'infinity'],
      Labels: { [LABEL]: RUN },
      HostConfig: { Mounts: [{ Type: 'volume', Source: to, Target: '/workspace' }] },
    });
    await run.start();
  }

  /** Removes every container and volume of this run. */
  async remove(): Promise<void> {
    const cs = await this.engine.listContainers({ all: true, filters: { label: [`${LABEL}=${RUN}`] } });
    await Promise.all(cs.map((x) => this.engine.getContainer(x.Id).remove({ force: true }).catch(() => undefined)));
    const { Volumes } = await this.engine.listVolumes({ filters: { label: [`${LABEL}=${RUN}`] } });
    await Promise.all((Volumes ?? []).map((v) => this.engine.getVolume(v.Name).remove({ force: true }).catch(() => undefined)));
  }
}

async function dockerVolumeFork(c: BerthClient, image: string): Promise<Result> {
  await c.createProvisioner({ name: 'docker-vol', type: 'docker', options: { storage: 'volume' } });
  return forkBench(c, {
    title: 'docker (volume)',
    provisioner: 'docker-vol',
    spec: { image },
    prefix: 'dv',
    runs: runs(10),
    raw: (src) => {
      const raw = new RawVolumeCopy(image);
      return {
        name: 'volume create + helper container cp -a + container start on the copy',
        sample: async (i) => {
          const ms = await timeMs(() => raw.copy(`berth-ws-${src.id}`, `berth-bench-${RUN}-${label(i)}`));
          await raw.remove();
          return ms;
        },
        cleanup: () => raw.remove(),
      };
    },
  });
}

/** Runs the fork benchmarks against one server. */
export async function run(): Promise<Result[]> {
  const image = testEnv().BERTH_TEST_IMAGE;
  const repo = generatedRepo(5000, 50);
  const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
  const installation = installationOf(server);
  try {
    const c = server.client();
    await c.createProject({ name: 'bench', repo });
    return [await shellFork(c), await dockerVolumeFork(c, image)];
  } finally {
    await server.stop();
    cleanupEngines(installation);
  }
}
