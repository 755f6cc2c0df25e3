/**
 * What every benchmark reports: the statistics of both sides, the ratio and its goal, a flag when
 * the ratio is too good to be believed, and the line a person reads. Timing and ordering of samples
 * are in harness.ts; the run's facts and the result files in record.ts.
 */
import type { BerthClient } from '../src/sdk/client.ts';

/** Distribution of one side's samples. */
export interface Stats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  min: number;
}

/** One more figure measured in the same rounds as berth and baseline (e.g. a naive script). */
export interface OtherFigure {
  name: string;
  stats: Stats;
  /** berth / this figure, on the same percentile as the main ratio. */
  ratio: number;
}

/** One reported comparison: berth against its baseline, with every sample kept. */
export interface Result {
  name: string;
  unit: string;
  /** Throughput: more is better, and a ratio far above 1 is the suspicious one. */
  higherIsBetter: boolean;
  berth: Stats;
  baseline: Stats;
  baselineName: string;
  /** Percentile the ratio compares. */
  ratioOf: 'p50' | 'p99';
  /** berth / baseline on `ratioOf`. */
  ratio: number;
  /** The goal in words, e.g. "ratio <= 1.2 and berth p99 <= 5000 ms". */
  goal: string;
  met: boolean;
  /** Why the figure looks wrong (a ratio far better than the baseline), when it does. */
  suspect?: string;
  /** Warm-up rounds (or requests, for a fixed-rate probe) taken and thrown away first. */
  warmup: number;
  order: string;
  others: OtherFigure[];
  samples: Record<string, number[]>;
  extra?: Record<string, unknown>;
}

/** What a result is held to; every given bound must hold. */
export interface Goal {
  maxRatio?: number;
  maxBerthP99?: number;
  minBerthP50?: number;
  /** A goal the benchmark judges itself (failures counted, files left…). */
  also?: { text: string; met: boolean };
}

/** Below this ratio (above its inverse for throughput) Berth beats the baseline by too much to trust without a look. */
export const SUSPECT_RATIO = 0.5;

/** The `p`-th percentile (nearest rank) of a non-empty list. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  return percentile(xs, 50);
}

/** p50/p95/p99/max/min of a non-empty list. */
export function stats(xs: number[]): Stats {
  if (!xs.length) throw new Error('a benchmark side has no samples');
  return { n: xs.length, p50: percentile(xs, 50), p95: percentile(xs, 95), p99: percentile(xs, 99), max: Math.max(...xs), min: Math.min(...xs) };
}

/** Builds a result from raw samples: statistics, ratios, the goal and the suspect check. */
export function makeResult(o: {
  name: string;
  unit?: string;
  higherIsBetter?: boolean;
  berth: number[];
  baseline: number[];
  baselineName: string;
  others?: { name: string; samples: number[] }[];
  ratioOf?: 'p50' | 'p99';
  goal: Goal;
  warmup: number;
  order: string;
  extra?: Record<string, unknown>;
}): Result {
  const ratioOf = o.ratioOf ?? 'p50';
  const berth = stats(o.berth);
  const baseline = stats(o.baseline);
  const ratio = berth[ratioOf] / baseline[ratioOf];
  const unit = o.unit ?? 'ms';
  const texts: string[] = [];
  let met = true;
  const g = o.goal;
  if (g.maxRatio !== undefined) {
    texts.push(`ratio <= ${g.maxRatio}`);
    met &&= ratio <= g.maxRatio;
  }
  if (g.maxBerthP99 !== undefined) {
    texts.push(`berth p99 <= ${g.maxBerthP99} ${unit}`);
    met &&= berth.p99 <= g.maxBerthP99;
  }
  if (g.minBerthP50 !== undefined) {
    texts.push(`berth p50 >= ${g.minBerthP50} ${unit}`);
    met &&= berth.p50 >= g.minBerthP50;
  }
  if (g.also) {
    texts.push(g.also.text);
    met &&= g.also.met;
  }
  const higher = o.higherIsBetter ?? false;
  const tooGood = higher ? ratio > 1 / SUSPECT_RATIO : ratio < SUSPECT_RATIO;
  const suspect = tooGood
    ? `Berth ${higher ? 'out-serves' : 'beats'} ${o.baselineName} by more than ${1 / SUSPECT_RATIO}x; check that both sides do the same work before believing it`
    : undefined;
  const others = (o.others ?? []).map((x) => {
    const s = stats(x.samples);
    return { name: x.name, stats: s, ratio: berth[ratioOf] / s[ratioOf] };
  });
  const samples: Record<string, number[]> = { berth: o.berth, baseline: o.baseline };
  for (const x of o.others ?? []) samples[x.name] = x.samples;
  return {
    name: o.name,
    unit,
    higherIsBetter: higher,
    berth,
    baseline,
    baselineName: o.baselineName,
    ratioOf,
    ratio,
    goal: texts.join(' and ') || 'none',
    met,
    ...(suspect ? { suspect } : {}),
    warmup: o.warmup,
    order: o.order,
    others,
    samples,
    ...(o.extra ? { extra: o.extra } : {}),
  };
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

function statsLine(label: string, s: Stats, unit: string): string {
  return `  ${label.padEnd(44)} p50 ${fmt(s.p50)}  p95 ${fmt(s.p95)}  p99 ${fmt(s.p99)}  max ${fmt(s.max)} ${unit} (n=${s.n})`;
}

/** Formats one result as the lines a person reads. */
export function formatResult(r: Result): string {
  const lines = [
    `${r.name}: ratio ${r.ratio.toFixed(2)} (${r.ratioOf}; goal ${r.goal}) ${r.met ? 'MET' : 'NOT MET'}`,
    statsLine('berth', r.berth, r.unit),
    statsLine(`baseline: ${r.baselineName}`, r.baseline, r.unit),
    ...r.others.map((o) => `${statsLine(`also: ${o.name}`, o.stats, r.unit)}; berth ratio ${o.ratio.toFixed(2)}`),
    `  warm-up ${r.warmup}; order ${r.order}`,
  ];
  if (r.suspect) lines.push(`  SUSPECT: ${r.suspect}`);
  return lines.join('\n');
}

/**
 * Resolves once the workspace's phase becomes `phase` (after event `after`), following its event
 * stream as `berth ws create --wait` does; rejects if it failed instead.
 */
export async function reachPhase(c: BerthClient, id: string, phase: 'running' | 'stopped', after = 0): Promise<void> {
  const last = await c.followEvents(id, (e) => e.kind === 'phase' && (e.message === phase || e.message === 'failed'), { after });
  if (last?.message === phase) return;
  const w = await c.getWorkspace(id);
  throw new Error(`workspace ${w.name} did not become ${phase}; it is ${w.phase}${w.message ? `: ${w.message}` : ''}`);
}

/** Runs `echo ok` in the workspace through the SDK and resolves once its output has arrived and the exec ended. */
export async function firstOutput(c: BerthClient, id: string): Promise<void> {
  let out = '';
  const seen = Promise.withResolvers<void>();
  const conn = c.exec(id, { cmd: ['echo', 'ok'], tty: false }, { stdout: (d) => ((out += d.toString()), out.includes('ok') && seen.resolve()) });
  await Promise.race([seen.promise, conn.done.then(() => (out.includes('ok') ? undefined : Promise.reject(new Error(`exec in ${id} gave no output`))))]);
  await conn.done;
}
