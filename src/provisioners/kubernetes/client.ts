/**
 * A thin client over @kubernetes/client-node for one namespace: the reads, writes, watches, logs
 * and execs the kubernetes provisioner makes, with "not found" as null and every other API error
 * turned into a ProvisionerError whose message is the apiserver's own sentence.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { ApiException, CoreV1Api, KubeConfig, Log, Watch, type V1Pod } from '@kubernetes/client-node';
import { AbortedError, ProvisionerError, UnreachableError, errorMessage, isNetworkFailure, type ErrorCode } from '../../core/errors.ts';
import type { LineSplitter } from '../../core/lines.ts';
import type { KubernetesOptions } from './options.ts';
import { refusal } from './refusals.ts';

/** The HTTP status of a failed call (a watch reports it as `statusCode`), else 0. */
export function statusOf(err: unknown): number {
  if (err instanceof ApiException) return err.code;
  const code = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof code === 'number' ? code : 0;
}

/** Whether an error is the apiserver's 404. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

/** Whether an error is the apiserver's 409 (already exists, or a conflicting update). */
export function isConflict(err: unknown): boolean {
  return err instanceof ApiException && err.code === 409;
}

/** The apiserver's own message of an API error (its Status body), else the error's message. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    let body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        return String(body) || `HTTP ${err.code}`;
      }
    }
    const msg = (body as { message?: unknown } | undefined)?.message;
    return typeof msg === 'string' ? msg : `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Where a pod's service account credentials are mounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Whether this process runs in a pod with a service account token: the apiserver's address is in its env and the token is mounted. */
export function runsInPod(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): boolean {
  return !!env.KUBERNETES_SERVICE_HOST && fs.existsSync(path.join(dir, 'token'));
}

/**
 * Loads the connection from options: in-cluster when asked, or when no kubeconfig or context is
 * named and the process runs in a pod (a control plane deployed from deploy/ needs no option);
 * else a kubeconfig file (and context), or the default locations.
 */
export function loadConfig(o: KubernetesOptions, inPod = runsInPod()): KubeConfig {
  const kc = new KubeConfig();
  if (o.inCluster || (!o.kubeconfig && !o.context && inPod)) kc.loadFromCluster();
  else if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
  else kc.loadFromDefault();
  if (o.context) kc.setCurrentContext(o.context);
  return kc;
}

/** The namespace of the options, else the pod's own (in-cluster config reads its service account's namespace file), else `default`. */
export function namespaceOf(o: KubernetesOptions, kc: KubeConfig): string {
  if (o.namespace) return o.namespace;
  const own = kc.currentContext === 'inClusterContext' ? kc.getContextObject(kc.currentContext)?.namespace?.trim() : undefined;
  return own || 'default';
}

/** One namespace of one cluster. */
export class KubeClient {
  readonly core: CoreV1Api;

