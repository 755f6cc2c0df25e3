/** The `berth` command. */
import fs from 'node:fs';
import { Command } from 'commander';
import { BerthError, errorMessage } from '../core/errors.ts';
import type { SpecInput } from '../core/spec.ts';
import { ApiError, type BerthClient } from '../sdk/client.ts';
import type { UpdateProject, Workspace } from '../sdk/wire.ts';
import { addServerOptions } from './server-options.ts';
import { trustCaFile } from '../sdk/trust.ts';
import { CliError, client, configPath, readConfig, writeConfig } from './context.ts';
import { addAgentCommands } from './agent.ts';
import { addAdminCommands } from './admin.ts';
import { showLogs, type LogsOptions } from './logs.ts';
import { addAgentRunCommand } from './agent-run.ts';
import { addGitCommand } from './git.ts';
import { addMcpCommand } from './mcp.ts';
import { addMemberCommands } from './members.ts';
import { addPolicyCommands } from './policy.ts';
import { addTaskCommands } from './task.ts';
import { activityCell } from './activity.ts';
import { ProgressPrinter, describeWorkspace, json, table, workspaceMessage } from './output.ts';
import { openShell, runExec } from './shell.ts';
import { addWsUpdateCommand } from './ws-update.ts';
import { addWsForkCommand } from './fork.ts';
import { describeOptions, parseTypeOptions, unsetTypeOptions } from './type-options.ts';

const program = new Command('berth').description('Berth: persistent workspaces for people and AI agents, on the server host (shell), a Docker engine or Kubernetes.').showHelpAfterError();

