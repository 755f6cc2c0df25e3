/**
 * The `shell` provisioner: a workspace is a directory on the control plane's host and its runtime is
 * processes (under a PTY for terminals). Storage: `<root>/<workspace id>/`, which plays the part of
 * the mount path (`/workspace`); the checkout is `work/`, Berth's own files are in `.berth/`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import * as pty from 'node-pty';
import { InputError, ProvisionerError, errorMessage, throwIfAborted } from '../../core/errors.ts';
import { progressFilter } from '../../core/lines.ts';
import { resolveInside } from '../../core/names.ts';
import type { Spec } from '../../core/spec.ts';
import { copyTree } from '../copy-tree.ts';
import { checkoutConfigSteps, gitConfigEnv, gitConfigPairs } from '../git-setup.ts';
import { removeTree } from '../remove-tree.ts';
import type { Capabilities, ExecOptions, ExecProcess, OpOptions, Provisioner, ProgressSink, RuntimeStatus, WorkspaceContext } from '../provisioner.ts';
import { installTrustOnHost, trustEnv } from '../trust.ts';
import { ProcessRecords, type ProcKind } from './procs.ts';

/** What the shell type can do: it runs on the control plane's host and honours no image, user or limits. */
export const shellCapabilities: Capabilities = { runsOnHost: true, image: false, user: false, resources: false, registryLogins: false, needsServerUrl: false, fork: true, warmPool: true };

/** Options of a shell provisioner instance. */
export interface ShellProvisionerOptions {
  name?: string;
  /** Directory holding one sub-directory per workspace. */
  root: string;
  /** Directory for per-user data and per-project caches shared across workspaces. */
  sharedRoot: string;
  /** Most lifecycle operations at once (server/op-queue.ts); undefined = no bound. */
  maxConcurrentOps?: number;
}

const ID_RE = /^ws_[a-z0-9]+$/;

/** Runs workspaces as directories and processes on the control plane's host. */
export class ShellProvisioner implements Provisioner {
  readonly name: string;
  readonly type = 'shell';
  readonly capabilities = shellCapabilities;
  private readonly root: string;
  private readonly sharedRoot: string;
  readonly maxConcurrentOps: number | undefined;

  constructor(opts: ShellProvisionerOptions) {
    this.name = opts.name ?? 'shell';
    this.maxConcurrentOps = opts.maxConcurrentOps;
    this.root = path.resolve(opts.root);
    this.sharedRoot = path.resolve(opts.sharedRoot);
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
  }

  async validate(spec: Spec): Promise<void> {
    for (const p of [...spec.userData, ...spec.caches]) {
      if (!p.startsWith('~/')) throw new InputError(`The shell provisioner supports userData and caches under the home directory only (~/…), not "${p}".`);
    }
    for (const f of spec.files) {
      if (!f.path.startsWith('~/') && !f.path.startsWith(`${spec.mountPath}/`)) {
        throw new InputError(`The shell provisioner writes config files under ${spec.mountPath}/ or ~/ only, not "${f.path}".`);
      }
    }
  }

  /** The directory that holds a workspace's files. */
  dir(id: string): string {
    if (!ID_RE.test(id)) throw new ProvisionerError(`Invalid workspace id "${id}".`, { retryable: false });
    return path.join(this.root, id);
  }

  private paths(id: string) {
    const dir = this.dir(id);
    return {
      dir,
      work: path.join(dir, 'work'),
      berth: path.join(dir, '.berth'),
      home: path.join(dir, '.berth', 'home'),
      marker: path.join(dir, '.berth', 'runtime.json'),
      procs: new ProcessRecords(path.join(dir, '.berth', 'pids')),
    };
  }

