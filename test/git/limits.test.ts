/** E2E: oversized git requests get a plain-text 413 at once (never an empty 200, never a hang); pushes and fetches within the limits work (real git). */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, test } from 'node:test';
import { tempDir, TestServer } from '../harness.ts';
import { bareUpstream, gitWithToken, revParse, upstreamRoot } from './fixtures.ts';

let small: TestServer;
let defaults: TestServer;
let root: string;
let bare: string;

before(async () => {
  root = upstreamRoot();
  bare = bareUpstream(root, 'app');
  [small, defaults] = await Promise.all([TestServer.start({ args: ['--git-fetch-limit', '64KiB', '--git-push-limit', '256KiB'] }), TestServer.start()]);
  for (const s of [small, defaults]) await s.client().createProject({ name: 'app', repo: bare });
});
after(async () => {
  await Promise.all([small?.stop(), defaults?.stop()]);
  fs.rmSync(root, { recursive: true, force: true });
});

/** POSTs `size` bytes to a git service of project app; `chunked` sends the body as a stream without Content-Length. */
async function post(server: TestServer, service: 'git-upload-pack' | 'git-receive-pack', size: number, chunked: boolean): Promise<{ status: number; type: string; text: string; ms: number }> {
  const t0 = Date.now();
  const payload = Buffer.alloc(size, '0032want 0000000000000000000000000000000000000000\n');
  const body = chunked
    ? new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < payload.length; i += 65536) c.enqueue(payload.subarray(i, i + 65536));
          c.close();
        },
      })
    : payload;
  const res = await fetch(`${server.url}/git/app.git/${service}`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`x:${server.adminToken}`).toString('base64')}`, 'content-type': `application/x-${service}-request` },
    body,
    signal: AbortSignal.timeout(20_000),
    ...(chunked ? { duplex: 'half' } : {}),
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), ms: Date.now() - t0 };
}

test("the issue's 11 MB upload-pack POST gets a plain-text 413 at once with the default limits, with and without Content-Length", async () => {
  for (const chunked of [false, true]) {
    const r = await post(defaults, 'git-upload-pack', 11 * 1024 * 1024, chunked);
    assert.equal(r.status, 413, `chunked=${chunked}: ${r.text}`);
    assert.match(r.type, /^text\/plain/);
    assert.match(r.text, /^This fetch request is larger than the git gateway accepts \(10MiB, set by --git-fetch-limit\)/);
    assert.ok(r.ms < 15_000, `answered in ${r.ms} ms`);
  }
  // The server still serves the project afterwards.
  const dir = tempDir();
  const clone = gitWithToken(dir, defaults.adminToken, 'clone', '-q', `${defaults.url}/git/app.git`, 'app');
  assert.equal(clone.code, 0, clone.stderr);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('raw oversized POSTs to both services get 413 naming their option; bodies within the limit reach git', async () => {
  for (const chunked of [false, true]) {
    const fetchReq = await post(small, 'git-upload-pack', 100 * 1024, chunked);
    assert.equal(fetchReq.status, 413, fetchReq.text);
    assert.match(fetchReq.text, /\(64KiB, set by --git-fetch-limit\)/);
    const push = await post(small, 'git-receive-pack', 300 * 1024, chunked);
    assert.equal(push.status, 413, push.text);
    assert.match(push.type, /^text\/plain/);
    assert.match(push.text, /^This push is larger than the git gateway accepts \(256KiB, set by --git-push-limit\); push fewer commits at a time/);
  }
  // Under the limit, the (nonsense) request reaches http-backend: not a 413.
  const within = await post(small, 'git-upload-pack', 1000, false);
  assert.notEqual(within.status, 413);
  // git stops reading a nonsense push early; the rest of a large body is drained, so the answer still arrives.
  for (const chunked of [false, true]) {
    const push = await post(defaults, 'git-receive-pack', 40 * 1024 * 1024, chunked);
    assert.notEqual(push.status, 413);
    assert.ok(push.ms < 15_000, `answered in ${push.ms} ms`);
  }
});

test("a small gzip body that inflates past the fetch limit is streamed to git, which answers at once in its own protocol (not an empty 200)", async () => {
  const t0 = Date.now();
  const res = await fetch(`${small.url}/git/app.git/git-upload-pack`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`x:${small.adminToken}`).toString('base64')}`,
      'content-type': 'application/x-git-upload-pack-request',
      'content-encoding': 'gzip',
    },
    body: zlib.gzipSync(Buffer.alloc(1024 * 1024, '0032want 0000000000000000000000000000000000000000\n')),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.match(text, /ERR upload-pack: not our ref/);
  assert.ok(Date.now() - t0 < 15_000);
});

test('real git: a push over the limit fails with HTTP 413 and changes nothing upstream; a small push and a clone work', async () => {
  const dir = tempDir();
  const before = revParse(bare, 'refs/heads/main');
  assert.equal(gitWithToken(dir, small.adminToken, 'clone', '-q', `${small.url}/git/app.git`, 'app').code, 0);
  const work = path.join(dir, 'app');
  fs.writeFileSync(path.join(work, 'small.txt'), 'small\n');
  gitWithToken(work, small.adminToken, 'add', 'small.txt');
  gitWithToken(work, small.adminToken, 'commit', '-q', '-m', 'small');
  const ok = gitWithToken(work, small.adminToken, 'push', '-q', 'origin', 'HEAD:main');
  assert.equal(ok.code, 0, ok.stderr);
  const afterSmall = revParse(bare, 'refs/heads/main');
  assert.notEqual(afterSmall, before);

  // Random bytes do not compress: the pack is larger than 256KiB.
  fs.writeFileSync(path.join(work, 'big.bin'), crypto.randomBytes(600 * 1024));
  gitWithToken(work, small.adminToken, 'add', 'big.bin');
  gitWithToken(work, small.adminToken, 'commit', '-q', '-m', 'big');
  // Once with Content-Length (the pack fits git's post buffer), once chunked.
  for (const postBuffer of ['4m', '64k']) {
    const t0 = Date.now();
    const r = gitWithToken(work, small.adminToken, '-c', `http.postBuffer=${postBuffer}`, 'push', 'origin', 'HEAD:main');
    assert.notEqual(r.code, 0, `postBuffer=${postBuffer}: the push must fail`);
    assert.match(r.stderr, /HTTP 413/, `postBuffer=${postBuffer}: ${r.stderr}`);
    assert.ok(Date.now() - t0 < 15_000, 'no hang');
  }
  assert.equal(revParse(bare, 'refs/heads/main'), afterSmall, 'the upstream did not move');
  fs.rmSync(dir, { recursive: true, force: true });
});
