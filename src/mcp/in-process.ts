/**
 * An API client that answers inside the server process: requests go through `app.inject` and execs
 * through `app.injectWS`, so /mcp reaches the REST API with the caller's Authorization header
 * (its hooks, validation, roles and redaction included) without a socket, whatever the server
 * listens on (TLS, a public URL behind a proxy).
 */
import type { FastifyInstance } from 'fastify';
import type WebSocket from 'ws';
import { ApiError, BerthClient, type ExecConnection, type ExecHandlers } from '../sdk/client.ts';
import { CHANNEL_STDERR, CHANNEL_STDIN, CHANNEL_STDOUT, EXEC_PROTOCOL, type ExecStart } from '../sdk/protocol.ts';

type Exit = { code: number | null; signal?: string };

/** A BerthClient bound to this server's own app and one caller's Authorization header. */
export class InProcessClient extends BerthClient {
  constructor(
    private readonly app: FastifyInstance,
    private readonly authorization: string,
  ) {
    super('http://berth.in-process');
  }

  protected override async send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
    const res = await this.app.inject({ method: method as 'GET', url: path, headers: { ...headers, authorization: this.authorization }, ...(body !== undefined ? { payload: body } : {}) });
    return { status: res.statusCode, text: res.body };
  }

  override exec(ref: string, start: ExecStart, handlers: ExecHandlers): ExecConnection {
    const path = `/api/v1/workspaces/${encodeURIComponent(ref)}/exec`;
    const upgrade = { headers: { authorization: this.authorization, 'sec-websocket-protocol': EXEC_PROTOCOL } };
    // Refused before the upgrade, injectWS says only the status: asking for the workspace gets the API's sentence.
    const socket = this.app.injectWS(path, upgrade as never).catch(async (err: unknown) => {
      await this.getWorkspace(ref);
      throw new ApiError(0, 'error', `The exec connection was refused: ${(err as Error).message}.`);
    });
    const send = (data: Buffer | string) => void socket.then((ws) => ws.readyState === ws.OPEN && ws.send(data), () => undefined);
    send(JSON.stringify(start));
    const done = socket.then((ws) => follow(ws, handlers));
    return {
      write: (d) => send(Buffer.concat([Buffer.from([CHANNEL_STDIN]), Buffer.isBuffer(d) ? d : Buffer.from(d)])),
      eof: () => send(JSON.stringify({ type: 'eof' })),
      resize: (cols, rows) => send(JSON.stringify({ type: 'resize', cols, rows })),
      signal: (sig) => send(JSON.stringify({ type: 'signal', signal: sig })),
      detach: () => void socket.then((ws) => ws.close(1000, 'detach'), () => undefined),
      done,
    };
  }
}

/** Hands an open exec socket's output to the handlers; resolves with the exit the server reports. */
function follow(ws: WebSocket, handlers: ExecHandlers): Promise<Exit> {
  return new Promise((resolve, reject) => {
    let exit: Exit | undefined;
    let error: ApiError | undefined;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        if (data[0] === CHANNEL_STDOUT) handlers.stdout(data.subarray(1));
        else if (data[0] === CHANNEL_STDERR) (handlers.stderr ?? handlers.stdout)(data.subarray(1));
        return;
      }
      const msg = JSON.parse(data.toString()) as { type: string; code?: number | string | null; signal?: string; message?: string };
      if (msg.type === 'exit') exit = { code: (msg.code as number | null) ?? null, ...(msg.signal ? { signal: msg.signal } : {}) };
      else if (msg.type === 'error') error = new ApiError(0, String(msg.code), msg.message ?? 'The command could not be run.');
    });
    ws.on('close', () => (exit ? resolve(exit) : reject(error ?? new ApiError(0, 'disconnected', 'The exec connection closed before the command finished.'))));
  });
}