  async provision(ws: WorkspaceContext, opts: OpOptions): Promise<RuntimeStatus> {
    const p = this.paths(ws.id);
    // A previous attempt may have been cut short by a crash: end whatever it left running first.
    // Provisioned again while running (its spec changed): its processes end too, so what runs next sees the new spec.
    const killed = await p.procs.killAll(fs.existsSync(p.marker) ? ['provision', 'exec'] : ['provision']);
    if (killed) opts.progress(`Ended ${killed} process group(s) still running from before.`, 'info');
    fs.mkdirSync(p.home, { recursive: true, mode: 0o700 });
    fs.chmodSync(p.dir, 0o700);
    if (ws.caBundle) installTrustOnHost(ws.caBundle, p.dir);

    await this.cloneIfAbsent(ws, p, opts);
    await this.linkShared(ws, p.home);
    for (const f of ws.spec.files) {
      const target = resolveInside(f.path, { mountPath: ws.spec.mountPath, root: p.dir, home: p.home });
      if (!target) throw new ProvisionerError(`Config file path "${f.path}" lies outside the workspace.`, { retryable: false });
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, f.content, { mode: f.mode });
      fs.chmodSync(target, f.mode);
    }
    for (const [i, command] of ws.spec.setup.entries()) {
      throwIfAborted(opts.signal);
      opts.progress(`Running setup command ${i + 1}/${ws.spec.setup.length}: ${firstLine(command)}`, 'info');
      const code = await this.runTracked(ws, p, ['-c', command], 'provision', opts.progress, opts.signal);
      if (code !== 0) {
        throw new ProvisionerError(`Setup command ${i + 1} exited with code ${code}: ${firstLine(command)}`, { retryable: false, code: 'setup_failed' });
      }
    }
    fs.writeFileSync(p.marker, JSON.stringify({ state: 'running', since: new Date().toISOString() }));
    return this.inspect(ws.id);
  }

  /** A warm-pool directory already holds its checkout: provisioning it again writes files and runs setup, and clones nothing. */
  adopt(ws: WorkspaceContext, opts: OpOptions): Promise<RuntimeStatus> {
    return this.provision(ws, opts);
  }

  private async cloneIfAbsent(ws: WorkspaceContext, p: ReturnType<ShellProvisioner['paths']>, opts: OpOptions): Promise<void> {
    // Persists the gateway's credential helper (it reads $BERTH_WORKSPACE_TOKEN, never holds it) so
    // pull and push work in the checkout, also after the token rotates. Idempotent.
    const configureCheckout = async (dir: string) => {
      for (const step of checkoutConfigSteps(ws.project.gitEnv)) {
        const code = await this.runTracked(ws, p, ['-C', dir, ...step.args], 'provision', opts.progress, opts.signal, 'git');
        if (!step.okCodes.includes(code)) throw new ProvisionerError(`Configuring git in ${dir} failed (git ${step.args.join(' ')} exited with ${code}).`, { retryable: false });
      }
    };
    if (fs.existsSync(path.join(p.work, '.git'))) {
      opts.progress('Repository already present in work/, keeping it.', 'info');
      await configureCheckout(p.work);
      return;
    }
    if (fs.existsSync(p.work)) {
      if (fs.readdirSync(p.work).length > 0) {
        throw new ProvisionerError(`${p.work} exists but is not a git checkout; move its files away or delete the workspace.`, { retryable: false });
      }
      fs.rmdirSync(p.work);
    }
    const tmp = path.join(p.berth, 'clone.tmp');
    await removeTree(tmp);
    opts.progress(`Cloning ${ws.project.name}${ws.ref ? ` (${ws.ref})` : ''} into work/`, 'info');
    // On the control plane's host the mirror is on the same disk: read it directly (git hard-links
    // its immutable object files; shell workspaces belong to admins, who own the host anyway). The
    // clone names the gateway URL, and a url.<mirror>.insteadOf for this one process sends git to the
    // mirror, so origin is the gateway from the start. The credential settings go in with the clone itself.
    const mirror = ws.project.localMirror ? await ws.project.localMirror(opts.signal) : undefined;
    const pairs = gitConfigPairs(ws.project.gitEnv);
    const credentialConfig = pairs.filter(([k]) => k.toLowerCase().startsWith('credential.')).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
    const args = ['clone', '--progress', ...credentialConfig, ...(ws.ref ? ['--branch', ws.ref] : []), '--', ws.project.cloneUrl, tmp];
    // Passed as GIT_CONFIG_* (not `-c`), so a mirror path containing '=' stays intact.
    const env = mirror ? gitConfigEnv([...pairs, [`url.${mirror}.insteadOf`, ws.project.cloneUrl]]) : {};
    const code = await this.runTracked(ws, p, args, 'provision', opts.progress, opts.signal, 'git', env);
    if (code !== 0) {
      await removeTree(tmp);
      throw new ProvisionerError(`git clone of project "${ws.project.name}" failed with exit code ${code}; see the workspace log for git's message.`, {
        code: 'clone_failed',
      });
    }
    fs.renameSync(tmp, p.work);
  }

  /** Links per-user data and per-project caches into the workspace's home so they outlive it. */
  private async linkShared(ws: WorkspaceContext, home: string): Promise<void> {
    const link = async (p: string, base: string) => {
      const shared = path.join(base, p.slice(2));
      const target = path.join(home, p.slice(2));
      fs.mkdirSync(shared, { recursive: true, mode: 0o700 });
      fs.mkdirSync(path.dirname(target), { recursive: true });
      const existing = fs.lstatSync(target, { throwIfNoEntry: false });
      if (existing?.isSymbolicLink() && fs.readlinkSync(target) === shared) return;
      if (existing) await removeTree(target);
      fs.symlinkSync(shared, target);
    };
    for (const p of ws.spec.userData) await link(p, path.join(this.sharedRoot, 'userdata', ws.owner.id));
    for (const p of ws.spec.caches) await link(p, path.join(this.sharedRoot, 'caches', ws.project.name));
  }

  /** A fork's directory: a copy (copy-on-write where the filesystem can) of the source's, without its process records and running marker. */
  async copyStorage(from: WorkspaceContext, to: WorkspaceContext, opts: OpOptions): Promise<void> {
    const target = this.dir(to.id);
    await copyTree(this.dir(from.id), target, { ...opts, tmp: path.join(this.root, `.fork-${to.id}`), drop: ['.berth/pids', '.berth/runtime.json', '.berth/clone.tmp'] });
  }

  async stop(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    const p = this.paths(ws.id);
    // Setup or teardown steps of an interrupted earlier attempt end before teardown runs again.
    await p.procs.killAll(['provision']);
    if (fs.existsSync(p.marker)) await this.teardown(ws, p, opts);
    const killed = await p.procs.killAll(['provision', 'exec']);
    if (killed) opts.progress(`Ended ${killed} process group(s).`, 'info');
    fs.rmSync(p.marker, { force: true });
  }

  private async teardown(ws: WorkspaceContext, p: ReturnType<ShellProvisioner['paths']>, opts: OpOptions): Promise<void> {
    for (const [i, command] of ws.spec.teardown.entries()) {
      opts.progress(`Running teardown command ${i + 1}/${ws.spec.teardown.length}: ${firstLine(command)}`, 'info');
      const code = await this.runTracked(ws, p, ['-c', command], 'provision', opts.progress, opts.signal);
      // A failing teardown must not keep a workspace from stopping; it is reported and we go on.
      if (code !== 0) opts.progress(`Teardown command ${i + 1} exited with code ${code}; continuing.`, 'info');
    }
  }

  async destroy(ws: WorkspaceContext, opts: OpOptions): Promise<void> {
    const p = this.paths(ws.id);
    if (!fs.existsSync(p.dir)) return;
    await p.procs.killAll(['provision']);
    if (fs.existsSync(p.marker)) await this.teardown(ws, p, opts);
    await p.procs.killAll(['provision', 'exec']);
    // Not fs.rm: a checkout with a large node_modules must not stall every API call and terminal.
    await removeTree(p.dir);
    opts.progress('Removed the workspace directory.', 'info');
  }

  async inspect(workspaceId: string): Promise<RuntimeStatus> {
    const p = this.paths(workspaceId);
    if (!fs.existsSync(p.dir)) return { state: 'absent', storage: false };
    const running = fs.existsSync(p.marker) && fs.existsSync(path.join(p.work, '.git'));
    return { state: running ? 'running' : 'stopped', storage: true, details: { directory: p.dir } };
  }

  async list(): Promise<string[]> {
    return fs.readdirSync(this.root).filter((d) => ID_RE.test(d));
  }

  async exec(ws: WorkspaceContext, opts: ExecOptions): Promise<ExecProcess> {
    const p = this.paths(ws.id);
    if (!fs.existsSync(p.marker)) throw new ProvisionerError(`Workspace "${ws.name}" is not running; start it first.`, { retryable: false, code: 'not_running' });
    const shell = ws.spec.shell ?? '/bin/bash';
    const [file, args] = opts.cmd.length > 0 ? [opts.cmd[0]!, opts.cmd.slice(1)] : [shell, ['-l']];
    const cwd = opts.cwd ?? (fs.existsSync(p.work) ? p.work : p.dir);
    const env = { ...this.env(ws, p), ...opts.env };
    return opts.tty ? this.spawnPty(p.procs, file, args, cwd, env, opts) : this.spawnPipes(p.procs, file, args, cwd, env);
  }

  private env(ws: WorkspaceContext, p: ReturnType<ShellProvisioner['paths']>): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: process.env.LANG ?? 'C.UTF-8',
      HOME: p.home,
      USER: process.env.USER ?? 'berth',
      SHELL: ws.spec.shell ?? '/bin/bash',
      TERM: 'xterm-256color',
      ...ws.env,
      // The trust variables name the mount path; here the workspace's directory plays that part.
      ...(ws.caBundle ? trustEnv(p.dir) : {}),
      BERTH_WORKDIR: p.work,
    };
  }

  private spawnPipes(procs: ProcessRecords, file: string, args: string[], cwd: string, env: Record<string, string>): ExecProcess {
    const child = spawn(file, args, { cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<{ code: number | null; signal?: string }>((resolve) => {
      child.once('error', (err) => {
        child.stderr.push(`berth: cannot run "${file}": ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'command not found' : err.message}\n`);
        child.stderr.push(null);
        child.stdout.push(null);
        resolve({ code: 127 });
      });
      child.once('close', (code, signal) => {
        if (child.pid) procs.forget('exec', child.pid);
        resolve(signal ? { code, signal } : { code });
      });
    });
    if (child.pid) procs.record('exec', child.pid);
    child.stdin.on('error', () => undefined);
    return {
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      resize: () => undefined,
      kill: (sig = 'SIGTERM') => {
        try {
          if (child.pid) process.kill(-child.pid, sig);
        } catch {
          /* gone */
        }
      },
      exited,
    };
  }

  private spawnPty(procs: ProcessRecords, file: string, args: string[], cwd: string, env: Record<string, string>, opts: ExecOptions): ExecProcess {
    let term: pty.IPty;
    try {
      term = pty.spawn(file, args, { name: 'xterm-256color', cols: opts.cols ?? 80, rows: opts.rows ?? 24, cwd, env });
    } catch (err) {
      throw new ProvisionerError(`Cannot start "${file}" in the workspace: ${errorMessage(err)}`, { retryable: false, cause: err });
    }
    procs.record('exec', term.pid);
    const stdout = new PassThrough();
    term.onData((d) => {
      // Propagate back-pressure to the terminal, so a slow reader holds the process, not our memory.
      if (!stdout.write(d)) {
        term.pause();
        stdout.once('drain', () => term.resume());
      }
    });
    const stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        term.write(chunk.toString('utf8'));
        cb();
      },
    });
    const exited = new Promise<{ code: number | null; signal?: string }>((resolve) => {
      term.onExit(({ exitCode, signal }) => {
        procs.forget('exec', term.pid);
        // node-pty may deliver the last output after onExit; let it drain before ending the stream.
        setTimeout(() => stdout.end(), 100);
        // node-pty reports the signal's number; the contract (and the CLI's 128 + n) wants its name.
        resolve(signal ? { code: null, signal: signalName(signal) } : { code: exitCode });
      });
    });
    return {
      stdin,
      stdout,
      stderr: null,
      resize: (cols, rows) => {
        try {
          term.resize(Math.max(1, cols), Math.max(1, rows));
        } catch {
          /* process gone */
        }
      },
      kill: (sig = 'SIGHUP') => {
        try {
          process.kill(-term.pid, sig);
        } catch {
          /* gone */
        }
      },
      exited,
    };
  }

  /** Runs a setup/teardown command or git under the workspace's process records, streaming output lines. */
  private runTracked(
    ws: WorkspaceContext,
    p: ReturnType<ShellProvisioner['paths']>,
    args: string[],
    kind: ProcKind,
    progress: ProgressSink,
    signal: AbortSignal,
    file?: string,
    extraEnv: Record<string, string> = {},
  ): Promise<number> {
    const cmd = file ?? ws.spec.shell ?? '/bin/bash';
    const cwd = file === 'git' ? p.dir : fs.existsSync(p.work) ? p.work : p.dir;
    const env = { ...this.env(ws, p), ...(file === 'git' ? { ...ws.project.gitEnv, GIT_TERMINAL_PROMPT: '0' } : {}), ...extraEnv };
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      if (child.pid) p.procs.record(kind, child.pid);
      const out = progressFilter((line, k) => progress(line, k));
      const err = progressFilter((line, k) => progress(line, k));
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      const onAbort = () => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
      child.once('error', (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(new ProvisionerError(`Cannot run ${cmd}: ${e.message}`, { cause: e, retryable: false }));
      });
      child.once('close', (code) => {
        signal.removeEventListener('abort', onAbort);
        out.flush();
        err.flush();
        if (child.pid) p.procs.forget(kind, child.pid);
        if (signal.aborted) reject(signal.reason instanceof Error ? signal.reason : new ProvisionerError('Cancelled.'));
        else resolve(code ?? 128);
      });
    });
  }

  async close(): Promise<void> {}
}

/** `SIGINT` for 2: the name of a signal number, as Node's child processes report it. */
function signalName(n: number): string {
  return Object.entries(os.constants.signals).find(([, v]) => v === n)?.[0] ?? String(n);
}

function firstLine(s: string): string {
  const line = s.split('\n')[0]!;
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}
