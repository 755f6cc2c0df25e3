/** CLI behaviour a user meets on common mistakes and on recovery. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as pty from 'node-pty';
import { BERTH_BIN, TestServer, eventually, makeRepo, runCli, tempDir, waitPhase } from '../harness.ts';

let server: TestServer;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server?.stop();
});

function berth(args: string[], env: Record<string, string> = {}, keepStdinOpenMs = 0): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, [BERTH_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => p.kill('SIGKILL'), 30_000);
    const close = setTimeout(() => p.stdin.end(), keepStdinOpenMs);
    p.on('close', (code) => {
      clearTimeout(kill);
      clearTimeout(close);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

test('start-up mistakes are one clear line, not a stack trace', async () => {
  const dir = tempDir('berth-cli-');
  let r = await berth(['server', '--data-dir', dir, '--listen', `127.0.0.1:${server.port}`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already in use/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);

  r = await berth(['server', '--data-dir', tempDir('berth-cli-'), '--listen', '127.0.0.1:0'], { BERTH_SECRET_KEY: 'abc' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /must be 32 random bytes encoded in base64/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);

  r = await berth(['server', '--listen', 'nowhere']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--listen .* must be HOST:PORT/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the server command lists its options and their environment variables, however its help is asked for', async () => {
  for (const args of [['server', '--help'], ['help', 'server']]) {
    const r = await berth(args);
    assert.equal(r.code, 0, args.join(' '));
    for (const want of ['--listen <hostport>', '--warm-pool', 'BERTH_DATA_DIR', 'BERTH_WARM_POOL']) assert.ok(r.stdout.includes(want), `${args.join(' ')} shows ${want}`);
  }
});

test('berth admin token mints a working admin token on the server host', async () => {
  const r = await berth(['admin', 'token', '--data-dir', server.dataDir]);
  assert.equal(r.code, 0, r.stderr);
  const token = /^(berth_u_\S+)$/m.exec(r.stdout)![1]!;
  assert.equal((await server.client(token).me()).user.name, 'admin');
  const creds = fs.readFileSync(path.join(server.dataDir, 'admin-credentials'), 'utf8');
  assert.ok(creds.includes(token));
  assert.equal(fs.statSync(path.join(server.dataDir, 'admin-credentials')).mode & 0o777, 0o600);
  const missing = await berth(['admin', 'token', '--data-dir', tempDir('berth-empty-')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No Berth database/);
});

test('ws exec with an open stdin pipe still exits on an error', async () => {
  const r = await berth(['ws', 'exec', 'nosuch', '--', 'ls'], { BERTH_URL: server.url, BERTH_TOKEN: server.adminToken }, 20_000);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /No workspace "nosuch"/);
  assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
});

test('commands without a login say how to log in', async () => {
  const r = await berth(['ws', 'list'], { BERTH_CONFIG: path.join(tempDir('berth-cfg-'), 'none.json'), BERTH_URL: '', BERTH_TOKEN: '' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Not logged in: run "berth login/);
  const bad = await runCli(server, ['ws', 'list'], { token: `berth_u_${'x'.repeat(43)}` });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /token is not valid/);
});

/** Runs the CLI in a real terminal, as a person would. */
function terminal(args: string[]): { term: pty.IPty; screen: () => string; exited: Promise<number> } {
  let out = '';
  const term = pty.spawn(process.execPath, [BERTH_BIN, ...args], {
    cols: 100,
    rows: 30,
    env: { ...process.env, BERTH_URL: server.url, BERTH_TOKEN: server.adminToken },
  });
  term.onData((d) => (out += d));
  const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  return { term, screen: () => out, exited };
}

test('berth ws shell: an interactive terminal that detaches with Ctrl-] d and re-attaches with its state', { timeout: 60_000 }, async () => {
  const repo = makeRepo();
  const c = server.client();
  await c.createProject({ name: 'tty', repo });
  await c.createWorkspace({ name: 'tty', project: 'tty' });
  await waitPhase(c, 'tty', 'running');

  const first = terminal(['ws', 'shell', 'tty']);
  first.term.write('export PS1="ready> "; X=kept; echo "cols=$(tput cols)"\r');
  await eventually(() => first.screen().includes('cols=100'), 'the shell to see the terminal size', 15_000);
  first.term.resize(120, 30);
  // The new size travels apart from the typed input (SIGWINCH in the CLI, then a message to the
  // server): ask the shell again until it has arrived, rather than once right after the resize.
  await eventually(() => {
    if (first.screen().includes('now=120')) return true;
    first.term.write('echo "now=$(tput cols)"\r');
    return false;
  }, 'the resize to reach the shell', 15_000, 500);
  first.term.write('\x1dd');
  assert.equal(await first.exited, 0);
  const session = /--session (term_[a-f0-9]+)/.exec(first.screen().replace(/\r?\n/g, ''))?.[1];
  assert.ok(session, `detach message with the session id, got: ${first.screen().slice(-300)}`);

  const second = terminal(['ws', 'shell', 'tty', '--session', session]);
  await eventually(() => second.screen().includes('now=120'), 'the buffered output to be replayed', 15_000);
  second.term.write('echo "X is $X"; exit 3\r');
  assert.equal(await second.exited, 3);
  // node-pty may report the exit before the last output has been read from the terminal.
  await eventually(() => second.screen().includes('X is kept'), 'the re-attached shell to still hold X', 5000);
  fs.rmSync(repo, { recursive: true, force: true });
});
