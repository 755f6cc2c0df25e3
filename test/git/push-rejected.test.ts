/** E2E: pushes the upstream refuses reach the pusher with the upstream's own message, and change nothing anywhere. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiError } from '../../src/sdk/client.ts';
import { git, TestServer, waitPhase } from '../harness.ts';
import { bareUpstream, revParse, upstreamRoot, UPSTREAM_PASSWORD, UPSTREAM_USER, wsCommit, wsRun } from './fixtures.ts';
import { startUpstream, type UpstreamServer } from './upstream-server.ts';

let server: TestServer;
let upstream: UpstreamServer;
let root: string;
let bare: string;
let mirror: string;

before(async () => {
  root = upstreamRoot();
  bare = bareUpstream(root, 'app');
  upstream = await startUpstream(root, UPSTREAM_USER, UPSTREAM_PASSWORD);
  // A long freshness window keeps the mirror behind the upstream, so the relay itself must catch the conflict.
  server = await TestServer.start({ args: ['--git-freshness', '1h'] });
  const c = server.client();
  await c.createProject({ name: 'web', repo: `${upstream.url}/app.git`, credentials: { username: UPSTREAM_USER, password: UPSTREAM_PASSWORD } });
  await c.createWorkspace({ name: 'dev', project: 'web' });
  await waitPhase(c, 'dev', 'running');
  mirror = path.join(server.dataDir, 'git', 'web.git');
});
after(async () => {
  await server?.stop();
  await upstream?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Moves the upstream's main with a commit made outside Berth. */
function advanceUpstream(message: string): void {
  const other = fs.mkdtempSync(path.join(root, 'other-'));
  git(root, 'clone', '-q', bare, other);
  fs.writeFileSync(path.join(other, `${message.replace(/\W+/g, '-')}.txt`), `${message}\n`);
  git(other, 'add', '.');
  git(other, 'commit', '-q', '-m', message);
  git(other, 'push', '-q', 'origin', 'main');
}

test('a non-fast-forward push shows the upstream rejection and changes neither mirror nor upstream', async () => {
  const c = server.client();
  advanceUpstream('someone else was first');
  const upBefore = revParse(bare, 'main');
  const mirrorBefore = revParse(mirror, 'main');
  assert.notEqual(upBefore, mirrorBefore, 'the mirror is behind (freshness window)');

  await wsCommit(c, 'dev', 'mine.txt', 'mine', 'my change');
  const push = await wsRun(c, 'dev', ['git', 'push', 'origin', 'main'], 1);
  assert.match(push.stderr, /the upstream repository refused this push, so nothing was changed/);
  assert.match(push.stderr, /remote: .*\[rejected\]\s+\S+ -> main \(fetch first\)/);
  assert.match(push.stderr, /pre-receive hook declined/);
  assert.equal(revParse(bare, 'main'), upBefore, 'upstream unchanged');
  assert.equal(revParse(mirror, 'main'), mirrorBefore, 'mirror unchanged');

  // The same through the API: 409 with git's message.
  await assert.rejects(c.gitSync('dev', 'push'), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 409);
    assert.match(err.message, /The push was rejected; nothing was changed\. git said:[\s\S]*fetch first/);
    return true;
  });
  const mine = (await wsRun(c, 'dev', ['git', 'rev-parse', 'HEAD'])).stdout.trim();
  assert.equal(revParse(bare, 'main'), upBefore, 'upstream unchanged');
  // The rejected push made the gateway fetch again, so the mirror may have caught up with the upstream, never with the push.
  assert.ok([mirrorBefore, upBefore].includes(revParse(mirror, 'main')), 'mirror holds no pushed commit');
  assert.equal(revParse(mirror, `${mine}^{commit}`), '', 'the rejected commit is not in the mirror');

  // After pulling (the push invalidated the freshness window, so this fetches), the push goes through.
  await wsRun(c, 'dev', ['git', '-c', 'user.name=Dev', '-c', 'user.email=dev@example.com', 'pull', '--no-rebase', '--no-edit', '-q']);
  await wsRun(c, 'dev', ['git', 'push', '-q', 'origin', 'main']);
  assert.equal(revParse(bare, 'main'), revParse(mirror, 'main'));
  assert.equal(git(root, '--git-dir', bare, 'log', '-1', '--format=%s', 'main^1').trim(), 'my change');
});

test("a push refused by the upstream's pre-receive hook shows the hook's message and changes nothing", async () => {
  const c = server.client();
  const hook = path.join(bare, 'hooks', 'pre-receive');
  fs.writeFileSync(hook, '#!/bin/sh\necho "POLICY: main is frozen for the release, try again tomorrow" >&2\nexit 1\n', { mode: 0o755 });
  try {
    const upBefore = revParse(bare, 'main');
    const mirrorBefore = revParse(mirror, 'main');
    await wsCommit(c, 'dev', 'frozen.txt', 'frozen', 'during the freeze');
    const push = await wsRun(c, 'dev', ['git', 'push', 'origin', 'main'], 1);
    assert.match(push.stderr, /^remote: POLICY: main is frozen for the release, try again tomorrow/m);
    assert.match(push.stderr, /pre-receive hook declined/);
    assert.equal(revParse(bare, 'main'), upBefore, 'upstream unchanged');
    assert.equal(revParse(mirror, 'main'), mirrorBefore, 'mirror unchanged');
    // No object of the refused push stays in the mirror either (it was quarantined).
    const head = (await wsRun(c, 'dev', ['git', 'rev-parse', 'HEAD'])).stdout.trim();
    assert.equal(revParse(mirror, `${head}^{commit}`), '', 'the refused commit is not in the mirror');

    await assert.rejects(c.gitSync('dev', 'push'), (err: unknown) => {
      assert.ok(err instanceof ApiError && err.status === 409);
      assert.match(err.message, /POLICY: main is frozen for the release/);
      return true;
    });
  } finally {
    fs.rmSync(hook);
  }
  // With the freeze lifted the same push succeeds.
  await wsRun(c, 'dev', ['git', 'push', '-q', 'origin', 'main']);
  assert.equal(git(root, '--git-dir', bare, 'log', '-1', '--format=%s', 'main').trim(), 'during the freeze');
});
