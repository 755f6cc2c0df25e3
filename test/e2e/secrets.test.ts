/**
 * Secret hygiene end to end: a canary in every secret field (workspace token, secret env, secret
 * file, registry password, the project's git password), printed by setup commands, through create →
 * exec → stop → start → delete on shell and docker. Afterwards none of them appears in any API
 * answer, event, log line (at trace level), database row or file in clear, docker label, or file of
 * Berth's own in the workspace.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { BerthClient } from '../../src/sdk/client.ts';
import type { SpecInput } from '../../src/core/spec.ts';
import { TestServer, waitGone, waitPhase } from '../harness.ts';
import { cleanupEngines, inspect, installationOf, testEnv } from '../docker/env.ts';
import { bareUpstream, upstreamRoot } from '../git/fixtures.ts';
import { startUpstream, type UpstreamServer } from '../git/upstream-server.ts';

const tag = crypto.randomBytes(6).toString('hex');
const ENV_CANARY = `envcanary-${tag}`;
/** The secret env value after a spec change. */
const ENV_CANARY_2 = `envcanary2-${tag}`;
const FILE_CANARY = `filecanary-${tag}`;
const GIT_USER = 'carol';
const GIT_PASSWORD = `gitcanary-${tag}`;
const env = testEnv();
// The registry login must really pull, so its canary is the real password, asserted absent like the others.
const login = { registry: env.BERTH_TEST_REGISTRY, username: env.BERTH_TEST_REGISTRY_USER, password: env.BERTH_TEST_REGISTRY_PASSWORD };

/** A client that keeps every answer body (and error message) it received. */
class RecordingClient extends BerthClient {
  readonly bodies: string[] = [];
  override async request<T>(method: string, p: string, body?: unknown): Promise<T> {
    try {
      const r = await super.request<T>(method, p, body);
      this.bodies.push(JSON.stringify(r) ?? '');
      return r;
    } catch (err) {
      this.bodies.push((err as Error).message);
      throw err;
    }
  }
}

let server: TestServer;
let upstream: UpstreamServer;
let root: string;
let c: RecordingClient;
/** Every workspace token seen inside a workspace; each is rotated on provision. */
const tokens: string[] = [];
/** Text Berth wrote that the test read along the way (events, .berth files, labels). */
const seen: { where: string; text: string }[] = [];

before(async () => {
  root = upstreamRoot();
  bareUpstream(root, 'app');
  upstream = await startUpstream(root, GIT_USER, GIT_PASSWORD);
  server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'trace' } });
  c = new RecordingClient(server.url, server.adminToken);
  await c.createProject({ name: 'app', repo: `${upstream.url}/app.git`, credentials: { username: GIT_USER, password: GIT_PASSWORD } });
});

