/**
 * Test harness: boots a real `berth server` process on a temporary data directory and gives the
 * test an admin client, helpers to create users and git repositories, and ways to kill -9 and
 * restart the server on the same data.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { ApiError, BerthClient } from '../src/sdk/client.ts';
import type { Workspace } from '../src/sdk/wire.ts';

/** Repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The berth command. */
export const BERTH_BIN = path.join(ROOT, 'bin', 'berth.js');

/** A temporary directory removed by `cleanup`. */
export function tempDir(prefix = 'berth-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Options for a test server. */
export interface TestServerOptions {
  dataDir?: string;
  env?: Record<string, string>;
  args?: string[];
}

/** A `berth server` child process. */
export class TestServer {
  proc!: ChildProcess;
  url = '';
  adminToken = '';
  readonly dataDir: string;
  logs = '';
  private readonly opts: TestServerOptions;

  private constructor(opts: TestServerOptions) {
    this.opts = opts;
    this.dataDir = opts.dataDir ?? tempDir('berth-data-');
  }

  /** Starts a server and waits until /healthz answers. */
  static async start(opts: TestServerOptions = {}): Promise<TestServer> {
    const s = new TestServer(opts);
    await s.boot();
    return s;
  }

  private async boot(port = 0): Promise<void> {
    this.proc = spawn(process.execPath, [BERTH_BIN, 'server', '--data-dir', this.dataDir, '--listen', `127.0.0.1:${port}`, '--reconcile-interval', '1s', ...(this.opts.args ?? [])], {
      env: { ...process.env, BERTH_LOG_LEVEL: 'info', ...this.opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    this.proc.stderr!.on('data', (d: Buffer) => (this.logs += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start within 30s:\n${out}\n${this.logs}`)), 30_000);
      this.proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        this.logs += d.toString();
        const m = /listening on (https?:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      this.proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${out}\n${this.logs}`));
      });
    });
    this.url = url;
    const creds = fs.readFileSync(path.join(this.dataDir, 'admin-credentials'), 'utf8');
    this.adminToken = /BERTH_TOKEN=(\S+)/.exec(creds)![1]!;
  }

  /** A client with the admin token (or another token). */
  client(token = this.adminToken): BerthClient {
    return new BerthClient(this.url, token);
  }

  /** The port the server listens on. */
  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** kill -9, no cleanup whatsoever. */
  async kill9(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }

  /** Starts the server again on the same data directory and port. */
  async restart(): Promise<void> {
    await this.kill9();
    await this.boot(this.port);
  }

  /** Graceful stop (SIGTERM), then removal of the data directory unless `keep`. */
  async stop(opts: { keep?: boolean } = {}): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    if (!opts.keep && !this.opts.dataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Lines of `ps -eo pid,args` whose command line contains `marker` (to find processes a test started). */
export function processesWith(marker: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(marker) && !l.includes('ps -eo'));
}

/** Runs git with a fixed identity; returns stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 'test@example.com', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 'test@example.com' },
  });
}

/** Creates a git repository with `files` (path → content) committed on branch main; returns its path. */
export function makeRepo(files: Record<string, string> = { 'README.md': '# test repo\n' }, dir = tempDir('berth-repo-')): string {
  git(dir, 'init', '-q', '-b', 'main');
  for (const [p, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), content);
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'initial commit');
  return dir;
}

/** Polls until `check` returns a truthy value or the timeout passes. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until the workspace reaches `phase`; on a timeout the error names its last failure message, if any. */
export async function waitPhase(c: BerthClient, ref: string, phase: Workspace['phase'], timeoutMs = 60_000): Promise<Workspace> {
  return eventually(
    async () => {
      const w = await c.getWorkspace(ref);
      // Not fatal: a restarted workspace shows `failed` until the reconciler takes it up; a timeout reports the last message.
      if (w.phase === 'failed' && phase !== 'failed') throw new Error(`workspace failed: ${w.message}`);
      return w.phase === phase ? w : undefined;
    },
    `workspace ${ref} to be ${phase}`,
    timeoutMs,
  );
}

/** Waits until the workspace no longer exists. */
export async function waitGone(c: BerthClient, ref: string, timeoutMs = 60_000): Promise<void> {
  await eventually(
    async () => {
      try {
        await c.getWorkspace(ref);
        return false;
      } catch (err) {
        return (err as { status?: number }).status === 404;
      }
    },
    `workspace ${ref} to be deleted`,
    timeoutMs,
  );
}

/** Runs the berth CLI as a child process against a server (a TestServer, or any URL with a token and a directory for the CLI's config). */
export function runCli(
  server: Pick<TestServer, 'url' | 'adminToken' | 'dataDir'>,
  args: string[],
  opts: { token?: string; input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BERTH_BIN, ...args], {
      env: { ...process.env, BERTH_URL: server.url, BERTH_TOKEN: opts.token ?? server.adminToken, BERTH_CONFIG: path.join(server.dataDir, 'cli-config.json'), ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    p.stdin.end(opts.input ?? '');
  });
}

/** Asserts that `p` rejects with an API error of `status` whose message matches `re`. */
export async function rejectsWith(p: Promise<unknown>, status: number, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.status, status, err.message);
    assert.match(err.message, re);
    return true;
  });
}
