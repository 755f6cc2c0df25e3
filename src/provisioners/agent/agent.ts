/**
 * The `agent` provisioner: workspaces on remote Docker hosts that run `berth agent`. It places a new
 * workspace on an enrolled agent by labels and free capacity, pins it there (the agent holds its
 * files), and forwards every call to that agent's `/v1` protocol over mutual TLS. The agent does the
 * work with the same docker runtime as the local `docker` provisioner.
 */
import { Type, type Static } from '@sinclair/typebox';
import { InputError, NotFoundError, ProvisionerError, errorMessage } from '../../core/errors.ts';
import type { Spec } from '../../core/spec.ts';
import { toWire, type AgentInfo, type PutWorkspace, type WorkspaceReport } from '../../agent/protocol.ts';
import { EXEC_PROTOCOL } from '../../sdk/protocol.ts';
import { assertMountablePath } from '../docker/runtime.ts';
import type { Capabilities, ExecOptions, ExecProcess, OpOptions, PluginContext, Provisioner, ProvisionerPlugin, RuntimeStatus, WorkspaceContext } from '../provisioner.ts';
import { AgentClient } from './client.ts';
import type { AgentDirectory } from './directory.ts';
import { choose, parseSelector, type Candidate } from './placement.ts';
import { remoteExec } from './exec.ts';

const LABEL = '[A-Za-z0-9][A-Za-z0-9_./-]{0,62}=[A-Za-z0-9_./:-]{0,63}';

/** Options of an `agent` provisioner instance. */
export const AgentOptionsSchema = Type.Object(
  {
    labels: Type.Optional(
      Type.String({ pattern: `^${LABEL}(,${LABEL})*$`, maxLength: 1024, description: 'Label selector KEY=VALUE,…: new workspaces go only to agents with all these labels' }),
    ),
    agent: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'Place every new workspace on this one enrolled agent' })),
  },
  { additionalProperties: false },
);
/** Stored options. */
export type AgentOptions = Static<typeof AgentOptionsSchema>;

/** Same as docker: the agent runs the docker runtime; workspaces reach the control plane over the network. */
export const agentCapabilities: Capabilities = { runsOnHost: false, image: true, user: true, resources: true, registryLogins: true, needsServerUrl: true, fork: true };

/** Forwards the Provisioner contract to enrolled agents. */
export class AgentProvisioner implements Provisioner {
  readonly type = 'agent';
  readonly capabilities = agentCapabilities;
  private readonly clients = new Map<string, { client: AgentClient; fingerprint: string; url: string }>();

  constructor(
    readonly name: string,
    readonly options: AgentOptions,
    private readonly ctx: PluginContext,
    private readonly version: string,
  ) {}

  private get directory(): AgentDirectory {
    const d = this.ctx.agents;
    if (!d) throw new ProvisionerError('This control plane has no agent registry; enroll an agent first (berth agent add NAME --url https://HOST:PORT).', { retryable: false });
    return d;
  }

  /** A client of the named agent, rebuilt when its URL or certificate changed; throws once it was removed or revoked. */
  private async client(agentName: string): Promise<AgentClient> {
    const rec = await this.directory.get(agentName);
    if (!rec) throw new ProvisionerError(`The agent "${agentName}" is no longer enrolled (removed or revoked); its workspaces cannot be reached.`, { retryable: false });
    const tls = await this.directory.tlsFor(agentName);
    const cached = this.clients.get(agentName);
    if (cached && cached.fingerprint === tls.fingerprint && cached.url === rec.url) return cached.client;
    cached?.client.close();
    const client = new AgentClient(agentName, rec.url, tls, this.version);
    this.clients.set(agentName, { client, fingerprint: tls.fingerprint, url: rec.url });
    return client;
  }

  async validate(spec: Spec): Promise<void> {
    if (!spec.image) throw new InputError(`The agent provisioner "${this.name}" needs an image: pass --image IMAGE (spec.image).`);
    if (spec.resources.disk !== undefined) throw new InputError('spec.resources.disk is not supported by the agent provisioner (Docker cannot cap a bind directory); remove it.');
    spec.userData.forEach((p, i) => assertMountablePath(p, `spec.userData[${i}]`));
    spec.caches.forEach((p, i) => assertMountablePath(p, `spec.caches[${i}]`));
    spec.files.forEach((f, i) => assertMountablePath(f.path, `spec.files[${i}].path`));
  }