after(async () => {
  const installation = server ? installationOf(server) : '';
  await server?.stop();
  if (installation) cleanupEngines(installation);
  await upstream?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Each canary, named, for messages that say which one leaked. */
function canaries(): [string, string][] {
  return [
    ['secret env', ENV_CANARY],
    ['secret env after the spec change', ENV_CANARY_2],
    ['secret env in base64', Buffer.from(ENV_CANARY).toString('base64')],
    ['secret file', FILE_CANARY],
    ['git password', GIT_PASSWORD],
    ['registry password', login.password],
    ...tokens.map((t, i): [string, string] => [`workspace token ${i + 1}`, t]),
  ];
}

function assertClean(where: string, text: string): void {
  for (const [name, value] of canaries()) assert.ok(!text.includes(value), `the ${name} appears in ${where}`);
}

/** Every row of every table of the SQLite database, as text. */
function dumpDatabase(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[];
    return tables.map((t) => `${t.name}: ${JSON.stringify(db.prepare(`select * from "${t.name}"`).all())}`).join('\n');
  } finally {
    db.close();
  }
}

/** Runs a command in the workspace and returns its stdout; fails on a non-zero exit. */
async function sh(ws: string, script: string): Promise<string> {
  const r = await c.run(ws, ['sh', '-c', script]);
  assert.equal(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout;
}

async function readToken(ws: string): Promise<void> {
  const t = (await sh(ws, 'echo $BERTH_WORKSPACE_TOKEN')).trim();
  assert.match(t, /^berth_w_/);
  tokens.push(t);
}

async function lifecycle(name: string, provisioner: 'shell' | 'docker'): Promise<void> {
  const spec: SpecInput = {
    ...(provisioner === 'docker' ? { image: env.BERTH_TEST_IMAGE_PRIVATE, registryLogins: [login] } : {}),
    env: [{ name: 'SECRET_CANARY', value: ENV_CANARY, secret: true }],
    files: [{ path: '/workspace/secret.txt', content: `${FILE_CANARY}\n`, secret: true }],
    setup: ['echo token=$BERTH_WORKSPACE_TOKEN; echo env=$SECRET_CANARY; cat ../secret.txt', 'printf %s "$SECRET_CANARY" | base64; echo "url=$(printf %s "$BERTH_WORKSPACE_TOKEN")"'],
  };
  const created = await c.createWorkspace({ name, project: 'app', provisioner, spec });
  const shown = created.spec as { files: { content: string | null; secret: boolean }[]; env: { value: string | null }[] };
  assert.deepEqual(shown.files.map((f) => [f.content, f.secret]), [[null, true]], 'a secret file is shown without its content');
  assert.deepEqual(shown.env.map((e) => e.value), [null]);
  await waitPhase(c, name, 'running', 180_000);
  await readToken(name);

  // The secret file reached the workspace, readable by its user only.
  assert.equal(await sh(name, 'cat ../secret.txt'), `${FILE_CANARY}\n`);
  assert.equal((await sh(name, 'stat -c %a ../secret.txt')).trim(), '600');
  // The setup output did run (its lines are in the events), with the secrets replaced.
  const events = await c.events(name);
  const text = events.map((e) => e.message).join('\n');
  assert.match(text, /token=\[secret\]/);
  assert.match(text, /env=\[secret\]/);
  seen.push({ where: `${name}'s events after create`, text });

  await c.stopWorkspace(name);
  await waitPhase(c, name, 'stopped', 120_000);
  await c.startWorkspace(name);
  await waitPhase(c, name, 'running', 180_000);
  await readToken(name);

  // A spec change brings a new secret value; the setup that prints it again shows it replaced.
  const before = (await c.events(name)).length;
  await c.updateWorkspace(name, { env: [{ name: 'SECRET_CANARY', value: ENV_CANARY_2, secret: true }] });
  await waitPhase(c, name, 'running', 180_000);
  await readToken(name);
  assert.equal((await sh(name, 'echo $SECRET_CANARY')).trim(), ENV_CANARY_2);
  const afterChange = (await c.events(name)).slice(before).map((e) => e.message).join('\n');
  assert.match(afterChange, /env=\[secret\]/);
  seen.push({ where: `${name}'s events after the spec change`, text: afterChange });

  // Berth's own files in the workspace hold no secret (the git credential helper reads the token from the environment).
  seen.push({ where: `${name}'s .berth files`, text: await sh(name, 'find /workspace/.berth -type f -exec cat {} + 2>/dev/null; true') });
  const w = await c.getWorkspace(name);
  if (provisioner === 'docker') {
    const container = inspect<{ Config: { Labels: Record<string, string> } }>('container', `berth-${w.id}`);
    assert.ok(container, 'the container exists');
    seen.push({ where: `${name}'s container labels`, text: JSON.stringify(container.Config.Labels) });
    for (const v of ['volume', 'container'] as const) {
      const o = inspect<{ Labels?: Record<string, string>; Config?: { Labels: Record<string, string> } }>(v, `berth-${w.id}`);
      if (o) seen.push({ where: `${name}'s ${v} labels`, text: JSON.stringify(o.Labels ?? o.Config?.Labels ?? {}) });
    }
  }
  seen.push({ where: `${name}'s events`, text: JSON.stringify(await c.events(name)) });
  // An error answer about the workspace that quotes a secret (a path named after one) shows it replaced.
  const refused = await c.gitPaths(name, 'stage', { paths: [`${ENV_CANARY}.txt`] }).then(
    () => assert.fail('staging a missing path succeeded'),
    (err: Error) => err.message,
  );
  assert.match(refused, /\[secret\]\.txt/);
  // A client that puts secrets where they do not belong (a URL path, logged with every request): the log line must not show them.
  for (const v of [ENV_CANARY, tokens.at(-1)!]) {
    const res = await fetch(`${server.url}/api/v1/workspaces/${v}`, { headers: { authorization: `Bearer ${server.adminToken}` } });
    assert.ok(res.status >= 400 && res.status < 500);
  }
  seen.push({ where: 'the database while running', text: dumpDatabase(path.join(server.dataDir, 'berth.db')) });

  await c.deleteWorkspace(name);
  await waitGone(c, name, 120_000);
}

test('shell: a full lifecycle leaves no secret in clear', async () => {
  await lifecycle('sec-shell', 'shell');
});

test('docker: a full lifecycle with a private image leaves no secret in clear', async () => {
  await lifecycle('sec-docker', 'docker');
});

test('no canary in API answers, events, labels, workspace files, the log at trace level or the database', async () => {
  assert.ok(tokens.length >= 4, 'tokens were read from both workspaces, before and after a restart');
  assert.ok(seen.length > 0 && c.bodies.length > 10);
  for (const s of seen) assertClean(s.where, s.text);
  c.bodies.forEach((b, i) => assertClean(`API answer ${i + 1}`, b));
  // The log is meaningful: trace lines of both workspaces' lifecycles were written.
  assert.match(server.logs, /"level":"(trace|debug)"/);
  assert.match(server.logs, /workspace deleted/);
  assertClean('the server log', server.logs);
  assert.match(server.logs, /"url":"\/api\/v1\/workspaces\/\[secret\]"/, 'the requests with secrets in their path were logged, redacted');

  await server.stop({ keep: true });
  assertClean('the database after shutdown', dumpDatabase(path.join(server.dataDir, 'berth.db')));
  // Raw bytes too: free pages and the write-ahead log keep what rows no longer show.
  for (const f of fs.readdirSync(server.dataDir).filter((n) => n.startsWith('berth.db'))) {
    assertClean(`the file ${f}`, fs.readFileSync(path.join(server.dataDir, f), 'latin1'));
  }
});
