import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BRANCH_SCRIPT, forkTargets } from './fork.ts';

test('fork names and branches: one fork is NAME on fork/NAME; more are NAME-i, on BRANCH-i when a branch is given', () => {
  assert.deepEqual(forkTargets({ name: 'try' }), [{ name: 'try', branch: 'fork/try' }]);
  assert.deepEqual(forkTargets({ name: 'try', count: 2 }), [
    { name: 'try-1', branch: 'fork/try-1' },
    { name: 'try-2', branch: 'fork/try-2' },
  ]);
  assert.deepEqual(forkTargets({ name: 'a', count: 2, branch: 'exp/x' }).map((t) => t.branch), ['exp/x-1', 'exp/x-2']);
  assert.throws(() => forkTargets({ name: 'a', count: 51 }), /1 to 50/);
  assert.throws(() => forkTargets({ name: 'a'.repeat(61), count: 10 }), /Workspace name "a+-10" is not valid/);
});

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' }).trim();

/** A checkout on main with one commit, a changed tracked file and an untracked one. */
function checkout(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fork-branch-'));
  git(dir, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(dir, 'a.txt'), 'one\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'first');
  fs.writeFileSync(path.join(dir, 'a.txt'), 'two\n');
  fs.writeFileSync(path.join(dir, 'new.txt'), 'new\n');
  return dir;
}

/** Runs the branch script as an image without git would: only sh and a few tools on PATH. */
function runWithoutGit(dir: string, branch: string): { code: number | null; stderr: string } {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-nogit-'));
  for (const tool of ['sh', 'cat', 'sed', 'head', 'mkdir', 'dirname']) {
    const found = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    fs.symlinkSync(found, path.join(bin, tool));
  }
  const r = spawnSync(path.join(bin, 'sh'), ['-c', BRANCH_SCRIPT, 'berth-fork', branch], { cwd: dir, env: { PATH: bin }, encoding: 'utf8' });
  fs.rmSync(bin, { recursive: true, force: true });
  return { code: r.status, stderr: r.stderr };
}

for (const packed of [false, true]) {
  test(`without git in the image, the branch script does what git switch -c does (${packed ? 'packed' : 'loose'} refs)`, () => {
    const dir = checkout();
    if (packed) git(dir, 'pack-refs', '--all');
    const head = git(dir, 'rev-parse', 'HEAD');
    assert.deepEqual(runWithoutGit(dir, 'fork/x'), { code: 0, stderr: '' });
    assert.equal(git(dir, 'rev-parse', '--abbrev-ref', 'HEAD'), 'fork/x');
    assert.equal(git(dir, 'rev-parse', 'HEAD'), head);
    assert.equal(git(dir, 'status', '--porcelain'), 'M a.txt\n?? new.txt', 'uncommitted and untracked changes are kept (trimmed: the first line starts with a space)');
    assert.equal(git(dir, 'rev-parse', 'main'), head, 'the old branch stays');
    // Run again (after a crash), it leaves the checkout as it is.
    assert.equal(runWithoutGit(dir, 'fork/x').code, 0);
    assert.equal(git(dir, 'rev-parse', '--abbrev-ref', 'HEAD'), 'fork/x');
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

test('the branch script refuses a branch that exists already, with or without git, and leaves HEAD alone', () => {
  const dir = checkout();
  git(dir, 'branch', 'taken');
  const withGit = spawnSync('sh', ['-c', BRANCH_SCRIPT, 'berth-fork', 'taken'], { cwd: dir, env: gitEnv, encoding: 'utf8' });
  assert.notEqual(withGit.status, 0);
  assert.match(withGit.stderr, /already exists/);
  const without = runWithoutGit(dir, 'taken');
  assert.notEqual(without.code, 0);
  assert.match(without.stderr, /already exists/);
  assert.equal(git(dir, 'rev-parse', '--abbrev-ref', 'HEAD'), 'main');
  // With git, a run again after a crash on the branch is a no-op too.
  assert.equal(spawnSync('sh', ['-c', BRANCH_SCRIPT, 'berth-fork', 'mine'], { cwd: dir, env: gitEnv }).status, 0);
  assert.equal(spawnSync('sh', ['-c', BRANCH_SCRIPT, 'berth-fork', 'mine'], { cwd: dir, env: gitEnv }).status, 0);
  assert.equal(git(dir, 'rev-parse', '--abbrev-ref', 'HEAD'), 'mine');
  fs.rmSync(dir, { recursive: true, force: true });
});
