/**
 * `berth agent add|list|rm|revoke` (admin, against the control plane) and `berth agent enroll`
 * (on the agent host: the key is generated there and never sent; only a CSR leaves the host).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ApiError, BerthClient } from '../sdk/client.ts';
import type { Agent, EnrolledAgent, NewAgent } from '../sdk/agents.ts';
import { collectLabel } from './agent-run.ts';
import { CliError, client } from './context.ts';
import { json, table } from './output.ts';

/** The `agent` command group, shared with `agent run`. */
function agentGroup(program: Command): Command {
  return program.commands.find((c) => c.name() === 'agent') ?? program.command('agent').description('Run or manage remote host agents.');
}

/** Writes a file through a temporary name with `mode`, so that a reader never sees half of it. */
function writeFile(file: string, data: string, mode: number): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** Generates the key, sends the CSR and writes `<root>/keys`; returns the files written. */
async function enroll(server: string, token: string, root: string): Promise<{ agent: string; files: string[] }> {
  const [{ generateAgentKey, makeCsr }, { KEY_FILES }] = await Promise.all([import('../pki/x509.ts'), import('../agent/agent.ts')]);
  const keysDir = path.join(path.resolve(root), 'keys');
  try {
    fs.mkdirSync(keysDir, { recursive: true, mode: 0o700 });
    fs.chmodSync(path.dirname(keysDir), 0o700);
    fs.chmodSync(keysDir, 0o700);
  } catch (err) {
    throw new CliError(`Cannot create ${keysDir}: ${(err as Error).message}. Run as the user the agent runs as, or pass --root DIR.`);
  }
  const { keys, keyPem } = await generateAgentKey();
  const csr = await makeCsr(keys, os.hostname());
  let answer: EnrolledAgent;
  try {
    answer = await new BerthClient(server).request<EnrolledAgent>('POST', '/api/v1/agents/enroll', { token, csr });
  } catch (err) {
    if (err instanceof ApiError && err.status !== 0) throw new CliError(`The control plane refused the enrollment: ${err.message}`);
    throw err;
  }
  const files = {
    [KEY_FILES.key]: { data: keyPem, mode: 0o600 },
    [KEY_FILES.cert]: { data: answer.certificate, mode: 0o644 },
    [KEY_FILES.ca]: { data: answer.ca, mode: 0o644 },
    [KEY_FILES.clients]: { data: `${answer.clientFingerprint}\n`, mode: 0o600 },
  };
  for (const [name, f] of Object.entries(files)) writeFile(path.join(keysDir, name), f.data, f.mode);
  return { agent: answer.name, files: Object.keys(files).map((n) => path.join(keysDir, n)) };
}

/** Adds `add`, `list`, `rm`, `revoke` and `enroll` to the `agent` command group. */
export function addAgentCommands(program: Command): void {
  const agent = agentGroup(program);
  agent
    .command('add <name>')
    .description('Register a remote host agent (admin) and print its one-time enrollment token and the command to run on the host.')
    .requiredOption('--url <url>', "The agent's control port as the control plane reaches it, https://HOST:PORT (its certificate will name HOST)")
    .addOption(new Option('--label <key=value>', 'A placement label (repeatable); adding a known agent again keeps its labels unless given').argParser(collectLabel).default({}))
    .option('--ttl <duration>', 'How long the token is valid (default 15m, at most 24h)')
    .option('--json', 'JSON output')
    .action(async (name: string, opts: { url: string; label: Record<string, string>; ttl?: string; json?: boolean }) => {
      const r = await client().request<NewAgent>('POST', '/api/v1/agents', { name, url: opts.url, ...(Object.keys(opts.label).length > 0 ? { labels: opts.label } : {}), ...(opts.ttl ? { ttl: opts.ttl } : {}) });
      if (opts.json) return json(r);
      process.stdout.write(
        `Agent ${r.agent.name} added (${r.agent.url}). Its enrollment token is shown once and expires at ${r.expiresAt}:\n  ${r.token}\n` +
          `On the agent host, run:\n  ${r.command}\nthen start the agent with: berth agent run\n`,
      );
    });
  agent
    .command('list')
    .description('List agents (admin).')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const agents = await client().request<Agent[]>('GET', '/api/v1/agents');
      if (opts.json) return json(agents);
      const labels = (l: Record<string, string>) => Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',');
      process.stdout.write(`${table(['NAME', 'STATE', 'URL', 'WORKSPACES', 'LABELS'], agents.map((a) => [a.name, a.state, a.url, String(a.workspaces), labels(a.labels)]))}\n`);
    });
  agent
    .command('revoke <name>')
    .description('Revoke an agent (admin): the control plane stops talking to it at once and its credentials become useless; its workspaces stay on the host.')
    .action(async (name: string) => {
      await client().request<Agent>('POST', `/api/v1/agents/${encodeURIComponent(name)}/revoke`);
      process.stdout.write(`Agent ${name} revoked.\n`);
    });
  agent
    .command('rm <name>')
    .description('Remove an agent (admin); refused while workspaces are pinned to it.')
    .action(async (name: string) => {
      await client().request<void>('DELETE', `/api/v1/agents/${encodeURIComponent(name)}`);
      process.stdout.write(`Agent ${name} removed.\n`);
    });
  agent
    .command('enroll')
    .description("Enroll this host as an agent: generates its key here (it never leaves the host), sends a certificate request with the one-time token, and writes <root>/keys.")
    .requiredOption('--server <url>', "The control plane's URL")
    .requiredOption('--token <token>', 'The one-time token "berth agent add" printed')
    .addOption(new Option('--root <dir>', "The agent's root").env('BERTH_AGENT_ROOT').default('/var/lib/berth-agent'))
    .action(async (opts: { server: string; token: string; root: string }) => {
      const r = await enroll(opts.server, opts.token, opts.root);
      process.stdout.write(`Enrolled as agent ${r.agent}; wrote ${r.files.join(', ')}.\nStart the agent with: berth agent run --root ${opts.root}\n`);
    });
}
