/** `berth mcp`: the MCP server on stdin/stdout, acting with the CLI's login (or BERTH_URL and BERTH_TOKEN). */
import type { Command } from 'commander';
import { client } from './context.ts';

/** Adds `berth mcp`. */
export function addMcpCommand(program: Command): void {
  program
    .command('mcp')
    .description('Serve the Berth MCP tools (workspaces, forks, exec, files, git, tasks) on stdin/stdout for an AI agent, acting with your login or BERTH_URL and BERTH_TOKEN.')
    .addHelpText('after', '\nExample (Claude Code):\n  claude mcp add berth -e BERTH_URL=https://berth.example.com -e BERTH_TOKEN=… -- berth mcp\n\nOver HTTP instead: POST to <server>/mcp with "Authorization: Bearer <token>". See docs/mcp.md.')
    .action(async () => {
      const api = client();
      // Loaded here: the MCP SDK is only for this command, and every other command starts without it.
      const [{ StdioServerTransport }, { createMcpServer }] = await Promise.all([import('@modelcontextprotocol/sdk/server/stdio.js'), import('../mcp/server.ts')]);
      const server = createMcpServer(api);
      // The client ends the session by closing our stdin (MCP stdio has no close message); calls
      // still in flight keep the process alive until their answers are written.
      const ended = new Promise<void>((resolve) => process.stdin.once('end', resolve));
      await server.connect(new StdioServerTransport());
      await ended;
    });
}