  /** Every enrolled agent the selector admits, with its live info (or why it cannot be reached). */
  private async candidates(signal?: AbortSignal): Promise<Candidate[]> {
    const all = await this.directory.list();
    const named = this.options.agent ? all.filter((a) => a.name === this.options.agent) : all;
    return Promise.all(
      named.map(async (agent) => {
        try {
          const info = await (await this.client(agent.name)).json<AgentInfo>('GET', '/v1/info', signal ? { signal } : {});
          return { agent, info };
        } catch (err) {
          return { agent, error: errorMessage(err) };
        }
      }),
    );
  }

  /** Chooses an agent for a new workspace (see `choose`). */
  private async place(signal?: AbortSignal): Promise<string> {
    const want = parseSelector(this.options.labels);
    const chosen = choose(await this.candidates(signal), want);
    if ('why' in chosen) {
      throw new ProvisionerError(`No agent can take a new workspace for provisioner "${this.name}"${want.length ? ` (labels ${want.map(([k, v]) => `${k}=${v}`).join(',')})` : ''}: ${chosen.why}.`);
    }
    return chosen.agent;
  }

  /** The agent that holds a workspace; with `place`, a new workspace is placed and pinned first. */
  private async agentOf(id: string, place: boolean, signal?: AbortSignal): Promise<string | undefined> {
    const pinned = await this.directory.pinOf(id);
    if (pinned || !place) return pinned;
    const chosen = await this.place(signal);
    await this.directory.pin(id, chosen);
    return chosen;
  }

  private body(ws: WorkspaceContext, desired: PutWorkspace['desired']): PutWorkspace {
    return { desired, workspace: toWire(ws), controller: `${this.ctx.installation}/${this.name}` };
  }

  async provision(ws: WorkspaceContext, opts: OpOptions): Promise<RuntimeStatus> {
    const agentName = (await this.agentOf(ws.id, true, opts.signal))!;
    const c = await this.client(agentName);
    opts.progress(`Provisioning on agent "${agentName}" (${c.url})`, 'info');
    const before = await c.json<WorkspaceReport>('GET', `/v1/workspaces/${ws.id}`, { signal: opts.signal });
    // The agent cannot read this host's mirror; a first clone gets a bundle of it instead.
    if (!before.checkout && ws.project.bundle) await c.upload(`/v1/workspaces/${ws.id}/bundle`, await ws.project.bundle(opts.signal), opts.signal);
    const report = await c.wait('PUT', `/v1/workspaces/${ws.id}`, { body: this.body(ws, 'running'), signal: opts.signal, progress: opts.progress });
    return withAgent(report.status, agentName);
  }

  /** A fork lands on its source's agent (pinned there first), which copies the files on its host (src/agent/copy.ts). */
  async copyStorage(from: WorkspaceContext, to: WorkspaceContext, opts: OpOptions): Promise<void> {
    const agentName = await this.agentOf(from.id, false);
    if (!agentName) throw new ProvisionerError(`Workspace "${from.name}" is on no agent, so its files cannot be copied; start it once and fork again.`, { retryable: false });
    await this.directory.pin(to.id, agentName);
    opts.progress(`Copying on agent "${agentName}".`, 'info');
    await (await this.client(agentName)).wait('POST', `/v1/workspaces/${to.id}/copy`, { body: { from: from.id }, signal: opts.signal, progress: opts.progress });
  }

  async stop(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    // An orphan in quarantine is pinned nowhere (its pin went with its row): the agent holding it is asked.
    const agentName = (await this.agentOf(ws.id, false)) ?? (await this.holderOf(ws.id));
    if (!agentName) return;
    // A minimal context (an orphan in quarantine) names no owner: the agent stops what it holds, keeping its record.
    const body = ws.owner.id ? this.body(ws, 'stopped') : { desired: 'stopped' as const, controller: `${this.ctx.installation}/${this.name}` };
    await (await this.client(agentName)).wait('PUT', `/v1/workspaces/${ws.id}`, { body, signal: opts.signal, progress: opts.progress });
  }

