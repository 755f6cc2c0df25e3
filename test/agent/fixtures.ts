/**
 * An agent for e2e tests: `berth agent run` as its own process inside the testenv's network
 * namespace (`ip netns exec berth-agent …`), with its own root in a temp dir and the netns's Docker
 * engine, reached from here only over the veth pair. Until enrollment issues them, its keys come
 * from a CA this file makes; the control plane side gets an in-memory agent directory.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { builtinPlugins } from '../../src/provisioners/plugins.ts';
import type { PluginContext, Provisioner } from '../../src/provisioners/provisioner.ts';
import { ProvisionerRegistry } from '../../src/provisioners/registry.ts';
import type { AgentDirectory, AgentRecord, AgentTlsMaterial } from '../../src/provisioners/agent/directory.ts';
import { BERTH_BIN, runCli, tempDir, type TestServer } from '../harness.ts';
import { loadTestEnv, testEnvPath, type TestEnv } from '../testenv/env.ts';
import { issue, selfSigned, type Issued } from './certs.ts';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

/** The testenv plus the agent test host's keys. */
export type AgentTestEnv = TestEnv & { BERTH_TEST_AGENT_NETNS: string; BERTH_TEST_AGENT_HOST_IP: string; BERTH_TEST_AGENT_AGENT_IP: string; BERTH_TEST_AGENT_DOCKER_HOST: string };

/** Reads env.json and fails (never skips) without the agent test host. */
export function agentTestEnv(): AgentTestEnv {
  const env = loadTestEnv() as AgentTestEnv;
  const missing = (['BERTH_TEST_AGENT_NETNS', 'BERTH_TEST_AGENT_HOST_IP', 'BERTH_TEST_AGENT_AGENT_IP', 'BERTH_TEST_AGENT_DOCKER_HOST'] as const).filter((k) => !env[k]);
  if (missing.length) throw new Error(`test environment incomplete: ${testEnvPath()} lacks ${missing.join(', ')}; re-run testenv/berth-testenv up`);
  return env;
}

/** The docker CLI against the agent host's engine (what only the agent should use; tests look behind it). */
export function agentDocker(env: AgentTestEnv, args: string[], allowFail = false): string {
  try {
    return execFileSync('docker', ['-H', env.BERTH_TEST_AGENT_DOCKER_HOST, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DOCKER_API_VERSION: env.BERTH_TEST_DOCKER_API_VERSION } }).trim();
  } catch (err) {
    if (allowFail) return '';
    throw err;
  }
}

/** A CA standing in for the control plane's, with a client certificate for the control plane. */
export interface TestPki {
  ca: Issued;
  client: Issued;
}

/** Makes a CA and a control-plane client certificate. */
export async function testPki(): Promise<TestPki> {
  const ca = await selfSigned('berth test control plane CA');
  return { ca, client: await issue(ca, 'berth control plane', {}) };
}

/** Writes an agent's keys as enrollment does: key and certificate for `ip`, and the CA. Returns the certificate's fingerprint. */
export async function writeAgentKeys(root: string, pki: TestPki, ip: string): Promise<string> {
  const cert = await issue(pki.ca, 'berth agent', { server: { ips: [ip] } });
  const keys = path.join(root, 'keys');
  fs.mkdirSync(keys, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(keys, 'agent.key'), cert.key, { mode: 0o600 });
  fs.writeFileSync(path.join(keys, 'agent.crt'), cert.cert);
  fs.writeFileSync(path.join(keys, 'ca.crt'), pki.ca.cert);
  return new crypto.X509Certificate(cert.cert).fingerprint256;
}

/** A running agent process. */
export interface RunningAgent {
  url: string;
  root: string;
  proc: ChildProcess;
  /** Everything it printed. */
  output: () => string;
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, and waits for the exit. */
  kill(): Promise<void>;
}