program.command('server').description('Run the control plane.');
const serverCmd = program.commands.find((c) => c.name() === 'server')!;
serverCmd.action(async (opts: Record<string, string | undefined>) => {
  const { BerthServer, VERSION } = await import('../server/server.ts');
  const { loadConfig } = await import('../server/config.ts');
  const config = loadConfig(opts, {});
  let server: Awaited<ReturnType<typeof BerthServer.create>>;
  try {
    server = await BerthServer.create(config);
  } catch (err) {
    throw startupError(err, config.listen, config.dataDir);
  }
  const out = [`Berth ${VERSION} control plane listening on ${server.url}`];
  if (server.bootstrap) {
    out.push(
      '',
      'First start: created the admin user. Its token is shown only this once (also saved, mode 0600, in',
      `  ${server.bootstrap.file}):`,
      '',
      `  berth login --url ${server.url} --token ${server.bootstrap.token}`,
      '',
    );
  } else if (fs.existsSync(`${config.dataDir}/admin-credentials`)) {
    out.push(`Admin credentials are in ${config.dataDir}/admin-credentials.`);
  } else {
    out.push(`No admin credentials file in ${config.dataDir}; mint a new admin token with: berth admin token --data-dir ${config.dataDir}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    server.logger.info({ signal: sig }, 'shutting down');
    void server.shutdown().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
});

/** Turns the usual start-up failures into one actionable line instead of a stack trace. */
function startupError(err: unknown, listen: string, dataDir: string): unknown {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'EADDRINUSE':
      return new CliError(`Cannot listen on ${listen}: the address is already in use (is another berth server running?). Choose another with --listen HOST:PORT.`);
    case 'EADDRNOTAVAIL':
      return new CliError(`Cannot listen on ${listen}: no network interface of this machine has that address.`);
    case 'EACCES':
    case 'EPERM':
      return new CliError(`Permission denied: ${e.message}. Check --listen (ports below 1024 need privileges) and that ${dataDir} is writable.`);
    case 'ENOTDIR':
    case 'ENOENT':
    case 'EROFS':
      return new CliError(`Cannot use the data directory ${dataDir}: ${e.message}.`);
    default:
      return err;
  }
}

program
  .command('admin')
  .description('Maintenance on the server host.')
  .command('token')
  .description('Mint a new admin token directly in the data directory (when every admin token is lost or expired) and rewrite admin-credentials.')
  .option('--data-dir <dir>', 'Data directory of the server', process.env.BERTH_DATA_DIR)
  .option('--database-url <url>', 'PostgreSQL URL, if the server uses one', process.env.BERTH_DATABASE_URL)
  .option('--user <name>', 'Admin user', 'admin')
  .option('--ttl <duration>', 'Lifetime of the token (default: 90d)')
  .action(async (opts: { dataDir?: string; databaseUrl?: string; user: string; ttl?: string }) => {
    const { loadConfig } = await import('../server/config.ts');
    const config = loadConfig({ ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}) }, {});
    if (!opts.databaseUrl && !fs.existsSync(`${config.dataDir}/berth.db`)) throw new CliError(`No Berth database in ${config.dataDir}; pass --data-dir.`);
    const { SqlStore } = await import('../store/sql-store.ts');
    const { AuthService } = await import('../server/auth.ts');
    const store = await SqlStore.create(config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'sqlite', file: `${config.dataDir}/berth.db` });
    try {
      const url = config.publicUrl || `http://${config.listen}`;
      const r = await new AuthService(store, config.tokenTtl).recoverAdmin(config.dataDir, url, opts.user, opts.ttl);
      process.stdout.write(`New token for ${opts.user} (also written to ${r.file}):\n${r.token}\n`);
    } finally {
      await store.close();
    }
  });

program
  .command('login')
  .description('Save the server URL and token for later commands.')
  .requiredOption('--url <url>', 'Server URL', process.env.BERTH_URL)
  .option('--token <token>', 'API token (default: $BERTH_TOKEN)', process.env.BERTH_TOKEN)
  .action(async (opts: { url: string; token?: string }) => {
    if (!opts.token) throw new CliError('Pass --token TOKEN (or set BERTH_TOKEN).');
    const { BerthClient } = await import('../sdk/client.ts');
    const me = await new BerthClient(opts.url, opts.token).me();
    writeConfig({ ...readConfig(), url: opts.url, token: opts.token });
    process.stdout.write(`Logged in to ${opts.url} as ${me.user.name}${me.user.role === 'admin' ? ' (admin)' : ''}. Saved in ${configPath()}.\n`);
  });

program
  .command('whoami')
  .description('Show who the current token belongs to.')
  .option('--json', 'JSON output')
  .action(async (opts: { json?: boolean }) => {
    const me = await client().me();
    if (opts.json) json(me);
    else process.stdout.write(`${me.user.name} (${me.user.role}${me.tokenKind === 'workspace' ? `, workspace token of ${me.workspaceId}` : ''})\n`);
  });

/** Reads project credentials from --username/--password-stdin or --ssh-key; the password only ever from standard input. */
async function readCredentials(opts: { username?: string; passwordStdin?: boolean; sshKey?: string }): Promise<{ username?: string; password?: string; sshKey?: string }> {
  const credentials: { username?: string; password?: string; sshKey?: string } = {};
  if (opts.passwordStdin) {
    if (!opts.username) throw new CliError('--password-stdin needs --username.');
    if (process.stdin.isTTY) process.stderr.write('Password or token: ');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    credentials.username = opts.username;
    credentials.password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    if (!credentials.password) throw new CliError('No password was given on standard input.');
  } else if (opts.username) throw new CliError('--username needs --password-stdin (the password is never taken as an argument).');
  if (opts.sshKey) {
    try {
      credentials.sshKey = fs.readFileSync(opts.sshKey, 'utf8');
    } catch (err) {
      throw new CliError(`Cannot read the SSH key ${opts.sshKey}: ${errorMessage(err)}`);
    }
  }
  return credentials;
}

const project = program.command('project').description('Manage projects (git repositories).');
project
  .command('add <name>')
  .description('Add a project.')
  .requiredOption('--repo <url>', 'Repository URL or absolute local path')
  .option('--branch <branch>', 'Default branch for new workspaces')
  .option('--username <user>', 'User name for an http(s) repository (with --password-stdin)')
  .option('--password-stdin', 'Read the password or access token from standard input')
  .option('--ssh-key <file>', 'Private key file for an ssh repository (a deploy key without passphrase)')
  .option('--no-sync', 'Do not fetch the repository into the mirror now')
  .option('--json', 'JSON output')
  .action(async (name: string, opts: { repo: string; branch?: string; username?: string; passwordStdin?: boolean; sshKey?: string; sync: boolean; json?: boolean }) => {
    const credentials = opts.passwordStdin || opts.username || opts.sshKey ? await readCredentials(opts) : {};
    const c = client();
    const p = await c.createProject({ name, repo: opts.repo, ...(opts.branch ? { branch: opts.branch } : {}), ...(Object.keys(credentials).length ? { credentials } : {}) });
    if (!opts.json) process.stdout.write(`Project ${p.name} added (${p.repo}${p.credentials ? `, ${p.credentials} credentials stored encrypted` : ''}).\n`);
    if (opts.sync) {
      try {
        const r = await c.syncProject(name);
        if (!opts.json) process.stdout.write(`Mirror fetched: ${r.refs} branches and tags, default branch ${r.head ?? '(none)'}.\n`);
      } catch (err) {
        if (opts.json) json(p);
        throw new CliError(`The project was added, but fetching it failed: ${errorMessage(err)}\nFix the URL or credentials, or retry with: berth project sync ${name}`);
      }
    }
    if (opts.json) json(p);
  });
project
  .command('update <name>')
  .description("Change a project's URL (refused while workspaces use it), default branch or credentials.")
  .option('--repo <url>', 'New repository URL or absolute local path')
  .option('--branch <branch>', 'New default branch for new workspaces')
  .option('--username <user>', 'User name for an http(s) repository (with --password-stdin)')
  .option('--password-stdin', 'Read the new password or access token from standard input')
  .option('--ssh-key <file>', 'New private key file for an ssh repository')
  .option('--clear-credentials', 'Remove the stored credentials')
  .option('--json', 'JSON output')
  .action(async (name: string, opts: { repo?: string; branch?: string; username?: string; passwordStdin?: boolean; sshKey?: string; clearCredentials?: boolean; json?: boolean }) => {
    const patch: UpdateProject = {};
    if (opts.repo) patch.repo = opts.repo;
    if (opts.branch) patch.branch = opts.branch;
    if (opts.clearCredentials) patch.credentials = null;
    else if (opts.passwordStdin || opts.username || opts.sshKey) patch.credentials = await readCredentials(opts);
    const p = await client().updateProject(name, patch);
    if (opts.json) json(p);
    else process.stdout.write(`Project ${p.name} updated (${p.repo}${p.credentials ? `, ${p.credentials} credentials` : ', no credentials'}).\n`);
    if (!opts.json && p.notice) process.stderr.write(`${p.notice}\n`);
  });
project
  .command('sync <name>')
  .description("Fetch the project's upstream into the server's mirror now.")
  .option('--json', 'JSON output')
  .action(async (name: string, opts: { json?: boolean }) => {
    const r = await client().syncProject(name);
    if (opts.json) json(r);
    else process.stdout.write(`Project ${r.project} synced in ${r.durationMs} ms: ${r.updated} ref(s) updated, ${r.refs} branches and tags, default branch ${r.head ?? '(none)'}.\n`);
  });
project
  .command('rm <name>')
  .description("Delete a project and the server's mirror of it (owner or admin); refused while workspaces use it. The upstream repository is not touched.")
  .action(async (name: string) => {
    await client().deleteProject(name);
    process.stdout.write(`Project ${name} deleted.\n`);
  });
project
  .command('list')
  .description('List projects.')
  .option('--json', 'JSON output')
  .action(async (opts: { json?: boolean }) => {
    const ps = await client().listProjects();
    if (opts.json) json(ps);
    else process.stdout.write(`${table(['NAME', 'REPO', 'BRANCH'], ps.map((p) => [p.name, p.repo, p.branch ?? '']))}\n`);
  });

const provisioner = program.command('provisioner').description('Manage provisioners (where workspaces run).');
provisioner
  .command('list')
  .description('List provisioners.')
  .option('--json', 'JSON output')
  .action(async (opts: { json?: boolean }) => {
    const ps = await client().listProvisioners();
    if (opts.json) return json(ps);
    const rows = ps.map((p) => [p.name, p.type, p.default ? 'yes' : '', String(p.workspaces), p.builtin ? 'yes' : '', p.error ? 'unavailable' : 'ok']);
    const errors = ps.filter((p) => p.error).map((p) => `${p.name}: ${p.error}`);
    process.stdout.write(`${table(['NAME', 'TYPE', 'DEFAULT', 'WORKSPACES', 'BUILT-IN', 'STATUS'], rows)}\n${errors.length ? `\n${errors.join('\n')}\n` : ''}`);
  });
provisioner
  .command('types')
  .description('List the provisioner types this server has: what each can do and its options (the flags of provisioner add).')
  .option('--json', 'JSON output')
  .action(async (opts: { json?: boolean }) => {
    const types = await client().listProvisionerTypes();
    if (opts.json) return json(types);
    const out: string[] = [];
    for (const t of types) {
      const can = Object.entries(t.capabilities).filter(([, v]) => v).map(([k]) => k);
      out.push(`${t.type}: ${t.summary}`, `  capabilities: ${can.join(', ') || 'none'}`, '  options:', ...describeOptions(t).map((l) => `  ${l}`), '');
    }
    process.stdout.write(out.join('\n'));
  });

/** The named type as the server describes it, or a CliError listing the types there are. */
async function provisionerType(type: string) {
  const types = await client().listProvisionerTypes();
  const t = types.find((x) => x.type === type);
  if (!t) throw new CliError(`Unknown provisioner type "${type}". This server has: ${types.map((x) => x.type).join(', ')}.`);
  return t;
}
const typeOptionsHelp = "\nThe type's options are flags: --kebab-case for each option (e.g. --docker-host tcp://HOST:2376 --tls-cert-path DIR);\n`berth provisioner types` lists them for every type.";
provisioner
  .command('add <name>')
  .description("Add a provisioner (admin). The server validates its options against its type and checks that it can reach its backend first.")
  .requiredOption('--type <type>', 'The provisioner type (see: berth provisioner types)')
  .option('--default', 'Use it for workspaces created without --provisioner')
  .option('--json', 'JSON output')
  .allowUnknownOption()
  .allowExcessArguments()
  .addHelpText('after', typeOptionsHelp)
  .action(async (name: string, opts: { type: string; default?: boolean; json?: boolean }, cmd: Command) => {
    const t = await provisionerType(opts.type);
    const options = parseTypeOptions(t, cmd.args.slice(1));
    const p = await client().createProvisioner({ name, type: t.type, options, ...(opts.default ? { default: true } : {}) });
    if (opts.json) json(p);
    else process.stdout.write(`Provisioner ${p.name} (${p.type}) added${p.default ? ' as the default' : ''}.\n`);
  });
provisioner
  .command('update <name>')
  .description('Change a provisioner (admin): options given are set, the others kept (refused while workspaces use it); or make it the default.')
  .option('--default', 'Use it for workspaces created without --provisioner')
  .option('--no-default', 'Stop using it as the default')
  .option('--unset <option...>', 'Remove options, so their defaults apply (e.g. --unset server-url)')
  .option('--json', 'JSON output')
  .allowUnknownOption()
  .allowExcessArguments()
  .addHelpText('after', typeOptionsHelp)
  .action(async (name: string, opts: { default?: boolean; unset?: string[]; json?: boolean }, cmd: Command) => {
    const c = client();
    const current = (await c.listProvisioners()).find((p) => p.name === name);
    if (!current) throw new CliError(`No provisioner named "${name}". See: berth provisioner list`);
    const flags = cmd.args.slice(1);
    const type = flags.length || opts.unset ? await provisionerType(current.type) : undefined;
    const options = type ? { ...unsetTypeOptions(type, opts.unset ?? []), ...parseTypeOptions(type, flags) } : undefined;
    const explicitDefault = cmd.getOptionValueSource('default') === 'cli';
    if (!options && !explicitDefault) throw new CliError('Nothing to change: give option flags of its type, --unset OPTION, --default or --no-default.');
    const p = await c.updateProvisioner(name, { ...(options ? { options } : {}), ...(explicitDefault ? { default: opts.default !== false } : {}) });
    if (opts.json) json(p);
    else process.stdout.write(`Provisioner ${p.name} (${p.type}) updated${p.default ? '; it is the default' : ''}.\n`);
  });
provisioner
  .command('rm <name>')
  .description('Remove a provisioner (admin); refused while workspaces use it. Built-in provisioners cannot be removed.')
  .action(async (name: string) => {
    await client().deleteProvisioner(name);
    process.stdout.write(`Provisioner ${name} removed.\n`);
  });

const token = program.command('token').description('Manage your API tokens.');
token
  .command('create <name>')
  .option('--ttl <duration>', 'Lifetime, e.g. 30d (default: server setting)')
  .option('--json', 'JSON output')
  .action(async (name: string, opts: { ttl?: string; json?: boolean }) => {
    const t = await client().createToken(name, opts.ttl);
    if (opts.json) json(t);
    else process.stdout.write(`${t.token}\n(expires ${t.info.expiresAt}; shown only once)\n`);
  });
token
  .command('list')
  .option('--json', 'JSON output')
  .action(async (opts: { json?: boolean }) => {
    const ts = await client().listTokens();
    if (opts.json) json(ts);
    else process.stdout.write(`${table(['ID', 'NAME', 'EXPIRES', 'REVOKED'], ts.map((t) => [t.id, t.name, t.expiresAt ?? 'never', t.revokedAt ?? '']))}\n`);
  });
token.command('revoke <id>').action(async (id: string) => {
  await client().revokeToken(id);
  process.stdout.write(`Token ${id} revoked.\n`);
});

program
  .command('user')
  .description('Manage users (admin).')
  .command('add <name>')
  .option('--admin', 'Make the user an admin')
  .option('--json', 'JSON output')
  .action(async (name: string, opts: { admin?: boolean; json?: boolean }) => {
    const u = await client().createUser(name, opts.admin ? 'admin' : 'user');
    if (opts.json) json(u);
    else process.stdout.write(`User ${u.user.name} created. Their token (shown once):\n${u.token}\n`);
  });

const ws = program.command('ws').description('Manage workspaces.');

/** Follows events until the workspace reaches `target` (or fails); throws CliError on failure. `known`: the workspace as just returned, saving a request. */
async function waitFor(c: BerthClient, ref: string, target: Workspace['phase'], after: number, known?: Workspace): Promise<void> {
  const printer = new ProgressPrinter();
  let failed: string | undefined;
  let reached = false;
  const current = known ?? await c.getWorkspace(ref).catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 404 && target === 'deleted') return undefined;
    throw err;
  });
  if (!current || (current.phase === target && current.desired === target)) return;
  const following = c.followEvents(
    ref,
    (e) => {
      printer.event(e);
      if (e.kind === 'phase' && e.message === target) reached = true;
      if (e.kind === 'phase' && e.message === 'failed') failed = 'failed';
      return reached || failed !== undefined;
    },
    { after },
  );
  try {
    await following;
  } catch (err) {
    // A workspace deleted between our checks is exactly what `rm --wait` waits for.
    if (!(target === 'deleted' && err instanceof ApiError && err.status === 404)) throw err;
  }
  printer.done();
  if (target === 'deleted') return;
  if (failed || !reached) {
    const w = await c.getWorkspace(ref);
    throw new CliError(`Workspace ${w.name} is ${w.phase}${w.message ? `: ${w.message}` : ''}`);
  }
}

