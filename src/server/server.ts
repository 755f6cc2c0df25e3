/** The control plane process: wires store, provisioners, reconciler and HTTP together. */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { builtinPlugins } from '../provisioners/plugins.ts';
import { ProvisionerRegistry } from '../provisioners/registry.ts';
import { SqlStore } from '../store/sql-store.ts';
import type { Store } from '../store/store.ts';
import { CertificateAuthority } from '../pki/ca.ts';
import { AgentService } from './agents.ts';
import { buildApp } from './app.ts';
import { AuthService } from './auth.ts';
import { redactConfig, type ServerConfig } from './config.ts';
import { EventLog } from './events.ts';
import { GitGateway } from './git/gateway.ts';
import { GitMirrors } from './git/mirrors.ts';
import { WorkspaceGit } from './git/ops.ts';
import { WorkspaceContexts } from './contexts.ts';
import { notOursWarning, secureDataDir } from './data-dir.ts';
import { createLogger } from './logger.ts';
import { EventRetention } from './event-retention.ts';
import { Orphans } from './orphans.ts';
import { Metrics } from './metrics.ts';
import { OutboundGuard, parseCidrs } from './net/outbound.ts';
import { loadCaBundle, loadTlsFiles } from './tls.ts';
import { ProjectService } from './projects.ts';
import { ProvisionerService } from './provisioners.ts';
import { Reconciler } from './reconciler.ts';
import { mirrorHeads } from './pool/heads.ts';
import { WarmPool } from './pool/pool.ts';
import { parseWarmPool } from './pool/spec.ts';
import { SecretRedactors, storeLoader } from './redact.ts';
import { SecretBox } from './secrets.ts';
import { TerminalService } from './terminals.ts';
import { SpecCodec, WorkspaceService } from './workspaces.ts';
import { PolicyService } from './policy.ts';
import { ActivityTracker } from './activity.ts';
import { TaskService } from './tasks/service.ts';
import { TaskStore } from './tasks/store.ts';

/** Berth's version, from package.json. */
export const VERSION: string = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Optional overrides, for tests. */
export interface ServerOverrides {
  logger?: Logger;
}

/** A running control plane. */
export class BerthServer {
  private constructor(
    readonly config: ServerConfig,
    readonly app: FastifyInstance,
    readonly store: Store,
    readonly reconciler: Reconciler,
    readonly registry: ProvisionerRegistry,
    readonly terminals: TerminalService,
    readonly logger: Logger,
    private readonly orphans: Orphans,
    private readonly retention: EventRetention,
    private urlValue: string,
    /** Set on the first start only: where the admin credentials were written. */
    readonly bootstrap: { file: string; token: string } | null,
  ) {}

  /** URL clients use. */
  get url(): string {
    return this.urlValue;
  }

