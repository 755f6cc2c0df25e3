/** The workspace event log: persisted in the store, fanned out live to followers. */
import { EventEmitter } from 'node:events';
import type { EventPage } from '../sdk/events.ts';
import type { EventRow, Store } from '../store/store.ts';
import { eventPage, type PageQuery, type RetentionPolicy } from './event-retention.ts';
import { OutputWriter, type OutputKind, type OutputLimits } from './event-writer.ts';
import { Redactor, type SecretRedactors } from './redact.ts';

/** Kinds of events: `phase` changes, provisioning `output`/`progress`, Berth's own `info`/`error` notes. */
export type EventKind = 'phase' | 'output' | 'progress' | 'info' | 'error';

const NO_SECRETS = new Redactor([]);
/** The policy of the server's defaults (--event-retention-count, --event-retention-age), for event logs built without one. */
const DEFAULT_RETENTION: RetentionPolicy = { count: 10_000, ageMs: 30 * 86_400_000 };

/** Appends events and notifies live subscribers. */
export class EventLog {
  private readonly bus = new EventEmitter();
  /** Provisioning output: batched, bounded and rate-limited (event-writer.ts). */
  private readonly writer: OutputWriter;

  constructor(
    private readonly store: Store,
    private readonly secrets?: SecretRedactors,
    /** Limits of provisioning output, and the retention policy readers are told about. */
    private readonly opts: { output?: Partial<OutputLimits>; retention?: RetentionPolicy } = {},
  ) {
    this.writer = new OutputWriter((id, events) => this.appendBatch(id, events), opts.output);
    this.bus.setMaxListeners(0);
  }

  /** `text` with the workspace's secret values (and any Berth token) replaced. */
  async redact(workspaceId: string, text: string): Promise<string> {
    return this.secrets ? this.secrets.redact(workspaceId, text) : NO_SECRETS.redact(text);
  }

  /** Appends one event, with the workspace's secrets replaced in `message`. */
  async append(workspaceId: string, kind: EventKind, message: string): Promise<void> {
    // Output still waiting is written first: a phase change (`running`) comes after the output that led to it.
    if (this.writer.waiting(workspaceId)) await this.writer.flush(workspaceId, true);
    // Synchronous when the secrets are known, so lines appended in a row keep their order.
    const known = this.secrets?.forWorkspace(workspaceId) ?? NO_SECRETS;
    const redactor = known instanceof Redactor ? known : await known;
    const rows = await this.store.appendEvents(workspaceId, [{ kind, message: redactor.redact(message).slice(0, 8192), ts: new Date().toISOString() }]);
    for (const row of rows) this.bus.emit(workspaceId, row);
    this.bus.emit('*', workspaceId);
  }

  /** Queues a line of provisioning output: written in order within a moment, at most so many lines a second (the rest are counted). */
  output(workspaceId: string, kind: OutputKind, line: string): void {
    this.writer.push(workspaceId, kind, line);
  }

  private async appendBatch(workspaceId: string, events: { kind: string; message: string; ts: string }[]): Promise<EventRow[]> {
    const redacted = await Promise.all(events.map(async (e) => ({ ...e, message: (await this.redact(workspaceId, e.message)).slice(0, 8192) })));
    const rows = await this.store.appendEvents(workspaceId, redacted);
    for (const row of rows) this.bus.emit(workspaceId, row);
    this.bus.emit('*', workspaceId);
    return rows;
  }

  /** Reads the workspace's secret values again after its spec changed; earlier values stay redacted too. */
  async secretsChanged(workspaceId: string): Promise<void> {
    await this.secrets?.refresh(workspaceId);
  }

  /** Signals followers that the workspace is gone, so their streams end. */
  closed(workspaceId: string): void {
    this.writer.discard(workspaceId);
    this.secrets?.forget(workspaceId);
    this.bus.emit(`${workspaceId}:closed`);
    this.bus.emit('*', workspaceId);
  }

  /** Subscribes to "something happened to this workspace" for every workspace (the workspace list stream); returns the unsubscribe function. */
  subscribeAll(onChange: (workspaceId: string) => void): () => void {
    this.bus.on('*', onChange);
    return () => this.bus.off('*', onChange);
  }

  /** Subscribes to new events of one workspace; returns the unsubscribe function. */
  subscribe(workspaceId: string, onEvent: (e: EventRow) => void, onClosed: () => void): () => void {
    this.bus.on(workspaceId, onEvent);
    this.bus.once(`${workspaceId}:closed`, onClosed);
    return () => {
      this.bus.off(workspaceId, onEvent);
      this.bus.off(`${workspaceId}:closed`, onClosed);
    };
  }

  /** The newest `n` events. */
  tail(workspaceId: string, n: number): Promise<EventRow[]> {
    return this.store.lastEvents(workspaceId, n);
  }

  /** One page of events with cursors and what retention removed (`?limit=` reads of the events route). */
  page(workspaceId: string, q: PageQuery): Promise<EventPage> {
    return eventPage(this.store, workspaceId, q, this.opts.retention ?? DEFAULT_RETENTION);
  }

  /** Past events after `afterId`. */
  list(workspaceId: string, afterId = 0, limit = 1000): Promise<EventRow[]> {
    return this.store.listEvents(workspaceId, afterId, limit);
  }
}
