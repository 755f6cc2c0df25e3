/** `berth agent run`: starts the agent daemon on a Docker host (src/agent/agent.ts). */
import { Command, Option } from 'commander';
import { InputError } from '../core/errors.ts';

/** Parses repeated `--label k=v` into an object. */
export function collectLabel(value: string, prev: Record<string, string>): Record<string, string> {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.\/-]{0,62})=([A-Za-z0-9_.\/:-]{0,63})$/.exec(value);
  if (!m) throw new InputError(`--label "${value}" must be KEY=VALUE (letters, digits and . _ / - :).`);
  return { ...prev, [m[1]!]: m[2]! };
}

/** Adds `run` to the `agent` command group (creating the group when no other module has). */
export function addAgentRunCommand(program: Command): void {
  const agent = program.commands.find((c) => c.name() === 'agent') ?? program.command('agent').description('Run or manage remote host agents.');
  agent
    .command('run')
    .description('Run the agent on this Docker host: serves the control plane over mutual TLS and keeps its workspaces converged.')
    .addOption(new Option('--root <dir>', "The agent's root: workspaces, user data, caches, state and keys").env('BERTH_AGENT_ROOT').default('/var/lib/berth-agent'))
    .addOption(new Option('--listen <host:port>', 'Control port (the only inbound port the agent needs)').env('BERTH_AGENT_LISTEN').default('0.0.0.0:7443'))
    .addOption(new Option('--docker-host <url>', 'The Docker engine the agent drives').env('BERTH_AGENT_DOCKER_HOST').default('unix:///var/run/docker.sock'))
    .addOption(new Option('--label <key=value>', 'A label the control plane places workspaces by (repeatable)').argParser(collectLabel).default({}))
    .addOption(new Option('--allow-ports', "Publish workspaces' spec.ports on this host's 127.0.0.1").env('BERTH_AGENT_ALLOW_PORTS'))
    .addOption(new Option('--log-level <level>', 'Log level').env('BERTH_AGENT_LOG_LEVEL').default('info'))
    .addOption(new Option('--resync <ms>', 'How often every workspace is checked against its desired state').env('BERTH_AGENT_RESYNC_MS').default('15000').hideHelp())
    .action(async (opts: { root: string; listen: string; dockerHost: string; label: Record<string, string>; allowPorts?: boolean; logLevel: string; resync: string }) => {
      const [{ Agent, AGENT_VERSION }, { createLogger }] = await Promise.all([import('../agent/agent.ts'), import('../server/logger.ts')]);
      const logger = createLogger(opts.logLevel);
      const envLabels = process.env.BERTH_AGENT_LABELS?.split(',').filter(Boolean).reduce((acc, l) => collectLabel(l.trim(), acc), {} as Record<string, string>) ?? {};
      const agent = await Agent.create({ root: opts.root, listen: opts.listen, dockerHost: opts.dockerHost, labels: { ...envLabels, ...opts.label }, allowPorts: Boolean(opts.allowPorts), logger, resyncMs: Math.max(500, Number(opts.resync) || 15_000) });
      process.stdout.write(`Berth ${AGENT_VERSION} agent listening on ${agent.url} (root ${opts.root})\n`);
      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) process.exit(130);
        stopping = true;
        logger.info({ signal: sig }, 'agent shutting down; workspaces keep running');
        void agent.close().then(() => process.exit(0));
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
