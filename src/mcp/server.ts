/** The Berth MCP server: the tool catalogue behind the SDK's low-level Server, for any transport. */
import fs from 'node:fs';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { BerthError } from '../core/errors.ts';
import { ApiError, type BerthClient } from '../sdk/client.ts';
import { describeValidation } from '../server/errors.ts';
import { TOOLS, type ToolDef } from './tools.ts';

/** Berth's version, as the MCP server names itself. */
export const MCP_VERSION: string = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const INSTRUCTIONS =
  'Berth runs persistent workspaces: git checkouts of a project on a provisioner (the server host, Docker or Kubernetes). ' +
  'create_workspace then wait_workspace gives a running workspace; exec, read_file and write_file work in its checkout; ' +
  'git_status, git_diff, git_stage, git_commit and git_push record and publish the work. fork_workspace copies a live workspace; ' +
  'run_task runs one command in many workspaces at once and get_task follows it. Workspaces are named by name, owner/name or id.';

/** The tools as tools/list shows them: plain JSON Schema (TypeBox's own symbols dropped). */
const LISTED: Tool[] = TOOLS.map((t) => ({
  name: t.name,
  description: t.description,
  inputSchema: JSON.parse(JSON.stringify(t.input)) as Tool['inputSchema'],
  ...(t.annotations ? { annotations: t.annotations } : {}),
}));
const BY_NAME = new Map(TOOLS.map((t) => [t.name, t]));

/** An MCP server whose tools act through `api` (and so with its token's role). */
export function createMcpServer(api: BerthClient): Server {
  const server = new Server({ name: 'berth', title: 'Berth', version: MCP_VERSION }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: LISTED }));
  server.setRequestHandler(CallToolRequestSchema, (req, extra) => callTool(api, req.params.name, req.params.arguments ?? {}, extra.signal));
  return server;
}

/** A tool error: the sentence, as the model reads it. */
function toolError(message: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: message }] };
}

/** Runs a tool; every failure becomes a tool error carrying the API's (or the check's) sentence, never a stack trace. */
export async function callTool(api: BerthClient, name: string, args: Record<string, unknown>, signal: AbortSignal): Promise<CallToolResult> {
  // Like the SDK's McpServer: an unknown tool is a tool error the model can read, not a protocol error.
  const def = BY_NAME.get(name);
  if (!def) return toolError(`Unknown tool "${name}"; tools/list names the tools of this server.`);
  const invalid = checkArguments(def, args);
  if (invalid) return toolError(invalid);
  try {
    const out = await def.run(api, args, signal);
    return { content: [{ type: 'text', text: out.text }], ...(out.data ? { structuredContent: out.data } : {}) };
  } catch (err) {
    if (err instanceof ApiError || err instanceof BerthError) return toolError(err.message);
    return toolError(`The tool ${name} failed unexpectedly: ${(err as Error).message ?? String(err)}`);
  }
}

const TYPE_NAMES: Partial<Record<ValueErrorType, string>> = {
  [ValueErrorType.String]: 'string',
  [ValueErrorType.Number]: 'number',
  [ValueErrorType.Integer]: 'integer',
  [ValueErrorType.Boolean]: 'boolean',
  [ValueErrorType.Array]: 'array',
  [ValueErrorType.Object]: 'object',
};

/** The first problem with the arguments, in the sentence the API gives for the same problem in a request body; undefined when valid. */
export function checkArguments(def: ToolDef, args: unknown): string | undefined {
  if (Value.Check(def.input, args)) return undefined;
  const first = Value.Errors(def.input, args).First();
  if (!first) return `The arguments of ${def.name} do not match its input schema.`;
  if (first.path === '/ref' && first.type === ValueErrorType.StringPattern) return 'ref is not a workspace reference: give its name, owner/name or id.';
  return describeValidation('body', toAjvIssue(first)).replace('the request body', 'the arguments');
}

/** A TypeBox error in the shape of the Ajv issue the API's sentences are made from. */
function toAjvIssue(e: ValueError): Parameters<typeof describeValidation>[1] {
  const cut = e.path.lastIndexOf('/');
  const parent = e.path.slice(0, Math.max(cut, 0));
  const key = e.path.slice(cut + 1);
  const schema = e.schema as { maxLength?: number; minLength?: number; maxItems?: number };
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return { instancePath: parent, keyword: 'required', params: { missingProperty: key } };
    case ValueErrorType.ObjectAdditionalProperties:
      return { instancePath: parent, keyword: 'additionalProperties', params: { additionalProperty: key } };
    case ValueErrorType.StringPattern:
      return { instancePath: e.path, keyword: 'pattern', params: {} };
    case ValueErrorType.StringMaxLength:
      return { instancePath: e.path, keyword: 'maxLength', params: { limit: schema.maxLength } };
    case ValueErrorType.StringMinLength:
      return { instancePath: e.path, keyword: 'minLength', params: { limit: schema.minLength } };
    case ValueErrorType.ArrayMaxItems:
      return { instancePath: e.path, keyword: 'maxItems', params: { limit: schema.maxItems } };
    default: {
      const type = TYPE_NAMES[e.type];
      if (type) return { instancePath: e.path, keyword: 'type', params: { type } };
      const consts = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf?.map((s) => s.const);
      if (consts?.every((c) => c !== undefined)) return { instancePath: e.path, keyword: 'enum', params: {}, message: `must be one of: ${consts.map(String).join(', ')}` };
      return { instancePath: e.path, keyword: 'other', params: {}, message: e.message.replace(/^Expected/, 'must be').toLowerCase() };
    }
  }
}
