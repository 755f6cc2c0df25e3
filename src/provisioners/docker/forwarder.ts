/**
 * TCP forwarders that let containers reach a control plane listening on loopback only. A forwarder
 * listens on the Docker bridge's gateway address (the host's own address on docker0, reachable from
 * containers, not from other machines) and pipes each connection to the server's loopback address.
 */
import net from 'node:net';

interface Forward {
  server: net.Server;
  port: number;
  /** Open client connections, ended when the forwarder closes. */
  sockets: Set<net.Socket>;
}

/** Forwarders keyed by listen address, shared by every docker provisioner of one control plane. */
export class Forwarders {
  private readonly live = new Map<string, Promise<Forward>>();
  private users = 0;

  /** Registers one more provisioner using these forwarders; `release` closes them when it was the last one. */
  acquire(): void {
    this.users++;
  }

  /** A provisioner is done with the forwarders; the last one closes them (others' workspaces keep theirs). */
  async release(): Promise<void> {
    this.users = Math.max(0, this.users - 1);
    if (this.users === 0) await this.close();
  }

  /**
   * Ensures a forwarder on `listenHost` to `target`, preferably on `preferredPort` (so URLs stay
   * the same across restarts), else on a free port. Resolves with the port.
   */
  async ensure(listenHost: string, preferredPort: number, target: { host: string; port: number }): Promise<number> {
    const key = `${listenHost}>${target.host}:${target.port}`;
    let f = this.live.get(key);
    if (!f) {
      f = this.open(listenHost, preferredPort, target).catch((err: unknown) => {
        this.live.delete(key);
        throw err;
      });
      this.live.set(key, f);
    }
    return (await f).port;
  }

  private async open(listenHost: string, preferredPort: number, target: { host: string; port: number }): Promise<Forward> {
    // Half-open on both sides: a client that shuts down its sending side after the request (nc does) still gets the answer.
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      const upstream = net.connect({ port: target.port, host: target.host, allowHalfOpen: true });
      sockets.add(client);
      client.pipe(upstream).pipe(client);
      const end = () => {
        sockets.delete(client);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end);
      upstream.on('error', end);
      client.on('close', end);
      upstream.on('close', end);
    });
    server.unref();
    const listen = (port: number) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, listenHost, () => {
          server.off('error', reject);
          resolve((server.address() as net.AddressInfo).port);
        });
      });
    let port: number;
    try {
      port = await listen(preferredPort);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      port = await listen(0);
    }
    return { server, port, sockets };
  }

  /** Closes every forwarder. */
  async close(): Promise<void> {
    const all = [...this.live.values()];
    this.live.clear();
    await Promise.allSettled(
      all.map(async (f) => {
        const { server, sockets } = await f;
        const closed = new Promise<void>((r) => server.close(() => r()));
        // server.close waits for open connections; a client that never hangs up must not hold it forever.
        for (const s of sockets) s.destroy();
        await closed;
      }),
    );
  }
}
