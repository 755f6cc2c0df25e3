import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { removeTree } from './remove-tree.ts';

test('removeTree deletes nested files and directories but not what symlinks point to', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-rmtree-'));
  const outside = path.join(base, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'keep.txt'), 'keep');
  const root = path.join(base, 'ws');
  for (let i = 0; i < 30; i++) {
    const d = path.join(root, 'node_modules', `pkg${i % 3}`, i % 2 ? 'lib' : '');
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, `f${i}.js`), `${i}`);
  }
  fs.mkdirSync(path.join(root, 'empty', 'deeper'), { recursive: true });
  fs.symlinkSync(outside, path.join(root, 'link-to-dir'));
  fs.symlinkSync(path.join(outside, 'keep.txt'), path.join(root, 'link-to-file'));
  await removeTree(root);
  assert.equal(fs.existsSync(root), false);
  assert.equal(fs.readFileSync(path.join(outside, 'keep.txt'), 'utf8'), 'keep');
  fs.rmSync(base, { recursive: true, force: true });
});

test('removeTree accepts a missing path and a plain file', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-rmtree-'));
  await removeTree(path.join(base, 'absent'));
  fs.writeFileSync(path.join(base, 'file'), 'x');
  await removeTree(path.join(base, 'file'));
  assert.deepEqual(fs.readdirSync(base), []);
  fs.rmSync(base, { recursive: true, force: true });
});
