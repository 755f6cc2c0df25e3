/** `berth ws update`: changes a workspace's image, limits, env or config files; a running one is provisioned again, its files kept. */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { SpecPatch } from '../sdk/wire.ts';
import { CliError, client } from './context.ts';
import { json } from './output.ts';

interface UpdateOpts {
  image?: string;
  cpu?: string;
  memory?: string;
  env: string[];
  secretEnv: string[];
  unsetEnv: string[];
  file: string[];
  removeFile: string[];
  wait?: boolean;
  json?: boolean;
}

const collect = (v: string, all: string[]) => [...all, v];

/** `NAME=value` as a spec variable. */
function envVar(pair: string, secret: boolean): NonNullable<SpecPatch['env']>[number] {
  const eq = pair.indexOf('=');
  if (eq < 1) throw new CliError(`"${pair}" is not NAME=value.`);
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), ...(secret ? { secret: true } : {}) };
}

/** `PATH=LOCAL` as a config file with the local file's content. */
function configFile(pair: string): NonNullable<SpecPatch['files']>[number] {
  const eq = pair.indexOf('=');
  if (eq < 1) throw new CliError(`"${pair}" is not PATH=LOCAL_FILE (the path in the workspace, then the file to read here).`);
  const local = pair.slice(eq + 1);
  try {
    return { path: pair.slice(0, eq), content: fs.readFileSync(local, 'utf8') };
  } catch (err) {
    throw new CliError(`Cannot read ${local}: ${(err as Error).message}`);
  }
}

/** A limit option: a value, or "none" to remove the limit. */
function limit(v: string | undefined, parse: (v: string) => number | string): number | string | null | undefined {
  if (v === undefined) return undefined;
  return v === 'none' ? null : parse(v);
}

/** The spec change the options ask for. */
export function patchFromOptions(o: UpdateOpts): SpecPatch {
  const cpus = limit(o.cpu, (v) => {
    if (!/^\d+(\.\d+)?$/.test(v)) throw new CliError(`--cpu "${v}" is not a number of CPUs such as 2 or 0.5 (or none).`);
    return Number(v);
  });
  const memory = limit(o.memory, (v) => v);
  const env = [...o.env.map((p) => envVar(p, false)), ...o.secretEnv.map((p) => envVar(p, true))];
  const files = o.file.map(configFile);
  return {
    ...(o.image !== undefined ? { image: o.image } : {}),
    ...(cpus !== undefined || memory !== undefined ? { resources: { ...(cpus !== undefined ? { cpus } : {}), ...(memory !== undefined ? { memory } : {}) } } : {}),
    ...(env.length ? { env } : {}),
    ...(o.unsetEnv.length ? { unsetEnv: o.unsetEnv } : {}),
    ...(files.length ? { files } : {}),
    ...(o.removeFile.length ? { removeFiles: o.removeFile } : {}),
  };
}

/** Registers `ws update` on the `ws` command group. */
export function addWsUpdateCommand(ws: Command): void {
  ws.command('update <name>')
    .description("Change a workspace's image, limits, env or config files. A running workspace is provisioned again on the same storage: its files are kept.")
    .option('--image <image>', 'New container image')
    .option('--cpu <n>', 'CPU limit, e.g. 2 or 0.5; none removes it')
    .option('--memory <size>', 'Memory limit, e.g. 2GiB; none removes it')
    .option('--env <NAME=value>', 'Set a variable (repeatable)', collect, [])
    .option('--secret-env <NAME=value>', 'Set a secret variable: stored encrypted, never shown (repeatable)', collect, [])
    .option('--unset-env <NAME>', 'Remove a variable (repeatable)', collect, [])
    .option('--file <PATH=LOCAL_FILE>', 'Write a config file at PATH in the workspace with the content of LOCAL_FILE (repeatable)', collect, [])
    .option('--remove-file <PATH>', 'Stop writing a config file (the file in the workspace stays; repeatable)', collect, [])
    .option('--wait', 'Wait until the workspace is running again')
    .option('--json', 'JSON output')
    .action(async (name: string, opts: UpdateOpts) => {
      const c = client();
      let w = await c.updateWorkspace(name, patchFromOptions(opts));
      if (opts.wait && w.desired === 'running') {
        while (w.phase !== 'running') {
          if (w.phase === 'failed') throw new CliError(`Workspace ${w.name} failed after the change: ${w.message ?? 'see berth ws logs'}`);
          await new Promise((r) => setTimeout(r, 500));
          w = await c.getWorkspace(w.id);
        }
      }
      if (opts.json) json(w);
      else process.stderr.write(`Workspace ${w.name} updated${w.desired === 'running' ? (opts.wait ? ' and running' : '; provisioning again on the same storage') : '; the change applies at the next start'}.\n`);
    });
}
