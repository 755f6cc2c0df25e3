/**
 * Every control-plane option, declared once: default, environment variable, CLI flag, and whether it
 * is secret (secret values are never logged or printed). Sizes and durations are parsed here.
 */
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../core/errors.ts';
import { parseDuration, parseSize } from '../core/units.ts';
import { parseCidrs } from './net/outbound.ts';
import { parseWarmPool } from './pool/spec.ts';

type Kind = 'string' | 'duration' | 'size' | 'hostport' | 'enum' | 'integer';

interface OptionDef {
  key: keyof ServerConfig;
  env: string;
  flag: string;
  kind: Kind;
  default: string;
  secret?: boolean;
  choices?: string[];
  help: string;
}

/** The declaration of all server options; `berth server --help` and docs/operations.md are written from it. */
export const SERVER_OPTIONS: OptionDef[] = [
  { key: 'dataDir', env: 'BERTH_DATA_DIR', flag: '--data-dir', kind: 'string', default: path.join(os.homedir(), '.berth'), help: 'Directory for the database, keys, credentials and shell workspaces.' },
  { key: 'listen', env: 'BERTH_LISTEN', flag: '--listen', kind: 'hostport', default: '127.0.0.1:7420', help: 'Address the HTTP API listens on (HOST:PORT; port 0 picks a free one).' },
  { key: 'publicUrl', env: 'BERTH_PUBLIC_URL', flag: '--public-url', kind: 'string', default: '', help: 'URL workspaces and clients use to reach this server; defaults to http://LISTEN.' },
  { key: 'databaseUrl', env: 'BERTH_DATABASE_URL', flag: '--database-url', kind: 'string', default: '', secret: true, help: 'postgres://… to use PostgreSQL; empty means SQLite in the data directory.' },
  { key: 'secretKey', env: 'BERTH_SECRET_KEY', flag: '--secret-key', kind: 'string', default: '', secret: true, help: 'Base64 32-byte key encrypting secrets at rest; empty means DATA_DIR/secret.key (created on first start).' },
  { key: 'logLevel', env: 'BERTH_LOG_LEVEL', flag: '--log-level', kind: 'enum', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], help: 'Log level of the structured (JSON) log on stderr.' },
  { key: 'reconcileInterval', env: 'BERTH_RECONCILE_INTERVAL', flag: '--reconcile-interval', kind: 'duration', default: '10s', help: 'How often every workspace is re-checked against its runtime.' },
  { key: 'reconcileAttempts', env: 'BERTH_RECONCILE_ATTEMPTS', flag: '--reconcile-attempts', kind: 'integer', default: '8', help: 'Failed attempts after which a workspace is marked failed (an unreachable engine, API server or agent counts none).' },
  { key: 'reconcileBackoff', env: 'BERTH_RECONCILE_BACKOFF', flag: '--reconcile-backoff', kind: 'duration', default: '1s', help: 'Delay before the first retry of a failed attempt; doubles per attempt up to a minute.' },
  { key: 'bodyLimit', env: 'BERTH_BODY_LIMIT', flag: '--body-limit', kind: 'size', default: '1MiB', help: 'Largest accepted request body.' },
  { key: 'tokenTtl', env: 'BERTH_TOKEN_TTL', flag: '--token-ttl', kind: 'duration', default: '90d', help: 'Default lifetime of user API tokens.' },
  { key: 'terminalBuffer', env: 'BERTH_TERMINAL_BUFFER', flag: '--terminal-buffer', kind: 'size', default: '256KiB', help: 'Output kept per terminal session for replay on re-attach.' },
  { key: 'gitFreshness', env: 'BERTH_GIT_FRESHNESS', flag: '--git-freshness', kind: 'duration', default: '10s', help: 'How long a project mirror counts as fresh: clones and fetches through the git gateway within this window do not fetch from the upstream again.' },
  { key: 'gitPushLimit', env: 'BERTH_GIT_PUSH_LIMIT', flag: '--git-push-limit', kind: 'size', default: '1GiB', help: 'Largest push (git-receive-pack request body) the git gateway accepts; larger ones get 413.' },
  { key: 'gitFetchLimit', env: 'BERTH_GIT_FETCH_LIMIT', flag: '--git-fetch-limit', kind: 'size', default: '10MiB', help: "Largest fetch negotiation (git-upload-pack request body) the git gateway accepts; larger ones get 413 (git's own http-backend buffers at most 10MiB)." },
  { key: 'outboundAllow', env: 'BERTH_OUTBOUND_ALLOW', flag: '--outbound-allow', kind: 'string', default: '', help: 'Address blocks (CIDR, comma-separated) that projects of non-admin users may fetch from although they are loopback, private, link-local or metadata addresses; empty: only public addresses.' },
  { key: 'localDocker', env: 'BERTH_LOCAL_DOCKER', flag: '--local-docker', kind: 'enum', default: 'auto', choices: ['auto', 'off'], help: 'auto: register a provisioner named "docker" when the Docker engine of DOCKER_HOST (default: the local socket) answers at start; off: no such probe; "shell" and the provisioners added with "berth provisioner add" only.' },
  { key: 'tlsCert', env: 'BERTH_TLS_CERT', flag: '--tls-cert', kind: 'string', default: '', help: 'PEM certificate (chain) to serve HTTPS with; needs --tls-key. Empty: plain HTTP (or TLS ends at a proxy: set --public-url https://…).' },
  { key: 'tlsKey', env: 'BERTH_TLS_KEY', flag: '--tls-key', kind: 'string', default: '', help: 'PEM private key of --tls-cert; keep it mode 0600.' },
  { key: 'caBundle', env: 'BERTH_CA_BUNDLE', flag: '--ca-bundle', kind: 'string', default: '', help: "PEM file of one or more CA certificates (a team's own CA) installed into every workspace's trust, so git, curl and Node inside trust this server." },
  { key: 'metricsPublic', env: 'BERTH_METRICS_PUBLIC', flag: '--metrics-public', kind: 'enum', default: 'off', choices: ['on', 'off'], help: 'on: /metrics is served without a token (for a Prometheus on a trusted network); off: it needs an admin token.' },
  { key: 'terminalIdle', env: 'BERTH_TERMINAL_IDLE', flag: '--terminal-idle', kind: 'duration', default: '30m', help: 'How long a detached terminal session is kept before it is ended.' },
  { key: 'orphanGrace', env: 'BERTH_ORPHAN_GRACE', flag: '--orphan-grace', kind: 'duration', default: '7d', help: 'How long resources of a workspace the database does not know (e.g. after restoring an older backup) stay stopped in quarantine before they are removed; "berth admin gc" removes them sooner.' },
  { key: 'warmPool', env: 'BERTH_WARM_POOL', flag: '--warm-pool', kind: 'string', default: '', help: 'Runtimes kept ready for new workspaces, space-separated PROVISIONER:PROJECT[@REF]=SIZE[:IMAGE] (e.g. "docker:demo=2:alpine:3.20"); a create with that provisioner, project, ref and image (and no env, user data or registry logins) takes one instead of provisioning. Empty: off.' },
  { key: 'eventRetentionCount', env: 'BERTH_EVENT_RETENTION_COUNT', flag: '--event-retention-count', kind: 'integer', default: '10000', help: 'Newest events kept per workspace; older ones are pruned in the background.' },
  { key: 'eventRetentionAge', env: 'BERTH_EVENT_RETENTION_AGE', flag: '--event-retention-age', kind: 'duration', default: '30d', help: 'Events older than this are pruned in the background (the newest phase change of a workspace is always kept).' },
];