async function lastEventId(c: BerthClient, ref: string): Promise<number> {
  return (await c.lastEvent(ref))?.id ?? 0;
}

function readSpecFile(file: string): SpecInput {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`Cannot read spec file ${file}: ${errorMessage(err)}`);
  }
  try {
    return JSON.parse(text) as SpecInput;
  } catch {
    throw new CliError(`Spec file ${file} is not valid JSON.`);
  }
}

ws.command('create <name>')
  .description('Create a workspace.')
  .requiredOption('--project <project>', 'Project to check out')
  .option('--branch <branch>', 'Branch or ref (default: the project branch)')
  .option('--provisioner <name>', 'Where to run it (default: the server default)')
  .option('--image <image>', 'Container image (provisioners whose type has the image capability: berth provisioner types)')
  .option('--spec <file>', 'Spec as a JSON file')
  .option('--wait', 'Wait until it is running, showing progress')
  .option('--json', 'JSON output')
  .action(async (name: string, opts: { project: string; branch?: string; provisioner?: string; image?: string; spec?: string; wait?: boolean; json?: boolean }) => {
    const c = client();
    const spec: SpecInput = opts.spec ? readSpecFile(opts.spec) : {};
    if (opts.image) spec.image = opts.image;
    const w = await c.createWorkspace({
      name,
      project: opts.project,
      ...(opts.branch ? { ref: opts.branch } : {}),
      ...(opts.provisioner ? { provisioner: opts.provisioner } : {}),
      ...(Object.keys(spec).length ? { spec } : {}),
    });
    if (!opts.json) process.stderr.write(`Workspace ${w.name} created (${w.id}).\n`);
    if (opts.wait) await waitFor(c, w.id, 'running', 0, w);
    if (opts.json) json(opts.wait ? await c.getWorkspace(w.id) : w);
  });

