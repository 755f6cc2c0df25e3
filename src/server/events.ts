/** The workspace event log: persisted in the store, fanned out live to followers. */
import { EventEmitter } from 'node:events';
import type { EventRow, Store } from '../store/store.ts';
import { Redactor, type SecretRedactors } from './redact.ts';

/** Kinds of events: `phase` changes, provisioning `output`/`progress`, Berth's own `info`/`error` notes. */
export type EventKind = 'phase' | 'output' | 'progress' | 'info' | 'error';

const NO_SECRETS = new Redactor([]);

/** Appends events and notifies live subscribers. */
export class EventLog {
  private readonly bus = new EventEmitter();

  constructor(
    private readonly store: Store,
    private readonly secrets?: SecretRedactors,
  ) {
    this.bus.setMaxListeners(0);
  }

  /** `text` with the workspace's secret values (and any Berth token) replaced. */
  async redact(workspaceId: string, text: string): Promise<string> {
    return this.secrets ? this.secrets.redact(workspaceId, text) : NO_SECRETS.redact(text);
  }

  /** Appends one event, with the workspace's secrets replaced in `message`. */
  async append(workspaceId: string, kind: EventKind, message: string): Promise<void> {
    // Synchronous when the secrets are known, so lines appended in a row keep their order.
    const known = this.secrets?.forWorkspace(workspaceId) ?? NO_SECRETS;
    const redactor = known instanceof Redactor ? known : await known;
    const rows = await this.store.appendEvents(workspaceId, [{ kind, message: redactor.redact(message).slice(0, 8192), ts: new Date().toISOString() }]);
    for (const row of rows) this.bus.emit(workspaceId, row);
  }

  /** Signals followers that the workspace is gone, so their streams end. */
  closed(workspaceId: string): void {
    this.secrets?.forget(workspaceId);
    this.bus.emit(`${workspaceId}:closed`);
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

  /** Past events after `afterId`. */
  list(workspaceId: string, afterId = 0, limit = 1000): Promise<EventRow[]> {
    return this.store.listEvents(workspaceId, afterId, limit);
  }
}
