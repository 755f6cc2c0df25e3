/** The OpenAPI document at /api/v1/openapi.json: valid OpenAPI 3.0, and exactly the API routes the server serves. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPI } from 'openapi-types';
import WebSocket from 'ws';
import { EXEC_PROTOCOL } from '../../src/sdk/wire.ts';
import { TestServer, eventually, makeRepo } from '../harness.ts';

/** The parts of an OpenAPI 3.0 document the test reads. */
interface Operation {
  parameters?: { in: string; name: string; required?: boolean; schema?: { enum?: unknown[] } }[];
  responses: Record<string, { content?: Record<string, { schema?: { type?: string } }>; headers?: Record<string, { schema?: { enum?: unknown[] } }> }>;
}
interface Doc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

/** The operations of an OpenAPI 3.0 path item; its other fixed fields are not operations. */
const OPERATIONS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const PATH_ITEM_FIELDS = new Set(['summary', 'description', 'servers', 'parameters', '$ref']);
/** Served but not part of the JSON API, by design: the health and readiness probes, the Prometheus scrape, the document itself, git's smart HTTP, the web UI at /, MCP (docs/mcp.md). */
const NOT_API = [/^GET \/(healthz|readyz|metrics)$/, /^GET \/api\/v1\/openapi\.json$/, /^(GET|POST) \/git\/:repo\//, /^GET \/$/, /^(GET|POST|DELETE) \/mcp$/];

let server: TestServer;
let repo: string;
let doc: Doc;
/** "METHOD /path" of every route the server registered, as its own log says (debug level). */
let registered: string[];

before(async () => {
  server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'debug' } });
  repo = makeRepo();
  const res = await fetch(`${server.url}/api/v1/openapi.json`, { headers: { authorization: `Bearer ${server.adminToken}` } });
  assert.equal(res.status, 200);
  doc = (await res.json()) as Doc;
  registered = await eventually(() => loggedRoutes(server.logs), 'the server to log its route table');
});
after(async () => {
  await server?.stop();
  fs.rmSync(repo, { recursive: true, force: true });
});

/** The route table from the server's "routes registered" log line, if it was written yet. */
function loggedRoutes(logs: string): string[] | undefined {
  for (const line of logs.split('\n')) {
    if (!line.includes('"routes registered"')) continue;
    return (JSON.parse(line) as { routes: string[] }).routes;
  }
  return undefined;
}

/** The API routes among the registered ones, in the document's notation (`{ref}` for `:ref`). */
function apiRoutes(routes: string[]): string[] {
  const all = new Set(routes);
  return routes
    .filter((r) => !r.includes('*')) // catch-alls answer "no such route"
    .filter((r) => !(r.startsWith('HEAD ') && all.has(`GET ${r.slice(5)}`))) // fastify's implicit HEAD of every GET
    .filter((r) => !NOT_API.some((re) => re.test(r)))
    .map((r) => r.replace(/:([A-Za-z0-9_]+)/g, '{$1}'))
    .sort();
}

function documentedRoutes(d: Doc): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(d.paths)) {
    for (const key of Object.keys(item)) {
      if (OPERATIONS.has(key)) out.push(`${key.toUpperCase()} ${path}`);
      else assert.ok(PATH_ITEM_FIELDS.has(key) || key.startsWith('x-'), `${path} has "${key}", which is no OpenAPI 3.0 operation`);
    }
  }
  return out.sort();
}

test('the document is valid OpenAPI 3.0', async () => {
  assert.match(doc.openapi, /^3\.0\.\d+$/);
  // validate() dereferences in place; the other tests read the document as served.
  await SwaggerParser.validate(structuredClone(doc) as unknown as OpenAPI.Document);
});

test('the document lists exactly the API routes the server registered', () => {
  const api = apiRoutes(registered);
  // The route table is real: it holds routes of every kind, so an empty or partial log cannot pass.
  for (const r of ['GET /api/v1/workspaces', 'POST /api/v1/projects', 'GET /api/v1/workspaces/{ref}/exec', 'GET /api/v1/workspaces/{ref}/bundle']) assert.ok(api.includes(r), `${r} registered`);
  assert.ok(registered.includes('POST /git/:repo/git-receive-pack'), 'the git gateway is served');

  const documented = documentedRoutes(doc);
  assert.deepEqual(
    { undocumented: api.filter((r) => !documented.includes(r)), notServed: documented.filter((r) => !api.includes(r)) },
    { undocumented: [], notServed: [] },
  );
});

