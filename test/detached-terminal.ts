/**
 * What the detached-terminal suites share: a TTY session running `yes` is detached, the CPU time of
 * the processes that carry it is measured over a fixed window on the clock, and a re-attach must
 * show the session alive and printing.
 */
import fs from 'node:fs';
import type { BerthClient } from '../src/sdk/client.ts';
import { eventually } from './harness.ts';

/** The observation window, on the clock: CPU time is measured across it. Long enough that the detach itself (output in flight) weighs little on a loaded machine. */
export const WINDOW_MS = 10_000;

/** CPU seconds a process has used so far: utime + stime from /proc/<pid>/stat, in ticks of 1/100 s (USER_HZ on every Linux Node supports). */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields 14 and 15 of stat(5); the split starts at field 3, after the parenthesised command name.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Starts `yes` in a new TTY session of `ref`, waits until it prints, and detaches; resolves with the session id. */
export async function detachedYes(c: BerthClient, ref: string): Promise<string> {
  let out = '';
  let session = '';
  const conn = c.exec(ref, { cmd: [], tty: true, cols: 80, rows: 24 }, { stdout: (d) => (out += d.toString()), session: (id) => (session = id) });
  conn.done.catch(() => undefined);
  await eventually(() => session !== '', 'the terminal session to start', 30_000);
  conn.write('yes berth-idle-mark\r');
  await eventually(() => out.split('berth-idle-mark').length > 200, 'yes to print', 30_000);
  conn.detach();
  await conn.done.catch(() => undefined);
  return session;
}

/** CPU seconds each process used over WINDOW_MS, and the window's length in seconds. */
export async function cpuOverWindow(pids: number[]): Promise<{ cpu: number[]; window: number }> {
  const t0 = Date.now();
  const before = pids.map(cpuSeconds);
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const cpu = pids.map((p, i) => cpuSeconds(p) - before[i]!);
  return { cpu, window: (Date.now() - t0) / 1000 };
}

/** Re-attaches to the session: the replay shows recent output and the live stream keeps printing; then ends it. */
export async function reattachPrints(c: BerthClient, ref: string, session: string): Promise<{ replay: string }> {
  // The first frame after a re-attach is the replay of the scrollback; what follows is live.
  let replay = '';
  let live = '';
  let frames = 0;
  const conn = c.exec(ref, { cmd: [], tty: true, session }, { stdout: (d) => (frames++ === 0 ? (replay += d.toString()) : (live += d.toString())) });
  try {
    await eventually(() => live.split('berth-idle-mark').length > 200, 'the re-attached session to keep printing', 30_000);
    return { replay };
  } finally {
    conn.write('\x03');
    conn.write('exit\r');
    await Promise.race([conn.done.catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
    conn.detach();
  }
}
