/**
 * Kubernetes provisioner benchmarks on the testenv cluster, each against the same work done with
 * @kubernetes/client-node alone (kube-raw.ts), in the same run:
 *  - create→ready vs a claim and pod applied directly, waited Ready and `git clone`d into from a
 *    git HTTP server pods reach the same way they reach Berth, its repositories packed with a
 *    bitmap as Berth's mirror is (target ratio ≤ 1.2, and p99 within the 5 s pod-startup SLO,
 *    images warm);
 *  - stop→start (a new pod on the kept claim) vs deleting and recreating the raw pod (≤ 1.2);
 *  - parallel creates (20; 2 in quick mode) vs as many raw ones: 0 failures;
 *  - time to first command, small and 5,000-commit repositories (kubernetes-ttfc.ts).
 * Pods reach this host only through the node's bridge (10.218.0.1). Everything created carries the
 * run's label and is removed at the end, on failure and on Ctrl-C too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Forwarders } from '../src/provisioners/docker/forwarder.ts';
import type { BerthClient } from '../src/sdk/client.ts';
import { tempDir, waitGone } from '../test/harness.ts';
import { startUpstream } from '../test/git/upstream-server.ts';
import { K8sSuite, NS, env } from '../test/kubernetes/env.ts';
import { QUICK, burst, burstRounds, compareTimes, runs, timeMs, warmups } from './harness.ts';
import { RawPods, servedBare } from './kube-raw.ts';
import { addTtfcProjects, kubernetesTtfc } from './kubernetes-ttfc.ts';
import { makeResult, reachPhase, type Result } from './lib.ts';
import { generatedRepo } from './repo.ts';

/** The node's address on the pod bridge (docs/testenv.md): the one way pods reach this host. */
const BRIDGE = '10.218.0.1';
const PARALLEL = Number(process.env.BENCH_PARALLEL ?? (QUICK ? 2 : 20));
/** Kubernetes' pod-startup SLO: 5 s at p99 with images already on the node. */
const SLO_MS = 5000;
const PASSWORD = 'bench-upstream-password';
const PVC_SIZE = '256Mi';
/** A workspace's delete must finish within this. */
const GONE_MS = 180_000;

/** The set-up both sides share: Berth with a kubernetes provisioner, the raw client, a git server on the bridge. */
export interface Bench {
  c: BerthClient;
  raw: RawPods;
  /** The git server as raw pods reach it, credentials included: repositories are at `${upstream}/NAME.git`. */
  upstream: string;
  /** The repository as raw pods clone it, credentials included. */
  cloneUrl: string;
  image: string;
  run: string;
}

let n = 0;
/** A fresh object name for the raw side. */
const rawName = (b: Bench) => `bench-raw-${b.run}-${n++}`;

/** Creates a Berth workspace and waits until it runs; returns its id. */
async function berthCreate(b: Bench, name: string): Promise<string> {
  const w = await b.c.createWorkspace({ name, project: 'bench', provisioner: 'k8s', spec: { image: b.image } });
  await reachPhase(b.c, w.id, 'running');
  return w.id;
}

/** Deletes Berth workspaces and waits until each is gone (pod and claim with it). */
async function berthRemove(b: Bench, ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => b.c.deleteWorkspace(id)));
  await Promise.all(ids.map((id) => waitGone(b.c, id, GONE_MS)));
}

/** The raw create: claim, pod, Ready, clone. */
async function rawCreate(b: Bench, name: string): Promise<void> {
  await b.raw.createClaim(name);
  await b.raw.startPod(name, name);
  await b.raw.exec(name, ['git', 'clone', '-q', b.cloneUrl, '/workspace/work']);
}

const label = (i: number) => (i < 0 ? `warm${-i}` : String(i));

async function createToReady(b: Bench): Promise<Result> {
  return compareTimes({
    name: 'kubernetes create→ready',
    runs: runs(15),
    warmup: warmups(1),
    goal: { maxRatio: 1.2, maxBerthP99: SLO_MS },
    berth: async (i) => {
      let id = '';
      const t = await timeMs(async () => (id = await berthCreate(b, `c${label(i)}`)));
      await berthRemove(b, [id]);
      return t;
    },
    baseline: {
      name: 'client-node: claim + pod, Ready, git clone by exec',
      sample: async () => {
        const name = rawName(b);
        try {
          return await timeMs(() => rawCreate(b, name));
        } finally {
          await b.raw.deleteAll(name);
        }
      },
    },
    extra: { sloMs: SLO_MS, pvcSize: PVC_SIZE },
  });
}

