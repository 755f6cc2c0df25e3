/**
 * Every API surface under fire: each route of the server's OpenAPI document, the git smart-HTTP
 * endpoints, the WebSocket upgrades and the probes (/healthz, /readyz, /metrics) get at least 30 malformed or hostile requests (wrong JSON
 * types, missing and extra fields, huge strings, NUL and control characters, path traversal,
 * confusables, `__proto__` keys, wrong content types, bad tokens, other users' ids, oversized
 * bodies, bad query parameters). None may answer 5xx or hang, and the store's tables, the mirror's
 * refs and the upstream's refs must be exactly as before. The route list comes from
 * /api/v1/openapi.json, so a new route is covered without touching this file; the random part is
 * fast-check with a fixed seed (BERTH_HOSTILE_SEED overrides it; the seed is printed).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import WebSocket from 'ws';
import { TestServer, makeRepo, waitPhase } from '../harness.ts';
import { createThrowawayDatabase, query, type ThrowawayDatabase } from '../store/databases.ts';

const SEED = Number(process.env.BERTH_HOSTILE_SEED ?? 20261130);
const MIN_PER_SURFACE = 30;
const TIMEOUT_MS = 15_000;
/** BERTH_HOSTILE_TRACE=<regex> prints the requests whose "METHOD path [label]" matches, with their answers. */
const TRACE = process.env.BERTH_HOSTILE_TRACE ? new RegExp(process.env.BERTH_HOSTILE_TRACE) : undefined;

let server: TestServer;
let repo: string;
/** The PostgreSQL database of the run on postgres. */
let db: ThrowawayDatabase | undefined;
/** Tokens of the cast: the admin, a plain user, a workspace, a revoked and an expired user token. */
const tokens: Record<'admin' | 'bob' | 'ws' | 'revoked' | 'expired', string> = { admin: '', bob: '', ws: '', revoked: '', expired: '' };
/** Ids of things that exist, for "other users' ids". */
const ids = { mine: '', other: '', adminToken: '' };

/** Starts a server on `database` with the cast: a project, two running workspaces, bob, and revoked and expired tokens. */
async function setUp(database: 'sqlite' | 'postgres'): Promise<void> {
  db = database === 'postgres' ? await createThrowawayDatabase() : undefined;
  server = await TestServer.start(db ? { args: ['--database-url', db.url] } : {});
  repo = makeRepo({ 'README.md': '# hostile\n' });
  const admin = server.client();
  await admin.createProject({ name: 'demo', repo });
  const mine = await admin.createWorkspace({ name: 'mine', project: 'demo', provisioner: 'shell' });
  const other = await admin.createWorkspace({ name: 'other', project: 'demo', provisioner: 'shell' });
  ids.mine = mine.id;
  ids.other = other.id;
  await waitPhase(admin, mine.id, 'running');
  await waitPhase(admin, other.id, 'running');
  tokens.admin = server.adminToken;
  tokens.bob = (await admin.createUser('bob')).token;
  tokens.ws = (await admin.run(mine.id, ['printenv', 'BERTH_WORKSPACE_TOKEN'])).stdout.trim();
  const revoked = await admin.createToken('revoked');
  await admin.revokeToken(revoked.info.id);
  tokens.revoked = revoked.token;
  tokens.expired = (await admin.createToken('expired', '1s')).token;
  ids.adminToken = (await admin.listTokens())[0]!.id;
  accepted.length = 0;
  // The expired token must have expired before the first request.
  await new Promise((r) => setTimeout(r, 1100));
  process.stdout.write(`hostile suite on ${database}: fast-check seed ${SEED} (set BERTH_HOSTILE_SEED to replay another)\n`);
}

