/** NDJSON follows over node:http: lines as they come, stopping when told, errors as the server said them. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { streamLines } from './ndjson.ts';

/** A server that writes `lines` (split across chunks) and keeps the stream open, or answers 404 on /missing. */
async function server(lines: string[]): Promise<{ url: string; close: () => Promise<void>; closed: Promise<void> }> {
  const closed = Promise.withResolvers<void>();
  const s = http.createServer((req, res) => {
    if (req.url === '/missing') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: 'No such workspace.' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const text = lines.join('\n') + '\n';
    res.write(text.slice(0, 5));
    res.write(text.slice(5));
    req.on('close', () => closed.resolve());
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  return { url, closed: closed.promise, close: () => new Promise((r) => (s.closeAllConnections(), s.close(() => r()))) };
}

test('lines arrive parsed, across chunks, until the callback says stop; the connection is then closed', async () => {
  const s = await server(['{"n":1}', '{"n":2}', '{"n":3}']);
  const seen: unknown[] = [];
  const end = await streamLines(new URL(`${s.url}/events`), {}, (v) => (seen.push(v), (v as { n: number }).n === 2));
  assert.deepEqual(end, { status: 200 });
  assert.deepEqual(seen, [{ n: 1 }, { n: 2 }]);
  await s.closed;
  await s.close();
});

test('a non-2xx answer comes back with its body; an aborted follow resolves quietly; no server is an error', async () => {
  const s = await server(['{"n":1}']);
  const end = await streamLines(new URL(`${s.url}/missing`), {}, () => true);
  assert.equal(end.status, 404);
  assert.match(end.errorBody ?? '', /No such workspace/);
  const ac = new AbortController();
  const following = streamLines(new URL(`${s.url}/events`), {}, () => void ac.abort(), ac.signal);
  assert.deepEqual(await following, { status: 0 });
  await s.close();
  await assert.rejects(streamLines(new URL(s.url), {}, () => true), /ECONNREFUSED/);
});
