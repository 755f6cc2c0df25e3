/**
 * The app factory wired for HTTP tests without a control plane: an in-memory SQLite store, the
 * shell provisioner, a fresh data dir and the bootstrapped admin. Shared by the unit tests of the
 * app and of the web session, so both test the app the same services build. Test-only: the build
 * (tsconfig.build.json) leaves `test-*.ts` out of dist/, as it does `*.test.ts`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ProvisionerRegistry } from '../provisioners/registry.ts';
import { shellPlugin } from '../provisioners/shell/plugin.ts';
import { SqlStore } from '../store/sql-store.ts';
import { buildApp } from './app.ts';
import { AuthService } from './auth.ts';
import { WorkspaceContexts } from './contexts.ts';
import { EventLog } from './events.ts';
import { createLogger } from './logger.ts';
import { ProjectService } from './projects.ts';
import { ProvisionerService } from './provisioners.ts';
import { SecretBox } from './secrets.ts';
import { TerminalService } from './terminals.ts';
import { SpecCodec, WorkspaceService } from './workspaces.ts';

/** Options of a test app. */
export interface TestAppOptions {
  /** Start of the name of its temporary data dir. */
  prefix: string;
  /** Serve a browser UI made of these files (path under the UI dir → content); without it, no UI routes. */
  web?: Record<string, string>;
  /** Listen on a loopback port, for WebSocket and streaming tests; otherwise requests are only injected. */
  listen?: boolean;
}

/** A test app and the services tests reach behind it. */
export interface TestApp {
  app: FastifyInstance;
  store: SqlStore;
  auth: AuthService;
  events: EventLog;
  codec: SpecCodec;
  /** The data dir (admin credentials, secret key). */
  dir: string;
  /** The UI dir, under `dir`, when `web` was given. */
  webDir: string;
  /** The bootstrapped admin's token. */
  token: string;
  /** Closes the app and the store and removes the data dir. */
  close(): Promise<void>;
}

/** Builds (and with `listen`, starts) an app on a fresh in-memory store. */
export async function startTestApp(o: TestAppOptions): Promise<TestApp> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), o.prefix));
  const webDir = path.join(dir, 'web');
  for (const [file, content] of Object.entries(o.web ?? {})) {
    fs.mkdirSync(path.dirname(path.join(webDir, file)), { recursive: true });
    fs.writeFileSync(path.join(webDir, file), content);
  }
  const store = await SqlStore.create({ kind: 'sqlite', file: ':memory:' });
  const logger = createLogger('silent');
  const box = SecretBox.open(dir);
  const registry = new ProvisionerRegistry({ installation: 'test', dataDir: dir, serverUrl: () => 'http://test', listening: Promise.resolve(), logger });
  registry.register(shellPlugin);
  const provisioners = new ProvisionerService({ store, box, registry, logger });
  await provisioners.restore({ probeBuiltins: false });
  const events = new EventLog(store);
  const codec = new SpecCodec(box);
  const auth = new AuthService(store, 86_400_000);
  const projects = new ProjectService(store);
  const contexts = new WorkspaceContexts({ store, codec, box, serverUrl: () => 'http://test' });
  // No reconciler: a test changes workspaces in the store itself.
  const workspaces = new WorkspaceService({ store, registry, projects, events, codec, reconciler: { kick: () => undefined } });
  const terminals = new TerminalService({ logger, bufferBytes: 1024, idleMs: 1000 });
  const app = await buildApp({
    logger,
    auth,
    projects,
    workspaces,
    registry,
    provisioners,
    contexts,
    events,
    terminals,
    bodyLimit: 1024 * 1024,
    version: 'test',
    ...(o.web ? { web: { box, dir: webDir } } : {}),
  });
  if (o.listen) await app.listen({ host: '127.0.0.1', port: 0 });
  else await app.ready();
  const token = (await auth.bootstrap(dir, 'http://test'))!.token;
  const close = async () => {
    await app.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { app, store, auth, events, codec, dir, webDir, token, close };
}
