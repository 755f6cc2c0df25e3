/**
 * E2E: the MCP file and exec tools on docker workspaces of the real local engine, in a Debian image
 * and in a busybox one (another sh, other coreutils): files written and read back, binary content
 * through base64, a symbolic link out of the checkout refused, exit codes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { makeRepo, TestServer } from '../harness.ts';
import { cleanupEngines, installationOf, testEnv } from '../docker/env.ts';
import { call, connectMcp, ok, text } from './client.ts';

const env = testEnv();
let server: TestServer;
let installation: string;
let repo: string;
let mcp: Client;

before(async () => {
  server = await TestServer.start();
  installation = installationOf(server);
  repo = makeRepo({ 'README.md': '# docker mcp\n' });
  await server.client().createProject({ name: 'demo', repo });
  mcp = await connectMcp(server, 'http', server.adminToken);
});
after(async () => {
  await mcp?.close();
  await server?.stop();
  if (installation) cleanupEngines(installation);
  fs.rmSync(repo, { recursive: true, force: true });
});

for (const [label, image] of [
  ['debian', env.BERTH_TEST_IMAGE],
  ['busybox', env.BERTH_TEST_IMAGE_BUSYBOX],
] as const) {
  test(`files and exec in a ${label} docker workspace`, async () => {
    const ws = `files-${label}`;
    await ok(mcp, 'create_workspace', { name: ws, project: 'demo', provisioner: 'docker', spec: { image } });
    await ok(mcp, 'wait_workspace', { ref: ws, timeoutSeconds: 180 });

    await ok(mcp, 'write_file', { ref: ws, path: 'deep/er/notes.md', content: 'line one\nline two\n' });
    assert.equal(text(await ok(mcp, 'read_file', { ref: ws, path: 'deep/er/notes.md' })), 'line one\nline two\n');
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10]);
    await ok(mcp, 'write_file', { ref: ws, path: 'blob.bin', content: bytes.toString('base64'), encoding: 'base64' });
    assert.equal(text(await ok(mcp, 'read_file', { ref: ws, path: 'blob.bin', encoding: 'base64' })), bytes.toString('base64'));
    const listed = await ok(mcp, 'exec', { ref: ws, command: 'wc -c < blob.bin; cat README.md; exit 7' });
    assert.deepEqual([listed.structuredContent?.exitCode, listed.structuredContent?.stdout], [7, '6\n# docker mcp\n']);

    await ok(mcp, 'exec', { ref: ws, cmd: ['ln', '-s', '/etc', 'etc-link'] });
    for (const tool of ['read_file', 'write_file'] as const) {
      const r = await call(mcp, tool, { ref: ws, path: 'etc-link/hostname', ...(tool === 'write_file' ? { content: 'x' } : {}) });
      assert.equal(r.isError, true, tool);
      assert.equal(text(r), 'etc-link/hostname is outside the workspace checkout.', tool);
    }
    await ok(mcp, 'delete_workspace', { ref: ws });
  });
}
