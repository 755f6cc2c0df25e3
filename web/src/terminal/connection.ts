/**
 * One browser terminal's link to a TTY session over the exec WebSocket (protocol in
 * src/sdk/protocol.ts). It starts the workspace shell, remembers the session id, and after a lost
 * connection re-attaches by that id: the server replays its buffered output, of which the part this
 * terminal already shows is skipped. The socket authenticates with the session cookie the browser
 * sends on a same-origin upgrade; no token ever goes into the URL.
 */
import { CHANNEL_STDERR, CHANNEL_STDIN, CHANNEL_STDOUT, EXEC_PROTOCOL, type ExecStart } from '../../../src/sdk/protocol.ts';

/** Where a terminal's connection stands, as its tab shows it. */
export type TerminalState =
  | { kind: 'connecting' }
  | { kind: 'open' }
  | { kind: 'reconnecting'; attempt: number }
  | { kind: 'exited'; code: number | null; signal?: string }
  | { kind: 'failed'; code: string; message: string };

/** What a connection tells its terminal. */
export interface TerminalSink {
  /**
   * Output to write to the terminal, in order. `replay` marks output the server kept from before this
   * connection: the terminal queries in it (device attributes, cursor position) were answered back
   * then, and answering them again would type the answers into the shell.
   */
  output(data: Uint8Array, replay: boolean): void;
  state(s: TerminalState): void;
  /** The session id, once the server names it (store it to re-attach after a reload). */
  session(id: string): void;
}

/** Options of a terminal connection. */
export interface TerminalConnectionOptions {
  /** Workspace id, name or owner/name. */
  workspace: string;
  /** A session to re-attach to (from before a reload); else a new shell is started. */
  session?: string;
  cols: number;
  rows: number;
  sink: TerminalSink;
  /** Page origin; defaults to the page's own. */
  origin?: string;
}

/** Input kept while (re)connecting; beyond it keys are dropped rather than replayed long after they were typed. */
const MAX_PENDING = 64 * 1024;
/** Delays between re-attach attempts, then the last one repeats: quick after a blip, patient during an outage. */
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

/** The exec endpoint of a workspace on the page's own origin. */
export function execUrl(workspace: string, origin = window.location.origin): string {
  return `${origin.replace(/^http/, 'ws')}/api/v1/workspaces/${encodeURIComponent(workspace)}/exec`;
}

/** A terminal session link that re-attaches after network losses until the session ends. */
export class TerminalConnection {
  private ws: WebSocket | undefined;
  private sessionId: string | undefined;
  /** Session output offset up to which this terminal has written (to skip that part of a replay). */
  private seen = 0;
  /** Bytes of the next binary frame (the replay) that this terminal already shows. */
  private skipNext = 0;
  /** The next binary frame is the server's replay. */
  private replayNext = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private done = false;
  /** The server named the session on the current socket: input may flow. */
  private attached = false;
  /** Input typed while not attached, sent in order on attach. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** The current socket re-attaches to a session (rather than starting one). */
  private reattaching = false;
  private cols: number;
  private rows: number;
  private readonly encoder = new TextEncoder();
  private readonly onOnline = () => this.retryNow();

