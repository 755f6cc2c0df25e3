/**
 * What the provisioner conformance suite hands a Provisioner directly, without a control plane:
 * an instance built through its plug-in, WorkspaceContexts as the reconciler builds them, test
 * repositories (also as `git bundle` streams for engines that cannot see this host), and execs run
 * to completion.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { normalizeSpec, type SpecInput } from '../../src/core/spec.ts';
import { builtinPlugins } from '../../src/provisioners/plugins.ts';
import type { ExecOptions, OpOptions, PluginContext, Provisioner, WorkspaceContext } from '../../src/provisioners/provisioner.ts';
import { ProvisionerRegistry } from '../../src/provisioners/registry.ts';
import { git, makeRepo } from '../harness.ts';
import type { TestEnv } from '../testenv/env.ts';
import type { ConformanceBackend } from './conformance.ts';

/** A provisioner instance built the way the control plane builds one: through its plug-in and the registry's option checks. */
export async function buildProvisioner(type: string, options: Record<string, unknown>, dataDir: string, installation: string): Promise<Provisioner> {
  // No control plane listens: instances are exercised on their own.
  const ctx: PluginContext = { installation, dataDir, serverUrl: () => 'http://berth.invalid', listening: new Promise<void>(() => undefined), logger: pino({ level: 'silent' }) };
  const registry = new ProvisionerRegistry(ctx);
  for (const plugin of builtinPlugins()) registry.register(plugin);
  return registry.build(`conformance-${type}`, type, options);
}

/** What the test environment's images give a container backend: bookworm (with a user `dev`), and busybox behind the registry's login. */
export function testImages(env: TestEnv): Pick<ConformanceBackend, 'baseSpec' | 'image' | 'user' | 'privateImage'> {
  return {
    baseSpec: { image: env.BERTH_TEST_IMAGE },
    image: { cmd: ['cat', '/etc/os-release'], expect: /VERSION_CODENAME=bookworm/ },
    user: 'dev',
    privateImage: {
      image: env.BERTH_TEST_IMAGE_BUSYBOX_PRIVATE,
      login: { registry: env.BERTH_TEST_REGISTRY, username: env.BERTH_TEST_REGISTRY_USER, password: env.BERTH_TEST_REGISTRY_PASSWORD },
    },
  };
}

/** A fresh workspace id, in the form the control plane gives them. */
export function workspaceId(): string {
  return `ws_${crypto.randomBytes(8).toString('hex')}`;
}

/** A WorkspaceContext as the reconciler's context builder makes it: spec env plus BERTH_* (a workspace token included). */
export function workspaceContext(id: string, project: WorkspaceContext['project'], input: SpecInput): WorkspaceContext {
  const spec = normalizeSpec(input);
  const env: Record<string, string> = Object.fromEntries(spec.env.map((e) => [e.name, e.value]));
  Object.assign(env, {
    // Not loopback: no provisioner needs to make it reachable, and nothing here calls it.
    BERTH_SERVER_URL: 'http://berth.invalid',
    BERTH_WORKSPACE_ID: id,
    BERTH_WORKDIR: `${spec.mountPath}/work`,
    BERTH_WORKSPACE_TOKEN: `berth_w_${crypto.randomBytes(16).toString('hex')}`,
  });
  return { id, name: `conf-${id.slice(3, 11)}`, owner: { id: 'usr_conformance', name: 'conformance' }, project, spec, env };
}

/** The context the reconciler uses for resources the store does not know (orphans): no spec, no secrets. */
export function minimalContext(id: string): WorkspaceContext {
  return { id, name: id, owner: { id: '', name: '' }, project: { name: '', cloneUrl: '' }, spec: normalizeSpec({}), env: {} };
}

/** Operation options that record every progress line. */
export function op(signal = new AbortController().signal): OpOptions & { lines: string[] } {
  const lines: string[] = [];
  return { signal, progress: (line) => lines.push(line), lines };
}

/** A test repository with a small tree; `bigFiles` adds incompressible files so that a clone takes a while. */
export function testRepo(bigFiles = 0): { dir: string; head: string } {
  const files: Record<string, string> = { 'README.md': '# conformance\n', 'src/app.txt': 'hello from the repo\n' };
  const dir = makeRepo(files);
  if (bigFiles > 0) {
    fs.mkdirSync(path.join(dir, 'big'));
    for (let i = 0; i < bigFiles; i++) fs.writeFileSync(path.join(dir, 'big', `blob-${i}.bin`), crypto.randomBytes(256 * 1024));
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'big files');
  }
  return { dir, head: git(dir, 'rev-parse', 'HEAD').trim() };
}

/** The project part of a context cloning `repo` from its clone URL (a file:// URL: git's real transport, with progress). */
export function urlProject(repo: string): WorkspaceContext['project'] {
  return { name: path.basename(repo), cloneUrl: `file://${repo}` };
}

/** The project part of a context whose checkout comes from a `git bundle` stream, as the control plane serves one to remote runtimes. */
export function bundleProject(repo: string): WorkspaceContext['project'] {
  return {
    name: path.basename(repo),
    cloneUrl: `file://${repo}`,
    bundle: async (signal) => {
      const child = spawn('git', ['bundle', 'create', '-', 'HEAD', 'refs/heads/main'], { cwd: repo, stdio: ['ignore', 'pipe', 'ignore'], signal });
      child.on('error', () => undefined);
      return child.stdout;
    },
  };
}

/** How an exec ended and what it wrote. */
export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

/** Runs a process in the workspace to its end; `stdin` is written and then closed. */
export async function run(p: Provisioner, ws: WorkspaceContext, cmd: string[], opts: Partial<ExecOptions> & { stdin?: string } = {}): Promise<ExecResult> {
  const proc = await p.exec(ws, { cmd, tty: false, ...opts });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdin.end(opts.stdin ?? '');
  const exit = await proc.exited;
  return { ...exit, stdout, stderr };
}

/** Waits until `read()` matches `re`, checking whenever `stream` delivers data; fails after `ms`. */
export function waitForOutput(stream: NodeJS.ReadableStream, read: () => string, re: RegExp, ms = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      stream.off('data', check);
    };
    const check = () => {
      if (!re.test(read())) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no output matching ${re} within ${ms}ms; got ${JSON.stringify(read())}`));
    }, ms);
    stream.on('data', check);
    setImmediate(check);
  });
}
