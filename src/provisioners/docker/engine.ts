/**
 * DockerEngine: the small surface of the Docker Engine API that Berth uses, over one dockerode
 * instance. Everything here is engine-level (images, containers, volumes, archives, exec, events);
 * workspace logic lives in runtime.ts. Shared by the control plane's `docker` provisioner and the
 * remote `berth agent`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable, type Duplex, type Readable } from 'node:stream';
import Docker from 'dockerode';
import { AbortedError, InputError, ProvisionerError, UnreachableError, errorMessage, isNetworkFailure, type ErrorCode } from '../../core/errors.ts';
import { LineSplitter } from '../../core/lines.ts';
import type { ExecProcess } from '../provisioner.ts';
import { engineReason, pullError, type AuthConfig } from './images.ts';
import { firstFileOfTar } from './tar.ts';

/** How to reach an engine: the same settings the docker CLI reads from DOCKER_HOST / DOCKER_CERT_PATH. */
export interface EngineConnection {
  /** `unix:///var/run/docker.sock` (default), `tcp://host:2376`, `ssh://user@host[:port]`. */
  dockerHost?: string;
  /** Directory with ca.pem, cert.pem and key.pem for tcp+TLS. */
  tlsCertPath?: string;
  /** Verify the engine's certificate against ca.pem (default true when tlsCertPath is set). */
  tlsVerify?: boolean;
  /** Pin the Engine API version, e.g. "1.41"; default: the engine's. */
  apiVersion?: string;
}

/** Where an engine is, in words, for messages (never includes credentials). */
export function describeHost(c: EngineConnection): string {
  const h = c.dockerHost ?? 'unix:///var/run/docker.sock';
  try {
    const u = new URL(h);
    if (u.protocol === 'unix:') return h;
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}`;
  } catch {
    return h;
  }
}

/** Whether the engine runs on this machine's filesystem (a unix socket), so host directories can be bind-mounted. */
export function isLocalHost(c: EngineConnection): boolean {
  return (c.dockerHost ?? 'unix://').startsWith('unix://');
}

/** Builds dockerode options; every key is set explicitly so DOCKER_HOST in the server's environment cannot leak in. */
export function dockerodeOptions(c: EngineConnection): Docker.DockerOptions {
  const host = c.dockerHost ?? 'unix:///var/run/docker.sock';
  const base: Docker.DockerOptions = { socketPath: undefined, host: undefined, port: undefined, protocol: undefined, ca: undefined, cert: undefined, key: undefined, ...(c.apiVersion ? { version: `v${c.apiVersion.replace(/^v/, '')}` } : {}) };
  let u: URL;
  try {
    u = new URL(host);
  } catch {
    throw new InputError(`Docker host "${host}" is not a URL; use unix:///var/run/docker.sock, tcp://HOST:PORT or ssh://USER@HOST.`);
  }
  if (u.protocol === 'unix:') return { ...base, socketPath: u.pathname || '/var/run/docker.sock' };
  if (u.protocol === 'tcp:' || u.protocol === 'http:' || u.protocol === 'https:') {
    const tls = Boolean(c.tlsCertPath) || u.protocol === 'https:';
    const opts: Docker.DockerOptions = { ...base, host: u.hostname, port: Number(u.port || (tls ? 2376 : 2375)), protocol: tls ? 'https' : 'http' };
    if (c.tlsCertPath) {
      const read = (f: string) => {
        const p = path.join(c.tlsCertPath!, f);
        try {
          return fs.readFileSync(p);
        } catch (err) {
          throw new InputError(`Cannot read ${p} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}); --tls-cert-path must hold ca.pem, cert.pem and key.pem.`);
        }
      };
      opts.cert = read('cert.pem');
      opts.key = read('key.pem');
      if (c.tlsVerify !== false) opts.ca = read('ca.pem');
    }
    return opts;
  }
  if (u.protocol === 'ssh:') {
    if (!u.username) throw new InputError(`Docker host "${host}" must name the SSH user, like ssh://user@${u.hostname}.`);
    return {
      ...base,
      host: u.hostname,
      port: Number(u.port || 22),
      protocol: 'ssh',
      username: decodeURIComponent(u.username),
      sshOptions: { ...(process.env.SSH_AUTH_SOCK ? { agent: process.env.SSH_AUTH_SOCK } : {}) },
    };
  }
  throw new InputError(`Docker host "${host}" has an unsupported scheme; use unix://, tcp:// or ssh://.`);
}

