/**
 * The one way benchmarks take samples: warm-up rounds first, then rounds in which every side runs
 * once, in an order that rotates from round to round (so neither side always runs on a machine the
 * other just warmed or loaded). Quick mode (`--quick`, BENCH_QUICK=1) takes tiny sample counts so
 * the test run can exercise every benchmark; its goals are printed, never enforced.
 */
import { makeResult, type Goal, type Result } from './lib.ts';

/** True in quick mode. */
export const QUICK = process.env.BENCH_QUICK === '1';

/** Sample count: BENCH_RUNS when set, else `full`, or `quick` in quick mode. */
export function runs(full: number, quick = 1): number {
  return process.env.BENCH_RUNS ? Number(process.env.BENCH_RUNS) : QUICK ? quick : full;
}

/** Warm-up rounds: BENCH_WARMUP when set, else `full`, none in quick mode. */
export function warmups(full = 2): number {
  return process.env.BENCH_WARMUP ? Number(process.env.BENCH_WARMUP) : QUICK ? 0 : full;
}

/** Milliseconds taken by `fn`. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * One side of a comparison. `sample(i)` does round i's work; it is timed whole unless it returns
 * a number, which is then the measurement (for work with an untimed preparation, like a stop
 * before the timed start). Warm-up rounds get negative `i`.
 */
export interface Side {
  name: string;
  sample(i: number): Promise<number | void>;
}

/** Runs one sample of a side and returns its measurement. */
async function measure(side: Side, i: number): Promise<number> {
  let own: number | void = undefined;
  const t = await timeMs(async () => (own = await side.sample(i)));
  return typeof own === 'number' ? own : t;
}

/**
 * Runs `sides` (berth first in the list, then the baseline, then other figures) for `warmup`
 * rounds and then `runs` rounds, rotating the order each round, and returns every side's samples.
 */
export async function sampleRounds(sides: Side[], rounds: number, warmup: number): Promise<number[][]> {
  const out: number[][] = sides.map(() => []);
  for (let w = 0; w < warmup; w++) for (const s of sides) await measure(s, -1 - w);
  for (let i = 0; i < rounds; i++) {
    for (let k = 0; k < sides.length; k++) {
      const j = (i + k) % sides.length;
      out[j]!.push(await measure(sides[j]!, i));
    }
  }
  return out;
}

/** Words for the order sampleRounds uses, recorded with each result. */
export function rotationOrder(n: number): string {
  return n === 2 ? 'alternated (berth first in even rounds, baseline first in odd ones)' : `rotated over the ${n} sides each round`;
}

/** Times berth against its baseline (and other figures) with warm-up and rotation, and judges the goal. */
export async function compareTimes(o: {
  name: string;
  berth: Side['sample'];
  baseline: Side;
  others?: Side[];
  runs: number;
  warmup?: number;
  goal: Goal;
  extra?: Record<string, unknown>;
}): Promise<Result> {
  const warmup = o.warmup ?? warmups();
  const sides = [{ name: 'berth', sample: o.berth }, o.baseline, ...(o.others ?? [])];
  const [berth, baseline, ...others] = await sampleRounds(sides, o.runs, warmup);
  return makeResult({
    name: o.name,
    berth: berth!,
    baseline: baseline!,
    baselineName: o.baseline.name,
    others: (o.others ?? []).map((s, i) => ({ name: s.name, samples: others[i]! })),
    goal: o.goal,
    warmup,
    order: rotationOrder(sides.length),
    ...(o.extra ? { extra: o.extra } : {}),
  });
}

/** What one burst of parallel work gave: each item's time from the burst's start, and the failures. */
export interface Burst {
  latencies: number[];
  failures: string[];
}

/** Starts `n` items of `fn` at once; each item's latency counts from the common start. */
export async function burst(n: number, fn: (k: number) => Promise<unknown>): Promise<Burst> {
  const t0 = performance.now();
  const out: Burst = { latencies: [], failures: [] };
  await Promise.all(
    Array.from({ length: n }, (_, k) =>
      fn(k).then(
        () => void out.latencies.push(performance.now() - t0),
        (err: unknown) => void out.failures.push((err as Error).message),
      ),
    ),
  );
  return out;
}

/** A side of a parallel comparison: one burst per round, and the clean-up after it (untimed). */
export interface BurstSide {
  name: string;
  burst(round: number): Promise<Burst>;
  cleanup(round: number): Promise<void>;
}

/** Runs a burst of each side per round, rotating which goes first, and pools latencies and failures. */
export async function burstRounds(sides: BurstSide[], rounds: number): Promise<Burst[]> {
  const out: Burst[] = sides.map(() => ({ latencies: [], failures: [] }));
  for (let i = 0; i < rounds; i++) {
    for (let k = 0; k < sides.length; k++) {
      const j = (i + k) % sides.length;
      const side = sides[j]!;
      try {
        const b = await side.burst(i);
        out[j]!.latencies.push(...b.latencies);
        out[j]!.failures.push(...b.failures);
      } finally {
        await side.cleanup(i);
      }
    }
  }
  return out;
}