  async destroy(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    const agentName = (await this.agentOf(ws.id, false)) ?? (await this.holderOf(ws.id));
    if (!agentName) return;
    if (!(await this.directory.get(agentName))) {
      // Removed or revoked: the control plane can no longer reach that host, so the workspace is let go; its files stay there.
      opts.progress(`The agent "${agentName}" is no longer enrolled (removed or revoked); the workspace's files stay on that host for its operator to remove.`, 'info');
      await this.directory.unpin(ws.id);
      return;
    }
    await (await this.client(agentName)).wait('DELETE', `/v1/workspaces/${ws.id}`, { signal: opts.signal, progress: opts.progress });
    await this.directory.unpin(ws.id);
  }

  /** For a workspace pinned nowhere (an orphan): the reachable agent that holds something of it. */
  private async holderOf(id: string): Promise<string | undefined> {
    for (const a of await this.directory.list()) {
      const r = await (await this.client(a.name)).json<WorkspaceReport>('GET', `/v1/workspaces/${id}`).catch(() => undefined);
      if (r && (r.desired || r.status.state !== 'absent' || r.status.storage)) return a.name;
    }
    return undefined;
  }

  async inspect(workspaceId: string, signal?: AbortSignal): Promise<RuntimeStatus> {
    const agentName = await this.agentOf(workspaceId, false);
    if (!agentName) return { state: 'absent', storage: false };
    // Cut off on purpose, not unreachable: said as a failure, so that a delete can still let the workspace go.
    if (!(await this.directory.get(agentName))) return { state: 'failed', storage: true, message: `The agent "${agentName}" is no longer enrolled (removed or revoked); the control plane cannot reach this workspace.`, details: { agent: agentName } };
    const r = await (await this.client(agentName)).json<WorkspaceReport>('GET', `/v1/workspaces/${workspaceId}`, signal ? { signal } : {});
    const status = withAgent(r.status, agentName);
    if (r.error && status.state !== 'running') status.message ??= r.error.message;
    return status;
  }

  async exec(ws: WorkspaceContext, opts: ExecOptions): Promise<ExecProcess> {
    const agentName = await this.agentOf(ws.id, false);
    if (!agentName) throw new NotFoundError(`Workspace ${ws.name} is not placed on any agent yet.`);
    const c = await this.client(agentName);
    const start = { cmd: opts.cmd, tty: opts.tty, ...(opts.cols ? { cols: opts.cols } : {}), ...(opts.rows ? { rows: opts.rows } : {}), ...(opts.env ? { env: opts.env } : {}), ...(opts.cwd ? { cwd: opts.cwd } : {}) };
    return remoteExec(start, { open: () => c.websocket(`/v1/workspaces/${ws.id}/exec`, EXEC_PROTOCOL), describe: (err) => c.unreachable(err), ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  /** Workspaces this control plane's instance put on every reachable agent; an unreachable one is skipped (its workspaces are not orphans). */
  async list(signal?: AbortSignal): Promise<string[]> {
    const ids = new Set<string>();
    const mine = `${this.ctx.installation}/${this.name}`;
    for (const a of await this.directory.list()) {
      const r = await (await this.client(a.name)).json<{ workspaces: WorkspaceReport[] }>('GET', '/v1/workspaces', signal ? { signal } : {}).catch(() => undefined);
      for (const w of r?.workspaces ?? []) if (w.controller === mine || (w.controller === undefined && (await this.directory.pinOf(w.id)) === a.name)) ids.add(w.id);
    }
    return [...ids];
  }

  /** Checks that some enrolled agent can take workspaces, and says in words why not. */
  async check(signal?: AbortSignal): Promise<void> {
    await this.place(signal);
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.client.close();
    this.clients.clear();
  }
}

function withAgent(s: RuntimeStatus, agent: string): RuntimeStatus {
  return { ...s, details: { ...s.details, agent } };
}

/** The `agent` type. */
export function agentPlugin(version: string): ProvisionerPlugin<typeof AgentOptionsSchema> {
  return {
    type: 'agent',
    summary: 'Containers on remote Docker hosts running `berth agent`, reached over mutual TLS; the agent holds the files.',
    options: AgentOptionsSchema,
    capabilities: agentCapabilities,
    create: async (name, options, ctx) => new AgentProvisioner(name, options, ctx, version),
  };
}
