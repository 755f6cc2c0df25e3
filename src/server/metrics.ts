/**
 * The control plane's Prometheus metrics (`GET /metrics`). One Metrics object per server, with its
 * own registry (never prom-client's global one), handed by hand to the reconciler, the terminal
 * service and the git gateway, which each call it in one line. Gauges that describe stored state
 * (workspaces by phase) are read from the store at scrape time, so they cannot drift.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BerthError } from '../core/errors.ts';
import type { Store } from '../store/store.ts';

/** What the reconciler reports: `reconcile(action)` at the start of an operation, its callback at the end (with the error when it failed). */
export interface ReconcileMetrics {
  reconcile(action: string): (err?: unknown) => void;
}

/** What the terminal service reports. */
export interface ExecMetrics {
  execStarted(tty: boolean): void;
}

/** What the git gateway reports, once per request. */
export interface GitMetrics {
  gitRequest(url: string, status: number): void;
}

/** Metrics that record nothing: the default where no Metrics object is given (unit tests, tools). */
export const NO_METRICS: ReconcileMetrics & ExecMetrics & GitMetrics = {
  reconcile: () => () => undefined,
  execStarted: () => undefined,
  gitRequest: () => undefined,
};

/** The git smart-HTTP service a gateway URL names: `git-upload-pack` (clone, fetch), `git-receive-pack` (push), or `other`. */
export function gitService(url: string): string {
  const m = /(?:[?&]service=|\/)(git-upload-pack|git-receive-pack)(?:$|[?&/])/.exec(url);
  return m ? m[1]! : 'other';
}

/** The code a failure is counted under: a Berth error's stable code, else `internal`. */
function codeOf(err: unknown): string {
  return err instanceof BerthError ? err.code : 'internal';
}

/** Where the scrape-time gauges read from. */
export interface MetricsSources {
  store: Pick<Store, 'listWorkspaces'>;
  /** Terminal (TTY) sessions whose process runs. */
  terminals: () => number;
  /** What each warm pool holds (server/pool/); absent = no pools. */
  pool?: () => { provisioner: string; project: string; size: number; ready: number }[];
}

/** The server's metrics and their registry. */
export class Metrics implements ReconcileMetrics, ExecMetrics, GitMetrics {
  /** The registry `/metrics` serializes. */
  readonly registry = new Registry();
  private readonly attempts: Counter<'action'>;
  private readonly failures: Counter<'action' | 'code'>;
  private readonly latency: Histogram<'action'>;
  private readonly execs: Counter<'tty'>;
  private readonly git: Counter<'service' | 'status'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.attempts = new Counter({ name: 'berth_reconcile_attempts_total', help: 'Reconcile operations started (provision, stop, destroy), by action.', labelNames: ['action'], registers });
    this.failures = new Counter({ name: 'berth_reconcile_failures_total', help: 'Reconcile operations that failed, by action and error code.', labelNames: ['action', 'code'], registers });
    this.latency = new Histogram({
      name: 'berth_reconcile_duration_seconds',
      help: 'How long reconcile operations took, by action.',
      labelNames: ['action'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.execs = new Counter({ name: 'berth_exec_sessions_total', help: 'Exec and terminal sessions started, by whether they have a TTY.', labelNames: ['tty'], registers });
    this.git = new Counter({ name: 'berth_git_requests_total', help: 'Git gateway requests, by service and HTTP status.', labelNames: ['service', 'status'], registers });
    new Gauge({
      name: 'berth_warm_pool_ready',
      help: 'Runtimes ready in each warm pool (--warm-pool), by provisioner and project.',
      labelNames: ['provisioner', 'project'],
      registers,
      collect() {
        this.reset();
        for (const p of sources.pool?.() ?? []) this.inc({ provisioner: p.provisioner, project: p.project }, p.ready);
      },
    });
    new Gauge({
      name: 'berth_terminal_sessions',
      help: 'Terminal (TTY) sessions whose process runs, attached or not.',
      registers,
      collect() {
        this.set(sources.terminals());
      },
    });
    new Gauge({
      name: 'berth_workspaces',
      help: 'Workspaces by phase and provisioner, as stored.',
      labelNames: ['phase', 'provisioner'],
      registers,
      async collect() {
        const counts = new Map<string, { phase: string; provisioner: string; n: number }>();
        for (const w of await sources.store.listWorkspaces()) {
          const key = `${w.phase}\0${w.provisioner}`;
          const c = counts.get(key) ?? { phase: w.phase, provisioner: w.provisioner, n: 0 };
          c.n++;
          counts.set(key, c);
        }
        // Series of phases no workspace is in any more disappear instead of staying at their last value.
        this.reset();
        for (const c of counts.values()) this.set({ phase: c.phase, provisioner: c.provisioner }, c.n);
      },
    });
  }

  reconcile(action: string): (err?: unknown) => void {
    this.attempts.inc({ action });
    const end = this.latency.startTimer({ action });
    return (err?: unknown) => {
      end();
      if (err !== undefined) this.failures.inc({ action, code: codeOf(err) });
    };
  }

  execStarted(tty: boolean): void {
    this.execs.inc({ tty: String(tty) });
  }

  gitRequest(url: string, status: number): void {
    this.git.inc({ service: gitService(url), status: String(status) });
  }

  /** The scrape in Prometheus text format, with its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
