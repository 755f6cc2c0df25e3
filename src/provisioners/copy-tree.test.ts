import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AbortedError } from '../core/errors.ts';
import { copyTree, seriousCopyErrors } from './copy-tree.ts';

const op = (signal = new AbortController().signal) => ({ signal, progress: () => undefined });

function tree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-copy-tree-'));
  const src = path.join(root, 'src');
  fs.mkdirSync(path.join(src, 'work', 'sub'), { recursive: true });
  fs.mkdirSync(path.join(src, '.berth', 'pids'), { recursive: true });
  fs.writeFileSync(path.join(src, 'work', 'sub', 'a.txt'), 'a\n', { mode: 0o640 });
  fs.writeFileSync(path.join(src, '.berth', 'pids', 'exec-1'), '1\n');
  fs.writeFileSync(path.join(src, '.berth', 'runtime.json'), '{}');
  fs.symlinkSync('sub/a.txt', path.join(src, 'work', 'link'));
  return root;
}

test('a tree copy keeps modes and links, leaves out the runtime state named, and replaces an earlier copy', async () => {
  const root = tree();
  const [src, dst, tmp] = ['src', 'dst', '.tmp-dst'].map((d) => path.join(root, d)) as [string, string, string];
  fs.mkdirSync(dst);
  fs.writeFileSync(path.join(dst, 'stale'), 'from a copy cut short\n');
  await copyTree(src, dst, { ...op(), tmp, drop: ['.berth/pids', '.berth/runtime.json'] });
  assert.equal(fs.readFileSync(path.join(dst, 'work', 'sub', 'a.txt'), 'utf8'), 'a\n');
  assert.equal(fs.statSync(path.join(dst, 'work', 'sub', 'a.txt')).mode & 0o777, 0o640);
  assert.equal(fs.readlinkSync(path.join(dst, 'work', 'link')), 'sub/a.txt');
  assert.deepEqual(fs.readdirSync(path.join(dst, '.berth')), [], 'process records and the running marker are not copied');
  assert.ok(!fs.existsSync(path.join(dst, 'stale')), 'an earlier copy is replaced whole');
  assert.ok(!fs.existsSync(tmp));
  fs.writeFileSync(path.join(dst, 'work', 'sub', 'a.txt'), 'changed\n');
  assert.equal(fs.readFileSync(path.join(src, 'work', 'sub', 'a.txt'), 'utf8'), 'a\n', 'the copy is not the source');
  fs.rmSync(root, { recursive: true, force: true });
});

test('a cancelled tree copy leaves neither a target nor its temporary directory', async () => {
  const root = tree();
  const src = path.join(root, 'src');
  const many = path.join(src, 'work', 'many');
  fs.mkdirSync(many);
  for (let i = 0; i < 20_000; i++) fs.writeFileSync(path.join(many, `f${i}`), '');
  const [dst, tmp] = [path.join(root, 'dst'), path.join(root, '.tmp-dst')];
  const ctrl = new AbortController();
  const copying = copyTree(src, dst, { ...op(ctrl.signal), tmp });
  for (let i = 0; i < 2000 && !fs.existsSync(tmp); i++) await new Promise((r) => setImmediate(r));
  ctrl.abort();
  await assert.rejects(copying, AbortedError);
  assert.ok(!fs.existsSync(tmp), 'the temporary copy is removed');
  assert.ok(!fs.existsSync(dst));
  fs.rmSync(root, { recursive: true, force: true });
});

test('a missing source is refused with a sentence', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-copy-tree-'));
  await assert.rejects(copyTree(path.join(root, 'nope'), path.join(root, 'dst'), { ...op(), tmp: path.join(root, 'tmp') }), /do not exist/);
  fs.rmSync(root, { recursive: true, force: true });
});

test('only files that vanished mid-copy are acceptable losses', () => {
  const lines = ["cp: cannot stat '/from/tmp.1': No such file or directory", "cp: can't stat '/from/x': No such file or directory", "cp: cannot create regular file '/to/y': No space left on device"];
  assert.deepEqual(seriousCopyErrors(lines), [lines[2]]);
});
