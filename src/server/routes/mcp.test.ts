import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allowedName } from './mcp.ts';

test('names that cannot be rebound pass: IP literals, localhost and the public URL host', () => {
  for (const name of ['127.0.0.1', '::1', '10.1.2.3', 'localhost']) assert.equal(allowedName(name, ''), true, name);
  assert.equal(allowedName('berth.example.com', 'https://berth.example.com'), true);
  assert.equal(allowedName('berth.example.com', 'https://Berth.Example.com:8443/'), true);
});

test('any other name is refused, as is none at all', () => {
  for (const name of ['evil.example.com', 'localhost.evil.example.com', 'berth.example.com.evil.com', '', undefined]) assert.equal(allowedName(name, 'https://berth.example.com'), false, String(name));
  assert.equal(allowedName('berth.example.com', ''), false);
});
