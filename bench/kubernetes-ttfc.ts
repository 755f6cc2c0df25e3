/**
 * Time to first command on the kubernetes provisioner (issue 13 §2): from the create request to
 * the first `exec` of `echo ok` returning output. Always cold, since no warm pool serves
 * kubernetes. Each figure is taken against the same work done with @kubernetes/client-node alone,
 * in the same rounds (kube-raw.ts): claim + pod, Ready, `git clone` by exec from a git server on
 * the bridge, then `echo ok` by exec.
 *  - a small repository (one file), through the SDK;
 *  - a 5,000-commit repository, through the SDK and through the CLI (`berth ws create --wait`,
 *    then `berth ws exec -- echo ok`; the CLI's start-up counts twice, as a user waits for it).
 * The issue sets no goal for kubernetes: the figures are reported. Every sample's workspace or raw
 * pod and claim is removed after it, untimed.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { BERTH_BIN, makeRepo, waitGone } from '../test/harness.ts';
import type { K8sSuite } from '../test/kubernetes/env.ts';
import { compareTimes, runs, timeMs, warmups } from './harness.ts';
import { servedBare } from './kube-raw.ts';
import type { Bench } from './kubernetes.ts';
import { firstOutput, reachPhase, type Result } from './lib.ts';
import { generatedRepo } from './repo.ts';

const execFileAsync = promisify(execFile);
/** A workspace's delete must finish within this. */
const GONE_MS = 180_000;
const REPORTED = { also: { text: 'reported (issue 13 sets no goal for kubernetes)', met: true } };

/** Creates a workspace its own way and returns its id once `echo ok` in it gave output. */
type Ttfc = (name: string) => Promise<string>;

let n = 0;

/** Through the SDK: create, follow its events to running, exec. */
function sdk(b: Bench, project: string): Ttfc {
  return async (name) => {
    const w = await b.c.createWorkspace({ name, project, provisioner: 'k8s', spec: { image: b.image } });
    await reachPhase(b.c, w.id, 'running');
    await firstOutput(b.c, w.id);
    return w.id;
  };
}

/** Through the CLI, as a user types it: `berth ws create --wait`, then `berth ws exec -- echo ok`. */
function cli(b: Bench, suite: K8sSuite, project: string): Ttfc {
  const env = { ...process.env, BERTH_URL: suite.server.url, BERTH_TOKEN: suite.server.adminToken, BERTH_CONFIG: path.join(suite.server.dataDir, 'no-cli-config.json') };
  return async (name) => {
    const { stdout } = await execFileAsync(process.execPath, [BERTH_BIN, 'ws', 'create', name, '--project', project, '--provisioner', 'k8s', '--image', b.image, '--wait', '--json'], { env });
    const r = await execFileAsync(process.execPath, [BERTH_BIN, 'ws', 'exec', name, '--', 'echo', 'ok'], { env });
    if (!r.stdout.includes('ok')) throw new Error('berth ws exec gave no output');
    return (JSON.parse(stdout) as { id: string }).id;
  };
}

/** A Berth sample: the timed create and exec, then the workspace deleted and gone (untimed). */
function berthSample(b: Bench, ttfc: Ttfc): (i: number) => Promise<number> {
  return async (i) => {
    let id = '';
    const ms = await timeMs(async () => (id = await ttfc(`f${i < 0 ? `w${-i}` : i}-${n++}`)));
    await b.c.deleteWorkspace(id);
    await waitGone(b.c, id, GONE_MS);
    return ms;
  };
}

/** A raw sample cloning `repo` (a name on the git server): claim, pod, Ready, clone, `echo ok`; then all removed (untimed). */
function rawSample(b: Bench, repo: string): { name: string; sample: () => Promise<number> } {
  return {
    name: 'client-node: claim + pod, Ready, git clone by exec, exec echo ok',
    sample: async () => {
      const name = `bench-ttfc-${b.run}-${n++}`;
      try {
        return await timeMs(async () => {
          await b.raw.createClaim(name);
          await b.raw.startPod(name, name);
          await b.raw.exec(name, ['git', 'clone', '-q', `${b.upstream}/${repo}.git`, '/workspace/work']);
          if (!(await b.raw.exec(name, ['echo', 'ok'])).includes('ok')) throw new Error(`echo ok in pod ${name} gave no output`);
        });
      } finally {
        await b.raw.deleteAll(name);
      }
    },
  };
}

/**
 * Serves a small and a 5,000-commit repository from the git server's `root` (as small.git and
 * large.git) and adds them to Berth as projects `small` and `large`.
 */
export async function addTtfcProjects(suite: K8sSuite, root: string): Promise<void> {
  const small = makeRepo({ 'README.md': '# ttfc\n' });
  for (const [name, repo] of [['small', small], ['large', generatedRepo(1000, 5000)]] as const) {
    servedBare(repo, path.join(root, `${name}.git`));
    // The small repository is this run's own: close() removes it; the large one is a cache kept between runs.
    await suite.addProject(name, repo, name === 'small' ? small : root);
  }
}

/** The kubernetes ttfc figures: small repository through the SDK, large one through the SDK and the CLI. */
export async function kubernetesTtfc(b: Bench, suite: K8sSuite): Promise<Result[]> {
  const one = (name: string, project: string, ttfc: Ttfc) =>
    compareTimes({ name, runs: runs(30), warmup: warmups(1), goal: REPORTED, berth: berthSample(b, ttfc), baseline: rawSample(b, project) });
  return [
    await one('kubernetes ttfc small repo, SDK, cold', 'small', sdk(b, 'small')),
    await one('kubernetes ttfc 5,000-commit repo, SDK, cold', 'large', sdk(b, 'large')),
    await one('kubernetes ttfc 5,000-commit repo, CLI, cold', 'large', cli(b, suite, 'large')),
  ];
}
