/** `berth ws logs`: the newest events by default, `--since`, `--all` (paged), `-f`, and a notice when retention removed older ones. */
import type { BerthClient } from '../sdk/client.ts';
import type { EventPage } from '../sdk/events.ts';
import type { WorkspaceEvent } from '../sdk/wire.ts';
import { parseDuration } from '../core/units.ts';
import { CliError } from './context.ts';
import { formatAge } from './admin.ts';

/** Options of `ws logs`. */
export interface LogsOptions {
  follow?: boolean;
  json?: boolean;
  all?: boolean;
  since?: string;
  tail?: string;
}

const PAGE = 1000;

/** When `--since` starts: a duration back from now (`2h`) or a timestamp (`2026-01-31T10:00:00Z`). */
export function sinceTime(input: string, now = Date.now()): string {
  if (/^\d+(ms|s|m|h|d)/.test(input)) return new Date(now - parseDuration(input, '--since')).toISOString();
  const t = Date.parse(input);
  if (Number.isNaN(t)) throw new CliError(`--since must be a duration like 2h or a timestamp like 2026-01-31T10:00:00Z; got "${input}".`);
  return new Date(t).toISOString();
}

/** The sentence shown when retention removed events older than what is printed. */
export function retentionNotice(p: Pick<EventPage, 'dropped' | 'retention'>): string {
  const n = p.dropped.toLocaleString('en-US');
  return `… ${n} older event${p.dropped === 1 ? ' was' : 's were'} removed by the retention policy (keep ${p.retention.count.toLocaleString('en-US')} / ${formatAge(p.retention.ageMs)}).`;
}

/** Prints the workspace's events as asked; resolves when done (or, with follow, when interrupted). */
export async function showLogs(c: BerthClient, name: string, opts: LogsOptions): Promise<void> {
  const print = (e: WorkspaceEvent) => process.stdout.write(opts.json ? `${JSON.stringify(e)}\n` : `${e.ts} ${e.kind.padEnd(8)} ${e.message}\n`);
  const notice = (text: string) => process.stderr.write(`${text}\n`);
  let last = 0;
  if (opts.all) {
    let page = await c.eventPage(name, { after: 0, limit: PAGE });
    if (page.dropped > 0) notice(retentionNotice(page));
    for (;;) {
      page.events.forEach(print);
      last = page.events.at(-1)?.id ?? last;
      if (page.next === null) break;
      page = await c.eventPage(name, { after: page.next, limit: PAGE });
    }
  } else {
    const since = opts.since === undefined ? undefined : sinceTime(opts.since);
    const want = opts.tail === undefined ? 200 : Number(opts.tail);
    if (!Number.isInteger(want) || want < 1) throw new CliError(`--tail must be a positive whole number; got "${opts.tail}".`);
    // Backwards from the newest until enough, or until --since; then printed oldest first.
    const shown: WorkspaceEvent[] = [];
    let page = await c.eventPage(name, { limit: since ? PAGE : Math.min(want, 10_000) });
    for (;;) {
      const older = since ? page.events.filter((e) => e.ts >= since) : page.events;
      shown.unshift(...older);
      const enough = since ? older.length < page.events.length : shown.length >= want;
      if (enough || page.prev === null) break;
      page = await c.eventPage(name, { before: page.prev, limit: PAGE });
    }
    const printed = since ? shown : shown.slice(-want);
    if (page.prev === null && page.dropped > 0) notice(retentionNotice(page));
    else if (!since && page.prev !== null) notice(`… older events not shown: berth ws logs ${name} --all (or --since 1h, --tail N).`);
    printed.forEach(print);
    last = printed.at(-1)?.id ?? (await c.eventPage(name, { limit: 1 })).events.at(-1)?.id ?? 0;
  }
  if (opts.follow) {
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    await c.followEvents(name, (e) => void print(e), { after: last, signal: controller.signal });
  }
}