/** Starts `berth agent run` in the agent netns and waits for its "listening" line. */
export async function startAgent(env: AgentTestEnv, root: string, o: { port?: number; labels?: Record<string, string>; extraEnv?: Record<string, string> } = {}): Promise<RunningAgent> {
  const listen = `${env.BERTH_TEST_AGENT_AGENT_IP}:${o.port ?? 0}`;
  const args = ['netns', 'exec', env.BERTH_TEST_AGENT_NETNS, process.execPath, BIN, 'agent', 'run', '--root', root, '--listen', listen, '--docker-host', env.BERTH_TEST_AGENT_DOCKER_HOST, '--log-level', 'warn'];
  for (const [k, v] of Object.entries(o.labels ?? {})) args.push('--label', `${k}=${v}`);
  const proc = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.extraEnv } });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /agent listening on (https:\/\/\S+)/.exec(out);
      if (m) {
        proc.stdout.off('data', check);
        resolve(m[1]!);
      }
    };
    proc.stdout.on('data', check);
    proc.once('exit', (code) => reject(new Error(`berth agent run exited (${code}) before listening:\n${out}`)));
  });
  const end = async (sig: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    await exited;
  };
  return { url, root, proc, output: () => out, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

/**
 * An agent as a team sets one up: `berth agent add edge` on `server`, `berth agent enroll` from
 * inside the netns (the key is made there), `berth agent run`, and a provisioner `remote` of type agent.
 */
export async function enrollAgent(env: AgentTestEnv, server: TestServer, root: string): Promise<RunningAgent> {
  const port = 40_000 + crypto.randomInt(20_000);
  const add = await runCli(server, ['agent', 'add', 'edge', '--url', `https://${env.BERTH_TEST_AGENT_AGENT_IP}:${port}`, '--json']);
  if (add.code !== 0) throw new Error(`berth agent add failed: ${add.stderr}`);
  const token = (JSON.parse(add.stdout) as { token: string }).token;
  const enroll = spawnSync('ip', ['netns', 'exec', env.BERTH_TEST_AGENT_NETNS, process.execPath, BERTH_BIN, 'agent', 'enroll', '--server', server.url, '--token', token, '--root', root], { encoding: 'utf8' });
  if (enroll.status !== 0) throw new Error(`berth agent enroll failed: ${enroll.stderr}`);
  const agent = await startAgent(env, root, { port });
  const added = await runCli(server, ['provisioner', 'add', 'remote', '--type', 'agent']);
  if (added.code !== 0) {
    await agent.stop();
    throw new Error(`berth provisioner add remote failed: ${added.stderr}`);
  }
  return agent;
}

/** An agent directory in memory, as the control plane's registry answers: agents, pins, and the TLS to reach them. */
export class MemoryAgentDirectory implements AgentDirectory {
  readonly agents = new Map<string, AgentRecord>();
  readonly pins = new Map<string, string>();

  constructor(private readonly pki: TestPki) {}

  add(name: string, url: string, fingerprint: string, labels: Record<string, string> = {}): void {
    this.agents.set(name, { name, url, labels, fingerprint, enrolledAt: new Date().toISOString() });
  }

  async list(): Promise<AgentRecord[]> {
    return [...this.agents.values()];
  }

  async get(name: string): Promise<AgentRecord | undefined> {
    return this.agents.get(name);
  }

  async pinOf(id: string): Promise<string | undefined> {
    return this.pins.get(id);
  }

  async pin(id: string, agent: string): Promise<void> {
    this.pins.set(id, agent);
  }

  async unpin(id: string): Promise<void> {
    this.pins.delete(id);
  }

  async tlsFor(name: string): Promise<AgentTlsMaterial> {
    return this.tls(name);
  }

  /** The same, synchronously (for tests that build a client by hand). */
  tls(name: string): AgentTlsMaterial {
    const a = this.agents.get(name);
    if (!a) throw new Error(`no agent ${name}`);
    return { key: this.pki.client.key, cert: this.pki.client.cert, ca: this.pki.ca.cert, fingerprint: a.fingerprint };
  }
}

/** A fresh agent root (a temp dir, 0700). */
export function agentRoot(): string {
  return tempDir('berth-agent-root-');
}

/** An `agent` provisioner built through its plug-in, as the control plane builds one, with `directory` as the agent registry. */
export async function agentProvisioner(directory: AgentDirectory, dataDir: string, options: Record<string, unknown> = {}, installation = 'agenttest'): Promise<Provisioner> {
  const ctx: PluginContext = { installation, dataDir, serverUrl: () => 'http://berth.invalid', listening: new Promise<void>(() => undefined), logger: pino({ level: 'silent' }), agents: directory };
  const registry = new ProvisionerRegistry(ctx);
  for (const plugin of builtinPlugins()) registry.register(plugin);
  return registry.build('agents', 'agent', options);
}
