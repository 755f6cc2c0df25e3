/** MCP test fixtures: the SDK's Client connected to Berth over stdio (`berth mcp`) or Streamable HTTP (/mcp). */
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { BERTH_BIN, type TestServer } from '../harness.ts';

/** How a test reaches the MCP server. */
export type McpTransport = 'stdio' | 'http';

/** A connected MCP client acting with `token`. */
export async function connectMcp(server: TestServer, via: McpTransport, token: string): Promise<Client> {
  const client = new Client({ name: 'berth-e2e', version: '1.0.0' });
  const transport =
    via === 'stdio'
      ? new StdioClientTransport({
          command: process.execPath,
          args: [BERTH_BIN, 'mcp'],
          env: { ...(process.env as Record<string, string>), BERTH_URL: server.url, BERTH_TOKEN: token, BERTH_CONFIG: path.join(server.dataDir, 'mcp-cli-config.json') },
          stderr: 'pipe',
        })
      : new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return client;
}

/** Calls a tool and returns its result, typed. */
export async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** The text of a tool result. */
export function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
}

/** Calls a tool that must succeed; fails the test with the tool's error text otherwise. */
export async function ok(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const r = await call(client, name, args);
  if (r.isError) throw new Error(`${name} failed: ${text(r)}`);
  return r;
}