async function tearDown(): Promise<void> {
  await server?.stop();
  await db?.drop();
  if (repo) fs.rmSync(repo, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// What counts as state: every store table (events and an audit log excepted: reading them is not
// what a hostile request may change, but recording a refusal is allowed), the mirror's and the
// upstream's refs.

/** The store's tables as JSON, the mirrors' refs and the upstream's refs. */
async function snapshot(): Promise<string> {
  const state: Record<string, unknown> = {};
  // Workspace activity is what the set-up's own exec did, written in the background seconds later.
  const keep = (name: string) => name !== 'events' && name !== 'workspace_activity' && !/audit/.test(name);
  if (db) {
    const url = db.url;
    const tables = await query<{ table_name: string }>(url, "select table_name from information_schema.tables where table_schema = 'public' order by table_name");
    for (const { table_name: name } of tables.filter((t) => keep(t.table_name))) state[name] = await query(url, `select * from "${name}" order by 1, 2`);
  } else {
    const sqlite = new Database(path.join(server.dataDir, 'berth.db'), { readonly: true, fileMustExist: true });
    try {
      const tables = sqlite.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name").all() as { name: string }[];
      for (const { name } of tables.filter((t) => keep(t.name))) state[name] = sqlite.prepare(`select * from "${name}" order by 1, 2`).all();
    } finally {
      sqlite.close();
    }
  }
  // Phases and attempts move with the reconciler, not with requests.
  state.workspaces = (state.workspaces as Record<string, unknown>[]).map(({ phase: _p, message: _m, status_json: _s, attempts: _a, next_attempt_at: _n, updated_at: _u, ...w }) => w);
  const refs = (dir: string) => execFileSync('git', ['-C', dir, 'for-each-ref', '--format=%(refname) %(objectname)'], { encoding: 'utf8' });
  const mirrors = path.join(server.dataDir, 'git');
  state.mirrors = fs.existsSync(mirrors) ? fs.readdirSync(mirrors).filter((d) => d.endsWith('.git')).sort().map((d) => [d, refs(path.join(mirrors, d))]) : [];
  state.upstream = refs(repo);
  return JSON.stringify(state, null, 1);
}

// ---------------------------------------------------------------------------------------------
// Sending.

interface Hostile {
  /** What the request tries, for the failure list. */
  label: string;
  method: string;
  /** Path and query, already encoded as they go on the wire. */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

interface Answer {
  status: number;
  body: string;
}

/** Sends one request as written (no URL normalization, so `..` reaches the server), on a connection of its own. */
function send(h: Hostile): Promise<Answer> {
  return new Promise((resolve) => {
    const u = new URL(server.url);
    const req = http.request({ host: u.hostname, port: u.port, method: h.method, path: h.path, headers: h.headers, timeout: TIMEOUT_MS, agent: false }, (res) => {
      // A stream that started (the workspace list stream) is an answer: it does not end by itself.
      if (res.statusCode === 200 && res.headers['content-type'] === 'application/x-ndjson') {
        resolve({ status: 200, body: '' });
        req.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 400) }));
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, body: `response broke: ${err.message}` }));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ status: -1, body: `no answer within ${TIMEOUT_MS} ms` });
    });
    // The server may answer (413, 401) and close before reading an oversized body: that is an answer.
    req.on('error', (err) => resolve({ status: -2, body: `connection failed: ${err.message}` }));
    if (h.body !== undefined) req.end(h.body);
    else req.end();
  });
}

/** Requests other than GET that were answered 2xx: what to look at when the state changed. */
const accepted: string[] = [];

