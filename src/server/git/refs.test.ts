/** Unit tests of branch name validation: the pattern and git's own check agree. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../core/errors.ts';
import { BRANCH_NAME_PATTERN } from '../../sdk/wire.ts';
import { assertBranchName } from './refs.ts';

const GOOD = ['main', 'feature/x-1.2', 'release/2024-01', 'v1.0', 'a.b', 'x.lockz', 'a@b', 'é', 'user/topic_1'];
const BAD = ['bad branch', 'a..b', 'feature.lock', 'x.lock/y', '-x', 'x/', '/a', '.hidden', 'a/.b', 'a//b', 'a@{1}', '@{-1}', '@', 'HEAD', 'end.', 'wild*', 'q?', 'a[b', 'HEAD~1', 'x^', 'a:b', 'back\\slash', 'tab\tx', 'del\x7f'];

test('valid git branch names pass; names git refuses are InputErrors naming the field', async () => {
  for (const name of GOOD) await assertBranchName(name, 'branch');
  for (const name of BAD) {
    await assert.rejects(assertBranchName(name, 'ref'), (e: unknown) => e instanceof InputError && /^ref has an invalid format: .*not a valid git branch name/.test(e.message), JSON.stringify(name));
  }
});

test('the wire pattern agrees with git check-ref-format --branch', () => {
  const re = new RegExp(BRANCH_NAME_PATTERN, 'u');
  // Outside any repository: inside one, git resolves `@{-1}` against that checkout's reflog.
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-refs-'));
  for (const name of [...GOOD, ...BAD.filter((b) => b !== '@')]) {
    const git = spawnSync('git', ['check-ref-format', '--branch', name], { cwd }).status === 0;
    assert.equal(re.test(name), git, JSON.stringify(name));
  }
  fs.rmSync(cwd, { recursive: true });
});
