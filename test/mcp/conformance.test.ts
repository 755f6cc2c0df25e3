/**
 * The server scenarios of @modelcontextprotocol/conformance against /mcp of a real server. The CLI
 * sends no token, so it talks to a loopback proxy that adds the admin's Authorization header and
 * passes Host and Origin as sent. It fails on any failure not in expected-failures.yml (each with
 * its reason there) and on an entry there that passes; the scenarios of a tools server must pass.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, tempDir, TestServer } from '../harness.ts';
import { startAuthProxy, type AuthProxy } from './auth-proxy.ts';

const CLI = path.join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const BASELINE = path.join(ROOT, 'test', 'mcp', 'expected-failures.yml');
/** Scenarios a tools server must pass, with the checks each must pass at least. */
const MUST_PASS: Record<string, number> = { 'server-initialize': 1, ping: 1, 'tools-list': 1, 'tools-call-error': 1, 'dns-rebinding-protection': 2 };

let server: TestServer;
let proxy: AuthProxy;
let results: string;

before(async () => {
  server = await TestServer.start();
  proxy = await startAuthProxy(server.url, `Bearer ${server.adminToken}`);
  results = tempDir('berth-mcp-conformance-');
});
after(async () => {
  await proxy?.close();
  await server?.stop();
  fs.rmSync(results, { recursive: true, force: true });
});

/** Runs the conformance CLI (asynchronously: the proxy lives in this process). */
function conformance(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

test('the server scenarios pass, but for the expected failures', async () => {
  const { code, output } = await conformance(['server', '--url', `${proxy.url}/mcp`, '--suite', 'all', '--expected-failures', BASELINE, '-o', results]);
  assert.equal(code, 0, `the conformance CLI reported unexpected failures or a stale baseline:\n${output.slice(-6000)}`);
  for (const [scenario, checks] of Object.entries(MUST_PASS)) {
    const m = new RegExp(`✓ ${scenario}: (\\d+) passed, 0 failed`).exec(output);
    assert.ok(m, `${scenario} did not pass:\n${output.slice(-6000)}`);
    assert.ok(Number(m[1]) >= checks, `${scenario}: ${m[1]} checks passed, expected ${checks}`);
  }
});