/** Sends every request, a few at a time; returns the failures (5xx, hang, broken connection without an answer). */
async function fire(all: Hostile[]): Promise<string[]> {
  const failures: string[] = [];
  for (let i = 0; i < all.length; i += 4) {
    const batch = all.slice(i, i + 4);
    const answers = await Promise.all(batch.map(send));
    answers.forEach((a, j) => {
      const h = batch[j]!;
      // An oversized upload may be cut off once the server has refused it; any other broken connection is a failure.
      const cutOff = a.status === -2 && h.body !== undefined && h.body.length > 1024 * 1024;
      if (TRACE?.test(`${h.method} ${h.path} [${h.label}]`)) process.stdout.write(`${h.method} ${h.path.slice(0, 120)} [${h.label}] → ${a.status} ${a.body.slice(0, 200)}\n`);
      if (h.method !== 'GET' && a.status >= 200 && a.status < 300) accepted.push(`${h.method} ${h.path.slice(0, 120)} [${h.label}] ${String(h.body ?? '').slice(0, 120)} → ${a.status}`);
      if ((a.status >= 500 || a.status < 0) && !cutOff) failures.push(`${h.method} ${h.path.slice(0, 160)} [${h.label}] → ${a.status} ${a.body.slice(0, 300)}`);
      // An answer is a sentence, never a stack trace.
      else if (/\n\s+at \S+ \(|\\n\s+at \S+ \(/.test(a.body)) failures.push(`${h.method} ${h.path.slice(0, 160)} [${h.label}] → a stack trace: ${a.body.slice(0, 300)}`);
    });
  }
  return failures;
}

// ---------------------------------------------------------------------------------------------
// Hostile values.

const HUGE = 'A'.repeat(100_000);
/** Strings that must never be taken as a name, a path or a reference. */
const HOSTILE_STRINGS = [
  '../../etc/passwd',
  '..',
  '.',
  'a\u0000b',
  '\u0000',
  'x\u001b[31mred',
  'line\r\nX-Injected: 1',
  ' ',
  '\u0430dmin', // Cyrillic а
  '\uff44\uff45\uff4d\uff4f', // fullwidth "demo"
  'demo\u200b',
  '__proto__',
  'constructor',
  '-rf',
  '--upload-pack=touch /tmp/berth-hostile',
  '$(id)',
  '\\..\\..\\windows',
  '/etc/passwd',
  'x'.repeat(300),
  '😀',
];
/** Path segments as they go on the wire, some percent-encoded and some raw. */
const HOSTILE_SEGMENTS = [
  ...HOSTILE_STRINGS.map(encodeURIComponent),
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e',
  '%zz',
  '%',
  '%C0%AE%C0%AE', // overlong UTF-8 dots
  '%ED%A0%80', // a lone surrogate
  '..%00',
  'A'.repeat(20_000), // beyond the server's URL limit
];
const NAMES_THAT_EXIST = new Set(['demo', 'admin', 'bob', 'mine', 'other', 'shell', 'docker', 'kubernetes', 'agent']);

/** Random hostile strings and JSON, reproducible from the seed. */
function randomStrings(n: number, salt: number): string[] {
  const arb = fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom(...HOSTILE_STRINGS), fc.string({ maxLength: 10 }).map((s) => `../${s}`));
  return fc.sample(arb, { seed: SEED + salt, numRuns: n }).filter((s) => !NAMES_THAT_EXIST.has(s));
}
/** Random JSON objects whose keys no schema declares (so none is a valid body), with hostile values. */
function randomBodies(n: number, salt: number): string[] {
  const key = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', '', '\u0000', '../x', 'a'.repeat(1000)), fc.string({ minLength: 1, maxLength: 12 }).map((s) => `zz${s}`));
  const arb = fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { minKeys: 1, maxKeys: 5 });
  return fc.sample(arb, { seed: SEED + salt, numRuns: n }).map((o) => JSON.stringify(o));
}

// ---------------------------------------------------------------------------------------------
// The routes, from the OpenAPI document.

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  items?: JsonSchema;
  $ref?: string;
}

interface Route {
  method: string;
  template: string;
  pathParams: string[];
  queryParams: string[];
  body?: JsonSchema;
  websocket: boolean;
}

async function routes(): Promise<Route[]> {
  const res = await fetch(`${server.url}/api/v1/openapi.json`, { headers: { authorization: `Bearer ${tokens.admin}` } });
  const doc = (await res.json()) as { paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; requestBody?: { content: Record<string, { schema: JsonSchema }> } }>> };
  const out: Route[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const params = op.parameters ?? [];
      out.push({
        method: method.toUpperCase(),
        template,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.in === 'query').map((p) => p.name),
        ...(op.requestBody ? { body: op.requestBody.content['application/json']?.schema ?? {} } : {}),
        websocket: params.some((p) => p.in === 'header' && p.name.toLowerCase() === 'upgrade'),
      });
    }
  }
  return out;
}

/** The real value of a path parameter: something of the admin's, so other callers reach what is not theirs. */
function realParam(template: string, param: string, caller: keyof typeof tokens): string {
  if (param === 'ref') return caller === 'ws' ? ids.other : ids.mine;
  if (param === 'id') return ids.adminToken;
  if (param === 'user') return 'bob';
  if (template.startsWith('/api/v1/users/')) return 'admin';
  if (template.startsWith('/api/v1/provisioners/')) return 'shell';
  if (template.startsWith('/api/v1/agents/')) return 'ghost';
  return 'demo';
}