ws.command('list')
  .description('List workspaces.')
  .option('--all', "Everyone's workspaces (admin)")
  .option('--json', 'JSON output')
  .action(async (opts: { all?: boolean; json?: boolean }) => {
    const list = await client().listWorkspaces(opts.all);
    if (opts.json) json(list);
    else
      process.stdout.write(
        `${table(
          ['NAME', 'PROJECT', 'PROVISIONER', 'PHASE', 'OWNER', 'ACTIVITY', 'MESSAGE'],
          list.map((w) => [w.name, w.project, w.provisioner, w.phase === w.desired ? w.phase : `${w.phase}->${w.desired}`, w.owner, activityCell(w), workspaceMessage(w)]),
        )}\n`,
      );
  });

ws.command('show <name>')
  .description('Show a workspace.')
  .option('--json', 'JSON output')
  .action(async (name: string, opts: { json?: boolean }) => {
    const w = await client().getWorkspace(name);
    if (opts.json) json(w);
    else process.stdout.write(`${describeWorkspace(w)}\n`);
  });

for (const [verb, target] of [['start', 'running'], ['stop', 'stopped']] as const) {
  ws.command(`${verb} <name>`)
    .description(`${verb === 'start' ? 'Start' : 'Stop'} a workspace (its files are kept).`)
    .option('--wait', 'Wait until done, showing progress')
    .action(async (name: string, opts: { wait?: boolean }) => {
      const c = client();
      const after = opts.wait ? await lastEventId(c, name) : 0;
      const w = verb === 'start' ? await c.startWorkspace(name) : await c.stopWorkspace(name);
      if (opts.wait) await waitFor(c, w.id, target, after);
      process.stderr.write(`Workspace ${w.name} ${opts.wait ? (verb === 'start' ? 'is running' : 'is stopped') : `is ${verb === 'start' ? 'starting' : 'stopping'}`}.\n`);
    });
}