  /** Opens everything, starts listening and reconciling. */
  static async create(config: ServerConfig, overrides: ServerOverrides = {}): Promise<BerthServer> {
    const secrets = new SecretRedactors();
    const logger = overrides.logger ?? createLogger(config.logLevel, process.stderr, (line) => secrets.redactAll(line));
    const warnOwner = (paths: string[]) => {
      const warning = notOursWarning(paths);
      if (warning) logger.warn({ paths }, warning);
    };
    warnOwner(secureDataDir(config.dataDir));
    // Read before anything is opened: an unreadable certificate fails start-up with a sentence.
    const https = loadTlsFiles(config, logger);
    const caBundle = loadCaBundle(config);
    const box = SecretBox.open(config.dataDir, config.secretKey || undefined);
    const store = await SqlStore.create(config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'sqlite', file: path.join(config.dataDir, 'berth.db') });
    let url = config.publicUrl;
    const listening = Promise.withResolvers<void>();
    const ca = await CertificateAuthority.open(path.join(config.dataDir, 'pki'));
    const agents = new AgentService({ store, box, ca, serverUrl: () => url });
    const registry = new ProvisionerRegistry({
      installation: await ProvisionerService.installationId(store),
      dataDir: config.dataDir,
      serverUrl: () => url,
      listening: listening.promise,
      logger: logger.child({ component: 'provisioners' }),
      agents,
    });
    for (const plugin of builtinPlugins()) registry.register(plugin);
    const codec = new SpecCodec(box);
    secrets.loadWith(storeLoader({ store, codec, box }));
    const keepEvents = { count: config.eventRetentionCount, ageMs: config.eventRetentionAge };
    const events = new EventLog(store, secrets, { retention: keepEvents });
    const retention = new EventRetention({ store, policy: keepEvents, logger: logger.child({ component: 'events' }) });
    const auth = new AuthService(store, config.tokenTtl);
    const guard = new OutboundGuard({ allow: parseCidrs(config.outboundAllow) });
    const outbound = { guard, isAdmin: async (id: string) => (await store.getUser(id))?.role === 'admin' };
    const mirrors = new GitMirrors({ root: path.join(config.dataDir, 'git'), freshnessMs: config.gitFreshness, logger: logger.child({ component: 'git' }), outbound });
    const projects = new ProjectService(store, { box, mirrors, outbound: guard });
    const bodyLimits = { 'receive-pack': config.gitPushLimit, 'upload-pack': config.gitFetchLimit };
    const gateway = new GitGateway({ store, projects, mirrors, logger: logger.child({ component: 'git' }), bodyLimits });
    const contexts = new WorkspaceContexts({ store, codec, box, serverUrl: () => url, git: gateway, caBundle });
    const pool = new WarmPool({ store, registry, contexts, codec, logger: logger.child({ component: 'pool' }), dataDir: config.dataDir, pools: parseWarmPool(config.warmPool), head: mirrorHeads(store, projects, mirrors) });
    const metrics: Metrics = new Metrics({ store, terminals: () => terminals.running(), pool: () => pool.status() });
    const reconciler = new Reconciler({ store, registry, events, contexts, logger: logger.child({ component: 'reconciler' }), intervalMs: config.reconcileInterval, maxAttempts: config.reconcileAttempts, baseBackoffMs: config.reconcileBackoff, metrics, pool });
    const provisioners = new ProvisionerService({ store, box, registry, logger: logger.child({ component: 'provisioners' }) });
    await provisioners.restore({ probeBuiltins: config.localDocker === 'auto' });
    const quotas = new PolicyService(store, () => registry.names());
    const orphans = new Orphans({ store, registry, contexts, logger: logger.child({ component: 'orphans' }), graceMs: config.orphanGrace, reserved: () => pool.reserved() });
    const taskStore = new TaskStore(store.kysely);
    const activity = new ActivityTracker({ store: taskStore, redact: (id, text) => events.redact(id, text), logger: logger.child({ component: 'activity' }) });
    const workspaces = new WorkspaceService({ store, registry, projects, events, codec, reconciler, policy: quotas, activity, pool });
    const terminals = new TerminalService({ logger, bufferBytes: config.terminalBuffer, idleMs: config.terminalIdle, metrics, activity });
    const tasks = new TaskService({ tasks: taskStore, store, projects, workspaces, registry, contexts, activity, fork: async (p, source, name) => (await workspaces.fork(p, source, { name }))[0]!, logger: logger.child({ component: 'tasks' }), startTimeoutMs: 20 * 60_000, pollMs: 250 });
    await tasks.recover();
    const app = await buildApp({ logger, auth, projects, workspaces, registry, contexts, events, terminals, provisioners, agents, policy: quotas, admin: { orphans, store, scratchDir: config.dataDir }, bodyLimit: config.bodyLimit, version: VERSION, git: { gateway, ops: new WorkspaceGit() }, https, tasks, activity, web: { box }, health: { store, provisioners: () => registry.all(), metrics, metricsPublic: config.metricsPublic === 'on' }, publicUrl: () => url });

    const sep = config.listen.lastIndexOf(':');
    const host = config.listen.slice(0, sep).replace(/^\[|\]$/g, '');
    await app.listen({ host, port: Number(config.listen.slice(sep + 1)) });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    if (!url) url = `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    listening.resolve();
    const bootstrap = await auth.bootstrap(config.dataDir, url);
    // Again, now that the database, keys and credentials exist: new files got the umask's mode.
    warnOwner(secureDataDir(config.dataDir));
    // Log lines name no workspace, so every workspace's secrets are known before the reconciler logs.
    await secrets.preload((await store.listWorkspaces()).map((w) => w.id));
    logger.info({ config: redactConfig(config), url, version: VERSION }, 'berth server started');
    await reconciler.start();
    void pool.start().catch((err: unknown) => logger.error({ err }, 'warm pool could not start'));
    orphans.start();
    retention.start();
    const server = new BerthServer(config, app, store, reconciler, registry, terminals, logger, orphans, retention, url, bootstrap);
    server.pool = pool;
    return server;
  }

  /** The warm pool (pool/pool.ts); set once at start. */
  pool: WarmPool | undefined;

  /** Graceful: stops accepting requests, cancels reconciles (they resume on next start), closes connections. */
  async shutdown(): Promise<void> {
    this.terminals.closeAll();
    await this.pool?.shutdown();
    await this.reconciler.shutdown();
    await this.orphans.shutdown();
    await this.retention.shutdown();
    await this.app.close();
    await this.registry.close();
    await this.store.close();
  }
}
