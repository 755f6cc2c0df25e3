/** The output writer: order kept, memory bounded, the newest lines kept under a flood, a notice for what went. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutputWriter } from './event-writer.ts';

function recorder() {
  const rows: { kind: string; message: string }[] = [];
  let batches = 0;
  const append = async (_id: string, events: { kind: string; message: string; ts: string }[]) => {
    batches++;
    rows.push(...events.map((e) => ({ kind: e.kind, message: e.message })));
    return [];
  };
  return { rows, append, batches: () => batches };
}

test('lines within the rate are written in order, in batches', async () => {
  const r = recorder();
  const w = new OutputWriter(r.append, { linesPerSecond: 1000, flushMs: 10_000 });
  for (let i = 0; i < 300; i++) w.push('ws', 'output', `line ${i}`);
  await w.flush('ws', true);
  assert.deepEqual(r.rows.map((x) => x.message), Array.from({ length: 300 }, (_, i) => `line ${i}`));
  assert.equal(r.batches(), 1);
  assert.equal(w.waiting('ws'), false);
});

test('a flood keeps at most a second of lines in memory, keeps the newest, and says how many were dropped', async () => {
  const r = recorder();
  const t = 0;
  const w = new OutputWriter(r.append, { linesPerSecond: 100, flushMs: 10_000 }, () => t);
  for (let i = 0; i < 50_000; i++) w.push('ws', 'output', `line ${i}`);
  await w.flush('ws', true);
  assert.equal(r.rows.length, 101);
  assert.deepEqual(r.rows[0], { kind: 'info', message: '49,900 lines of output were dropped (more than 100 lines/s).' });
  assert.equal(r.rows[1]!.message, 'line 49900');
  assert.equal(r.rows.at(-1)!.message, 'line 49999');
});

test('beyond the rate, a timed flush writes only what the second allows and keeps the rest waiting', async () => {
  const r = recorder();
  let t = 0;
  const w = new OutputWriter(r.append, { linesPerSecond: 10, flushMs: 10_000 }, () => t);
  for (let i = 0; i < 10; i++) w.push('ws', 'output', `a${i}`);
  await w.flush('ws');
  for (let i = 0; i < 5; i++) w.push('ws', 'output', `b${i}`);
  await w.flush('ws');
  assert.equal(r.rows.length, 10, 'the second had no room left');
  assert.equal(w.waiting('ws'), true);
  t += 1000;
  await w.flush('ws');
  assert.deepEqual(r.rows.slice(10).map((x) => x.message), ['b0', 'b1', 'b2', 'b3', 'b4']);
  w.discard('ws');
});
