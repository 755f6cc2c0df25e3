import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortedError } from '../core/errors.ts';
import { OpQueue } from './op-queue.ts';

/** An operation that runs until released, recording its start. */
function gate(log: string[], name: string) {
  const done = Promise.withResolvers<void>();
  return { fn: async () => (log.push(name), done.promise), release: () => done.resolve() };
}

test('never more than the limit run at once; the rest wait and all finish', async () => {
  const q = new OpQueue(() => 2);
  let running = 0;
  let peak = 0;
  const op = async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
  };
  await Promise.all(Array.from({ length: 10 }, (_, i) => q.run('docker', `u${i % 3}`, op)));
  assert.equal(peak, 2);
  assert.deepEqual(q.depth('docker'), { running: 0, waiting: 0 });
});

test("one owner's burst does not hold back another owner's single operation", async () => {
  const q = new OpQueue(() => 1);
  const log: string[] = [];
  const gates = Array.from({ length: 5 }, (_, i) => gate(log, `a${i}`));
  const b = gate(log, 'b');
  const runs = gates.map((g) => q.run('docker', 'alice', g.fn));
  const bRun = q.run('docker', 'bob', b.fn);
  assert.deepEqual(q.depth('docker'), { running: 1, waiting: 5 });
  gates[0]!.release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['a0', 'a1'], "alice's second was in line before bob asked");
  gates[1]!.release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['a0', 'a1', 'b'], 'then bob, before the rest of alice');
  b.release();
  for (const g of gates.slice(2)) g.release();
  await Promise.all([...runs, bRun]);
  assert.deepEqual(log, ['a0', 'a1', 'b', 'a2', 'a3', 'a4']);
});

test("one owner's operations start in the order they were asked for, not the order they reached the line", async () => {
  const q = new OpQueue(() => 1);
  const log: string[] = [];
  const first = gate(log, 'first');
  const running = q.run('docker', 'u', first.fn);
  // A create asked for at 10:03 reaches the line before one asked for at 10:01 and a delete asked for at 10:02.
  const at = (m: number) => `2026-12-01T10:0${m}:00.000Z`;
  const later = [
    q.run('docker', 'u', async () => log.push('create 10:03'), { since: at(3) }),
    q.run('docker', 'u', async () => log.push('create 10:01'), { since: at(1) }),
    q.run('docker', 'u', async () => log.push('delete 10:02'), { since: at(2) }),
    q.run('docker', 'u', async () => log.push('create 10:01, second'), { since: at(1) }),
  ];
  first.release();
  await Promise.all([running, ...later]);
  assert.deepEqual(log, ['first', 'create 10:01', 'create 10:01, second', 'delete 10:02', 'create 10:03']);
});

test('a waiting operation that is cancelled leaves the line without running', async () => {
  const q = new OpQueue(() => 1);
  const log: string[] = [];
  const first = gate(log, 'first');
  const running = q.run('shell', 'u', first.fn);
  const ac = new AbortController();
  const waiting = q.run('shell', 'u', async () => log.push('never'), { signal: ac.signal });
  ac.abort();
  await assert.rejects(waiting, AbortedError);
  assert.deepEqual(q.depth('shell'), { running: 1, waiting: 0 });
  first.release();
  await running;
  assert.deepEqual(log, ['first']);
});

test('without a limit operations run at once', async () => {
  const q = new OpQueue(() => undefined);
  const log: string[] = [];
  const gates = [gate(log, 'x'), gate(log, 'y'), gate(log, 'z')];
  const runs = gates.map((g) => q.run('docker', 'u', g.fn));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['x', 'y', 'z']);
  for (const g of gates) g.release();
  await Promise.all(runs);
});
