/** How the CLI shows what a workspace was last seen doing (`activity` of the workspace API). */
import type { Workspace } from '../sdk/wire.ts';

/** How long ago an ISO time was, shortly: 5s, 3m, 2h, 4d. */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** One short cell for `ws list`: the task step, else the last command and when; empty when nothing is known. */
export function activityCell(w: Workspace, now = Date.now()): string {
  const a = w.activity;
  if (!a) return '';
  if (a.taskStep) return `task: ${a.taskStep}`;
  if (!a.lastCommand) return a.lastOutputAt ? `output ${ago(a.lastOutputAt, now)} ago` : '';
  const cmd = a.lastCommand.length > 40 ? `${a.lastCommand.slice(0, 39)}…` : a.lastCommand;
  return `${cmd}${a.lastCommandAt ? ` (${ago(a.lastCommandAt, now)} ago)` : ''}`;
}

/** Lines for `ws show`. */
export function activityLines(w: Workspace, now = Date.now()): string[] {
  const a = w.activity;
  if (!a) return [];
  const lines: string[] = [];
  if (a.lastCommand) lines.push(`Last command: ${a.lastCommand}${a.lastCommandAt ? ` (${ago(a.lastCommandAt, now)} ago)` : ''}`);
  if (a.lastOutputAt) lines.push(`Last output:  ${ago(a.lastOutputAt, now)} ago (${a.lastOutputAt})`);
  if (a.taskStep) lines.push(`Task step:    ${a.taskStep}`);
  return lines;
}
