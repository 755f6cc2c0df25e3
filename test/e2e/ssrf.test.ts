/**
 * E2E: a plain user cannot make the server connect to internal addresses through a project's
 * upstream: loopback, private, metadata addresses, a name resolving to loopback and a redirect to
 * loopback are refused before any connection (listeners count them), and no error repeats what an
 * internal host sent. An admin-allowed address works; an admin's own project is not restricted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiError, type BerthClient } from '../../src/sdk/client.ts';
import { tempDir, TestServer } from '../harness.ts';
import { bareUpstream, revParse, tokenGitEnv, upstreamRoot, UPSTREAM_PASSWORD, UPSTREAM_USER } from '../git/fixtures.ts';
import { startUpstream, type UpstreamServer } from '../git/upstream-server.ts';

/** What the internal listeners send; no error text may contain it. */
const CANARY = 'INTERNAL-CANARY-7f3a';
/** The address the admin allows; every other loopback address stays forbidden. */
const ALLOWED = '127.0.0.2';

/** A listener that counts connections and answers each with an HTTP error carrying the canary. */
interface Counter {
  port: number;
  connections: number;
  close(): Promise<void>;
}

async function listen(server: net.Server, host: string): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as net.AddressInfo).port;
}

async function counter(host: string): Promise<Counter> {
  const state = { connections: 0 };
  const server = net.createServer((s) => {
    state.connections++;
    s.on('error', () => undefined);
    s.end(`HTTP/1.1 500 ${CANARY}\r\nContent-Type: text/plain\r\nX-Canary: ${CANARY}\r\nContent-Length: ${CANARY.length}\r\nConnection: close\r\n\r\n${CANARY}`);
  });
  const port = await listen(server, host);
  return {
    port,
    get connections() {
      return state.connections;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let server: TestServer;
let upstream: UpstreamServer;
let root: string;
let bare: string;
let internal: Counter;
let bob: BerthClient;
let bobToken: string;
const closers: (() => Promise<void>)[] = [];
let relayPort: number;
let redirects = 0;
let redirectPort: number;

before(async () => {
  root = upstreamRoot();
  bare = bareUpstream(root, 'app');
  upstream = await startUpstream(root, UPSTREAM_USER, UPSTREAM_PASSWORD);
  internal = await counter('127.0.0.1');
  // The allowed address relays to the test's git server, so an allowed upstream really serves git.
  const relay = net.createServer((s) => {
    const up = net.connect(Number(new URL(upstream.url).port), '127.0.0.1');
    s.pipe(up).pipe(s);
    s.on('error', () => up.destroy());
    up.on('error', () => s.destroy());
  });
  relayPort = await listen(relay, ALLOWED);
  // An allowed first hop that redirects to the forbidden listener.
  const redirector = http.createServer((_req, res) => {
    redirects++;
    res.writeHead(302, { location: `http://127.0.0.1:${internal.port}/internal-admin`, 'x-canary': CANARY });
    res.end(CANARY);
  });
  redirectPort = await listen(redirector, ALLOWED);
  closers.push(() => new Promise((r) => relay.close(() => r())), () => new Promise((r) => redirector.close(() => r())));
  server = await TestServer.start({ args: ['--outbound-allow', `${ALLOWED}/32`] });
  bobToken = (await server.client().createUser('bob')).token;
  bob = server.client(bobToken);
});
after(async () => {
  await server?.stop();
  await Promise.all([upstream?.close(), internal?.close(), ...closers.map((c) => c())]);
  fs.rmSync(root, { recursive: true, force: true });
});

/**
 * git with `token` as the gateway password, run asynchronously: the upstream and relay live in this
 * process, so a blocking spawnSync would leave them unable to answer the server's relay.
 */
async function gitAs(cwd: string, token: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn('git', args, { cwd, env: tokenGitEnv(token) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.once('close', (c) => resolve(c ?? 1)));
  return { code, stdout, stderr };
}

/** Fails unless `p` rejects with `status`, a message matching `re` and nothing an internal host sent. */
async function refused(p: Promise<unknown>, status: number, re: RegExp): Promise<string> {
  let message = '';
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ApiError, String(err));
    message = `${err.message} ${JSON.stringify(err)}`;
    assert.equal(err.status, status, err.message);
    assert.match(err.message, re);
    return true;
  });
  assert.ok(!message.includes(CANARY), message);
  return message;
}

test('bob cannot create a project on a loopback, private, metadata or link-local address in any spelling; nothing connects', async () => {
  const p = internal.port;
  const cases: [string, RegExp][] = [
    [`http://127.0.0.1:${p}/internal-admin`, /127\.0\.0\.1 is a loopback address/],
    [`http://0x7f.1:${p}/x`, /loopback address/],
    [`http://2130706433:${p}/x`, /loopback address/],
    [`http://[::1]:${p}/x`, /loopback address/],
    [`http://[::ffff:127.0.0.1]:${p}/x`, /loopback address/],
    [`ssh://git@127.0.0.1:${p}/x.git`, /loopback address/],
    [`git@2130706433:x.git`, /loopback address/],
    [`git://127.0.0.1:${p}/x.git`, /loopback address/],
    ['http://10.0.0.1/x', /10\.0\.0\.1 is a private address/],
    ['https://172.16.5.4/x', /private address/],
    ['http://100.64.0.1/x', /private address/],
    ['http://169.254.169.254/', /169\.254\.169\.254 is a metadata address/],
    ['http://[fd00:ec2::254]/', /metadata address/],
    ['http://169.254.1.1/x', /link-local address/],
    [`http://localhost:${p}/x`, /"localhost" resolves to (127\.0\.0\.1|::1), which is a loopback address/],
  ];
  for (const [repo, re] of cases) {
    const m = await refused(bob.createProject({ name: 'probe', repo }), 403, re);
    assert.match(m, /only admins may use as an upstream unless an admin allows it with --outbound-allow/);
  }
  assert.equal(internal.connections, 0, 'no connection reached the internal listener');
  assert.equal((await bob.listProjects()).length, 0, 'nothing was stored');
});

test('an allowed address works for bob; moving his project to a forbidden one is refused and changes nothing', async () => {
  const repo = `http://${ALLOWED}:${relayPort}/app.git`;
  await bob.createProject({ name: 'bobs', repo, credentials: { username: UPSTREAM_USER, password: UPSTREAM_PASSWORD } });
  const synced = await bob.syncProject('bobs');
  assert.equal(synced.head, 'main');
  // Clone and push through the gateway: the push relay reaches the allowed upstream too.
  const dir = tempDir();
  assert.equal((await gitAs(dir, bobToken, 'clone', '-q', `${server.url}/git/bobs.git`, 'c')).code, 0);
  const work = path.join(dir, 'c');
  fs.writeFileSync(path.join(work, 'bob.txt'), 'bob\n');
  await gitAs(work, bobToken, 'add', 'bob.txt');
  await gitAs(work, bobToken, 'commit', '-q', '-m', 'from bob');
  const push = await gitAs(work, bobToken, 'push', '-q', 'origin', 'HEAD:main');
  assert.equal(push.code, 0, push.stderr);
  assert.equal(revParse(bare, 'refs/heads/main'), (await gitAs(work, bobToken, 'rev-parse', 'HEAD')).stdout.trim());
  fs.rmSync(dir, { recursive: true, force: true });
  await refused(bob.updateProject('bobs', { repo: `http://127.0.0.1:${internal.port}/x` }), 403, /loopback address/);
  await refused(bob.updateProject('bobs', { repo: `http://localhost:${internal.port}/x` }), 403, /"localhost" resolves to/);
  assert.equal((await bob.getProject('bobs')).repo, repo);
  assert.equal(internal.connections, 0);
});

test('a redirect from an allowed host to a forbidden one is not followed, and the error repeats nothing it sent', async () => {
  await bob.createProject({ name: 'redir', repo: `http://${ALLOWED}:${redirectPort}/x.git` });
  const m = await refused(bob.syncProject('redir'), 502, /redirect, which is not followed for projects of non-admin users; use the final URL/);
  assert.ok(!/302|internal-admin/.test(m), m);
  assert.ok(redirects > 0, 'the allowed first hop was asked');
  assert.equal(internal.connections, 0, 'the redirect target was never contacted');
});

test("a forbidden URL an admin set on bob's project is refused at fetch time, by sync and through the git gateway", async () => {
  const admin = server.client();
  // Owned by bob: the check follows the project's owner, not who last edited it.
  await bob.createProject({ name: 'bobs2', repo: `http://${ALLOWED}:${relayPort}/app.git` });
  await admin.updateProject('bobs2', { repo: `http://127.0.0.1:${internal.port}/internal-admin` });
  await refused(bob.syncProject('bobs2'), 403, /127\.0\.0\.1 is a loopback address/);
  const dir = tempDir();
  const clone = await gitAs(dir, bobToken, 'clone', '-q', `${server.url}/git/bobs2.git`, 'c');
  assert.notEqual(clone.code, 0);
  assert.match(clone.stderr, /loopback address/);
  assert.ok(!clone.stderr.includes(CANARY), clone.stderr);
  // A push is refused before the relay could connect.
  const local = path.join(dir, 'local');
  assert.equal((await gitAs(dir, bobToken, 'clone', '-q', bare, 'local')).code, 0);
  const push = await gitAs(local, bobToken, 'push', `${server.url}/git/bobs2.git`, 'HEAD:refs/heads/probe');
  assert.notEqual(push.code, 0);
  assert.ok(!push.stderr.includes(CANARY), push.stderr);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(internal.connections, 0);
});

test("an admin's own project is not restricted: its fetch reaches the internal listener (so the counts above could fail)", async () => {
  const admin = server.client();
  await admin.createProject({ name: 'adm', repo: `http://127.0.0.1:${internal.port}/internal-admin` });
  await assert.rejects(admin.syncProject('adm'), (err: unknown) => err instanceof ApiError && err.status === 502);
  assert.ok(internal.connections > 0, 'the admin fetch connected');
  try {
    await bob.syncProject('adm');
  } catch (err) {
    // Whether bob may see the admin's project is a matter of roles; he never gets the admin's fetch output.
    assert.ok(err instanceof ApiError && !err.message.includes(CANARY), String(err));
  }
});