/** One line of `docker pull` progress. */
export interface PullStatus {
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
}

/** Options of an exec in a container. */
export interface EngineExecOptions {
  cmd: string[];
  user?: string;
  env?: string[];
  cwd?: string;
  tty: boolean;
  cols?: number;
  rows?: number;
  /** Attach stdin (interactive use); setup commands run without it. */
  stdin: boolean;
  signal?: AbortSignal;
  /** Record the pid so `kill` works (default true); internal one-shot reads skip it. */
  trackPid?: boolean;
  /** Called once the exit code is known; a returned sentence is appended to stderr (or the TTY) before the streams end. */
  annotateExit?: (code: number | null, startedAt: number) => Promise<string | undefined>;
}

/** Whether a dockerode error means "no such object". */
export function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number })?.statusCode === 404;
}

/** The parts of a network inspect Berth reads. */
interface NetworkInfo {
  Id?: string;
  Driver?: string;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null };
  Options?: Record<string, string> | null;
}

/** The first host address of an IPv4 subnet (`172.17.0.0/16` → `172.17.0.1`), which Docker gives the bridge when no gateway is set. */
export function firstHost(subnet: string | undefined): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(subnet ?? '');
  if (!m || Number(m[5]) > 30) return undefined;
  const ip = m.slice(1, 5).reduce((a, o) => a * 256 + Number(o), 0);
  const mask = 2 ** 32 - 2 ** (32 - Number(m[5]));
  const host = (ip & mask) >>> 0 === ip ? ip + 1 : undefined;
  return host === undefined ? undefined : [24, 16, 8, 0].map((b) => Math.floor(host / 2 ** b) % 256).join('.');
}

/** Thin, typed access to one Docker engine. */
export class DockerEngine {
  /**
   * @param docker the dockerode client
   * @param where  how the engine is named in messages (e.g. `tcp://10.0.0.5:2376`)
   */
  constructor(
    readonly docker: Docker,
    readonly where: string,
  ) {}

  /** Connects to the engine described by `c` (no request is made yet). */
  static connect(c: EngineConnection): DockerEngine {
    return new DockerEngine(new Docker(dockerodeOptions(c)), describeHost(c));
  }

  /** Wraps an engine error into a ProvisionerError that says what failed where. */
  fail(what: string, err: unknown, opts: { retryable?: boolean; code?: ErrorCode } = {}): ProvisionerError | AbortedError {
    if (err instanceof ProvisionerError || err instanceof AbortedError) return err;
    if ((err as Error)?.name === 'AbortError') return new AbortedError();
    if (isNetworkFailure(err)) {
      const code = (err as NodeJS.ErrnoException)?.code;
      if (/certificate|self.signed|TLS|SSL|handshake/i.test(errorMessage(err))) {
        return new UnreachableError(`TLS connection to the Docker engine at ${this.where} failed: ${errorMessage(err)}. Check --tls-cert-path.`, { cause: err });
      }
      const hint = code === 'EACCES' ? ' (permission denied: the server user needs access to the Docker socket)' : code === 'ENOENT' ? ' (no such socket)' : '';
      return new UnreachableError(`Cannot reach the Docker engine at ${this.where}${hint}: ${errorMessage(err)}.`, { cause: err });
    }
    return new ProvisionerError(`Docker engine at ${this.where}: ${what} failed: ${engineReason(err)}`, { retryable: opts.retryable ?? true, code: opts.code ?? 'provisioner_error', cause: err });
  }

  /** Checks that the engine answers. */
  async ping(signal?: AbortSignal): Promise<void> {
    try {
      await (this.docker.ping as (o: object) => Promise<unknown>)({ abortSignal: signal });
    } catch (err) {
      throw this.fail('ping', err);
    }
  }

