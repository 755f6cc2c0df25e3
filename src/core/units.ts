/** Size and duration parsing, done once at the edge so the rest of the code sees numbers. */
import { InputError } from './errors.ts';

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3, ti: 1024 ** 4, tib: 1024 ** 4,
};

/** Parses "512MiB", "2G", "1.5Gi" or a plain byte count into bytes. */
export function parseSize(input: string | number, what = 'size'): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) throw new InputError(`${what} must be a whole number of bytes, got ${input}.`);
    return input;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new InputError(`${what} "${input}" is not a size; write it like 512MiB, 2GiB or 1G.`);
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new InputError(`${what} "${input}" is too large.`);
  return bytes;
}

/** Formats bytes as the largest binary unit that keeps an integer, e.g. 536870912 → "512MiB". */
export function formatSize(bytes: number): string {
  for (const [unit, f] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${unit}`;
  }
  return `${bytes}B`;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "30s", "5m", "1h30m", "250ms" or a number of milliseconds into milliseconds. */
export function parseDuration(input: string | number, what = 'duration'): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new InputError(`${what} must be a non-negative number of milliseconds.`);
    return Math.round(input);
  }
  const s = input.trim();
  if (/^\d+$/.test(s)) return Number(s);
  let total = 0;
  let rest = s;
  const re = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/;
  if (rest === '') throw new InputError(`${what} is empty; write it like 30s, 5m or 1h.`);
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) throw new InputError(`${what} "${input}" is not a duration; write it like 30s, 5m or 1h30m.`);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}
