import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter, progressFilter } from './lines.ts';

test('LineSplitter splits on \\n, \\r and \\r\\n across chunks', () => {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l));
  s.push('a\r\nb');
  s.push('\rc\nd');
  s.flush();
  assert.deepEqual(lines, ['a', 'b', 'c', 'd']);
});

test('progressFilter thins git progress to phase changes and 10% steps', () => {
  const out: [string, string][] = [];
  const f = progressFilter((l, k) => out.push([l, k]));
  f.push("Cloning into 'x'...\n");
  for (let i = 0; i <= 100; i++) f.push(`Receiving objects:  ${i}% (${i}/100)\r`);
  f.push('Receiving objects: 100% (100/100), done.\n');
  f.flush();
  assert.deepEqual(out[0], ["Cloning into 'x'...", 'output']);
  const progress = out.filter(([, k]) => k === 'progress').map(([l]) => l);
  assert.ok(progress.length >= 10 && progress.length <= 13, `got ${progress.length} progress lines`);
  assert.match(progress.at(-1)!, /100%/);
});

test('LineSplitter keeps a UTF-8 character whole when a chunk boundary splits it', () => {
  const bytes = Buffer.from('héllo ✓\n😀 done');
  for (let at = 0; at <= bytes.length; at++) {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    s.push(bytes.subarray(0, at));
    s.push(bytes.subarray(at));
    s.flush();
    assert.deepEqual(lines, ['héllo ✓', '😀 done'], `split at byte ${at}`);
  }
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l));
  for (const b of bytes) s.push(Buffer.of(b));
  s.flush();
  assert.deepEqual(lines, ['héllo ✓', '😀 done'], 'one byte at a time');
});

test('LineSplitter cuts an over-long line without splitting a surrogate pair', () => {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l), 4);
  s.push('abc😀d');
  s.flush();
  assert.deepEqual(lines, ['abc', '😀d']);
});
