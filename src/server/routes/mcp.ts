/**
 * /mcp: the MCP server over Streamable HTTP (stateless: a server per request), authenticated with a
 * user or workspace token. Its tools call this server's own REST API in-process with the caller's
 * Authorization header, so they act with exactly that token's role.
 */
import { isIP } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForbiddenError } from '../../core/errors.ts';
import { InProcessClient } from '../../mcp/in-process.ts';
import { createMcpServer } from '../../mcp/server.ts';
import type { AppDeps } from '../app.ts';

/** The host name of a Host header or an Origin, lower-cased and without brackets; undefined when it does not parse. */
function hostname(hostOrOrigin: string, isOrigin: boolean): string | undefined {
  try {
    return new URL(isOrigin ? hostOrOrigin : `http://${hostOrOrigin}`).hostname.toLowerCase().replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
}

/**
 * Whether a name may address this server. DNS rebinding points a name the attacker owns at the
 * server, so only names that cannot be rebound pass: IP literals, localhost, and the host of the
 * public URL (--public-url).
 */
export function allowedName(name: string | undefined, publicUrl: string): boolean {
  if (!name) return false;
  if (name === 'localhost' || isIP(name) !== 0) return true;
  return hostname(publicUrl, true) === name;
}

/** Refuses a request whose Host or Origin names this server by a name that could be rebound to it. */
function checkHost(req: FastifyRequest, publicUrl: string): void {
  const host = req.headers.host;
  if (!allowedName(host === undefined ? undefined : hostname(host, false), publicUrl)) {
    throw new ForbiddenError(`The Host header "${host ?? ''}" does not name this server; connect to its public URL (${publicUrl}), an IP address or localhost.`);
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !allowedName(hostname(origin, true), publicUrl)) {
    throw new ForbiddenError(`Requests from the origin "${origin}" are refused; MCP clients connect from the server's public URL, an IP address or localhost.`);
  }
}

/** Registers /mcp (POST; GET and DELETE answer 405, as the server keeps no sessions). */
export async function mcpRoutes(app: FastifyInstance, deps: AppDeps, publicUrl: () => string): Promise<void> {
  app.route({
    method: ['GET', 'POST', 'DELETE'],
    url: '/mcp',
    schema: { hide: true },
    handler: async (req, reply) => {
      checkHost(req, publicUrl());
      req.principal = await deps.auth.authenticate(req.headers.authorization);
      if (req.method !== 'POST') {
        return reply
          .status(405)
          .header('allow', 'POST')
          .send({ jsonrpc: '2.0', error: { code: -32000, message: 'This MCP server keeps no sessions: send each message as a POST.' }, id: null });
      }
      const server = createMcpServer(new InProcessClient(app, req.headers.authorization!));
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      // The transport writes the answer itself; the request log line is written here, as Fastify's hook does not run.
      reply.hijack();
      const started = performance.now();
      reply.raw.once('close', () => {
        req.log.info({ method: req.method, url: '/mcp', status: reply.raw.statusCode, ms: Math.round(performance.now() - started) }, 'request');
        void transport.close();
        void server.close();
      });
      try {
        await server.connect(transport);
        await transport.handleRequest(req.raw, reply.raw, req.body);
      } catch (err) {
        req.log.error({ err }, 'MCP request failed');
        if (reply.raw.headersSent) reply.raw.end();
        else {
          const message = `Internal error (request ${req.id}); the server log has the details.`;
          reply.raw.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message }, id: null }));
        }
      }
    },
  });
}
