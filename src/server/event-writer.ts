/**
 * Provisioning output into the event log, batched and rate-limited. A setup command can print far
 * faster than the store writes rows; unbounded, each line would wait in memory as its own insert.
 * Here lines wait in a bounded queue per workspace and are written in batches; beyond `linesPerSecond`
 * the oldest waiting lines give way to the newest, and one event says how many were dropped, so
 * memory stays bounded and the log keeps the end of the output, where errors usually are.
 */
import type { EventRow } from '../store/store.ts';

/** The kinds of output lines a provisioner streams. */
export type OutputKind = 'output' | 'progress' | 'info';

/** A batch of events to persist, in order. */
export type AppendBatch = (workspaceId: string, events: { kind: string; message: string; ts: string }[]) => Promise<EventRow[]>;

/** Limits of the writer. */
export interface OutputLimits {
  /** Lines per second written per workspace; more are dropped (the oldest waiting first). */
  linesPerSecond: number;
  /** How often waiting lines are written. */
  flushMs: number;
}

/** Defaults: a thousand lines a second, written ten times a second. */
export const DEFAULT_OUTPUT_LIMITS: OutputLimits = { linesPerSecond: 1000, flushMs: 100 };

interface Pending {
  /** A ring of the newest waiting lines; `start` is the oldest. */
  lines: { kind: OutputKind; message: string; ts: string }[];
  start: number;
  dropped: number;
  timer: NodeJS.Timeout | undefined;
  /** The write in flight; the next waits for it, so batches keep their order. */
  writing: Promise<void>;
}

/** Batches, bounds and rate-limits output lines per workspace. */
export class OutputWriter {
  private readonly pending = new Map<string, Pending>();
  /** Per workspace, the current one-second window and the lines written in it (kept while lines arrive in it). */
  private readonly windows = new Map<string, { start: number; written: number }>();
  private readonly limits: OutputLimits;

  constructor(
    private readonly append: AppendBatch,
    limits: Partial<OutputLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_OUTPUT_LIMITS, ...limits };
  }

  /** Queues one line; never waits and never holds more than a second's worth of lines per workspace. */
  push(workspaceId: string, kind: OutputKind, message: string): void {
    let p = this.pending.get(workspaceId);
    if (!p) {
      p = { lines: [], start: 0, dropped: 0, timer: undefined, writing: Promise.resolve() };
      this.pending.set(workspaceId, p);
    }
    const line = { kind, message, ts: new Date(this.now()).toISOString() };
    if (p.lines.length < this.limits.linesPerSecond) p.lines.push(line);
    else {
      // Full: the newest line takes the place of the oldest waiting one.
      p.lines[p.start] = line;
      p.start = (p.start + 1) % p.lines.length;
      p.dropped++;
    }
    p.timer ??= setTimeout(() => void this.flush(workspaceId).catch(() => undefined), this.limits.flushMs);
  }

  /**
   * Writes waiting lines, oldest first, as many as the rate allows (all of them with `all`: before a
   * phase change, which must come after the output); resolves once they are stored.
   */
  flush(workspaceId: string, all = false): Promise<void> {
    const p = this.pending.get(workspaceId);
    if (!p) return Promise.resolve();
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    const now = this.now();
    let win = this.windows.get(workspaceId);
    if (!win || now - win.start >= 1000) {
      win = { start: now, written: 0 };
      this.windows.set(workspaceId, win);
    }
    const ordered = [...p.lines.slice(p.start), ...p.lines.slice(0, p.start)];
    const n = all ? ordered.length : Math.min(ordered.length, Math.max(0, this.limits.linesPerSecond - win.written));
    const take = ordered.slice(0, n);
    p.lines = ordered.slice(n);
    p.start = 0;
    win.written += take.length;
    let batch: { kind: string; message: string; ts: string }[] = take;
    if (p.dropped > 0 && take.length > 0) {
      // The notice stands where the lines went missing: before the first line written after them.
      batch = [{ kind: 'info', message: droppedNotice(p.dropped, this.limits.linesPerSecond), ts: take[0]!.ts }, ...take];
      p.dropped = 0;
    }
    if (p.lines.length > 0) p.timer = setTimeout(() => void this.flush(workspaceId).catch(() => undefined), Math.max(this.limits.flushMs, 1000 - (now - win.start)));
    // A failed write loses its batch only; the chain goes on (the caller of push never waits).
    if (batch.length > 0) p.writing = p.writing.then(() => this.append(workspaceId, batch)).then(
      () => undefined,
      () => undefined,
    );
    const written = p.writing;
    void written.then(() => {
      if (this.pending.get(workspaceId) === p && p.lines.length === 0 && p.dropped === 0 && !p.timer) this.pending.delete(workspaceId);
      // An expired window is forgotten lazily, so a workspace that went quiet costs nothing.
      for (const [id, w] of this.windows) if (this.now() - w.start >= 1000 && !this.pending.has(id)) this.windows.delete(id);
    });
    return written;
  }

  /** Whether lines of the workspace wait or are being written. */
  waiting(workspaceId: string): boolean {
    return this.pending.has(workspaceId);
  }

  /** Forgets a workspace's waiting lines (it was deleted). */
  discard(workspaceId: string): void {
    const p = this.pending.get(workspaceId);
    if (p?.timer) clearTimeout(p.timer);
    this.pending.delete(workspaceId);
    this.windows.delete(workspaceId);
  }
}

/** The event that stands for dropped lines. */
export function droppedNotice(n: number, perSecond: number): string {
  return `${n.toLocaleString('en-US')} line${n === 1 ? '' : 's'} of output were dropped (more than ${perSecond.toLocaleString('en-US')} lines/s).`;
}