/** Start of a stopped workspace vs recreating a deleted raw pod on its kept claim; only the start is timed. */
async function stopToStart(b: Bench): Promise<Result> {
  const id = await berthCreate(b, 'restart');
  const name = rawName(b);
  try {
    await rawCreate(b, name);
    return await compareTimes({
      name: 'kubernetes stop→start',
      runs: runs(15),
      warmup: warmups(1),
      goal: { maxRatio: 1.2 },
      berth: async () => {
        const last = (await b.c.lastEvent(id))?.id ?? 0;
        await b.c.stopWorkspace(id);
        await reachPhase(b.c, id, 'stopped', last);
        const t0 = (await b.c.lastEvent(id))?.id ?? 0;
        return timeMs(async () => {
          await b.c.startWorkspace(id);
          await reachPhase(b.c, id, 'running', t0);
        });
      },
      baseline: {
        name: 'client-node: delete the pod, create it again on the claim, Ready',
        sample: async () => {
          await b.raw.deletePod(name);
          return timeMs(() => b.raw.startPod(name, name));
        },
      },
    });
  } finally {
    await b.raw.deleteAll(name);
    await berthRemove(b, [id]);
  }
}

/** PARALLEL creates at once through Berth vs as many raw creates; Berth must have no failures. */
async function parallelCreates(b: Bench): Promise<Result> {
  const made: string[] = [];
  const raws: string[] = [];
  const [berth, baseline] = await burstRounds(
    [
      {
        name: 'berth',
        burst: (round) => burst(PARALLEL, async (k) => void made.push(await berthCreate(b, `p${round}-${k}`))),
        cleanup: async () => {
          // Workspaces whose create failed still exist; the list finds them all.
          const all = (await b.c.listWorkspaces()).filter((w) => w.name.startsWith('p')).map((w) => w.id);
          await berthRemove(b, all);
          made.length = 0;
        },
      },
      {
        name: 'raw',
        burst: () =>
          burst(PARALLEL, async () => {
            const name = rawName(b);
            raws.push(name);
            await rawCreate(b, name);
          }),
        cleanup: async () => {
          await Promise.all(raws.map((r) => b.raw.deleteAll(r)));
          raws.length = 0;
        },
      },
    ],
    1,
  );
  if (berth!.failures.length) process.stderr.write(`parallel create failures:\n${berth!.failures.join('\n')}\n`);
  return makeResult({
    name: `kubernetes ${PARALLEL} parallel creates, each create→ready`,
    berth: berth!.latencies,
    baseline: baseline!.latencies,
    baselineName: `${PARALLEL} parallel client-node creates with clones`,
    goal: { also: { text: `0 failures (${berth!.failures.length}; baseline ${baseline!.failures.length})`, met: berth!.failures.length === 0 } },
    warmup: 0,
    order: 'one burst each, berth first',
    extra: { parallel: PARALLEL, failures: berth!.failures, baselineFailures: baseline!.failures },
  });
}

/** Runs the Kubernetes benchmarks against one control plane and removes everything after. */
export async function run(): Promise<Result[]> {
  const repo = generatedRepo(1000, 500);
  const root = tempDir('berth-bench-k8s-');
  servedBare(repo, path.join(root, 'bench.git'));
  const upstream = await startUpstream(root, 'bench', PASSWORD);
  const proxy = new Forwarders();
  let suite: K8sSuite | undefined;
  const cleanup = async () => {
    await suite?.close();
    await proxy.close();
    await upstream.close();
    fs.rmSync(root, { recursive: true, force: true });
  };
  // Ctrl-C in the middle still leaves no pod, claim or Secret behind.
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const port = await proxy.ensure(BRIDGE, 0, { host: '127.0.0.1', port: Number(new URL(upstream.url).port) });
    suite = await K8sSuite.start();
    await suite.addProvisioner('k8s');
    // addProject removes the given directory at close: the scratch root, never the cached repository.
    await suite.addProject('bench', repo, root);
    await addTtfcProjects(suite, root);
    const upstreamUrl = `http://bench:${PASSWORD}@${BRIDGE}:${port}`;
    const b: Bench = {
      c: suite.server.client(),
      raw: new RawPods(env.KUBECONFIG, NS, { image: env.BERTH_TEST_IMAGE, storageClass: env.BERTH_TEST_K8S_STORAGE_CLASS, size: PVC_SIZE, labels: { [suite.selector.split('=')[0]!]: suite.run, 'berth-bench': 'raw' } }),
      upstream: upstreamUrl,
      cloneUrl: `${upstreamUrl}/bench.git`,
      image: env.BERTH_TEST_IMAGE,
      run: suite.run,
    };
    return [await createToReady(b), await stopToStart(b), await parallelCreates(b), ...(await kubernetesTtfc(b, suite))];
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Each measurement removes what it made; anything still here was left by a failure.
    const left = suite?.leftovers() ?? [];
    if (left.length) process.stderr.write(`removing objects a failure left behind: ${left.join(', ')}\n`);
    await cleanup();
  }
}
