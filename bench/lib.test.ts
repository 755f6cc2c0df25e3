/** The judgement every benchmark shares: percentiles, goals and the suspect flag. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatResult, makeResult, stats } from './lib.ts';
import { rotationOrder, sampleRounds } from './harness.ts';

const base = { name: 'x', baselineName: 'raw', warmup: 0, order: 'alternated' };

test('percentiles are nearest-rank over every sample', () => {
  const s = stats(Array.from({ length: 100 }, (_, i) => i + 1));
  assert.deepEqual([s.p50, s.p95, s.p99, s.max, s.min, s.n], [50, 95, 99, 100, 1, 100]);
});

test('a ratio far below 1 is flagged suspect and printed as such; an ordinary one is not', () => {
  const fast = makeResult({ ...base, berth: [21, 21], baseline: [100, 100], goal: { maxRatio: 1.5 } });
  assert.equal(fast.met, true);
  assert.match(fast.suspect ?? '', /same work/);
  assert.match(formatResult(fast), /SUSPECT/);
  const fair = makeResult({ ...base, berth: [90], baseline: [100], goal: { maxRatio: 1.5 } });
  assert.equal(fair.suspect, undefined);
  const throughput = makeResult({ ...base, higherIsBetter: true, unit: 'req/s', berth: [5000], baseline: [2000], goal: { minBerthP50: 2000 } });
  assert.match(throughput.suspect ?? '', /out-serves/);
});

test('every bound of a goal must hold', () => {
  const r = makeResult({ ...base, berth: [100, 6000], baseline: [100, 100], ratioOf: 'p50', goal: { maxRatio: 1.2, maxBerthP99: 5000 } });
  assert.equal(r.met, false);
  assert.equal(r.goal, 'ratio <= 1.2 and berth p99 <= 5000 ms');
  const failures = makeResult({ ...base, berth: [1], baseline: [1], goal: { also: { text: '0 failures (1)', met: false } } });
  assert.equal(failures.met, false);
});

test('rounds alternate which side goes first, after the warm-up', async () => {
  const seen: string[] = [];
  const side = (name: string) => ({ name, sample: async (i: number) => void seen.push(`${name}${i}`) });
  const [a, b] = await sampleRounds([side('a'), side('b')], 3, 1);
  assert.deepEqual(seen, ['a-1', 'b-1', 'a0', 'b0', 'b1', 'a1', 'a2', 'b2']);
  assert.equal(a!.length, 3);
  assert.equal(b!.length, 3);
  assert.match(rotationOrder(2), /alternated/);
});