ws.command('rm <name>')
  .description('Delete a workspace and all its files.')
  .option('-y, --yes', 'Do not ask for confirmation')
  .option('--wait', 'Wait until it is gone')
  .action(async (name: string, opts: { yes?: boolean; wait?: boolean }) => {
    const c = client();
    if (!opts.yes) {
      if (!process.stdin.isTTY) throw new CliError('Refusing to delete without confirmation: pass --yes.');
      const answer = await prompt(`Delete workspace ${name} and all its files? Type its name to confirm: `);
      if (answer.trim() !== name) throw new CliError('Not confirmed; nothing deleted.');
    }
    const after = opts.wait ? await lastEventId(c, name) : 0;
    const w = await c.deleteWorkspace(name);
    if (opts.wait) await waitFor(c, w.id, 'deleted', after);
    process.stderr.write(`Workspace ${w.name} ${opts.wait ? 'deleted' : 'is being deleted'}.\n`);
  });

ws.command('logs <name>')
  .description("Show the workspace's event log (provisioning output, phase changes): the newest 200 events, unless --tail, --since or --all say otherwise.")
  .option('-f, --follow', 'Keep streaming new events')
  .option('--json', 'JSON lines output')
  .option('--tail <n>', 'How many of the newest events to show (default 200)')
  .option('--since <when>', 'Events since a duration ago (2h) or a timestamp (2026-01-31T10:00:00Z)')
  .option('--all', 'Every event kept, oldest first (read page by page)')
  .action(async (name: string, opts: LogsOptions) => showLogs(client(), name, opts));

