/**
 * What the provisioner observes of its pods and claims, from informers (list, then watch) instead of
 * reads and polling: started on first use, re-listed with back-off after any error, closed with the
 * provisioner. Waits are answered by cache events; a cache not (yet) in sync answers "unknown" so
 * callers can read the apiserver instead.
 */
import { makeInformer, type CoreV1Event, type Informer, type KubernetesListObject, type KubernetesObject, type ObjectCache, type V1PersistentVolumeClaim, type V1Pod } from '@kubernetes/client-node';
import { AbortedError, ProvisionerError } from '../../core/errors.ts';
import { statusOf, type KubeClient } from './client.ts';
import type { ClaimEvent } from './status.ts';

/** How often a pending claim's events are read again. */
const EVENTS_MS = 5000;

/** First and longest pause before re-listing after an error. */
const RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

/** One kind of object of this provisioner, mirrored by an informer. */
export class Mirror<T extends KubernetesObject> {
  private informer: (Informer<T> & ObjectCache<T>) | undefined;
  private connecting = false;
  private failures = 0;
  private lastError: unknown;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly kube: KubeClient,
    /** Plural resource name, e.g. `pods`: the watch path and the words of errors. */
    private readonly resource: string,
    private readonly list: () => Promise<KubernetesListObject<T>>,
    private readonly selector: string,
  ) {}

  /** The object as last observed: null when absent, undefined while the cache is not in sync. */
  get(name: string): T | null | undefined {
    this.start();
    return this.informer ? (this.informer.get(name, this.kube.namespace) ?? null) : undefined;
  }

  /** Starts the informer unless it runs or is connecting. */
  private start(): void {
    if (this.informer || this.connecting || this.retry || this.closed) return;
    this.connecting = true;
    void this.connect().finally(() => (this.connecting = false));
  }

  /** A fresh list and watch; it replaces the cache only once listed, so a reconnect never shows a half-empty cache. */
  private async connect(): Promise<void> {
    const inf = makeInformer<T>(this.kube.kc, `/api/v1/namespaces/${this.kube.namespace}/${this.resource}`, this.list, this.selector);
    let dead = false;
    inf.on('error', (err: unknown) => {
      // Stopping an informer aborts its watch, which reports an error too.
      if (dead || this.closed) return;
      dead = true;
      void inf.stop();
      if (this.informer === inf) this.informer = undefined;
      this.failed(err);
    });
    inf.on('change', () => {
      if (this.informer === inf) this.recheck();
    });
    await inf.start();
    if (dead || this.closed) {
      void inf.stop();
      return;
    }
    this.informer = inf;
    this.failures = 0;
    this.lastError = undefined;
    this.recheck();
  }

  private failed(err: unknown): void {
    this.lastError = err;
    this.failures++;
    this.recheck();
    const delay = Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** (this.failures - 1));
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.start();
    }, delay);
    this.retry.unref();
  }

  /** Asks every wait to decide again (something besides this kind of object changed). */
  recheck(): void {
    for (const l of [...this.listeners]) l();
  }

  /**
   * Waits until `decide` answers for the named object (null once it is absent), re-asked on every
   * change. The cache must come into sync before the deadline; credentials that may not list or
   * watch are an error at once.
   */
  wait<R>(name: string, decide: (o: T | null) => R | undefined, signal: AbortSignal, timeoutMs: number, what: string): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (signal.aborted) return reject(new AbortedError());
      let done = false;
      const finish = (fn: () => void) => {
        done = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.listeners.delete(check);
        fn();
      };
      const onAbort = () => finish(() => reject(new AbortedError()));
      const check = () => {
        if (done) return;
        const o = this.get(name);
        if (o === undefined) {
          if ([401, 403].includes(statusOf(this.lastError))) finish(() => reject(this.kube.fail(`watching ${this.resource}`, this.lastError)));
          return;
        }
        try {
          const v = decide(o);
          if (v !== undefined) finish(() => resolve(v));
        } catch (err) {
          finish(() => reject(err instanceof Error ? err : new Error(String(err))));
        }
      };
      const timer = setTimeout(() => finish(() => reject(this.timedOut(name, what, timeoutMs))), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.listeners.add(check);
      check();
    });
  }

  private timedOut(name: string, what: string, ms: number): ProvisionerError {
    const why = this.informer ? '' : `; the watch of ${this.resource} is not in sync${this.lastError ? ` (${this.kube.fail(`watching ${this.resource}`, this.lastError).message})` : ''}`;
    return new ProvisionerError(`Timed out after ${Math.round(ms / 1000)} s waiting for ${name} to ${what} in ${this.kube.where}${why}.`);
  }

  /** Stops the informer; later calls see an unsynced cache. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    const inf = this.informer;
    this.informer = undefined;
    if (inf) void inf.stop();
  }
}

/** The pods and claims of one provisioner instance in its namespace. */
export class Observer {
  readonly pods: Mirror<V1Pod>;
  readonly claims: Mirror<V1PersistentVolumeClaim>;

  constructor(kube: KubeClient, selector: string) {
    const ns = kube.namespace;
    this.pods = new Mirror(kube, 'pods', () => kube.core.listNamespacedPod({ namespace: ns, labelSelector: selector }), selector);
    this.claims = new Mirror(kube, 'persistentvolumeclaims', () => kube.core.listNamespacedPersistentVolumeClaim({ namespace: ns, labelSelector: selector }), selector);
  }

  /** Stops both informers. */
  close(): void {
    this.pods.close();
    this.claims.close();
  }
}

/**
 * The latest warning event of one pending claim: the persistent volume controller says there why
 * (an unknown storage class, a failed provisioner). Events carry no labels to watch by, so they are
 * read while a wait sees the claim pending, at most every few seconds.
 */
export class ClaimWatch {
  private last: ClaimEvent | undefined;
  private busy = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly kube: KubeClient,
    private readonly name: string,
    /** Called when a newer event is known, or when it is time to read again. */
    private readonly changed: () => void,
    signal: AbortSignal,
  ) {
    signal.addEventListener('abort', () => this.close(), { once: true });
  }

  /** The latest warning event while the claim is pending (undefined otherwise, or not read yet). */
  event(pvc: V1PersistentVolumeClaim | null): ClaimEvent | undefined {
    if (pvc?.status?.phase !== 'Pending') return undefined;
    if (!this.busy && !this.timer && !this.closed) void this.read();
    return this.last;
  }

  private async read(): Promise<void> {
    this.busy = true;
    try {
      const list = await this.kube.core.listNamespacedEvent({ namespace: this.kube.namespace, fieldSelector: `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${this.name}` });
      const latest = newestWarning(list.items);
      if (latest && (latest.reason !== this.last?.reason || latest.message !== this.last.message)) {
        this.last = latest;
        this.changed();
      }
    } catch {
      // Events are a hint: credentials that may not read them still get the claim's state.
    } finally {
      this.busy = false;
      if (!this.closed) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.changed();
        }, EVENTS_MS);
        this.timer.unref();
      }
    }
  }

  /** Stops reading. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}

/** The most recent warning among events, as reason and message. */
export function newestWarning(events: CoreV1Event[]): ClaimEvent | undefined {
  const when = (e: CoreV1Event) => new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? 0).getTime();
  const warnings = events.filter((e) => e.type === 'Warning').sort((a, b) => when(b) - when(a));
  const e = warnings[0];
  return e ? { reason: e.reason ?? 'Warning', message: e.message ?? '' } : undefined;
}
