/** E2E: git operations on a workspace's checkout through the API and `berth ws git`, and the streamed bundle. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { ApiError } from '../../src/sdk/client.ts';
import { git, rejectsWith, runCli, tempDir, TestServer, waitPhase } from '../harness.ts';
import { bareUpstream, revParse, upstreamRoot, wsRun } from './fixtures.ts';

let server: TestServer;
let root: string;
let bare: string;

before(async () => {
  root = upstreamRoot();
  bare = bareUpstream(root, 'app', { 'README.md': '# app\n', 'src/a.txt': 'one\ntwo\nthree\n', 'old name.txt': 'rename me\n' });
  server = await TestServer.start();
  const c = server.client();
  await c.createProject({ name: 'app', repo: bare });
  await c.createWorkspace({ name: 'dev', project: 'app' });
  await waitPhase(c, 'dev', 'running');
});
after(async () => {
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

test('status, diff, stage, unstage, discard and commit on the checkout', async () => {
  const c = server.client();
  let s = await c.gitStatus('dev');
  assert.equal(s.branch, 'main');
  assert.equal(s.upstream, 'origin/main');
  assert.equal(s.ahead, 0);
  assert.equal(s.clean, true);
  await rejectsWith(c.gitCommit('dev', 'nothing here'), 409, /nothing to commit/);

  await wsRun(c, 'dev', ['sh', '-c', 'printf "one\\n2\\nthree\\nfour\\n" > src/a.txt && echo new > "new file.txt" && git mv "old name.txt" "new name.txt" && rm README.md']);
  s = await c.gitStatus('dev');
  const byPath = Object.fromEntries(s.files.map((f) => [f.path, f]));
  assert.deepEqual([byPath['src/a.txt']?.index, byPath['src/a.txt']?.worktree], ['unmodified', 'modified']);
  assert.deepEqual([byPath['new file.txt']?.index, byPath['new file.txt']?.worktree], ['untracked', 'untracked']);
  assert.equal(byPath['new name.txt']?.index, 'renamed');
  assert.equal(byPath['new name.txt']?.origPath, 'old name.txt');
  assert.equal(byPath['README.md']?.worktree, 'deleted');

  let d = await c.gitDiff('dev');
  assert.deepEqual(d.staged.map((f) => [f.path, f.change, f.oldPath]), [['new name.txt', 'renamed', 'old name.txt']]);
  const a = d.unstaged.find((f) => f.path === 'src/a.txt')!;
  assert.deepEqual([a.change, a.additions, a.deletions], ['modified', 2, 1]);
  assert.match(a.patch, /^-two\n\+2\n three\n\+four$/m);
  assert.equal(d.unstaged.find((f) => f.path === 'README.md')?.change, 'deleted');

  s = await c.gitPaths('dev', 'stage', { paths: ['src/a.txt', 'new file.txt'] });
  assert.equal(s.files.find((f) => f.path === 'src/a.txt')?.index, 'modified');
  assert.equal(s.files.find((f) => f.path === 'new file.txt')?.index, 'added');
  d = await c.gitDiff('dev', ['src/a.txt']);
  assert.deepEqual([d.staged.map((f) => f.path), d.unstaged.length], [['src/a.txt'], 0]);

  s = await c.gitPaths('dev', 'unstage', { paths: ['new file.txt'] });
  assert.equal(s.files.find((f) => f.path === 'new file.txt')?.index, 'untracked');
  s = await c.gitPaths('dev', 'discard', { paths: ['README.md', 'new file.txt'] });
  assert.equal(s.files.some((f) => f.path === 'README.md' || f.path === 'new file.txt'), false);
  await rejectsWith(c.gitPaths('dev', 'discard', { paths: ['README.md'] }), 400, /None of README.md has unstaged changes/);

  const commit = await c.gitCommit('dev', 'edit a, rename');
  assert.match(commit.commit, /^[0-9a-f]{40}$/);
  assert.equal(commit.branch, 'main');
  const author = (await wsRun(c, 'dev', ['git', 'log', '-1', '--format=%an <%ae>|%s'])).stdout.trim();
  assert.equal(author, 'admin <admin@berth.local>|edit a, rename');
  s = await c.gitStatus('dev');
  assert.deepEqual([s.ahead, s.behind, s.clean], [1, 0, true]);
});

test('staging paths outside the checkout is a 400, not a 502', async () => {
  const c = server.client();
  for (const [paths, re] of [
    [['../outside.txt'], /contains a "\.\." segment/],
    [['src/../../x'], /contains a "\.\." segment/],
    [['/etc/passwd'], /is absolute/],
  ] as const) {
    await rejectsWith(c.gitPaths('dev', 'stage', { paths: [...paths] }), 400, re);
  }
  // A symbolic link out of the checkout: only git can tell.
  await wsRun(c, 'dev', ['sh', '-c', 'mkdir -p "$0/outside" && echo x > "$0/outside/secret" && ln -s "$0/outside" link', root]);
  await rejectsWith(c.gitPaths('dev', 'stage', { paths: ['link/secret'] }), 400, /outside the checkout[\s\S]*beyond a symbolic link/);
  await wsRun(c, 'dev', ['rm', 'link']);
  assert.equal((await c.gitStatus('dev')).clean, true);
});

test('push and pull through the API; conflicts and nothing-to-commit are 409', async () => {
  const c = server.client();
  const pushed = await c.gitSync('dev', 'push');
  assert.equal(pushed.status.ahead, 0);
  assert.equal(revParse(bare, 'main'), pushed.status.commit);

  // A conflicting change lands upstream; the workspace edits the same line.
  const other = tempDir();
  git(other, 'clone', '-q', bare, '.');
  fs.writeFileSync(path.join(other, 'src/a.txt'), 'one\nTWO FROM UPSTREAM\nthree\nfour\n');
  git(other, 'commit', '-q', '-am', 'upstream edit');
  git(other, 'push', '-q', 'origin', 'main');
  await c.syncProject('app');
  await wsRun(c, 'dev', ['sh', '-c', 'printf "one\\nTWO FROM WORKSPACE\\nthree\\nfour\\n" > src/a.txt']);
  await c.gitCommit('dev', 'workspace edit', true);
  await rejectsWith(c.gitSync('dev', 'push'), 409, /The push was rejected; nothing was changed\. git said:[\s\S]*(fetch first|non-fast-forward)/);
  await assert.rejects(c.gitSync('dev', 'pull'), (err: unknown) => {
    assert.ok(err instanceof ApiError && err.status === 409, String(err));
    assert.match(err.message, /merge conflicts in src\/a\.txt/);
    return true;
  });
  const s = await c.gitStatus('dev');
  assert.deepEqual(s.files.filter((f) => f.conflicted).map((f) => f.path), ['src/a.txt']);
  await rejectsWith(c.gitCommit('dev', 'not yet'), 409, /unresolved merge conflicts/);
  await wsRun(c, 'dev', ['sh', '-c', 'printf "one\\nTWO MERGED\\nthree\\nfour\\n" > src/a.txt']);
  await c.gitPaths('dev', 'stage', { paths: ['src/a.txt'] });
  await c.gitCommit('dev', 'merge upstream');
  const r = await c.gitSync('dev', 'push');
  assert.equal(r.status.ahead, 0);
  assert.equal(git(root, '--git-dir', bare, 'show', 'main:src/a.txt'), 'one\nTWO MERGED\nthree\nfour\n');
  fs.rmSync(other, { recursive: true, force: true });
});

test('berth ws git: status, diff, commit --all, push, pull', async () => {
  await wsRun(server.client(), 'dev', ['sh', '-c', 'echo cli >> README.md']);
  let r = await runCli(server, ['ws', 'git', 'dev', 'status']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^## main\.\.\.origin\/main$/m);
  assert.match(r.stdout, /^\.M README\.md$/m);
  r = await runCli(server, ['ws', 'git', 'dev', 'diff']);
  assert.match(r.stdout, /# Unstaged changes \(1 file\)[\s\S]*\+cli/);
  r = await runCli(server, ['ws', 'git', 'dev', 'commit', '-m', 'from the cli', '--all']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\[main [0-9a-f]+\] from the cli/);
  r = await runCli(server, ['ws', 'git', 'dev', 'commit', '-m', 'again']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nothing to commit/);
  r = await runCli(server, ['ws', 'git', 'dev', 'push']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(git(root, '--git-dir', bare, 'log', '-1', '--format=%s', 'main').trim(), 'from the cli');
  r = await runCli(server, ['ws', 'git', 'dev', 'pull']);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(server, ['ws', 'git', 'dev', 'status', '--json']);
  assert.equal(JSON.parse(r.stdout).clean, true);
});

test('the bundle endpoint streams a bundle of the project that git can clone', async () => {
  const c = server.client();
  const token = (await wsRun(c, 'dev', ['printenv', 'BERTH_WORKSPACE_TOKEN'])).stdout.trim();
  const dir = tempDir();
  const file = path.join(dir, 'app.bundle');
  await pipeline(Readable.fromWeb((await server.client(token).bundle('dev')) as never), fs.createWriteStream(file));
  git(dir, 'clone', '-q', '--branch', 'main', file, 'checkout');
  execFileSync('git', ['bundle', 'verify', '-q', file], { cwd: path.join(dir, 'checkout'), stdio: 'pipe' });
  assert.equal(git(path.join(dir, 'checkout'), 'rev-parse', 'HEAD').trim(), revParse(bare, 'main'));
  await rejectsWith(c.bundle('dev', 'no-such-branch'), 404, /no branch or tag "no-such-branch"/);
  fs.rmSync(dir, { recursive: true, force: true });
});
