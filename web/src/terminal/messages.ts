/** The words a terminal tab shows when its session has ended: a stopped workspace, an exited shell, or the server's refusal. */
import type { TerminalState } from './connection.ts';

/** What the page knows of the workspace when a session ends. */
export interface WorkspaceState {
  phase: string;
  desired: string;
}

/** Reads the workspace's current state: 'gone' when it was deleted; throws when it cannot tell. */
export type WorkspaceCheck = () => Promise<WorkspaceState | 'gone'>;

/** An ended session, as the connection reports it. */
export type EndedState = Extract<TerminalState, { kind: 'exited' | 'failed' }>;

/** The message of an ended session; the workspace is asked first, since a stop ends every shell in it. */
export async function describeEnd(s: EndedState, check: WorkspaceCheck): Promise<string> {
  const w = await check().catch(() => undefined);
  if (w === 'gone') return 'The workspace was deleted; this terminal has ended.';
  if (w && w.desired === 'deleted') return 'The workspace is being deleted; this terminal has ended.';
  if (w && (w.desired !== 'running' || w.phase !== 'running')) {
    // Stopping and stopped read the same to the user; a failure or lost runtime is named.
    const how = w.phase === 'stopping' || w.phase === 'stopped' ? '' : ` (it is ${w.phase})`;
    return `The workspace stopped${how}; this terminal has ended. Start the workspace, then open a new shell.`;
  }
  if (s.kind === 'exited') return s.signal ? `The session ended: its shell was killed by ${s.signal}.` : `The session ended with exit code ${s.code ?? 'unknown'}.`;
  if (s.code === 'not_found') return 'The session has ended; open a new terminal.';
  return s.message;
}
