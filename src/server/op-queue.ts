/**
 * Bounds how many lifecycle operations (provision, stop, destroy) run at once on one provisioner
 * instance (its `maxConcurrentOps` option), so a burst waits in line instead of overloading the engine
 * or failing. The line is fair: waiting operations are taken round-robin across owners, so one user's
 * hundred creates do not hold back another user's one; and one owner's operations are taken in the
 * order they were asked for (`since`), whichever reached the line first, so a create asked for first
 * starts first and deletes and creates take their turns alike.
 */
import { AbortedError } from '../core/errors.ts';

interface Waiter {
  start: () => void;
  signal: AbortSignal | undefined;
  since: string;
}

/** How an operation waits: cancelled by `signal`; `since` (an ISO time) is when it was asked for, its place in its owner's line. */
export interface RunOptions {
  signal?: AbortSignal;
  since?: string;
}

/** The state of one provisioner's line. */
interface Lane {
  running: number;
  /** Waiting operations per owner, each owner's by `since`; owners in the order they are served next. */
  waiting: Map<string, Waiter[]>;
}

/** Per-provisioner concurrency limits with round-robin fairness between owners. */
export class OpQueue {
  private readonly lanes = new Map<string, Lane>();

  /** `limit(provisioner)`: the bound for that instance, or undefined for none. */
  constructor(private readonly limit: (provisioner: string) => number | undefined) {}

  /** Runs `fn` once the provisioner has room, after the waiting operations of owners ahead in the rotation and its owner's asked for earlier. */
  async run<T>(provisioner: string, owner: string, fn: () => Promise<T>, opts: RunOptions = {}): Promise<T> {
    const max = this.limit(provisioner);
    if (!max || max < 1) return fn();
    const lane = this.lanes.get(provisioner) ?? { running: 0, waiting: new Map<string, Waiter[]>() };
    this.lanes.set(provisioner, lane);
    if (lane.running >= max || lane.waiting.size > 0) await this.wait(lane, owner, opts);
    else lane.running++;
    try {
      return await fn();
    } finally {
      lane.running--;
      this.next(provisioner, lane, max);
    }
  }

  /** Operations waiting and running on a provisioner (tests, metrics). */
  depth(provisioner: string): { running: number; waiting: number } {
    const lane = this.lanes.get(provisioner);
    return { running: lane?.running ?? 0, waiting: lane ? [...lane.waiting.values()].reduce((n, q) => n + q.length, 0) : 0 };
  }

  private wait(lane: Lane, owner: string, { signal, since = new Date().toISOString() }: RunOptions): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedError());
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { start: resolve, signal, since };
      const q = lane.waiting.get(owner);
      if (!q) lane.waiting.set(owner, [w]);
      else {
        // After every operation asked for at the same time or earlier: equal times keep their arrival order.
        const at = q.findIndex((x) => x.since > since);
        q.splice(at < 0 ? q.length : at, 0, w);
      }
      signal?.addEventListener(
        'abort',
        () => {
          const list = lane.waiting.get(owner);
          const i = list?.indexOf(w) ?? -1;
          if (i < 0) return;
          list!.splice(i, 1);
          if (list!.length === 0) lane.waiting.delete(owner);
          reject(new AbortedError());
        },
        { once: true },
      );
    });
  }

  /** Starts waiting operations while there is room: the first owner in line, who then goes to the back. */
  private next(provisioner: string, lane: Lane, max: number): void {
    while (lane.running < max && lane.waiting.size > 0) {
      const [owner, q] = lane.waiting.entries().next().value as [string, Waiter[]];
      const w = q.shift()!;
      lane.waiting.delete(owner);
      if (q.length > 0) lane.waiting.set(owner, q);
      lane.running++;
      w.start();
    }
    if (lane.running === 0 && lane.waiting.size === 0) this.lanes.delete(provisioner);
  }
}
