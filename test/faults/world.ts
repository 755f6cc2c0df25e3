/**
 * The world the fault suite acts on: a real control plane (killed with -9 and restarted on its data
 * directory), the local Docker engine behind a proxy that can be cut, an agent daemon that can be
 * killed, a shell, a docker and an agent provisioner, and a project whose upstream receives pushes. Keeps the model of what must be true
 * (workspaces, their desired state, every file written and pushed) and checks it against reality.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BerthClient } from '../../src/sdk/client.ts';
import type { Workspace } from '../../src/sdk/wire.ts';
import { containersWith, docker, inspect, installationOf, testEnv, volumesWith } from '../docker/env.ts';
import { TestServer, eventually, git, makeRepo, runCli } from '../harness.ts';
import { AgentHost, agentListenArgs, WITH_AGENT } from './agent-host.ts';
import { EngineProxy, engineSocket } from './proxy.ts';

/** What the model knows of one workspace. */
export interface ModelWorkspace {
  name: string;
  id: string;
  provisioner: Provisioner;
  desired: 'running' | 'stopped' | 'deleted';
  /** Relative path in the checkout → content. */
  files: Map<string, string>;
  /** Files committed and pushed to the upstream branch `fault-<name>`. */
  pushed: Map<string, string>;
}

/** The provisioners of the suite: shell, docker behind the cuttable proxy, and an agent (unless BERTH_FAULT_AGENT=0). */
export type Provisioner = 'shell' | 'dk' | 'ag';

/** Counters printed in the summary line. */
export interface Tally {
  ops: number;
  faults: number;
  filesChecked: number;
  filesLost: number;
  orphans: number;
  longestConvergeMs: number;
}

/** Phases nothing may stay in once converged. */
const TRANSITIONAL = new Set<Workspace['phase']>(['pending', 'provisioning', 'stopping', 'deleting', 'unreachable', 'failed']);

/** The running system plus the model of it. */
export class World {
  readonly model = new Map<string, ModelWorkspace>();
  readonly tally: Tally = { ops: 0, faults: 0, filesChecked: 0, filesLost: 0, orphans: 0, longestConvergeMs: 0 };
  installation = '';
  private counter = 0;
  /** When the last fault was done with (the engine back, the control plane killed, the container removed). */
  private faultAt = 0;
  agent: AgentHost | undefined;

  private constructor(
    readonly server: TestServer,
    readonly proxy: EngineProxy,
    readonly upstream: string,
    readonly log: (line: string) => void,
  ) {}

  /** Boots the control plane and its backends. */
  static async create(log: (line: string) => void): Promise<World> {
    const env = testEnv();
    const proxy = await EngineProxy.open(engineSocket(env.BERTH_TEST_DOCKER_HOST));
    // Small retry settings: an outage that counted as failures would fail workspaces within seconds.
    const server = await TestServer.start({ args: ['--local-docker', 'off', ...agentListenArgs()], env: { BERTH_RECONCILE_ATTEMPTS: '3', BERTH_RECONCILE_BACKOFF: '200ms' } }).catch(async (err: unknown) => {
      await proxy.close();
      throw err;
    });
    const w = new World(server, proxy, makeRepo({ 'README.md': '# fault suite\n' }), log);
    try {
      w.installation = installationOf(server);
      await w.client.createProvisioner({ name: 'dk', type: 'docker', options: { dockerHost: proxy.dockerHost } });
      const r = await runCli(server, ['project', 'add', 'demo', '--repo', w.upstream]);
      if (r.code !== 0) throw new Error(`project add failed: ${r.stderr}`);
      if (WITH_AGENT) w.agent = await AgentHost.enroll(server);
    } catch (err) {
      await w.close();
      throw err;
    }
    return w;
  }

  get client(): BerthClient {
    return this.server.client();
  }

  /** Workspaces the model says exist. */
  live(): ModelWorkspace[] {
    return [...this.model.values()].filter((m) => m.desired !== 'deleted');
  }