  private constructor(
    readonly kc: KubeConfig,
    readonly namespace: string,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Builds the client; reads the kubeconfig but makes no request. */
  static connect(o: KubernetesOptions): KubeClient {
    const kc = loadConfig(o);
    return new KubeClient(kc, namespaceOf(o, kc));
  }

  /** The cluster as sentences name it: `namespace berth-test on https://…`. */
  get where(): string {
    return `namespace ${this.namespace} on ${this.kc.getCurrentCluster()?.server ?? 'the cluster'}`;
  }

  /** A ProvisionerError for a failed API call, the apiserver's reason in its message. */
  fail(what: string, err: unknown, o: { retryable?: boolean; code?: ErrorCode } = {}): ProvisionerError | AbortedError {
    if (err instanceof ProvisionerError || err instanceof AbortedError) return err;
    if (isNetworkFailure(err)) return new UnreachableError(`Cannot reach the Kubernetes API server of ${this.where} while ${what}: ${errorMessage(err)}.`, { cause: err });
    const code = statusOf(err);
    // 400/403/422: the request itself is refused (bad spec, RBAC, quota, admission); retrying does not help.
    const retryable = o.retryable ?? ![400, 403, 422].includes(code);
    const message = refusal({ what, namespace: this.namespace, where: this.where, code, message: apiMessage(err) });
    return new ProvisionerError(message, { retryable, cause: err, ...(o.code ? { code: o.code } : {}) });
  }

  /** Runs one API call; the error `expected` accepts becomes `otherwise`, any other a ProvisionerError naming `doing`. */
  private async tolerate<T, U>(doing: string, call: () => Promise<T>, expected: (err: unknown) => boolean, otherwise: U): Promise<T | U> {
    try {
      return await call();
    } catch (err) {
      if (expected(err)) return otherwise;
      throw this.fail(doing, err);
    }
  }

  /** Reads an object, null when absent. */
  read<T>(what: string, call: () => Promise<T>): Promise<T | null> {
    return this.tolerate(`reading ${what}`, call, isNotFound, null);
  }

  /** Creates an object; an existing one of that name is left as it is (steps find their work again). */
  create(what: string, call: () => Promise<unknown>): Promise<boolean> {
    return this.tolerate(`creating ${what}`, () => call().then(() => true), isConflict, false);
  }

  /** Deletes an object; an absent one is fine. */
  remove(what: string, call: () => Promise<unknown>): Promise<boolean> {
    return this.tolerate(`deleting ${what}`, () => call().then(() => true), isNotFound, false);
  }

  /** Label selector text of a label map. */
  static selector(labels: Record<string, string>): string {
    return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
  }

  /**
   * Watches one pod until `decide` returns a value (given the pod, or null once it is gone). The
   * current state is read first, then changes arrive over a watch from that resourceVersion; a
   * watch the server ends is started again.
   */
  async watchPod<T>(name: string, decide: (pod: V1Pod | null) => T | undefined, signal: AbortSignal, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: V1Pod | null = null;
    for (;;) {
      if (signal.aborted) throw new AbortedError();
      const list = await this.core.listNamespacedPod({ namespace: this.namespace, fieldSelector: `metadata.name=${name}` }).catch((err: unknown) => {
        throw this.fail(`listing pod ${name}`, err);
      });
      last = list.items[0] ?? null;
      const now = decide(last);
      if (now !== undefined) return now;
      const rv = list.metadata?.resourceVersion;
      const found = await new Promise<{ value: T } | undefined>((resolve, reject) => {
        let ctrl: AbortController | undefined;
        let settled = false;
        const finish = (v: { value: T } | undefined, err?: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          ctrl?.abort();
          if (err) reject(err instanceof Error ? err : new Error('the watch failed'));
          else resolve(v);
        };
        const onAbort = () => finish(undefined, new AbortedError());
        const timer = setTimeout(() => finish(undefined), Math.max(0, Math.min(deadline - Date.now(), 15_000)));
        signal.addEventListener('abort', onAbort, { once: true });
        new Watch(this.kc)
          .watch(
            `/api/v1/namespaces/${this.namespace}/pods`,
            { fieldSelector: `metadata.name=${name}`, ...(rv ? { resourceVersion: rv } : {}), allowWatchBookmarks: false },
            (type: string, obj: V1Pod) => {
              if (type === 'ERROR') return finish(undefined);
              last = type === 'DELETED' ? null : obj;
              const v = decide(last);
              if (v !== undefined) finish({ value: v });
            },
            () => finish(undefined),
          )
          .then((c) => {
            ctrl = c;
            if (settled) c.abort();
          })
          .catch(() => finish(undefined));
      });
      if (found) return found.value;
      if (Date.now() >= deadline) {
        throw new ProvisionerError(`Timed out after ${Math.round(timeoutMs / 1000)} s waiting for pod ${name} to ${what} in ${this.where}.`, { code: 'provisioner_error' });
      }
    }
  }

  /** Follows a container's log into `lines` until it ends, the pod goes, or `signal` fires. Errors end it quietly: logs are progress, not truth. */
  async followLogs(pod: string, container: string, lines: Pick<LineSplitter, 'push' | 'flush'>, signal: AbortSignal): Promise<void> {
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk);
        cb();
      },
    });
    await new Promise<void>((resolve) => {
      let ctrl: AbortController | undefined;
      const done = () => {
        signal.removeEventListener('abort', done);
        ctrl?.abort();
        lines.flush();
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      new Log(this.kc)
        .log(this.namespace, pod, container, sink, () => done(), { follow: true })
        .then((c) => {
          ctrl = c;
          if (signal.aborted) c.abort();
        })
        .catch(() => done());
      sink.on('finish', done);
    });
  }
}