function fill(r: Route, caller: keyof typeof tokens, override: Record<string, string> = {}): string {
  return r.template.replace(/\{(\w+)\}/g, (_m, p: string) => override[p] ?? encodeURIComponent(realParam(r.template, p, caller)));
}

/** Values of fields that name things which exist, so that a body valid but for one hostile field reaches the handler. */
const REAL_VALUES: Record<string, string> = { project: 'demo', provisioner: 'shell', name: 'hostile-new', user: 'bob' };

/** A plausible value of a schema (the first choice of a union or enum), to build bodies that are valid but for one field. */
function sample(s: JsonSchema | undefined, top = false, key = ''): unknown {
  if (top && REAL_VALUES[key] && JSON.stringify(s ?? {}).includes('"string"')) return REAL_VALUES[key];
  if (!s) return 'x';
  if (s.enum) return s.enum[0];
  if (s.anyOf) return sample(s.anyOf.find((a) => a.type !== 'null') ?? s.anyOf[0], top, key);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'object':
      return Object.fromEntries((s.required ?? []).map((k) => [k, sample(s.properties?.[k], top && key === '', k)]));
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return false;
    default:
      return 'x';
  }
}

/**
 * Copies of `value` (shaped by `s`) with one string somewhere inside, down to `depth` levels of
 * objects and arrays, replaced by `bad`: a NUL in spec.env[0].value, spec.files[0].path, ….
 */
function withBadLeaf(s: JsonSchema | undefined, bad: string, depth = 3, top = true): { where: string; value: unknown }[] {
  if (!s || depth < 0) return [];
  const union = s.anyOf?.find((a) => a.type === 'object' || a.type === 'array');
  if (union) return withBadLeaf(union, bad, depth, top);
  if (s.type === 'object' && s.properties) {
    const base = sample(s, top) as Record<string, unknown>;
    return Object.entries(s.properties).flatMap(([k, p]) => {
      const leafs = typesOf(p).has('string') && !p.enum ? [{ where: k, value: bad }] : withBadLeaf(p, bad, depth - 1, false).map((l) => ({ where: `${k}.${l.where}`, value: l.value }));
      return leafs.map((l) => ({ where: l.where, value: { ...base, [k]: l.value } }));
    });
  }
  if (s.type === 'array' && s.items) {
    if (typesOf(s.items).has('string') && !s.items.enum) return [{ where: '0', value: [bad] }];
    return withBadLeaf(s.items, bad, depth - 1, false).map((l) => ({ where: `0.${l.where}`, value: [l.value] }));
  }
  return [];
}

/** The JSON types `s` accepts at its top (through unions); empty when it says nothing. */
function typesOf(s: JsonSchema | undefined): Set<string> {
  const out = new Set<string>();
  for (const t of [s?.type ?? []].flat()) out.add(t === 'integer' ? 'number' : t);
  for (const a of s?.anyOf ?? []) typesOf(a).forEach((t) => out.add(t));
  for (const e of s?.enum ?? []) out.add(typeof e);
  return out;
}

