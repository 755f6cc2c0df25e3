import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { Forwarders } from './forwarder.ts';

test('a forwarder pipes to its target, and close() ends connections a client never hangs up', async () => {
  const target = net.createServer((s) => s.pipe(s));
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  const f = new Forwarders();
  const port = await f.ensure('127.0.0.1', 0, { host: '127.0.0.1', port: (target.address() as net.AddressInfo).port });
  const client = net.connect(port, '127.0.0.1');
  client.write('ping');
  const [echo] = (await once(client, 'data')) as [Buffer];
  assert.equal(echo.toString(), 'ping');
  const ended = once(client, 'close');
  await f.close();
  await ended;
  await new Promise<void>((r) => target.close(() => r()));
});