/** The parsed control-plane configuration. */
export interface ServerConfig {
  dataDir: string;
  listen: string;
  publicUrl: string;
  databaseUrl: string;
  secretKey: string;
  logLevel: string;
  reconcileInterval: number;
  reconcileAttempts: number;
  reconcileBackoff: number;
  bodyLimit: number;
  tokenTtl: number;
  terminalBuffer: number;
  terminalIdle: number;
  localDocker: string;
  gitFreshness: number;
  gitPushLimit: number;
  gitFetchLimit: number;
  /** Raw CIDR list; checked here, parsed by the outbound guard. */
  outboundAllow: string;
  orphanGrace: number;
  eventRetentionCount: number;
  eventRetentionAge: number;
  /** Raw --warm-pool list; checked here, parsed by pool/spec.ts. */
  warmPool: string;
  tlsCert: string;
  tlsKey: string;
  caBundle: string;
  metricsPublic: string;
}

/**
 * Builds the configuration from flags (highest precedence), then environment, then defaults.
 * Throws InputError naming the option for any invalid value or unknown key.
 */
export function loadConfig(flags: Record<string, string | undefined> = {}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const known = new Set(SERVER_OPTIONS.map((o) => o.key as string));
  for (const k of Object.keys(flags)) {
    if (flags[k] !== undefined && !known.has(k)) throw new InputError(`Unknown server option "${k}".`);
  }
  const out: Record<string, unknown> = {};
  for (const o of SERVER_OPTIONS) {
    const raw = flags[o.key] ?? env[o.env] ?? o.default;
    const where = flags[o.key] !== undefined ? o.flag : env[o.env] !== undefined ? o.env : 'default';
    const what = `${o.flag} (${where})`;
    switch (o.kind) {
      case 'duration':
        out[o.key] = parseDuration(raw, what);
        break;
      case 'size':
        out[o.key] = parseSize(raw, what);
        break;
      case 'hostport': {
        const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
        if (!m || Number(m[2]) > 65535) throw new InputError(`${what} must be HOST:PORT, like 127.0.0.1:7420; got "${raw}".`);
        out[o.key] = raw;
        break;
      }
      case 'integer':
        if (!/^[1-9][0-9]{0,8}$/.test(raw)) throw new InputError(`${what} must be a whole number from 1 to 999999999; got "${raw}".`);
        out[o.key] = Number(raw);
        break;
      case 'enum':
        if (!o.choices!.includes(raw)) throw new InputError(`${what} must be one of ${o.choices!.join(', ')}; got "${raw}".`);
        out[o.key] = raw;
        break;
      default:
        out[o.key] = raw;
    }
  }
  const cfg = out as unknown as ServerConfig;
  cfg.dataDir = path.resolve(cfg.dataDir);
  if (cfg.databaseUrl && !/^postgres(ql)?:\/\//.test(cfg.databaseUrl)) {
    throw new InputError('--database-url must start with postgres:// (leave it empty for the embedded SQLite database).');
  }
  if (cfg.publicUrl) {
    try {
      const u = new URL(cfg.publicUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw new InputError(`--public-url must be an http:// or https:// URL; got "${cfg.publicUrl}".`);
    }
    cfg.publicUrl = cfg.publicUrl.replace(/\/+$/, '');
  }
  if (!cfg.tlsCert !== !cfg.tlsKey) throw new InputError('--tls-cert and --tls-key go together: give both to serve HTTPS, or neither for plain HTTP.');
  for (const k of ['tlsCert', 'tlsKey', 'caBundle'] as const) if (cfg[k]) cfg[k] = path.resolve(cfg[k]);
  parseCidrs(cfg.outboundAllow);
  parseWarmPool(cfg.warmPool);
  if (cfg.reconcileInterval < 500) throw new InputError('--reconcile-interval must be at least 500ms.');
  return cfg;
}

/** The configuration with secret values masked, for logs. */
export function redactConfig(cfg: ServerConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...cfg };
  for (const o of SERVER_OPTIONS) if (o.secret && out[o.key]) out[o.key] = '[redacted]';
  return out;
}