/** A value of a JSON type `s` does not accept, or undefined when it accepts any. */
function wrongType(s: JsonSchema | undefined): unknown {
  const allowed = typesOf(s);
  if (allowed.size === 0) return undefined;
  const candidates: [string, unknown][] = [['object', { nested: { deeper: [1, 2, 3] } }], ['string', 'not-the-right-type'], ['number', 12345], ['boolean', true], ['array', [1]]];
  return candidates.find(([t]) => !allowed.has(t))?.[1];
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

/** At least MIN_PER_SURFACE hostile requests for one route. */
function hostileFor(r: Route, routeIndex: number): Hostile[] {
  const out: Hostile[] = [];
  const template = r.body ? (sample(r.body, true) as Record<string, unknown>) : undefined;
  const validBody = r.body ? JSON.stringify(template) : undefined;
  const add = (label: string, p: { caller?: keyof typeof tokens; headers?: Record<string, string>; path?: string; body?: string | Buffer; contentType?: string | null }) => {
    const headers: Record<string, string> = { ...(p.headers ?? bearer(tokens[p.caller ?? 'admin'])) };
    const body = p.body ?? validBody;
    if (body !== undefined && p.contentType !== null) headers['content-type'] = p.contentType ?? 'application/json';
    out.push({ label, method: r.method, path: p.path ?? fill(r, p.caller ?? 'admin'), headers, ...(body !== undefined ? { body } : {}) });
  };
  const hasParams = r.pathParams.length > 0;
  /** A path that no handler can act on, for requests whose other parts are not certain to be refused. */
  const refusedPath = () => (hasParams ? fill(r, 'admin', Object.fromEntries(r.pathParams.map((p) => [p, '..%2F..']))) : fill(r, 'admin'));

  // Credentials: none, malformed, unknown, revoked, expired, not a bearer, huge; other users' and a workspace's tokens on the admin's things.
  add('no credentials', { headers: {} });
  add('empty bearer', { headers: { authorization: 'Bearer ' } });
  add('malformed token', { headers: bearer('hello') });
  add('unknown well-formed token', { headers: bearer(`berth_u_${'A'.repeat(43)}`) });
  add('revoked token', { headers: bearer(tokens.revoked) });
  add('expired token', { headers: bearer(tokens.expired) });
  add('basic auth with junk', { headers: { authorization: `Basic ${Buffer.from('\u0000:\u0000').toString('base64')}` } });
  add('huge authorization header', { headers: { authorization: `Bearer ${'x'.repeat(12_000)}` } });
  add('a token of the wrong scheme', { headers: { authorization: `Digest ${tokens.admin}` } });
  if (hasParams || r.method === 'GET') {
    add("another user's token on the admin's things", { caller: 'bob' });
    add("a workspace token on another workspace's things", { caller: 'ws' });
  }

  // Path parameters: traversal, NUL, control characters, confusables, prototype keys, oversized, random.
  if (hasParams) {
    for (const param of r.pathParams) {
      for (const seg of HOSTILE_SEGMENTS) add(`path ${param}=${seg.slice(0, 30)}`, { path: fill(r, 'admin', { [param]: seg }) });
    }
    for (const s of randomStrings(12, routeIndex)) add(`random path ${r.pathParams[0]}`, { path: fill(r, 'admin', { [r.pathParams[0]!]: encodeURIComponent(s) }) });
  }

  // Query parameters: unknown, repeated, hostile values for the declared ones, oversized.
  const queries = [
    `?__proto__[admin]=true`,
    `?constructor=x&constructor=y`,
    `?${'q'.repeat(9000)}=1`,
    `?a=%00`,
    ...r.queryParams.flatMap((q) => [`?${q}=${encodeURIComponent('\u0000')}`, `?${q}=-1`, `?${q}=${encodeURIComponent('../..')}`, `?${q}=1&${q}=2`, `?${q}=${'9'.repeat(400)}`]),
  ];
  // A route that reads no query ignores unknown parameters, as HTTP servers do: a request other than
  // GET carries them with a refused path or body, or without credentials.
  const withQuery = (label: string, q: string) => {
    if (r.method === 'GET') add(label, { path: fill(r, 'admin') + q });
    else if (hasParams) add(label, { path: refusedPath() + q });
    else if (r.body) add(label, { path: fill(r, 'admin') + q, body: '{"zzUnknown":1}' });
    else add(`${label} (no credentials)`, { headers: {}, path: fill(r, 'admin') + q });
  };
  for (const q of queries) withQuery(`query ${q.slice(0, 30)}`, q);
  for (const s of randomStrings(10, routeIndex + 1000)) withQuery('random query', `?${encodeURIComponent(s)}=${encodeURIComponent(s)}`);

  // Bodies the parser refuses whatever the route: invalid JSON, wrong content types, oversized, prototype keys.
  const parseLevel = (label: string, body: string | Buffer, contentType?: string) => add(label, { path: hasParams ? refusedPath() : fill(r, 'admin'), body, ...(contentType ? { contentType } : {}) });
  parseLevel('invalid JSON', '{"name": ');
  parseLevel('JSON with a NUL byte outside strings', '{"a":1}\u0000');
  parseLevel('text/plain body', 'name=x', 'text/plain');
  parseLevel('form body', 'name=x&role=admin', 'application/x-www-form-urlencoded');
  parseLevel('multipart body', '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--\r\n', 'multipart/form-data; boundary=b');
  parseLevel('__proto__ key', '{"__proto__":{"role":"admin"}}');
  parseLevel('constructor.prototype key', '{"constructor":{"prototype":{"role":"admin"}}}');
  parseLevel('oversized body', Buffer.alloc(3 * 1024 * 1024, 0x20));

  // Bodies the schema refuses: wrong top-level types, missing and extra fields, hostile values per field.
  if (r.body) {
    for (const v of ['[]', '1', '"s"', 'null', 'true', `${'['.repeat(5000)}${']'.repeat(5000)}`]) add(`body ${v.slice(0, 10)}`, { body: v });
    const base = template ?? {};
    add('unknown field', { body: JSON.stringify({ ...base, zzUnknown: 1 }) });
    for (const k of r.body.required ?? []) {
      add(`missing ${k}`, { body: JSON.stringify(Object.fromEntries(Object.entries(base).filter(([key]) => key !== k))) });
    }
    for (const [k, s] of Object.entries(r.body.properties ?? {})) {
      const wrong = wrongType(s);
      if (wrong !== undefined) add(`${k} of the wrong type`, { body: JSON.stringify({ ...base, [k]: wrong }) });
      if (JSON.stringify(s).includes('"string"')) {
        // Each would be stored or reach a process if accepted: NUL, control characters, oversized, traversal.
        for (const v of ['a\u0000b', 'x\u001b]0;owned\u0007', HUGE, '../../../../etc/passwd\u0000']) add(`${k}=${JSON.stringify(v).slice(0, 20)}`, { body: JSON.stringify({ ...base, [k]: v }) });
      }
    }
    // A NUL anywhere inside: in a name, a path, an env value or a command it would reach a process or the database.
    for (const { where, value } of withBadLeaf(r.body, 'nul\u0000here').filter((l) => l.where.includes('.'))) add(`NUL in ${where}`, { body: JSON.stringify(value) });
    for (const b of randomBodies(10, routeIndex + 2000)) add('random body', { body: b });
    add('a body without a content type', { body: validBody ?? '{}', contentType: null, path: refusedPath() });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The git gateway and the WebSocket routes, which the OpenAPI document does not describe as JSON.

function gitHostile(): { surface: string; requests: Hostile[] }[] {
  const auth = (t: string) => ({ authorization: `Basic ${Buffer.from(`x:${t}`).toString('base64')}` });
  const surfaces = [
    { surface: 'GET /git/{repo}/info/refs', method: 'GET', tail: '/info/refs?service=git-upload-pack' },
    { surface: 'POST /git/{repo}/git-upload-pack', method: 'POST', tail: '/git-upload-pack' },
    { surface: 'POST /git/{repo}/git-receive-pack', method: 'POST', tail: '/git-receive-pack' },
  ];
  // A push of a ref update with no pack, as a client that knows nothing would send it.
  const zero = '0'.repeat(40);
  const update = (line: string) => `${(line.length + 4).toString(16).padStart(4, '0')}${line}`;
  const pushBody = `${update(`${zero} ${'1'.repeat(40)} refs/heads/main\u0000report-status`)}0000`;
  return surfaces.map(({ surface, method, tail }, i) => {
    const requests: Hostile[] = [];
    const add = (label: string, repoSeg: string, headers: Record<string, string>, body?: string | Buffer, t = tail) => {
      const ct: Record<string, string> = method === 'POST' ? { 'content-type': `application/x-${t.includes('receive') ? 'git-receive-pack' : 'git-upload-pack'}-request` } : {};
      requests.push({ label, method, path: `/git/${repoSeg}${t}`, headers: { ...ct, ...headers }, ...(body !== undefined ? { body } : {}) });
    };
    const body = method === 'POST' ? (tail.includes('receive') ? pushBody : '0032want ' + 'f'.repeat(40) + '\n00000009done\n') : undefined;
    for (const seg of HOSTILE_SEGMENTS) add(`repo ${seg.slice(0, 30)}`, `${seg}.git`, auth(tokens.admin), body);
    add('traversal out of the git root', '..%2F..%2F..%2Fetc', auth(tokens.admin), body);
    add('a repository path with a dot-dot', 'demo.git/..', auth(tokens.admin), body);
    for (const [label, h] of [
      ['no credentials', {}],
      ['malformed token', auth('hello')],
      ['revoked token', auth(tokens.revoked)],
      ['expired token', auth(tokens.expired)],
      ['bearer garbage', bearer('x'.repeat(5000))],
      ['basic that is not base64', { authorization: 'Basic %%%' }],
      ["another user's token", auth(tokens.bob)],
      ['a workspace token', auth(tokens.ws)],
    ] as const) {
      add(label, 'demo.git', h, body);
    }
    if (method === 'GET') {
      for (const q of ['', '?service=git-evil', '?service=git-upload-pack%00', `?service=${'x'.repeat(9000)}`, '?service=git-receive-pack&service=git-upload-pack']) {
        add(`service ${q.slice(0, 30)}`, 'demo.git', auth(tokens.bob), undefined, `/info/refs${q}`);
      }
    } else {
      for (const b of ['', 'garbage', 'ffff' + 'x'.repeat(100), '0000', '0004', update('\u0000\u0000\u0000'), Buffer.alloc(64, 0xff)]) add(`body ${JSON.stringify(b).slice(0, 20)}`, 'demo.git', auth(tokens.bob), b);
      add('oversized body', 'demo.git', auth(tokens.bob), Buffer.alloc(20 * 1024 * 1024, 0x30));
      add('gzip that is not', 'demo.git', { ...auth(tokens.bob), 'content-encoding': 'gzip' }, 'not gzip at all');
      for (const s of randomStrings(6, 3000 + i)) add('random body', 'demo.git', auth(tokens.bob), s);
    }
    return { surface, requests };
  });
}

/** What happened to one WebSocket attempt: an HTTP answer instead of an upgrade, or the messages and close code. */
function wsAttempt(pathAndQuery: string, opts: { token?: string; protocol?: string; first?: string | Buffer }): Promise<{ ok: boolean; what: string }> {
  return new Promise((resolve) => {
    const url = `${server.url.replace(/^http/, 'ws')}${pathAndQuery}`;
    const headers = opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` };
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, opts.protocol ? [opts.protocol] : [], { headers, handshakeTimeout: TIMEOUT_MS });
    } catch (err) {
      return resolve({ ok: true, what: `client refused to send: ${(err as Error).message}` });
    }
    const messages: string[] = [];
    const timer = setTimeout(() => {
      socket.terminate();
      // A socket left open with nothing started is the server waiting for a valid first message: fine.
      resolve({ ok: true, what: `open, waiting: ${messages.join(' | ').slice(0, 200)}` });
    }, 5_000);
    socket.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      resolve({ ok: (res.statusCode ?? 0) < 500, what: `HTTP ${res.statusCode}` });
      socket.terminate();
    });
    socket.on('open', () => {
      if (opts.first !== undefined) socket.send(opts.first);
    });
    socket.on('message', (d: Buffer) => messages.push(d.toString('utf8').slice(0, 300)));
    socket.on('close', (code) => {
      clearTimeout(timer);
      const internal = messages.some((m) => /"code":"internal"|Internal error/.test(m));
      resolve({ ok: !internal && code !== 1011, what: `closed ${code}: ${messages.join(' | ').slice(0, 300)}` });
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: !/50\d/.test(err.message), what: `error: ${err.message}` });
    });
  });
}

async function wsHostile(r: Route): Promise<{ count: number; failures: string[] }> {
  const firsts: (string | Buffer)[] = [
    'not json',
    '[]',
    'null',
    '"cmd"',
    '{"cmd":"id"}',
    '{"cmd":[1,2,3]}',
    '{"cmd":["true\\u0000"]}',
    '{"cmd":["printenv"],"env":{"A\\u0000":"b"}}',
    '{"cmd":["printenv"],"env":{"A":"b\\u0000"}}',
    '{"cmd":["printenv"],"env":{"__proto__":"x"}}',
    '{"cmd":["pwd"],"cwd":"../../../../etc"}',
    '{"cmd":["pwd"],"cwd":"/etc\\u0000"}',
    '{"session":"../../x"}',
    '{"session":"term_\\u0000"}',
    '{"__proto__":{"tty":true},"cmd":["true"]}',
    '{"cmd":["true"],"tty":true,"cols":-1,"rows":1e12}',
    `{"cmd":["${'x'.repeat(2 * 1024 * 1024)}"]}`,
    Buffer.from([0, 1, 2, 3]),
    '{"cmd":["true"],"zzUnknown":{"deep":[[[[[[]]]]]]}}',
  ];
  const attempts: { label: string; p: string; token?: string; protocol?: string; first?: string | Buffer }[] = [];
  const at = (ref: string) => r.template.replace('{ref}', ref);
  for (const seg of HOSTILE_SEGMENTS.slice(0, 20)) attempts.push({ label: `ref ${seg.slice(0, 20)}`, p: at(seg), token: tokens.admin, first: '{"cmd":["true"]}' });
  for (const [label, token] of [
    ['no credentials', undefined],
    ['malformed token', 'hello'],
    ['revoked token', tokens.revoked],
    ['expired token', tokens.expired],
    ["another user's token", tokens.bob],
    ["a workspace token on another workspace", tokens.ws],
  ] as const) {
    attempts.push({ label, p: at(label === 'a workspace token on another workspace' ? ids.other : ids.mine), ...(token ? { token } : {}), first: '{"cmd":["touch","/tmp/berth-hostile-ws"]}' });
  }
  attempts.push({ label: 'unknown sub-protocol', p: at(ids.mine), token: tokens.admin, protocol: 'evil.v0', first: '{"cmd":["true"]}' });
  for (const first of firsts) attempts.push({ label: `first message ${first.toString().slice(0, 30)}`, p: at(ids.mine), token: tokens.admin, first });
  const failures: string[] = [];
  for (const a of attempts) {
    const res = await wsAttempt(a.p, { ...(a.token ? { token: a.token } : {}), ...(a.protocol ? { protocol: a.protocol } : {}), ...(a.first !== undefined ? { first: a.first } : {}) });
    if (!res.ok) failures.push(`WS ${a.p.slice(0, 100)} [${a.label}] → ${res.what}`);
  }
  return { count: attempts.length, failures };
}

// ---------------------------------------------------------------------------------------------

for (const database of ['sqlite', 'postgres'] as const) {
  describe(`hostile requests on ${database}`, () => {
    before(() => setUp(database));
    after(tearDown);

    test('every API route, git endpoint and WebSocket upgrade gets at least 30 hostile requests: no 5xx, no hang, nothing changed', async () => {
      const before = await snapshot();
      const all = await routes();
      assert.ok(all.length >= 30, `the OpenAPI document lists ${all.length} operations`);
      const counts = new Map<string, number>();
      const failures: string[] = [];
      for (const [i, r] of all.entries()) {
        const surface = `${r.method} ${r.template}`;
        if (r.websocket) {
          const ws = await wsHostile(r);
          counts.set(`${surface} (WebSocket)`, ws.count);
          failures.push(...ws.failures);
          continue;
        }
        const requests = hostileFor(r, i);
        counts.set(surface, requests.length);
        failures.push(...(await fire(requests)));
      }
      // Outside the API document: probes and metrics, read by load balancers and scrapers without a Berth client.
  for (const [i, template] of ['/healthz', '/readyz', '/metrics'].entries()) {
    const requests = hostileFor({ method: 'GET', template, pathParams: [], queryParams: [], websocket: false }, 5000 + i);
    counts.set(`GET ${template}`, requests.length);
    failures.push(...(await fire(requests)));
  }
  for (const g of gitHostile()) {
        counts.set(g.surface, g.requests.length);
        failures.push(...(await fire(g.requests)));
      }
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      process.stdout.write(`hostile suite: ${total} requests over ${counts.size} surfaces (seed ${SEED})\n`);
      const thin = [...counts].filter(([, n]) => n < MIN_PER_SURFACE).map(([s, n]) => `${s}: ${n}`);
      assert.deepEqual({ thin, failures }, { thin: [], failures: [] }, `surfaces with fewer than ${MIN_PER_SURFACE} hostile requests; responses of 500 or more, hangs, broken connections or stack traces`);
      assert.equal(await snapshot(), before, `no state changed; requests other than GET that were accepted:\n${accepted.join('\n')}`);
      assert.equal((await server.client().health()).status, 'ok');
      assert.equal(server.proc.exitCode, null, 'the server still runs');
      assert.doesNotMatch(server.logs, /"level":(50|60)/, 'nothing was logged at error level');
    });
  });
}
