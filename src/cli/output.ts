/** Output helpers: tables for people, JSON for scripts, and progress rendering for --wait. */
import { formatOutage } from '../core/workspace.ts';
import type { Workspace, WorkspaceEvent } from '../sdk/wire.ts';
import { activityLines } from './activity.ts';

/** Prints rows as an aligned table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Prints JSON. */
export function json(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** The message of a workspace, with how long it has been unreachable ("unreachable for 2m13s: …"). */
export function workspaceMessage(w: Workspace, now = Date.now()): string {
  if (w.phase !== 'unreachable' || !w.unreachableSince) return w.message ?? '';
  return `unreachable for ${formatOutage(now - Date.parse(w.unreachableSince))}: ${w.message ?? 'the runtime cannot be observed'}`;
}

/** A workspace as `ws show` prints it. */
export function describeWorkspace(w: Workspace): string {
  const lines = [
    `Name:         ${w.name}`,
    `ID:           ${w.id}`,
    `Owner:        ${w.owner}`,
    `Project:      ${w.project}${w.ref ? ` (${w.ref})` : ''}`,
    `Provisioner:  ${w.provisioner}`,
    `Phase:        ${w.phase}${w.desired !== w.phase ? ` (desired: ${w.desired})` : ''}`,
  ];
  if (w.message) lines.push(`Message:      ${workspaceMessage(w)}`);
  if (w.forkedFrom) lines.push(`Forked from:  ${w.forkedFrom.name ?? `${w.forkedFrom.id} (deleted)`} on branch ${w.forkedFrom.branch}${w.forkedFrom.copied ? '' : ' (copying)'}`);
  for (const p of w.ports) lines.push(`Port:         ${p.port}/${p.protocol}${p.hostPort ? ` -> ${p.hostIp ?? '0.0.0.0'}:${p.hostPort}` : ''}`);
  for (const [k, v] of Object.entries(w.details)) lines.push(`${`${k}: `.padEnd(14)}${String(v)}`);
  lines.push(...activityLines(w));
  lines.push(`Created:      ${w.createdAt}`);
  return lines.join('\n');
}

/**
 * Renders workspace events while waiting. On a TTY, progress lines (git's percentages) rewrite
 * one status line; elsewhere every event is one plain line.
 */
export class ProgressPrinter {
  private statusShown = false;
  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  event(e: WorkspaceEvent): void {
    const tty = this.out.isTTY === true;
    const text = e.kind === 'phase' ? `==> ${e.message}` : e.kind === 'error' ? `error: ${e.message}` : e.message;
    if (tty && e.kind === 'progress') {
      this.out.write(`\r\x1b[K${text.slice(0, (this.out.columns ?? 80) - 1)}`);
      this.statusShown = true;
      return;
    }
    if (this.statusShown) this.out.write('\r\x1b[K');
    this.statusShown = false;
    this.out.write(`${text}\n`);
  }

  done(): void {
    if (this.statusShown) this.out.write('\r\x1b[K');
    this.statusShown = false;
  }
}