ws.command('exec <name>')
  .description('Run a command in the workspace; its exit code becomes berth\'s. Usage: berth ws exec NAME -- CMD...')
  .argument('<cmd...>')
  .action(async (name: string, cmd: string[]) => {
    process.exitCode = await runExec(client(), name, cmd);
  });

addGitCommand(ws);
addWsUpdateCommand(ws);
addWsForkCommand(ws);

ws.command('shell <name>')
  .description('Open an interactive terminal in the workspace. Detaching (Ctrl-] then d) keeps it running.')
  .option('--session <id>', 'Re-attach to a running terminal session')
  .action(async (name: string, opts: { session?: string }) => {
    process.exitCode = await openShell(client(), name, opts.session);
  });

addMemberCommands(program);
addMcpCommand(program);
addTaskCommands(program);

// Last, so that it joins an `agent` command group registered above.
addAgentCommands(program);
addAgentRunCommand(program);
addAdminCommands(program);
addPolicyCommands(program);

async function prompt(question: string): Promise<string> {
  // Loaded here, not at start-up: only `ws delete` asks a question.
  const readline = await import('node:readline/promises');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/** Runs the CLI; errors become one line on stderr and a non-zero exit code. */
export async function main(argv: string[]): Promise<void> {
  try {
    if (process.env.BERTH_CA_BUNDLE) trustCaFile(process.env.BERTH_CA_BUNDLE);
    // `berth server …` and `berth help server` need the server's options, which other commands never load.
    const words = argv.slice(2).filter((a) => !a.startsWith('-'));
    if (words[0] === 'server' || (words[0] === 'help' && words[1] === 'server')) await addServerOptions(serverCmd);
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`berth: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else if (err instanceof ApiError || err instanceof BerthError) {
      process.stderr.write(`berth: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`berth: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 70;
    }
  }
}

await main(process.argv);
