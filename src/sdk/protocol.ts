/**
 * Terminal/exec WebSocket protocol (`GET /api/v1/workspaces/:ref/exec`, version 1).
 * The client's first message is a JSON text frame `ExecStart`. After that, binary frames carry
 * one channel byte then payload: 0 = stdin (client→server), 1 = stdout, 2 = stderr (server→client).
 * Text frames carry JSON control messages: client→server `{type:"resize",cols,rows}`,
 * `{type:"eof"}`, `{type:"signal",signal}`; server→client `{type:"session",id}` (on a re-attach also `bytes`, the
 * size of the replay that follows, and `total`, the session's output so far),
 * `{type:"exit",code,signal?}`, `{type:"error",code,message}`.
 *
 * Kept apart from wire.ts, which builds TypeBox schemas at import time: the CLI imports only this
 * module at run time, so its start-up does not pay for TypeBox.
 */

/** WebSocket sub-protocol name of exec connections. */
export const EXEC_PROTOCOL = 'berth.exec.v1';
/** The first message of an exec connection. */
export interface ExecStart {
  /** argv; empty for the workspace's shell. */
  cmd: string[];
  tty: boolean;
  cols?: number;
  rows?: number;
  env?: Record<string, string>;
  /** Re-attach to a detached terminal session instead of starting a process. */
  session?: string;
}
/** Channel byte of stdin frames (client to server). */
export const CHANNEL_STDIN = 0;
/** Channel byte of stdout frames (server to client; TTY output too). */
export const CHANNEL_STDOUT = 1;
/** Channel byte of stderr frames (server to client). */
export const CHANNEL_STDERR = 2;
