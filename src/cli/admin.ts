/** `berth admin gc` and `berth admin backup`: maintenance through the API (admin token); `admin token` stays in main.ts (it works without a server). */
import path from 'node:path';
import type { Command } from 'commander';
import type { GcReport, Orphan } from '../sdk/admin.ts';
import { client } from './context.ts';
import { json, table } from './output.ts';

/** A duration as people read it: 3d4h, 2h5m, 40s. */
export function formatAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  const [d, h, m] = [Math.floor(s / 86_400), Math.floor((s % 86_400) / 3600), Math.floor((s % 3600) / 60)];
  if (d > 0) return `${d}d${h ? `${h}h` : ''}`;
  if (h > 0) return `${h}h${m ? `${m}m` : ''}`;
  if (m > 0) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  return `${s}s`;
}

/** One line per quarantined orphan's resources: what removal deletes. */
function what(o: Orphan): string {
  return Object.entries(o.resources)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

/** The report of a gc run as a table and a closing sentence. */
export function describeGc(r: GcReport, now = Date.now()): string {
  if (r.orphans.length === 0) return 'No quarantined orphans: nothing to remove.\n';
  const failed = new Set(r.failed.map((f) => `${f.provisioner}/${f.workspaceId}`));
  const rows = r.orphans.map((o) => [
    o.workspaceId,
    o.provisioner,
    formatAge(o.ageMs),
    o.removeAfter ? `in ${formatAge(Math.max(0, Date.parse(o.removeAfter) - now))}` : 'gc only',
    r.dryRun ? 'would remove' : failed.has(`${o.provisioner}/${o.workspaceId}`) ? 'FAILED' : 'removed',
    what(o),
  ]);
  const out = [table(['WORKSPACE ID', 'PROVISIONER', 'AGE', 'AUTO-REMOVAL', 'ACTION', 'RESOURCES'], rows)];
  for (const f of r.failed) out.push(`${f.workspaceId} (${f.provisioner}): ${f.message}`);
  out.push(
    r.dryRun
      ? `${r.orphans.length} quarantined orphan(s): runtime and storage would be removed by "berth admin gc". Nothing was changed.`
      : `Removed ${r.orphans.length - r.failed.length} of ${r.orphans.length} quarantined orphan(s).`,
  );
  return `${out.join('\n')}\n`;
}

/** Adds `gc` and `backup` to the `admin` command group. */
export function addAdminCommands(program: Command): void {
  const admin = program.commands.find((c) => c.name() === 'admin') ?? program.command('admin').description('Maintenance.');

  admin
    .command('gc')
    .description(
      'Remove the runtime and storage of quarantined orphans: resources of workspaces the database does not know (e.g. created after the backup it was restored from). ' +
        'They are otherwise removed when --orphan-grace has passed. Use --dry-run first.',
    )
    .option('--dry-run', 'List what would be removed, with age and resources; remove nothing')
    .option('--json', 'JSON output')
    .action(async (opts: { dryRun?: boolean; json?: boolean }) => {
      const r = await client().gc(opts.dryRun === true);
      if (opts.json) json(r);
      else process.stdout.write(describeGc(r));
      if (r.failed.length > 0) process.exitCode = 1;
    });

  admin
    .command('backup <file>')
    .description("Write a consistent copy of the server's SQLite database to FILE while the server runs (on PostgreSQL, use pg_dump). Back up DATA_DIR/secret.key too.")
    .action(async (file: string) => {
      const target = path.resolve(file);
      const size = await client().backup(target);
      process.stderr.write(`Wrote ${size} bytes to ${target}. Restore: stop the server, remove berth.db-wal and berth.db-shm, copy the file over DATA_DIR/berth.db, start.\n`);
    });
}
