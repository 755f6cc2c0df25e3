/**
 * The remote host of the fault suite: a `berth agent run` daemon in the testenv's netns
 * `berth-agent`, enrolled with a control plane that listens on the host's end of the veth, and a
 * provisioner `ag` of type agent. The daemon can be killed with -9 and started again on its root.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { BERTH_BIN, runCli, type TestServer } from '../harness.ts';
import { agentDocker, agentRoot, agentTestEnv, startAgent, type AgentTestEnv, type RunningAgent } from '../agent/fixtures.ts';

/** Whether the suite includes an agent (yes unless BERTH_FAULT_AGENT=0). */
export const WITH_AGENT = process.env.BERTH_FAULT_AGENT !== '0';

/** The listen flag a control plane needs for the agent to reach it (the host's end of the veth, a fixed port so restarts keep it). */
export function agentListenArgs(): string[] {
  return WITH_AGENT ? ['--listen', `${agentTestEnv().BERTH_TEST_AGENT_HOST_IP}:${30_000 + crypto.randomInt(10_000)}`] : [];
}

/** An enrolled agent daemon. */
export class AgentHost {
  private constructor(
    private readonly env: AgentTestEnv,
    private readonly root: string,
    private readonly port: number,
    private agent: RunningAgent,
  ) {}

  /** Adds, enrolls and starts an agent, and registers the provisioner `ag` on it. */
  static async enroll(server: TestServer): Promise<AgentHost> {
    const env = agentTestEnv();
    const root = agentRoot();
    const port = 40_000 + crypto.randomInt(20_000);
    const add = await runCli(server, ['agent', 'add', 'fault-edge', '--url', `https://${env.BERTH_TEST_AGENT_AGENT_IP}:${port}`, '--label', 'suite=faults', '--json']);
    if (add.code !== 0) throw new Error(`agent add failed: ${add.stderr}`);
    const token = (JSON.parse(add.stdout) as { token: string }).token;
    const enroll = spawnSync('ip', ['netns', 'exec', env.BERTH_TEST_AGENT_NETNS, process.execPath, BERTH_BIN, 'agent', 'enroll', '--server', server.url, '--token', token, '--root', root], { encoding: 'utf8' });
    if (enroll.status !== 0) throw new Error(`agent enroll failed: ${enroll.stderr}`);
    const agent = await startAgent(env, root, { port, extraEnv: { BERTH_AGENT_RESYNC_MS: '1000' } });
    const added = await runCli(server, ['provisioner', 'add', 'ag', '--type', 'agent', '--labels', 'suite=faults']);
    if (added.code !== 0) throw new Error(`provisioner add failed: ${added.stderr}`);
    return new AgentHost(env, root, port, agent);
  }

  /** kill -9 of the daemon, then started again on the same root and port. */
  async restart(): Promise<void> {
    await this.agent.kill();
    this.agent = await startAgent(this.env, this.root, { port: this.port, extraEnv: { BERTH_AGENT_RESYNC_MS: '1000' } });
  }

  /** Workspace ids the agent host holds containers or directories for (other suites may share its engine: callers filter by id). */
  holdings(): { what: string; id: string }[] {
    const out: { what: string; id: string }[] = [];
    const cs = agentDocker(this.env, ['ps', '-a', '--filter', 'label=berth.workspace', '--format', '{{.Names}} {{.Label "berth.workspace"}}'], true);
    for (const line of cs.split('\n').filter(Boolean)) {
      const [name, id] = line.split(' ');
      if (id) out.push({ what: `agent container ${name}`, id });
    }
    const dir = `${this.root}/workspaces`;
    for (const d of fs.existsSync(dir) ? fs.readdirSync(dir) : []) if (/^ws_[0-9a-f]+$/.test(d)) out.push({ what: `agent directory ${d}`, id: d });
    return out;
  }

  /** Stops the daemon and removes the containers it held for `ids`. */
  async close(ids: Set<string>): Promise<void> {
    await this.agent.stop();
    for (const h of this.holdings()) if (ids.has(h.id) && h.what.startsWith('agent container')) agentDocker(this.env, ['rm', '-f', h.what.split(' ')[2]!], true);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