  /** Picks a live workspace by a random number, or undefined when there is none. */
  pick(n: number, only?: 'dk'): ModelWorkspace | undefined {
    const l = this.live().filter((m) => !only || m.provisioner === only);
    return l.length ? l[n % l.length] : undefined;
  }

  // ---- operations ------------------------------------------------------------------------

  async create(provisioner: Provisioner): Promise<void> {
    if (provisioner === 'ag' && !this.agent) provisioner = 'dk';
    const name = `f${++this.counter}`;
    const spec = provisioner === 'dk' ? { image: testEnv().BERTH_TEST_IMAGE, user: 'dev' } : provisioner === 'ag' ? { image: testEnv().BERTH_TEST_IMAGE } : {};
    const w = await this.client.createWorkspace({ name, project: 'demo', provisioner, spec });
    this.model.set(name, { name, id: w.id, provisioner, desired: 'running', files: new Map(), pushed: new Map() });
    this.log(`create ${name} on ${provisioner}`);
  }

  async write(m: ModelWorkspace): Promise<void> {
    await this.ensureRunning(m);
    const file = `fault-${++this.counter}.txt`;
    const content = `${m.name} ${this.counter} ${Date.now()}`;
    const r = await this.runIn(m, ['sh', '-c', `printf '%s' "$1" > "$2" && sync`, 'sh', content, file]);
    if (r.code !== 0) throw new Error(`writing ${file} in ${m.name} failed (${r.code}): ${r.stderr}`);
    m.files.set(file, content);
    this.log(`write ${m.name}/${file}`);
  }

  async push(m: ModelWorkspace): Promise<void> {
    await this.ensureRunning(m);
    const script = 'git add -A . && git -c user.name=Fault -c user.email=fault@example.com commit -q --allow-empty -m "fault suite" && git push -q origin "HEAD:refs/heads/fault-$1"';
    const r = await this.runIn(m, ['sh', '-c', script, 'sh', m.name]);
    if (r.code !== 0) throw new Error(`commit and push in ${m.name} failed (${r.code}): ${r.stderr}`);
    m.pushed = new Map(m.files);
    this.log(`push ${m.name} (${m.pushed.size} files)`);
  }

  async setDesired(m: ModelWorkspace, desired: 'running' | 'stopped' | 'deleted'): Promise<void> {
    // Its files are checked one last time while it still runs.
    if (desired === 'deleted' && m.desired === 'running') {
      await this.waitSettled(m, 120_000);
      await this.checkWorkspace(m);
    }
    if (desired === 'running') await this.client.startWorkspace(m.id);
    else if (desired === 'stopped') await this.client.stopWorkspace(m.id);
    else await this.client.deleteWorkspace(m.id);
    m.desired = desired;
    this.log(`${desired === 'running' ? 'start' : desired === 'stopped' ? 'stop' : 'delete'} ${m.name}`);
  }

  // ---- faults ----------------------------------------------------------------------------

  async kill9(): Promise<void> {
    this.tally.faults++;
    this.faultAt = Date.now();
    await this.server.restart();
    this.log('fault: kill -9 of the control plane, restarted on the same data');
  }

  /** Cuts the engine until every docker workspace is seen unreachable (optionally killing the control plane meanwhile), then restores it. */
  async outage(killDuring: boolean): Promise<void> {
    this.tally.faults++;
    await this.proxy.cut();
    try {
      const docker = this.live().filter((m) => m.provisioner === 'dk');
      if (killDuring) await this.server.restart();
      await eventually(
        async () => {
          for (const m of docker) {
            const w = await this.client.getWorkspace(m.id).catch(() => undefined);
            // A workspace the engine never saw yet, or one being deleted, may show other phases.
            if (w && w.phase !== 'unreachable' && w.phase !== 'pending' && w.phase !== 'provisioning' && w.desired !== 'deleted') return false;
            if (w?.phase === 'failed') throw new Error(`${m.name} failed during an outage: ${w.message}`);
          }
          return true;
        },
        'docker workspaces to be shown unreachable',
        20_000,
      );
    } finally {
      await this.proxy.restore();
      this.faultAt = Date.now();
    }
    this.log(`fault: engine unreachable${killDuring ? ', control plane killed meanwhile' : ''}, then back`);
  }

