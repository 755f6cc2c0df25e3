/**
 * Shared helpers of the Docker e2e suites: the real engines, registry and images that
 * `testenv/berth-testenv up` starts (described by its env.json), docker CLI access to both engines,
 * and clean-up of everything a test server created on them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Forwarders } from '../../src/provisioners/docker/forwarder.ts';
import type { BerthClient } from '../../src/sdk/client.ts';
import { TestServer, makeRepo, waitGone } from '../harness.ts';
import { loadTestEnv, type TestEnv } from '../testenv/env.ts';

export type { TestEnv };

/** Reads the test environment (fails with how to start it when it is missing; never a silent skip). */
export function testEnv(): TestEnv {
  return loadTestEnv();
}

/** Runs the docker CLI against the local engine, or the remote TLS one. Returns stdout. */
export function docker(args: string[], opts: { remote?: boolean; allowFail?: boolean } = {}): string {
  const env = testEnv();
  const e: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: env.BERTH_TEST_DOCKER_HOST, DOCKER_CONFIG: '/nonexistent-berth-docker-config' };
  delete e.DOCKER_TLS_VERIFY;
  delete e.DOCKER_CERT_PATH;
  if (opts.remote) Object.assign(e, { DOCKER_HOST: env.BERTH_TEST_REMOTE_DOCKER_HOST, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: env.BERTH_TEST_REMOTE_DOCKER_CERT_PATH });
  try {
    return execFileSync('docker', args, { env: e, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (opts.allowFail) return '';
    throw new Error(`docker ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
  }
}

/** `docker inspect` of one object as JSON, or null when it does not exist. */
export function inspect<T = Record<string, unknown>>(what: 'container' | 'volume', name: string, remote = false): T | null {
  const out = docker([what, 'inspect', name], { remote, allowFail: true });
  return out ? ((JSON.parse(out) as T[])[0] ?? null) : null;
}

/** Names of containers (all states) carrying a label. */
export function containersWith(label: string, remote = false): string[] {
  return docker(['ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}'], { remote }).split('\n').filter(Boolean);
}

/** Names of volumes carrying a label. */
export function volumesWith(label: string, remote = false): string[] {
  return docker(['volume', 'ls', '--filter', `label=${label}`, '--format', '{{.Name}}'], { remote }).split('\n').filter(Boolean);
}

/** The installation id a test server labels its engine objects with (read from its database). */
export function installationOf(server: TestServer): string {
  const db = new Database(path.join(server.dataDir, 'berth.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("select value from meta where key = 'installation_id'").get() as { value: string } | undefined;
    if (!row) throw new Error('the server has no installation id yet');
    return row.value;
  } finally {
    db.close();
  }
}

/** Removes every container and volume a test server created on both engines. */
export function cleanupEngines(installation: string): void {
  for (const remote of [false, true]) {
    const label = `berth.installation=${installation}`;
    try {
      const cs = containersWith(label, remote);
      if (cs.length) docker(['rm', '-f', ...cs], { remote, allowFail: true });
      const vs = volumesWith(label, remote);
      if (vs.length) docker(['volume', 'rm', '-f', ...vs], { remote, allowFail: true });
    } catch (err) {
      process.stderr.write(`cleanup of the ${remote ? 'remote' : 'local'} engine failed: ${(err as Error).message}\n`);
    }
  }
}

/** Deletes workspaces and waits until each is gone. */
export async function removeWorkspaces(c: BerthClient, ...ids: string[]): Promise<void> {
  for (const id of ids) await c.deleteWorkspace(id);
  for (const id of ids) await waitGone(c, id);
}

/**
 * What an admin puts in front of a control plane on loopback for a remote engine: a proxy on an
 * address the engine's containers reach (here the remote engine's bridge, berthrd0). Its URL is
 * what `--server-url` gets.
 */
export async function proxyForRemoteEngine(server: TestServer): Promise<{ url: string; close: () => Promise<void> }> {
  const [bridge] = JSON.parse(docker(['network', 'inspect', 'bridge'], { remote: true })) as { IPAM: { Config: { Gateway?: string }[] } }[];
  const address = bridge?.IPAM.Config.find((c) => c.Gateway)?.Gateway;
  if (!address) throw new Error("the remote engine's bridge names no gateway address");
  const proxy = new Forwarders();
  const port = await proxy.ensure(address, 0, { host: '127.0.0.1', port: server.port });
  return { url: `http://${address}:${port}`, close: () => proxy.close() };
}

/** A test file's server with project "demo" on a new repository of these files, and what its clean-up needs. */
export interface DemoServer {
  server: TestServer;
  repo: string;
  installation: string;
}

/** Starts a real server and adds project "demo" on a new repository holding `files`. */
export async function startDemo(files?: Record<string, string>, opts?: Parameters<typeof TestServer.start>[0]): Promise<DemoServer> {
  const server = await TestServer.start(opts);
  const repo = makeRepo(files);
  await server.client().createProject({ name: 'demo', repo });
  return { server, repo, installation: installationOf(server) };
}

/** Stops the server, removes what it created on the engines, and the repository. */
export async function stopDemo(d: Partial<DemoServer>): Promise<void> {
  await d.server?.stop();
  if (d.installation) cleanupEngines(d.installation);
  if (d.repo) fs.rmSync(d.repo, { recursive: true, force: true });
}
