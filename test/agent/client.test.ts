/**
 * The control plane's agent client on its terminal path, against a loopback TLS WebSocket server
 * that would compress if asked: the client never offers permessage-deflate, so terminal frames
 * travel as they are typed, whatever the agent at the other end accepts.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { AgentClient } from '../../src/provisioners/agent/client.ts';
import { EXEC_PROTOCOL } from '../../src/sdk/protocol.ts';
import { issue } from './certs.ts';
import { testPki, type TestPki } from './fixtures.ts';

let pki: TestPki;
let server: https.Server;
let fingerprint: string;
const offered: (string | undefined)[] = [];

before(async () => {
  pki = await testPki();
  const cert = await issue(pki.ca, 'loopback agent', { server: { ips: ['127.0.0.1'] } });
  fingerprint = new crypto.X509Certificate(cert.cert).fingerprint256;
  server = https.createServer({ key: cert.key, cert: cert.cert });
  const wss = new WebSocketServer({ server, perMessageDeflate: true });
  wss.on('headers', (_h, req) => offered.push(req.headers['sec-websocket-extensions']));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
after(() => server.close());

test('the agent client offers no permessage-deflate on an exec WebSocket, to a server that would accept it', async () => {
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new AgentClient('loop', url, { key: pki.client.key, cert: pki.client.cert, ca: pki.ca.cert, fingerprint }, 'test');
  const sock = client.websocket('/v1/workspaces/ws_x/exec', EXEC_PROTOCOL);
  try {
    await new Promise((resolve, reject) => sock.once('open', resolve).once('error', reject));
    assert.deepEqual(offered, [undefined], 'no Sec-WebSocket-Extensions header');
    assert.equal(sock.extensions, '');
  } finally {
    sock.terminate();
    client.close();
  }
});