  constructor(private readonly o: TerminalConnectionOptions) {
    this.sessionId = o.session;
    this.cols = o.cols;
    this.rows = o.rows;
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  /** Sends keyboard input (or a paste) to the session; typed while (re)connecting, it is sent once the session answers. */
  input(data: string | Uint8Array): void {
    if (this.done) return;
    const bytes = typeof data === 'string' ? this.encoder.encode(data) : data;
    const frame = new Uint8Array(bytes.length + 1);
    frame[0] = CHANNEL_STDIN;
    frame.set(bytes, 1);
    if (this.attached && this.ws?.readyState === WebSocket.OPEN) this.ws.send(frame);
    else if (this.pendingBytes + frame.length <= MAX_PENDING) {
      this.pending.push(frame);
      this.pendingBytes += frame.length;
    }
  }

  /** Tells the session the terminal's new size (also sent again after a re-attach). */
  resize(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
    this.control({ type: 'resize', cols, rows });
  }

  /** Ends the session (the tab was closed): hangs up its shell and stops reconnecting. */
  hangUp(): void {
    this.control({ type: 'signal', signal: 'SIGHUP' });
    this.dispose();
  }

  /** Stops reconnecting and closes the socket; the session itself lives on for a later re-attach. */
  dispose(): void {
    this.done = true;
    clearTimeout(this.timer);
    window.removeEventListener('online', this.onOnline);
    this.ws?.close(1000, 'closed');
  }

  private control(msg: Record<string, unknown>): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private connect(): void {
    const ws = new WebSocket(execUrl(this.o.workspace, this.o.origin), EXEC_PROTOCOL);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.attached = false;
    this.o.sink.state(this.attempt === 0 ? { kind: 'connecting' } : { kind: 'reconnecting', attempt: this.attempt });
    ws.onopen = () => {
      this.reattaching = this.sessionId !== undefined;
      const start: ExecStart = this.sessionId ? { cmd: [], tty: true, session: this.sessionId } : { cmd: [], tty: true, cols: this.cols, rows: this.rows };
      ws.send(JSON.stringify(start));
    };
    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data === 'string') this.onControl(ev.data);
      else this.onFrame(new Uint8Array(ev.data));
    };
    ws.onclose = () => {
      if (this.ws !== ws || this.done) return;
      // Before the server named a session there is nothing to re-attach to.
      if (!this.sessionId) {
        this.finish({ kind: 'failed', code: 'disconnected', message: 'Could not open a terminal: the connection to the control plane closed. Check that you are signed in and the workspace is running.' });
        return;
      }
      this.schedule();
    };
  }

  private onControl(raw: string): void {
    let msg: { type?: string; id?: string; bytes?: number; total?: number; code?: number | string | null; signal?: string; message?: string };
    try {
      msg = JSON.parse(raw) as typeof msg;
    } catch {
      return;
    }
    if (msg.type === 'session' && typeof msg.id === 'string') {
      const reattach = msg.id === this.sessionId && typeof msg.total === 'number';
      if (reattach) {
        // The replay covers output [total - bytes, total); skip what this terminal already wrote.
        const from = msg.total! - (msg.bytes ?? 0);
        this.skipNext = Math.min(msg.bytes ?? 0, Math.max(0, this.seen - from));
        this.replayNext = (msg.bytes ?? 0) > 0;
        this.seen = from;
      } else {
        this.seen = 0;
        this.skipNext = 0;
        this.replayNext = false;
      }
      this.sessionId = msg.id;
      this.attempt = 0;
      this.o.sink.session(msg.id);
      this.o.sink.state({ kind: 'open' });
      // The window may have changed size while the terminal was away.
      if (reattach) this.control({ type: 'resize', cols: this.cols, rows: this.rows });
      this.attached = true;
      for (const frame of this.pending.splice(0)) this.ws?.send(frame);
      this.pendingBytes = 0;
    } else if (msg.type === 'exit') {
      this.finish({ kind: 'exited', code: typeof msg.code === 'number' ? msg.code : null, ...(msg.signal ? { signal: msg.signal } : {}) });
    } else if (msg.type === 'error') {
      if (msg.code === 'not_found' && this.reattaching) {
        this.renew();
        return;
      }
      this.finish({ kind: 'failed', code: String(msg.code ?? 'error'), message: msg.message ?? 'The terminal failed.' });
    }
  }

  private onFrame(frame: Uint8Array): void {
    const channel = frame[0];
    if (channel !== CHANNEL_STDOUT && channel !== CHANNEL_STDERR) return;
    let data = frame.subarray(1);
    const replay = this.replayNext;
    this.replayNext = false;
    this.seen += data.length;
    if (this.skipNext > 0) {
      const n = Math.min(this.skipNext, data.length);
      data = data.subarray(n);
      this.skipNext -= n;
    }
    if (data.length > 0) this.o.sink.output(data, replay);
  }

  /**
   * The server no longer has the session (it restarted, or the session idled out): a new shell in
   * this tab rather than a dead tab. On docker and kubernetes the new shell takes over the tmux
   * session the old one left, so the user is back in their shell. A new shell is a start, not a
   * re-attach, so a refusal of it ends the tab instead of coming back here.
   */
  private renew(): void {
    this.sessionId = undefined;
    this.seen = 0;
    this.o.sink.output(this.encoder.encode('\r\n\x1b[2m[The previous session has ended; this is a new shell.]\x1b[0m\r\n'), false);
    this.connect();
  }

  private finish(s: TerminalState): void {
    this.done = true;
    clearTimeout(this.timer);
    window.removeEventListener('online', this.onOnline);
    this.o.sink.state(s);
  }

  private schedule(): void {
    this.attempt++;
    this.o.sink.state({ kind: 'reconnecting', attempt: this.attempt });
    const delay = BACKOFF_MS[Math.min(this.attempt - 1, BACKOFF_MS.length - 1)]!;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** The browser is back online: try at once instead of waiting out the back-off. */
  private retryNow(): void {
    if (this.done || this.ws?.readyState === WebSocket.OPEN || this.ws?.readyState === WebSocket.CONNECTING) return;
    clearTimeout(this.timer);
    this.connect();
  }
}
