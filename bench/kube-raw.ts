/**
 * The Kubernetes benchmarks' baseline: what a person does with @kubernetes/client-node alone, with
 * none of Berth's code. A claim of the same class and size and a pod of the same image on it, held
 * to the same PodSecurity `restricted` the namespace enforces; waited Ready from a watch; the
 * repository `git clone`d into the claim through the Kubernetes exec API (and, for time to first
 * command, `echo ok` run the same way). Every object carries the run's label, so the suite's
 * clean-up removes whatever a failure left.
 */
import { execFileSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { ApiException, CoreV1Api, Exec, KubeConfig, Watch, type V1Pod, type V1Status } from '@kubernetes/client-node';

/** A pod may take this long to become Ready, an object to go, a clone to finish. */
const LIMIT_MS = 180_000;
/** PID 1 of the raw pod: sleeps until told to stop. */
const SLEEP = "trap 'exit 0' TERM INT; while :; do sleep 86400 & wait $!; done";

/**
 * Copies `repo` bare to `dest` as a git host keeps it for the raw pods to clone: one pack with a
 * reachability bitmap, as Berth keeps its mirror, so neither side's server builds packs the slow way.
 */
export function servedBare(repo: string, dest: string): void {
  execFileSync('git', ['clone', '-q', '--bare', '--no-local', repo, dest]);
  execFileSync('git', ['repack', '-a', '-d', '-b', '-q'], { cwd: dest });
}

function notFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

/** Raw claims and pods in one namespace. */
export class RawPods {
  private readonly kc = new KubeConfig();
  private readonly core: CoreV1Api;

  constructor(
    kubeconfig: string,
    private readonly ns: string,
    private readonly o: { image: string; storageClass: string; size: string; labels: Record<string, string> },
  ) {
    this.kc.loadFromFile(kubeconfig);
    this.core = this.kc.makeApiClient(CoreV1Api);
  }

  /** Creates the claim `name`. */
  async createClaim(name: string): Promise<void> {
    await this.core.createNamespacedPersistentVolumeClaim({
      namespace: this.ns,
      body: { metadata: { name, labels: this.o.labels }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: this.o.storageClass, resources: { requests: { storage: this.o.size } } } },
    });
  }

  /** Creates pod `name` on claim `claim` (mounted at /workspace) and resolves once it is Ready. */
  async startPod(name: string, claim: string): Promise<void> {
    const ready = this.watchReady(name);
    try {
      await this.core.createNamespacedPod({ namespace: this.ns, body: this.podSpec(name, claim) });
    } catch (err) {
      ready.cancel();
      throw err;
    }
    await ready.done;
  }

  private podSpec(name: string, claim: string): V1Pod {
    return {
      metadata: { name, labels: this.o.labels },
      spec: {
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        terminationGracePeriodSeconds: 10,
        securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' } },
        volumes: [{ name: 'workspace', persistentVolumeClaim: { claimName: claim } }],
        containers: [
          {
            name: 'main',
            image: this.o.image,
            imagePullPolicy: 'IfNotPresent',
            command: ['/bin/sh', '-c', SLEEP],
            workingDir: '/workspace',
            env: [{ name: 'HOME', value: '/tmp' }],
            volumeMounts: [{ name: 'workspace', mountPath: '/workspace' }],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          },
        ],
      },
    };
  }

  /** A watch on pod `name`, open before the pod is created, settling once it is Ready or cannot start. */
  private watchReady(name: string): { done: Promise<void>; cancel: () => void } {
    let ctrl: AbortController | undefined;
    let settled = false;
    let finish!: (err?: Error) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ctrl?.abort();
        if (err) reject(err);
        else resolve();
      };
    });
    done.catch(() => undefined);
    const timer = setTimeout(() => finish(new Error(`pod ${name} was not Ready within ${LIMIT_MS / 1000} s`)), LIMIT_MS);
    const onEvent = (type: string, pod: V1Pod) => {
      if (type === 'DELETED') return finish(new Error(`pod ${name} was deleted while starting`));
      if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return finish();
      const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting?.reason && /ErrImagePull|ImagePullBackOff|CrashLoopBackOff|CreateContainerConfigError|InvalidImageName/.test(c.state.waiting.reason));
      if (waiting) finish(new Error(`pod ${name} cannot start: ${waiting.state!.waiting!.reason} ${waiting.state!.waiting!.message ?? ''}`));
    };
    new Watch(this.kc)
      .watch(`/api/v1/namespaces/${this.ns}/pods`, { fieldSelector: `metadata.name=${name}` }, onEvent, (err: unknown) => {
        if (!settled) finish(err instanceof Error ? err : new Error(`the watch of pod ${name} ended`));
      })
      .then((c) => {
        ctrl = c;
        if (settled) c.abort();
      }, (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))));
    return { done, cancel: () => finish(new Error('cancelled')) };
  }

  /** Runs `cmd` in pod `name` through the exec API and resolves with its stdout; rejects with its stderr unless it exits 0. */
  async exec(name: string, cmd: string[]): Promise<string> {
    const out = new PassThrough();
    const err = new PassThrough();
    let outText = '';
    let errText = '';
    out.on('data', (d: Buffer) => (outText += d.toString()));
    err.on('data', (d: Buffer) => (errText += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${cmd.join(' ')} in pod ${name} did not finish within ${LIMIT_MS / 1000} s`)), LIMIT_MS);
      const done = (status: V1Status) => {
        clearTimeout(timer);
        if (status.status === 'Success') resolve();
        else reject(new Error(`${cmd.join(' ')} in pod ${name} failed: ${status.message ?? ''} ${errText}`));
      };
      new Exec(this.kc)
        .exec(this.ns, name, 'main', cmd, out, err, null, false, done)
        .then((ws) => ws.on('close', () => setTimeout(() => reject(new Error(`the exec in pod ${name} closed without a status: ${errText}`)), 1000)))
        .catch((e: unknown) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        });
    });
    return outText;
  }

  /** Deletes pod `name` at once and resolves when it is gone. */
  async deletePod(name: string): Promise<void> {
    await this.core.deleteNamespacedPod({ name, namespace: this.ns, gracePeriodSeconds: 0 }).catch((err: unknown) => {
      if (!notFound(err)) throw err;
    });
    await this.gone(`pod ${name}`, () => this.core.readNamespacedPod({ name, namespace: this.ns }));
  }

  /** Deletes pod and claim `name` and resolves when both are gone. */
  async deleteAll(name: string): Promise<void> {
    await this.deletePod(name);
    await this.core.deleteNamespacedPersistentVolumeClaim({ name, namespace: this.ns }).catch((err: unknown) => {
      if (!notFound(err)) throw err;
    });
    await this.gone(`claim ${name}`, () => this.core.readNamespacedPersistentVolumeClaim({ name, namespace: this.ns }));
  }

  /** Polls `read` until it answers 404 (clean-up only, never inside a measurement). */
  private async gone(what: string, read: () => Promise<unknown>): Promise<void> {
    for (const deadline = Date.now() + LIMIT_MS; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      try {
        await read();
      } catch (err) {
        if (notFound(err)) return;
        throw err;
      }
    }
    throw new Error(`${what} was not gone within ${LIMIT_MS / 1000} s`);
  }
}
