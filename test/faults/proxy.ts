/**
 * A proxy in front of the local Docker engine's socket, which a test can cut and restore: the
 * engine seen through `DOCKER_HOST=unix://<proxy socket>` becomes unreachable (connection refused,
 * live connections reset) while the engine and its containers keep running. A unix socket rather
 * than TCP, so the engine still counts as this machine's (bind storage, forwarders to the control
 * plane), as the local engine does.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A cuttable proxy to a unix socket (or any net address). */
export class EngineProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Path of the proxy's own socket. */
  readonly path: string;

  private constructor(private readonly target: string) {
    this.path = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-engine-proxy-')), 'docker.sock');
  }

  /** Opens the proxy, forwarding to the unix socket at `target`. */
  static async open(target: string): Promise<EngineProxy> {
    const p = new EngineProxy(target);
    await p.restore();
    return p;
  }

  /** The DOCKER_HOST value that goes through the proxy. */
  get dockerHost(): string {
    return `unix://${this.path}`;
  }

  /** Whether connections are currently let through. */
  get up(): boolean {
    return this.server !== undefined;
  }

  /** Stops listening and resets every live connection: the engine is unreachable (connection refused). */
  async cut(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    const closed = new Promise<void>((r) => s.close(() => r()));
    for (const c of this.sockets) c.destroy();
    this.sockets.clear();
    await closed;
    // A socket file nobody listens on, as a stopped dockerd leaves it: connecting is refused.
    fs.writeFileSync(this.path, '');
  }

  /** Listens again on the same path. */
  async restore(): Promise<void> {
    if (this.server) return;
    fs.rmSync(this.path, { force: true });
    // Half-open: an exec's stdin EOF closes one direction while its output still flows back.
    const s = net.createServer({ allowHalfOpen: true }, (client) => {
      const upstream = net.connect({ path: this.target, allowHalfOpen: true });
      for (const [x, other] of [[client, upstream], [upstream, client]] as const) {
        this.sockets.add(x);
        x.on('close', () => this.sockets.delete(x));
        x.on('error', () => other.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(this.path, () => resolve());
    });
    this.server = s;
  }

  /** Closes the proxy for good. */
  async close(): Promise<void> {
    await this.cut();
    fs.rmSync(path.dirname(this.path), { recursive: true, force: true });
  }
}

/** The unix socket path of the test env's local engine (`unix:///var/run/docker.sock`). */
export function engineSocket(dockerHost: string | undefined): string {
  const host = dockerHost ?? 'unix:///var/run/docker.sock';
  if (!host.startsWith('unix://')) throw new Error(`the local test engine must be a unix socket; got ${host}`);
  return host.slice('unix://'.length);
}
