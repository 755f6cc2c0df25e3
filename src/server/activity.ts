/**
 * What each workspace was last seen doing: its last command, its terminal's last output and, for a
 * task run, the run's step. Kept in memory, where the exec route and the terminal service touch it
 * on every command and every chunk of output; written to the database at most once per
 * `flushMs` per workspace, so a terminal streaming a build costs no write per line.
 */
import type { Logger } from 'pino';
import type { WorkspaceActivity } from '../sdk/wire.ts';
import type { TaskStore } from './tasks/store.ts';

/** Masks a workspace's secrets in a text (EventLog.redact). */
export type Redact = (workspaceId: string, text: string) => Promise<string>;

/** Longest command line kept. */
const MAX_COMMAND = 500;

/** An argv as one line a person can read; arguments with spaces or quotes are quoted. */
export function commandLine(argv: string[]): string {
  if (argv.length === 0) return '(shell)';
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

interface Entry extends WorkspaceActivity {
  /** Settles once the stored row (from before this process) has been merged in. */
  loaded: Promise<void>;
  /** Settles once every command recorded so far is in the entry; each waits on the one before, so the last one started wins. */
  recorded: Promise<void>;
  /** A change not yet written. */
  dirty: boolean;
  timer?: NodeJS.Timeout;
}

/** Options of the activity tracker. */
export interface ActivityOptions {
  /** Where rows live: the `workspace_activity` table, beside the tasks' tables (migration 0007). */
  store: Pick<TaskStore, 'getActivity' | 'putActivity'>;
  redact: Redact;
  logger: Logger;
  /** Least time between two writes of one workspace's row. */
  flushMs?: number;
}

/** In-memory activity per workspace, persisted lazily. */
export class ActivityTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly flushMs: number;

  constructor(private readonly o: ActivityOptions) {
    this.flushMs = o.flushMs ?? 5000;
  }

  /**
   * Records a command started in the workspace, in the background so the command never waits on
   * it (masking secrets may read the store). Records land in call order; the promise settles once
   * this one has, and never rejects: a failure is logged, the command runs anyway.
   */
  command(workspaceId: string, argv: string[]): Promise<void> {
    const e = this.entries.get(workspaceId) ?? this.create(workspaceId);
    const at = new Date().toISOString();
    const masked = this.o.redact(workspaceId, commandLine(argv));
    e.recorded = Promise.all([masked, e.recorded, e.loaded]).then(
      ([line]) => {
        Object.assign(e, { lastCommand: line.slice(0, MAX_COMMAND), lastCommandAt: at });
        this.touch(workspaceId, e);
      },
      (err: unknown) => this.o.logger.warn({ err, workspaceId }, 'could not record the command of a workspace'),
    );
    return e.recorded;
  }

  /** Records that a process of the workspace wrote output just now. Cheap: called for every chunk. */
  output(workspaceId: string): void {
    const e = this.entries.get(workspaceId) ?? this.create(workspaceId);
    e.lastOutputAt = new Date().toISOString();
    this.touch(workspaceId, e);
  }

  /** Sets (or with null clears) the task step shown for the workspace; memory only, a restart interrupts runs anyway. */
  step(workspaceId: string, step: string | null): void {
    (this.entries.get(workspaceId) ?? this.create(workspaceId)).taskStep = step;
  }

  /** The activity to show, or undefined when nothing is known. */
  async wire(workspaceId: string): Promise<WorkspaceActivity | undefined> {
    const e = await this.entry(workspaceId);
    if (!e.lastCommand && !e.lastOutputAt && !e.taskStep) return undefined;
    return { lastCommand: e.lastCommand, lastCommandAt: e.lastCommandAt, lastOutputAt: e.lastOutputAt, taskStep: e.taskStep };
  }

  /** Writes every pending change (server shutdown), commands still being recorded included. */
  async flushAll(): Promise<void> {
    const flush = async (id: string) => {
      await this.entry(id);
      await this.flush(id);
    };
    await Promise.all([...this.entries.keys()].map(flush));
  }

  /** A new entry, at once; its stored row is read once, in the background, and fills only what is still unknown. */
  private create(workspaceId: string): Entry {
    const e: Entry = { lastCommand: null, lastCommandAt: null, lastOutputAt: null, taskStep: null, dirty: false, loaded: Promise.resolve(), recorded: Promise.resolve() };
    this.entries.set(workspaceId, e);
    e.loaded = this.o.store.getActivity(workspaceId).then(
      (row) => {
        if (!row) return;
        e.lastCommand ??= row.last_command;
        e.lastCommandAt ??= row.last_command_at;
        e.lastOutputAt ??= row.last_output_at;
      },
      () => undefined,
    );
    return e;
  }

  /** The entry once its stored row and the commands recorded so far are in: what a reader sees includes the command it just ran. */
  private async entry(workspaceId: string): Promise<Entry> {
    const e = this.entries.get(workspaceId) ?? this.create(workspaceId);
    await Promise.all([e.loaded, e.recorded]);
    return e;
  }

  private touch(workspaceId: string, e: Entry): void {
    e.dirty = true;
    if (e.timer) return;
    e.timer = setTimeout(() => void this.flush(workspaceId), this.flushMs);
    e.timer.unref();
  }

  private async flush(workspaceId: string): Promise<void> {
    const e = this.entries.get(workspaceId);
    if (!e) return;
    clearTimeout(e.timer);
    e.timer = undefined;
    if (!e.dirty) return;
    e.dirty = false;
    await this.o.store
      .putActivity({ workspace_id: workspaceId, last_command: e.lastCommand, last_command_at: e.lastCommandAt, last_output_at: e.lastOutputAt })
      .catch((err: unknown) => this.o.logger.warn({ err, workspaceId }, 'could not record workspace activity'));
  }
}
