/**
 * Benchmark helpers. Every benchmark measures Berth and its raw baseline side by side in the same
 * run, repeats both, and reports medians and their ratio (Berth / baseline; lower is better for
 * times, higher is better for throughput).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BerthClient } from '../src/sdk/client.ts';

/** One reported comparison. */
export interface Result {
  name: string;
  unit: string;
  berth: number;
  baseline: number;
  baselineName: string;
  /** berth / baseline. */
  ratio: number;
  /** The goal the ratio is held to, e.g. "<= 1.5". */
  target: string;
  met: boolean;
  runs: number;
  samples: { berth: number[]; baseline: number[] };
  extra?: Record<string, unknown>;
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The `p`-th percentile (nearest rank) of a non-empty list. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** The commit and machine figures are taken on, recorded with every result file. */
export function runFacts(): Record<string, unknown> {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: path.resolve(import.meta.dirname, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  let commit = 'unknown';
  try {
    // Figures from a tree with uncommitted changes say so.
    commit = git('rev-parse', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no') ? '+changes' : '');
  } catch {
    /* not a checkout */
  }
  return { commit, node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) };
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

/** Milliseconds taken by `fn`. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * Runs baseline and Berth alternately `runs` times (alternating spreads machine noise evenly),
 * each with its own setup outside the timed part, and returns the comparison.
 */
export async function compareTimes(opts: {
  name: string;
  baselineName: string;
  runs: number;
  /** Target on berth/baseline, e.g. 1.5 means "at most 1.5x the baseline". */
  maxRatio: number;
  baseline: (i: number) => Promise<unknown>;
  berth: (i: number) => Promise<unknown>;
}): Promise<Result> {
  const b: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < opts.runs; i++) {
    b.push(await timeMs(() => opts.baseline(i)));
    r.push(await timeMs(() => opts.berth(i)));
  }
  const berth = median(r);
  const baseline = median(b);
  const ratio = berth / baseline;
  return { name: opts.name, unit: 'ms', berth, baseline, baselineName: opts.baselineName, ratio, target: `<= ${opts.maxRatio}`, met: ratio <= opts.maxRatio, runs: opts.runs, samples: { berth: r, baseline: b } };
}

/** Formats one result as the line a person reads. */
export function formatResult(res: Result): string {
  const f = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  return `${res.name}: berth ${f(res.berth)} ${res.unit}, ${res.baselineName} ${f(res.baseline)} ${res.unit}, ratio ${res.ratio.toFixed(2)} (target ${res.target}) ${res.met ? 'MET' : 'NOT MET'} [median of ${res.runs}]`;
}

/** Prints results and, when `BENCH_JSON` (or --json FILE) names a file, writes them as JSON. */
export function report(results: Result[], jsonFile = process.env.BENCH_JSON): void {
  for (const r of results) process.stdout.write(`${formatResult(r)}\n`);
  if (jsonFile) {
    fs.mkdirSync(path.dirname(path.resolve(jsonFile)), { recursive: true });
    fs.writeFileSync(jsonFile, `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
    process.stdout.write(`Wrote ${jsonFile}\n`);
  }
}