  /** `docker info`. */
  async info(): Promise<{ NCPU?: number; MemTotal?: number; SecurityOptions?: string[]; Name?: string; ServerVersion?: string }> {
    try {
      return (await this.docker.info()) as { NCPU?: number; MemTotal?: number; SecurityOptions?: string[] };
    } catch (err) {
      throw this.fail('info', err);
    }
  }

  /** The image if present on the engine, else null. */
  async inspectImage(ref: string): Promise<Docker.ImageInspectInfo | null> {
    try {
      return await this.docker.getImage(ref).inspect();
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail(`inspecting image ${ref}`, err);
    }
  }

  /** Tagged images on the engine, smallest first. */
  async listImages(): Promise<{ tag: string; size: number }[]> {
    try {
      const images = await this.docker.listImages();
      return images
        .flatMap((m) => (m.RepoTags ?? []).filter((t) => t !== '<none>:<none>').slice(0, 1).map((tag) => ({ tag, size: m.Size })))
        .sort((a, b) => a.size - b.size);
    } catch (err) {
      throw this.fail('listing images', err);
    }
  }

  /** Pulls an image; `auth` travels only in this request's X-Registry-Auth header. */
  async pull(ref: string, auth: AuthConfig | undefined, onStatus: (s: PullStatus) => void, signal?: AbortSignal): Promise<void> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await this.docker.pull(ref, { ...(auth ? { authconfig: auth } : {}), abortSignal: signal }));
    } catch (err) {
      if (signal?.aborted) throw new AbortedError();
      throw pullError(ref, err, auth);
    }
    let failure: string | undefined;
    await new Promise<void>((resolve, reject) => {
      const lines = new LineSplitter((line) => {
        if (!line.trim()) return;
        try {
          const s = JSON.parse(line) as PullStatus & { errorDetail?: { message?: string } };
          if (s.error) failure = s.errorDetail?.message ?? s.error;
          else onStatus(s);
        } catch {
          /* not JSON: ignore */
        }
      }, 1 << 20);
      stream.on('data', (d: Buffer) => lines.push(d));
      stream.on('end', () => {
        lines.flush();
        resolve();
      });
      stream.on('error', reject);
    }).catch((err: unknown) => {
      throw signal?.aborted ? new AbortedError() : pullError(ref, err, auth);
    });
    if (failure) throw pullError(ref, new Error(failure), auth);
  }

  /** The container if it exists, else null. */
  async inspectContainer(nameOrId: string): Promise<Docker.ContainerInspectInfo | null> {
    try {
      return await this.docker.getContainer(nameOrId).inspect();
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail(`inspecting container ${nameOrId}`, err);
    }
  }

  /** Creates a container and returns its id. */
  async createContainer(opts: Docker.ContainerCreateOptions): Promise<string> {
    try {
      return (await this.docker.createContainer(opts)).id;
    } catch (err) {
      // Only a name conflict is worth retrying; the engine answers 400/500 for settings it rejects.
      throw this.fail(`creating container ${opts.name ?? ''}`.trim(), err, { retryable: (err as { statusCode?: number }).statusCode === 409, code: 'container_create_failed' });
    }
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 304) return;
      throw this.fail('starting the container', err, { retryable: false, code: 'container_start_failed' });
    }
  }

  /** Removes a container (killing it if running); a missing one is fine. */
  async removeContainer(nameOrId: string): Promise<boolean> {
    try {
      await this.docker.getContainer(nameOrId).remove({ force: true, v: false });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      // 409 "removal already in progress" converges on its own.
      if ((err as { statusCode?: number }).statusCode === 409 && /already in progress/.test(engineReason(err))) return true;
      throw this.fail(`removing container ${nameOrId}`, err);
    }
  }

  /**
   * Runs a short-lived container (with `Tty`, so its output is one plain stream) until it exits or
   * `timeoutMs` passes, then removes it. Resolves with the exit code (null on timeout) and the output.
   */
  async runOnce(opts: Docker.ContainerCreateOptions, timeoutMs: number, signal?: AbortSignal): Promise<{ code: number | null; output: string }> {
    const id = await this.createContainer({ ...opts, Tty: true });
    const container = this.docker.getContainer(id);
    const limit = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])]);
    try {
      await this.startContainer(id);
      let code: number | null = null;
      try {
        code = ((await container.wait({ abortSignal: limit })) as { StatusCode: number }).StatusCode;
      } catch (err) {
        if (signal?.aborted) throw new AbortedError();
        if (!limit.aborted) throw this.fail('waiting for a container', err);
      }
      const logs: Buffer | string = await container.logs({ stdout: true, stderr: true, follow: false }).catch(() => '');
      return { code, output: logs.toString() };
    } finally {
      await this.removeContainer(id).catch(() => undefined);
    }
  }

  /** Containers (running or not) carrying every given label. */
  async listContainers(labels: Record<string, string>): Promise<Docker.ContainerInfo[]> {
    try {
      return await this.docker.listContainers({ all: true, filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });
    } catch (err) {
      throw this.fail('listing containers', err);
    }
  }

  /** Extracts a tar stream at `dir` inside the container (works before the container is started; volumes included). */
  async putArchive(containerId: string, dir: string, tar: Readable, signal?: AbortSignal): Promise<void> {
    try {
      await this.docker.getContainer(containerId).putArchive(tar, { path: dir, abortSignal: signal });
    } catch (err) {
      throw this.fail(`writing files into the container under ${dir}`, err, { retryable: false, code: 'files_failed' });
    }
  }

  /** Reads one file from the container's filesystem, null when it does not exist. */
  async readFile(containerId: string, file: string): Promise<Buffer | null> {
    try {
      const stream = (await this.docker.getContainer(containerId).getArchive({ path: file }));
      return await firstFileOfTar(stream);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail(`reading ${file} from the container`, err);
    }
  }

  /** Whether a path exists in the container's filesystem (volumes included). */
  async pathExists(containerId: string, p: string): Promise<boolean> {
    try {
      const res: unknown = await this.docker.getContainer(containerId).infoArchive({ path: p });
      // The answer to HEAD is an (empty) stream: read it to its end, or its connection stays open.
      (res as NodeJS.ReadableStream | undefined)?.resume?.();
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.fail(`checking ${p} in the container`, err);
    }
  }

  /** Creates a named volume with labels; an existing one is kept. */
  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    try {
      await this.docker.createVolume({ Name: name, Labels: labels });
    } catch (err) {
      throw this.fail(`creating volume ${name}`, err);
    }
  }

  /** The volume's labels if it exists, else null. */
  async inspectVolume(name: string): Promise<{ Name: string; Labels: Record<string, string> | null } | null> {
    try {
      return (await this.docker.getVolume(name).inspect());
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail(`inspecting volume ${name}`, err);
    }
  }

  /** Removes a volume; a missing one is fine. */
  async removeVolume(name: string): Promise<void> {
    try {
      await this.docker.getVolume(name).remove({ force: true } as object);
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.fail(`removing volume ${name}`, err);
    }
  }

  /** Volumes carrying every given label. */
  async listVolumes(labels: Record<string, string>): Promise<{ Name: string; Labels: Record<string, string> | null }[]> {
    try {
      const r = await this.docker.listVolumes({ filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } } as object);
      return (r.Volumes ?? []);
    } catch (err) {
      throw this.fail('listing volumes', err);
    }
  }

  /** The network if it exists, else null. */
  private async inspectNetwork(name: string): Promise<NetworkInfo | null> {
    try {
      const n: NetworkInfo = await this.docker.getNetwork(name).inspect();
      return n;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail(`inspecting network ${name}`, err);
    }
  }

  /**
   * An IPv4 address of the engine's host that containers on `network` can reach: the network's
   * gateway, else (an engine on this machine only) the address of its bridge interface here, since
   * engines need not record the gateway (Docker leaves it out of a fresh default bridge). Otherwise
   * `missing` says, as a clause, what was looked for.
   */
  async hostAddress(network: string, local: boolean, interfaces: () => NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces): Promise<{ address: string } | { missing: string }> {
    const n = await this.inspectNetwork(network);
    if (!n) return { missing: `the engine has no network "${network}"` };
    const gateway = n.IPAM?.Config?.find((c) => c.Gateway && !c.Gateway.includes(':'))?.Gateway;
    if (gateway) return { address: gateway.replace(/\/\d+$/, '') };
    // Docker names a user-defined bridge br-<first 12 hex digits of the network id> unless told otherwise.
    const bridge = n.Options?.['com.docker.network.bridge.name'] ?? (n.Driver === 'bridge' && n.Id ? `br-${n.Id.slice(0, 12)}` : undefined);
    if (!bridge) return { missing: `the network "${network}" names no gateway and is not a bridge` };
    if (!local) return { missing: `the network "${network}" names no gateway, and its bridge ${bridge} is on the engine's machine, not this one` };
    // The kernel hides a bridge with no container attached from the interface list (no carrier); Docker
    // then still gave it the subnet's first address, which the forwarder's bind confirms or refutes.
    const address = interfaces()[bridge]?.find((a) => a.family === 'IPv4')?.address ?? firstHost(n.IPAM?.Config?.find((c) => c.Subnet && !c.Subnet.includes(':'))?.Subnet);
    return address ? { address } : { missing: `the network "${network}" names no gateway and its bridge ${bridge} has no IPv4 address on this machine` };
  }

  /** Whether a network exists. */
  async hasNetwork(name: string): Promise<boolean> {
    return (await this.inspectNetwork(name)) !== null;
  }

  /**
   * Runs a process in a running container through the exec API. The command is wrapped in
   * `/bin/sh` so its pid can be recorded (`kill` works on any engine, local or remote).
   */
  async exec(containerId: string, o: EngineExecOptions): Promise<ExecProcess> {
    const pidfile = `/tmp/.berth-exec-${crypto.randomBytes(6).toString('hex')}`;
    const container = this.docker.getContainer(containerId);
    let exec: Docker.Exec;
    let stream: Duplex;
    const startedAt = Date.now() / 1000;
    // The terminal has its size before the command starts: the resize after start comes too late for
    // a process that asks at once (it would see 0x0), and engines before API 1.42 take no initial size.
    const ttySize = o.tty && o.cols && o.rows ? `stty rows ${Math.trunc(o.rows)} cols ${Math.trunc(o.cols)} 2>/dev/null; ` : '';
    try {
      exec = await container.exec({
        Cmd: o.trackPid === false ? o.cmd : ['/bin/sh', '-c', `echo $$ > "$0" 2>/dev/null; ${ttySize}exec "$@"`, pidfile, ...o.cmd],
        AttachStdin: o.stdin,
        AttachStdout: true,
        AttachStderr: true,
        Tty: o.tty,
        ...(o.env ? { Env: o.env } : {}),
        ...(o.cwd ? { WorkingDir: o.cwd } : {}),
        ...(o.user !== undefined ? { User: o.user } : {}),
      });
      stream = (await exec.start({ hijack: true, stdin: o.stdin, Tty: o.tty }));
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 409 || (status === 500 && /not running/.test(engineReason(err)))) {
        throw new ProvisionerError('The workspace container is not running; start the workspace first.', { retryable: false, code: 'not_running', cause: err });
      }
      throw this.fail('starting a process in the container', err, { retryable: false, code: 'exec_failed' });
    }
    if (o.tty && o.cols && o.rows) await exec.resize({ h: o.rows, w: o.cols }).catch(() => undefined);

    const stdout = new PassThrough();
    const stderr = o.tty ? null : new PassThrough();
    // A reader that pauses stdout (a detached terminal) pauses the engine's stream, so the process waits instead of our memory growing.
    if (o.tty) stream.pipe(stdout, { end: false });
    else demux(stream, stdout, stderr!);
    let sent: string | undefined;
    const kill = (sig: NodeJS.Signals = 'SIGTERM') => {
      sent = sig;
      const name = sig.replace(/^SIG/, '');
      // Best effort: the process may be gone; the pid file may not be written yet if called at once.
      void container
        .exec({ Cmd: ['/bin/sh', '-c', 'p=$(cat "$0" 2>/dev/null) || exit 0; kill -s "$1" -- "-$p" 2>/dev/null || kill -s "$1" "$p"', pidfile, name], ...(o.user !== undefined ? { User: o.user } : {}) })
        .then((k) => k.start({ Detach: true }))
        // The (empty) answer is a stream: read it to its end, or its connection stays open.
        .then((res: unknown) => void (res as NodeJS.ReadableStream | undefined)?.resume?.())
        .catch(() => undefined);
    };
    if (o.signal) {
      if (o.signal.aborted) kill('SIGKILL');
      else o.signal.addEventListener('abort', () => kill('SIGKILL'), { once: true });
    }
    const exited = new Promise<{ code: number | null; signal?: string }>((resolve) => {
      let done = false;
      const finish = async () => {
        if (done) return;
        done = true;
        let code: number | null = null;
        for (let i = 0; i < 50; i++) {
          const info = await exec.inspect().catch(() => null);
          if (!info) break;
          if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) {
            code = info.ExitCode;
            break;
          }
          await new Promise((r) => setTimeout(r, i < 10 ? 10 : 50));
        }
        const note = o.annotateExit ? await o.annotateExit(code, startedAt).catch(() => undefined) : undefined;
        if (note) (stderr ?? stdout).write(o.tty ? `\r\n${note}\r\n` : `${note}\n`);
        stdout.end();
        stderr?.end();
        // The engine has closed its side; ours stays open (a TTY's stdin is never ended) and would hold the connection.
        stream.destroy();
        if (sent && code !== null && code === 128 + os.constants.signals[sent as NodeJS.Signals]) resolve({ code: null, signal: sent });
        else resolve({ code });
      };
      stream.once('end', () => void finish());
      stream.once('close', () => void finish());
      stream.once('error', () => void finish());
    });
    const stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (!o.stdin || stream.destroyed) return cb();
        stream.write(chunk, () => cb());
      },
      final(cb) {
        // Half-close: the engine closes the process's stdin and keeps sending its output.
        if (o.stdin && !stream.destroyed) stream.end();
        cb();
      },
    });
    stdin.on('error', () => undefined);
    return {
      stdin,
      stdout,
      stderr,
      resize: (cols, rows) => void exec.resize({ h: Math.max(1, rows), w: Math.max(1, cols) }).catch(() => undefined),
      kill,
      exited,
    };
  }

  /** Runs a command to completion without stdin, streaming its output lines; resolves with the exit code. */
  async run(containerId: string, o: Omit<EngineExecOptions, 'tty' | 'stdin'> & { onLine?: (line: string, stream: 'stdout' | 'stderr') => void }): Promise<{ code: number | null; signal?: string }> {
    const proc = await this.exec(containerId, { ...o, tty: false, stdin: false });
    const out = new LineSplitter((l) => o.onLine?.(l, 'stdout'));
    const err = new LineSplitter((l) => o.onLine?.(l, 'stderr'));
    proc.stdout.on('data', (d: Buffer) => out.push(d));
    proc.stderr?.on('data', (d: Buffer) => err.push(d));
    const drained = Promise.all([proc.stdout, proc.stderr!].map((s) => new Promise<void>((r) => s.once('end', r))));
    const [res] = await Promise.all([proc.exited, drained]);
    out.flush();
    err.flush();
    return res;
  }
}

/** Splits Docker's multiplexed stream (8-byte frame headers) into stdout and stderr. */
export function demux(src: Readable | Duplex, stdout: Writable, stderr: Writable): void {
  let buf: Buffer = Buffer.alloc(0);
  src.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      const type = buf[0];
      const payload = buf.subarray(8, 8 + len);
      if (type === 2) stderr.write(payload);
      else stdout.write(payload);
      buf = buf.subarray(8 + len);
    }
  });
}