  /** kill -9 of the agent daemon, started again on its root; its workspaces keep running. */
  async killAgent(): Promise<void> {
    if (!this.agent) return this.kill9();
    this.tally.faults++;
    await this.agent.restart();
    this.faultAt = Date.now();
    this.log('fault: kill -9 of the agent daemon, started again');
  }

  /** `docker rm -f` of a docker workspace's container behind Berth's back. */
  async removeContainer(m: ModelWorkspace): Promise<void> {
    this.tally.faults++;
    const before = inspect<{ Id: string }>('container', `berth-${m.id}`)?.Id;
    this.faultAt = Date.now();
    docker(['rm', '-f', `berth-${m.id}`], { allowFail: true });
    this.log(`fault: docker rm -f berth-${m.id} (${m.name})`);
    if (!before || m.desired !== 'running') return;
    // Converged only once Berth has noticed and a new container runs on the same storage.
    await eventually(() => {
      const c = inspect<{ Id: string; State: { Running: boolean } }>('container', `berth-${m.id}`);
      return c && c.Id !== before && c.State.Running;
    }, `a new container for ${m.name}`, 60_000, 200);
  }

  // ---- convergence and checks ------------------------------------------------------------

  /**
   * Runs a command in a workspace that should be running. A stop followed at once by a start may
   * still be stopping when it is first seen running (the stop is being cancelled): then it waits
   * until it runs again.
   */
  private async runIn(m: ModelWorkspace, cmd: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client.run(m.id, cmd);
      } catch (err) {
        if ((err as { code?: string }).code !== 'conflict' || attempt >= 5) throw err;
        this.log(`${m.name}: ${(err as Error).message}; waiting until it runs`);
        await new Promise((r) => setTimeout(r, 500));
        await this.waitSettled(m, 120_000);
      }
    }
  }

  private async ensureRunning(m: ModelWorkspace): Promise<void> {
    if (m.desired !== 'running') await this.setDesired(m, 'running');
    await this.waitSettled(m, 120_000);
  }

  private async waitSettled(m: ModelWorkspace, timeoutMs: number): Promise<void> {
    await this.explained(m, eventually(
      async () => {
        let w: Workspace;
        try {
          w = await this.client.getWorkspace(m.id);
        } catch (err) {
          if (m.desired === 'deleted' && (err as { status?: number }).status === 404) return true;
          throw err;
        }
        if (w.phase === 'failed') throw new Error(`${m.name} failed: ${w.message}`);
        return m.desired !== 'deleted' && w.phase === m.desired && w.desired === m.desired;
      },
      `${m.name} to be ${m.desired}`,
      timeoutMs,
      200,
    ));
  }

  /** A failed wait names the workspace's last events, so a replay is not needed to see why. */
  private async explained<T>(m: ModelWorkspace, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      const events = await this.client.events(m.id).catch(() => []);
      const last = events.slice(-10).map((e) => `    ${e.ts} ${e.kind}: ${e.message}`).join('\n');
      throw new Error(`${(err as Error).message}\n  last events of ${m.name} (${m.id}):\n${last}`);
    }
  }

  /** Waits until every workspace is what the model says; returns, and records, how long it took since the last fault. */
  async converge(timeoutMs = 150_000): Promise<number> {
    const t0 = Date.now();
    for (const m of this.model.values()) await this.waitSettled(m, Math.max(1000, timeoutMs - (Date.now() - t0)));
    for (const w of await this.client.listWorkspaces(true)) {
      if (TRANSITIONAL.has(w.phase)) throw new Error(`${w.name} stays ${w.phase}: ${w.message}`);
    }
    const ms = Date.now() - (this.faultAt || t0);
    this.faultAt = 0;
    this.tally.longestConvergeMs = Math.max(this.tally.longestConvergeMs, ms);
    return ms;
  }

  /** Reads back, in one exec, every file written to a running workspace; counts what is missing. */
  async checkWorkspace(m: ModelWorkspace): Promise<string[]> {
    if (m.files.size === 0) return [];
    const files = [...m.files.keys()];
    const r = await this.client.run(m.id, ['sh', '-c', 'for f; do cat "$f" 2>/dev/null; printf "\\0"; done', 'sh', ...files]);
    const got = r.stdout.split('\0');
    const lost = files.filter((f, i) => got[i] !== m.files.get(f)).map((f) => `${m.name}/${f}`);
    this.tally.filesChecked += files.length;
    this.tally.filesLost += lost.length;
    return lost;
  }

  /** After a fault has converged: every running workspace still holds every file written to it. */
  async checkRunning(): Promise<string[]> {
    const lost: string[] = [];
    for (const m of this.live()) if (m.desired === 'running') lost.push(...(await this.checkWorkspace(m)));
    return lost;
  }

  /** Starts every workspace, then reads back each file written to it and each file pushed upstream. */
  async checkFiles(): Promise<string[]> {
    const lost: string[] = [];
    for (const m of this.live()) if (m.desired !== 'running') await this.setDesired(m, 'running');
    await this.converge();
    for (const m of this.live()) {
      lost.push(...(await this.checkWorkspace(m)));
      for (const [file, content] of m.pushed) {
        this.tally.filesChecked++;
        let got: string;
        try {
          got = git(this.upstream, 'show', `fault-${m.name}:${file}`);
        } catch (err) {
          got = `(missing: ${(err as Error).message.split('\n')[0]})`;
        }
        if (got === content) continue;
        this.tally.filesLost++;
        lost.push(`upstream fault-${m.name}/${file}: ${got}`);
      }
    }
    return lost;
  }

  /** Containers, volumes and storage directories carrying this control plane's marks without a workspace row. */
  async orphans(): Promise<string[]> {
    const ids = new Set((await this.client.listWorkspaces(true)).map((w) => w.id));
    const label = `berth.installation=${this.installation}`;
    const out: string[] = [];
    for (const c of containersWith(label)) {
      const id = docker(['inspect', '-f', '{{index .Config.Labels "berth.workspace"}} {{index .Config.Labels "berth.kind"}}', c], { allowFail: true }).trim().split(' ');
      // Short-lived helpers (reach probes) carry no workspace.
      if (id[0] && !ids.has(id[0])) out.push(`container ${c}`);
    }
    for (const v of volumesWith(label)) if (![...ids].some((id) => v.includes(id))) out.push(`volume ${v}`);
    const root = path.join(this.server.dataDir, 'workspaces');
    for (const prov of fs.existsSync(root) ? fs.readdirSync(root) : []) {
      for (const d of fs.readdirSync(path.join(root, prov))) if (/^ws_[0-9a-f]+$/.test(d) && !ids.has(d)) out.push(`directory workspaces/${prov}/${d}`);
    }
    const mine = new Set([...this.model.values()].map((m) => m.id));
    for (const h of this.agent?.holdings() ?? []) if (mine.has(h.id) && !ids.has(h.id)) out.push(h.what);
    const quarantined = await this.client.orphans().catch(() => []);
    for (const q of quarantined) out.push(`quarantined ${JSON.stringify(q)}`);
    return out;
  }

  /** Deletes every workspace and waits until each is gone. */
  async deleteAll(): Promise<void> {
    for (const m of this.live()) await this.setDesired(m, 'deleted');
    await this.converge();
  }

  /** Stops the control plane and the proxy, removing what the engine still holds of this run. */
  async close(): Promise<void> {
    await this.proxy.restore().catch(() => undefined);
    await this.server.stop();
    await this.agent?.close(new Set([...this.model.values()].map((m) => m.id)));
    if (this.installation) for (const c of containersWith(`berth.installation=${this.installation}`)) docker(['rm', '-f', c], { allowFail: true });
    if (this.installation) for (const v of volumesWith(`berth.installation=${this.installation}`)) docker(['volume', 'rm', '-f', v], { allowFail: true });
    await this.proxy.close();
    fs.rmSync(this.upstream, { recursive: true, force: true });
  }
}
