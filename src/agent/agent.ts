/**
 * `berth agent run`: the daemon on a Docker host. Wires the root, the docker runtime (with storage
 * under the root), the local reconciler and the `/v1` routes, and serves them over mutual TLS with
 * the key and certificate that enrollment left in `<root>/keys`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { InputError } from '../core/errors.ts';
import { DockerProvisioner } from '../provisioners/docker/docker.ts';
import { TerminalService } from '../server/terminals.ts';
import { BERTH_VERSION } from './protocol.ts';
import { buildAgentApp } from './server.ts';
import { AgentRoot } from './root.ts';
import { DesiredStore } from './state.ts';
import { AgentStorage } from './storage.ts';
import { AgentWorkspaces } from './workspaces.ts';

/** This build's Berth version. */
export const AGENT_VERSION = BERTH_VERSION;

/** How the agent is started. */
export interface AgentOptions {
  root: string;
  /** HOST:PORT of the control port. */
  listen: string;
  /** The engine only the agent talks to (default unix:///var/run/docker.sock). */
  dockerHost?: string;
  labels?: Record<string, string>;
  /** Publish workspace ports (spec.ports) on the host's 127.0.0.1; off unless the operator allows it. */
  allowPorts?: boolean;
  logger: Logger;
  /** How often every workspace is checked against its desired state (ms). */
  resyncMs?: number;
}

/** Files enrollment writes under `<root>/keys`. */
export const KEY_FILES = { key: 'agent.key', cert: 'agent.crt', ca: 'ca.crt', clients: 'clients' } as const;

/** Reads the agent's TLS material, with a sentence naming what is missing. */
function readKeys(root: AgentRoot): { key: string; cert: string; ca: string } {
  const read = (f: string) => {
    const p = path.join(root.keys, f);
    if (!fs.existsSync(p)) throw new InputError(`${p} is missing: enroll this agent first (berth agent enroll --server URL --token T --root ${root.dir}).`);
    return fs.readFileSync(p, 'utf8');
  };
  return { key: read(KEY_FILES.key), cert: read(KEY_FILES.cert), ca: read(KEY_FILES.ca) };
}

/** Client-certificate fingerprints the enrollment pinned (one per line), read on every connection so a change needs no restart. */
function pinnedClients(root: AgentRoot): () => string[] {
  const file = path.join(root.keys, KEY_FILES.clients);
  return () => {
    try {
      return fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim().toUpperCase()).filter(Boolean);
    } catch {
      return [];
    }
  };
}

/** A stable id per agent root: it labels what this agent creates on its engine. */
function installationOf(root: AgentRoot): string {
  const file = path.join(root.state, 'installation');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const id = `agent${crypto.randomBytes(6).toString('hex')}`;
    fs.writeFileSync(file, id, { mode: 0o600 });
    return id;
  }
}

/** The running agent. */
export class Agent {
  private constructor(
    readonly app: Awaited<ReturnType<typeof buildAgentApp>>,
    readonly workspaces: AgentWorkspaces,
    private readonly terminals: TerminalService,
    private readonly provisioner: DockerProvisioner,
    readonly url: string,
  ) {}

  /** Loads keys and state, adopts what the engine holds, and listens. */
  static async create(o: AgentOptions): Promise<Agent> {
    const root = new AgentRoot(o.root);
    const keys = readKeys(root);
    const storage = new AgentStorage(root);
    const provisioner = await DockerProvisioner.create(
      'agent',
      { dockerHost: o.dockerHost ?? 'unix:///var/run/docker.sock', storage: 'bind', root: root.workspaces, allowPorts: o.allowPorts ?? false, allowDockerSocket: false },
      { installation: installationOf(root), dataDir: root.dir, storage, logger: o.logger },
    );
    const workspaces = new AgentWorkspaces({ root, store: new DesiredStore(root.state), provisioner, logger: o.logger, ...(o.resyncMs ? { resyncMs: o.resyncMs } : {}) });
    const terminals = new TerminalService({ logger: o.logger, bufferBytes: 256 * 1024, idleMs: 10 * 60_000 });
    const app = await buildAgentApp({ root, workspaces, provisioner, terminals, logger: o.logger, version: AGENT_VERSION, labels: o.labels ?? {}, https: keys, clients: pinnedClients(root) });
    const m = /^(.*):(\d+)$/.exec(o.listen);
    if (!m) throw new InputError(`--listen "${o.listen}" must be HOST:PORT.`);
    const host = m[1]!.replace(/^\[|\]$/g, '');
    await app.listen({ host, port: Number(m[2]) });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : Number(m[2]);
    workspaces.start();
    return new Agent(app, workspaces, terminals, provisioner, `https://${host.includes(':') ? `[${host}]` : host}:${port}`);
  }

  /** Stops listening and converging; workspaces keep running. */
  async close(): Promise<void> {
    this.terminals.closeAll();
    await this.workspaces.close();
    await this.app.close();
    await this.provisioner.close();
  }
}
