/**
 * Shared set-up of the Kubernetes e2e suites: a real `berth server` that pods reach through a proxy
 * on the node's bridge berthcni0 (the one address the test environment made for them), a
 * `kubernetes` provisioner added with the CLI, and looks at what the cluster holds. Everything a
 * suite's provisioners create carries a label of its own run, so `close()` removes what a failed
 * test or a killed control plane left behind, and nothing of another suite.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { Forwarders } from '../../src/provisioners/docker/forwarder.ts';
import { TestServer, runCli, type TestServerOptions } from '../harness.ts';
import { loadK8sTestEnv, type K8sTestEnv } from '../testenv/env.ts';

/** The testenv's keys. */
export const env: K8sTestEnv = loadK8sTestEnv();
/** The namespace the test environment made for workspaces. */
export const NS = env.BERTH_TEST_K8S_NAMESPACE;
/** The node's address on the pod bridge (docs/testenv.md): pods reach this host only there. */
export const BRIDGE = '10.218.0.1';
/** The label key that marks one suite run's objects. */
const RUN_LABEL = 'berth-test.run';

/** Runs kubectl against the testenv cluster in `namespace`; stdin from `input`. Never throws: the caller judges code and stderr. */
export function kubectlIn(namespace: string, args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(env.BERTH_TEST_KUBECTL ?? 'kubectl', ['--kubeconfig', env.KUBECONFIG, '-n', namespace, ...args], { encoding: 'utf8', input: input ?? '' });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** Like kubectlIn, but a failure fails the test with kubectl's words. */
export function kubectlOk(namespace: string, args: string[], input?: string): string {
  const r = kubectlIn(namespace, args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The pod and claim name of a workspace. */
export function podName(id: string): string {
  return `berth-${id.replace('_', '-')}`;
}

/** `kind/name` of a workspace's objects of the given kinds, found by its label, sorted. */
export function objectsOf(id: string, kinds = 'pods,persistentvolumeclaims,secrets', namespace = NS): string[] {
  return kubectlOk(namespace, ['get', kinds, '-l', `berth.workspace=${id}`, '-o', 'name']).split('\n').filter(Boolean).sort();
}

/**
 * Watches objects of `plural` (`pods`, `persistentvolumeclaims`…) with `selector` in `namespace`.
 * Resolves once the watch is open (so nothing created afterwards is missed); `found` settles with
 * the first object `ok` accepts, objects already there included, or fails after `timeoutMs`.
 */
export async function watchFor<T extends object>(plural: string, selector: string, ok: (o: T) => boolean, timeoutMs: number, namespace = NS): Promise<{ found: Promise<T> }> {
  const kc = new KubeConfig();
  kc.loadFromFile(env.KUBECONFIG);
  let settled = false;
  let settle!: (o: T | Error) => void;
  const found = new Promise<T>((resolve, reject) => {
    settle = (o) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Settled before the abort: aborting calls the watch's done callback, and with it settle, at once.
      if (o instanceof Error) reject(o);
      else resolve(o);
      ctrl?.abort();
    };
  });
  // Handled here so an early failure is not an unhandled rejection; awaiting `found` still throws it.
  found.catch(() => undefined);
  let ctrl: AbortController | undefined = undefined;
  const timer = setTimeout(() => settle(new Error(`no ${plural} with ${selector} in ${namespace} became what the test waits for within ${timeoutMs} ms`)), timeoutMs);
  // Without a resourceVersion the watch first sends every existing object as ADDED.
  ctrl = await new Watch(kc).watch(
    `/api/v1/namespaces/${namespace}/${plural}`,
    { labelSelector: selector },
    (type: string, obj: T) => {
      if (type !== 'DELETED' && ok(obj)) settle(obj);
    },
    (err: unknown) => settle(err instanceof Error ? err : new Error(`the watch of ${plural} ended`)),
  );
  if (settled) ctrl.abort();
  return { found };
}

/** A control plane for a Kubernetes suite: the server, the URL pods reach it at, and this run's label. */
export class K8sSuite {
  /** This run's label value; every object its provisioners create carries it. */
  readonly run = `r${crypto.randomBytes(5).toString('hex')}`;
  private readonly namespaces = new Set<string>([NS]);
  private readonly dirs: string[] = [];

  private constructor(
    readonly server: TestServer,
    private readonly proxy: Forwarders,
    /** `http(s)://10.218.0.1:PORT`, forwarded to the server's loopback port (which a restart keeps). */
    readonly podUrl: string,
  ) {}

  /** Starts a server (with `opts`, e.g. TLS) and the bridge proxy in front of it. */
  static async start(opts: TestServerOptions = {}): Promise<K8sSuite> {
    const server = await TestServer.start(opts);
    const proxy = new Forwarders();
    const port = await proxy.ensure(BRIDGE, 0, { host: '127.0.0.1', port: server.port });
    return new K8sSuite(server, proxy, `${new URL(server.url).protocol}//${BRIDGE}:${port}`);
  }

  /** Label selector of this run's objects. */
  get selector(): string {
    return `${RUN_LABEL}=${this.run}`;
  }

  /** Adds a `kubernetes` provisioner on `namespace` (default the testenv's) with the CLI; `extra` are more option flags. */
  async addProvisioner(name: string, extra: string[] = [], namespace = NS): Promise<void> {
    this.namespaces.add(namespace);
    const r = await runCli(this.server, [
      'provisioner', 'add', name, '--type', 'kubernetes',
      '--kubeconfig', env.KUBECONFIG, '--namespace', namespace, '--storage-class', env.BERTH_TEST_K8S_STORAGE_CLASS,
      '--pvc-size', '256Mi', '--server-url', this.podUrl, '--labels', this.selector, ...extra,
    ]);
    assert.equal(r.code, 0, r.stderr);
  }

  /** Adds a project from a local repository path with the CLI; close() removes `dir` (the repository unless told). */
  async addProject(name: string, repo: string, dir = repo): Promise<void> {
    this.dirs.push(dir);
    const r = await runCli(this.server, ['project', 'add', name, '--repo', repo]);
    assert.equal(r.code, 0, r.stderr);
  }

  /** `kind/name` of everything of this run in `namespace`: pods (probes too), claims and Secrets. */
  leftovers(namespace = NS): string[] {
    return kubectlOk(namespace, ['get', 'pods,persistentvolumeclaims,secrets', '-l', this.selector, '-o', 'name']).split('\n').filter(Boolean).sort();
  }

  /** The server's log tail, for assertion messages. */
  logs(chars = 3000): string {
    return this.server.logs.slice(-chars);
  }

  /** Stops server and proxy, removes this run's objects (without waiting) and the directories it was given. */
  async close(): Promise<void> {
    await this.server.stop();
    await this.proxy.close();
    for (const ns of this.namespaces) kubectlIn(ns, ['delete', 'pods,persistentvolumeclaims,secrets', '-l', this.selector, '--grace-period=0', '--wait=false']);
    for (const d of this.dirs) fs.rmSync(d, { recursive: true, force: true });
  }
}