test('exec is documented as the berth.exec.v1 WebSocket upgrade the server performs', async () => {
  const op = doc.paths['/api/v1/workspaces/{ref}/exec']!.get!;
  const header = op.parameters?.find((p) => p.in === 'header' && p.name.toLowerCase() === 'sec-websocket-protocol');
  assert.deepEqual(header?.schema?.enum, [EXEC_PROTOCOL]);
  assert.deepEqual(op.responses['101']?.headers?.['Sec-WebSocket-Protocol']?.schema?.enum, [EXEC_PROTOCOL]);

  // What the document promises: asking for the protocol gets a 101 that names it.
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/v1/workspaces/nope/exec`, [EXEC_PROTOCOL], { headers: { authorization: `Bearer ${server.adminToken}` } });
  let status = 0;
  ws.once('upgrade', (res) => (status = res.statusCode ?? 0));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  assert.equal(status, 101);
  assert.equal(ws.protocol, EXEC_PROTOCOL);
  // Errors after the upgrade are messages, as documented: an unknown workspace ends with an error message.
  const message = new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
  ws.send(JSON.stringify({ cmd: ['true'], tty: false }));
  assert.equal((JSON.parse(await message) as { type: string; code: string }).code, 'not_found');
  ws.close();
});

test('the event log is documented as a JSON array (a page object with limit), or NDJSON when following, as the server sends it', async () => {
  const content = doc.paths['/api/v1/workspaces/{ref}/events']!.get!.responses['200']!.content!;
  assert.deepEqual(Object.keys(content).sort(), ['application/json', 'application/x-ndjson']);
  const shapes = (content['application/json']!.schema as { anyOf: { type: string; properties?: Record<string, unknown> }[] }).anyOf;
  assert.deepEqual(shapes.map((s) => s.type), ['array', 'object']);
  assert.deepEqual(Object.keys(shapes[1]!.properties!).sort(), ['dropped', 'events', 'next', 'prev', 'retention', 'truncated']);
  assert.equal(content['application/x-ndjson']!.schema!.type, 'object', 'one event per line');

  const c = server.client();
  await c.createProject({ name: 'demo', repo });
  await c.createWorkspace({ name: 'ev', project: 'demo' });
  const url = `${server.url}/api/v1/workspaces/ev/events`;
  const headers = { authorization: `Bearer ${server.adminToken}` };
  const list = await fetch(url, { headers });
  assert.match(list.headers.get('content-type') ?? '', /^application\/json\b/);
  assert.ok(Array.isArray(await list.json()));
  const page = (await (await fetch(`${url}?limit=5`, { headers })).json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(page).sort(), Object.keys(shapes[1]!.properties!).sort());

  const controller = new AbortController();
  const follow = await fetch(`${url}?follow=true`, { headers, signal: controller.signal });
  assert.equal(follow.headers.get('content-type'), 'application/x-ndjson');
  const reader = follow.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value).split('\n')[0]!;
  assert.equal(typeof (JSON.parse(first) as { kind: unknown }).kind, 'string', 'each line is one event');
  controller.abort();
  await c.deleteWorkspace('ev');
});

test("adding a provisioner is documented with each type's own options, as the server reports its types", async () => {
  const body = (doc.paths['/api/v1/provisioners'] as Record<string, unknown>).post as { requestBody: { content: Record<string, { schema: { anyOf: { properties: { type: { enum: string[] }; options: { properties: Record<string, unknown> } } }[] } }> } };
  const variants = body.requestBody.content['application/json']!.schema.anyOf;
  const types = await server.client().listProvisionerTypes();
  assert.deepEqual(
    variants.map((v) => [v.properties.type.enum[0], Object.keys(v.properties.options.properties)]),
    types.map((t) => [t.type, Object.keys((t.options as { properties: Record<string, unknown> }).properties)]),
  );
});
