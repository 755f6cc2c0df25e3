/**
 * Time to first command through an enrolled agent (issue 13 §2): from the SDK's create request
 * to the first `exec` of `echo ok` returning output, cold (no warm pool), on a control plane with
 * `berth agent run` in the testenv's network namespace (`berth agent add`/`enroll`, provisioner
 * `remote`). Against the raw tools on the agent host's own engine, in the same rounds: engine API
 * create+start of a container on a fresh directory while `git clone --no-hardlinks` of the
 * repository's path runs into it, then an engine API exec of `echo ok`. The agent's path does more
 * by design (the control plane uploads it a `git bundle` of the mirror over mutual TLS to clone
 * from), and that is part of its cost. Also shown: the `docker` provisioner driving that engine from
 * the control plane (what the agent adds). A small and a 5,000-commit repository.
 * The issue sets no goal for the agent: the figures are reported.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { TestServer, makeRepo, runCli, tempDir, waitGone } from '../test/harness.ts';
import { agentRoot, enrollAgent, type AgentTestEnv } from '../test/agent/fixtures.ts';
import { installationOf } from '../test/docker/env.ts';
import { execEchoOk } from './engine-exec.ts';
import { compareTimes, runs, timeMs, warmups } from './harness.ts';
import { firstOutput, reachPhase, type Result } from './lib.ts';
import { generatedRepo } from './repo.ts';
import type { BerthClient } from '../src/sdk/client.ts';

const execFileAsync = promisify(execFile);
/** Marks every raw container of this run, so clean-up finds them all. */
const LABEL = 'berth-bench.run';
const RUN = `agent-ttfc-${process.pid}`;
const REPORTED = { also: { text: 'reported (issue 13 sets no goal for the agent)', met: true } };

/** The raw tools on the agent host's engine: containers through its API, clones on the shared filesystem. */
class Raw {
  private readonly scratch = tempDir('berth-bench-agent-ttfc-');
  private n = 0;

  constructor(
    private readonly engine: Docker,
    private readonly image: string,
  ) {}

  /** Engine API create+start ‖ `git clone --no-hardlinks` of `repo`, then an exec of `echo ok` read to its output. */
  async ttfc(repo: string): Promise<void> {
    const dir = path.join(this.scratch, `d${this.n++}`);
    fs.mkdirSync(dir);
    const start = async () => {
      const c = await this.engine.createContainer({ Image: this.image, Cmd: ['sleep', 'infinity'], Labels: { [LABEL]: RUN }, WorkingDir: '/workspace', HostConfig: { Binds: [`${dir}:/workspace`] } });
      await c.start();
      return c;
    };
    const [c] = await Promise.all([start(), execFileAsync('git', ['clone', '-q', '--no-hardlinks', repo, path.join(dir, 'work')])]);
    await execEchoOk(c);
  }

  /** Removes this run's containers with `labels` (raw ones by default) and the raw directories (the scratch directory too with `all`). */
  async remove(all = false, labels = [`${LABEL}=${RUN}`]): Promise<void> {
    for (const label of labels) {
      const list = await this.engine.listContainers({ all: true, filters: { label: [label] } });
      await Promise.all(list.map((c) => this.engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    }
    if (all) fs.rmSync(this.scratch, { recursive: true, force: true });
    else for (const d of fs.readdirSync(this.scratch)) fs.rmSync(path.join(this.scratch, d), { recursive: true, force: true });
  }
}

/** A Berth sample through the SDK on `provisioner`: create, follow to running, `echo ok`; then deleted and gone (untimed). */
function berthSample(c: BerthClient, project: string, provisioner: string, image: string): (i: number) => Promise<number> {
  let n = 0;
  return async (i) => {
    let id = '';
    const ms = await timeMs(async () => {
      const w = await c.createWorkspace({ name: `${provisioner}-${i < 0 ? `w${-i}` : i}-${n++}`, project, provisioner, spec: { image } });
      id = w.id;
      await reachPhase(c, w.id, 'running');
      await firstOutput(c, w.id);
    });
    await c.deleteWorkspace(id);
    await waitGone(c, id, 120_000);
    return ms;
  };
}

/** The agent ttfc figures, small and 5,000-commit repositories, each with its raw baseline and the direct docker provisioner. */
export async function agentTtfc(env: AgentTestEnv): Promise<Result[]> {
  const image = env.BERTH_TEST_IMAGE;
  const small = makeRepo({ 'README.md': '# ttfc\n' });
  const large = generatedRepo(1000, 5000);
  const root = agentRoot();
  const engine = new Docker({ socketPath: new URL(env.BERTH_TEST_AGENT_DOCKER_HOST).pathname });
  const raw = new Raw(engine, image);
  // The agent reaches the control plane on the veth pair; no provisioner on the local engine.
  const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' }, args: ['--listen', `${env.BERTH_TEST_AGENT_HOST_IP}:0`, '--local-docker', 'off'] });
  const agent = await enrollAgent(env, server, root).catch(async (err: unknown) => {
    await server.stop();
    throw err;
  });
  const labels = [`${LABEL}=${RUN}`, `berth.installation=${installationOf(server)}`];
  try {
    const c = server.client();
    const added = await runCli(server, ['provisioner', 'add', 'near', '--type', 'docker', '--docker-host', env.BERTH_TEST_AGENT_DOCKER_HOST]);
    if (added.code !== 0) throw new Error(`berth provisioner add near failed: ${added.stderr}`);
    const one = async (name: string, project: string, repo: string) => {
      await c.createProject({ name: project, repo });
      return compareTimes({
        name,
        runs: runs(30),
        warmup: warmups(2),
        goal: REPORTED,
        berth: berthSample(c, project, 'remote', image),
        baseline: {
          name: "agent host's engine API create+start ‖ local git clone, exec echo",
          sample: async () => {
            const ms = await timeMs(() => raw.ttfc(repo));
            await raw.remove();
            return ms;
          },
        },
        others: [{ name: 'berth docker provisioner on the same engine, SDK', sample: berthSample(c, project, 'near', image) }],
      });
    };
    return [await one('agent ttfc small repo, SDK, cold', 'small', small), await one('agent ttfc 5,000-commit repo, SDK, cold', 'large', large)];
  } finally {
    await agent.stop();
    await server.stop();
    // Whatever a failure left on the agent's engine: raw containers, and those of the agent and of "near".
    const agentInstallation = path.join(root, 'state', 'installation');
    if (fs.existsSync(agentInstallation)) labels.push(`berth.installation=${fs.readFileSync(agentInstallation, 'utf8').trim()}`);
    await raw.remove(true, labels);
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(small, { recursive: true, force: true });
  }
}
