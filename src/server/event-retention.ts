/**
 * Event retention and paging. Each workspace keeps its newest `count` events, none older than
 * `ageMs`; a background job prunes in bounded batches (one transaction each, the event loop free
 * between them) and the store counts what went, so readers can say that older events were removed.
 */
import type { Logger } from 'pino';
import type { EventPage } from '../sdk/events.ts';
import type { EventRow, Store } from '../store/store.ts';

/** The retention policy, the same for every workspace. */
export interface RetentionPolicy {
  /** Newest events kept per workspace. */
  count: number;
  /** Events older than this are removed. */
  ageMs: number;
}

/** Options of the pruning job. */
export interface EventRetentionOptions {
  store: Store;
  policy: RetentionPolicy;
  logger: Logger;
  /** Rows deleted per transaction. */
  batch?: number;
  now?: () => Date;
}

/** Prunes events beyond the policy, in the background. */
export class EventRetention {
  private readonly o: Required<EventRetentionOptions>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> = Promise.resolve(0);
  private stopped = false;

  constructor(o: EventRetentionOptions) {
    this.o = { batch: 2000, now: () => new Date(), ...o };
  }

  /** One pass over every workspace; returns how many events were removed. */
  async prune(): Promise<number> {
    const olderThan = new Date(this.o.now().getTime() - this.o.policy.ageMs).toISOString();
    let total = 0;
    for (const w of await this.o.store.listWorkspaces()) {
      for (;;) {
        if (this.stopped) return total;
        const n = await this.o.store.pruneEvents(w.id, { keep: this.o.policy.count, olderThan, limit: this.o.batch }, this.o.now().toISOString());
        total += n;
        // Other requests and appends go first between batches and between workspaces: SQLite answers
        // synchronously, so a pass over a hundred workspaces would otherwise hold the event loop whole.
        await new Promise((r) => setImmediate(r));
        if (n < this.o.batch) break;
      }
    }
    // Events of deleted workspaces: a line of output can land just after its workspace's row went.
    while (!this.stopped && (await this.o.store.pruneEventsWithoutWorkspace(this.o.batch)) === this.o.batch) await new Promise((r) => setImmediate(r));
    if (total > 0) this.o.logger.info({ removed: total }, 'event retention pruned old events');
    return total;
  }

  /** Prunes now and every `intervalMs`. */
  start(intervalMs = 10_000): void {
    const tick = () => {
      this.running = this.running.then(() => this.prune()).catch((err: unknown) => {
        this.o.logger.error({ err }, 'event retention failed');
        return 0;
      });
    };
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  /** Stops pruning and waits for a batch in flight. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}

/** Where a page starts: after an id (forwards), before an id (backwards), or neither (the newest). */
export interface PageQuery {
  after?: number;
  before?: number;
  limit: number;
}

/** One page of a workspace's events, oldest first, with cursors and what retention removed. */
export async function eventPage(store: Store, workspaceId: string, q: PageQuery, policy: RetentionPolicy): Promise<EventPage> {
  const toWire = (e: EventRow) => ({ id: e.id, ts: e.ts, kind: e.kind, message: e.message });
  let rows: EventRow[];
  let hasOlder: boolean;
  let hasNewer: boolean;
  if (q.after !== undefined) {
    rows = await store.listEvents(workspaceId, q.after, q.limit + 1);
    hasNewer = rows.length > q.limit;
    rows = rows.slice(0, q.limit);
    hasOlder = rows.length > 0 && (await store.eventsBefore(workspaceId, rows[0]!.id, 1)).length > 0;
  } else {
    rows = await store.eventsBefore(workspaceId, q.before ?? Number.MAX_SAFE_INTEGER, q.limit + 1);
    hasOlder = rows.length > q.limit;
    rows = rows.slice(-q.limit);
    hasNewer = q.before !== undefined;
  }
  const { dropped } = await store.eventsDropped(workspaceId);
  const last = rows[rows.length - 1];
  return {
    events: rows.map(toWire),
    next: hasNewer && last ? last.id : null,
    prev: hasOlder && rows[0] ? rows[0].id : null,
    dropped,
    truncated: dropped > 0 && !hasOlder,
    retention: { count: policy.count, ageMs: policy.ageMs },
  };
}
