/** `berth project member add|rm|list`, `berth user list|rm` and `berth --version`. */
import fs from 'node:fs';
import { Option, type Command } from 'commander';
import type { Member } from '../sdk/wire.ts';
import { client } from './context.ts';
import { json, table } from './output.ts';

const ROLES: Member['role'][] = ['viewer', 'developer', 'owner'];

/** The version in package.json (one directory above src/ and dist/ alike). */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The command group `name` of `parent`, created when missing (main.ts may have made it already). */
function group(parent: Command, name: string, description: string): Command {
  return parent.commands.find((c) => c.name() === name) ?? parent.command(name).description(description);
}

/** Adds the member and user commands and `--version` to the program. */
export function addMemberCommands(program: Command): void {
  program.version(packageVersion(), '-V, --version', 'Print the version of berth.');

  const member = group(program, 'project', 'Manage projects (git repositories).')
    .command('member')
    .description('Who may use a project: viewers see and clone, developers also push, sync and create workspaces, owners also change, delete and manage members.');
  member
    .command('add <project> <user>')
    .description("Add a member to a project, or change a member's role (project owners and admins).")
    .addOption(new Option('--role <role>', 'Role in the project').choices(ROLES).default('developer'))
    .option('--json', 'JSON output')
    .action(async (project: string, user: string, opts: { role: Member['role']; json?: boolean }) => {
      const m = await client().setMember(project, user, opts.role);
      if (opts.json) json(m);
      else process.stdout.write(`${m.user} is now ${m.role === 'owner' ? 'an owner' : `a ${m.role}`} of project ${project}.\n`);
    });
  member
    .command('rm <project> <user>')
    .description('Remove a member from a project (project owners and admins); the last owner stays.')
    .action(async (project: string, user: string) => {
      await client().removeMember(project, user);
      process.stdout.write(`${user} is no longer a member of project ${project}.\n`);
    });
  member
    .command('list <project>')
    .description("List a project's members and their roles.")
    .option('--json', 'JSON output')
    .action(async (project: string, opts: { json?: boolean }) => {
      const ms = await client().listMembers(project);
      if (opts.json) json(ms);
      else process.stdout.write(`${table(['USER', 'ROLE', 'SINCE'], ms.map((m) => [m.user, m.role, m.createdAt]))}\n`);
    });

  const user = group(program, 'user', 'Manage users (admin).');
  user
    .command('list')
    .description('List users (admin).')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const us = await client().listUsers();
      if (opts.json) json(us);
      else process.stdout.write(`${table(['NAME', 'ROLE', 'CREATED'], us.map((u) => [u.name, u.role, u.createdAt]))}\n`);
    });
  user
    .command('rm <name>')
    .description('Remove a user and revoke their tokens (admin); refused while they own workspaces, are the only owner of a project, or are the last admin.')
    .action(async (name: string) => {
      await client().deleteUser(name);
      process.stdout.write(`User ${name} removed; their tokens no longer work.\n`);
    });
}
