import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkExecCwd, skewMessage, toWire } from './protocol.ts';
import { normalizeSpec } from '../core/spec.ts';

test('version skew is reported in words that name who to upgrade; the same protocol is no skew', () => {
  const cp = { role: 'control plane', version: '0.1.0', protocol: 1 };
  assert.equal(skewMessage(cp, { role: 'agent "eu-1"', version: '0.1.5', protocol: 1 }), undefined);
  assert.equal(
    skewMessage(cp, { role: 'agent "eu-1"', version: '0.3.0', protocol: 2 }),
    'The control plane (Berth 0.1.0) speaks agent protocol v1 and the agent "eu-1" (Berth 0.3.0) speaks v2; upgrade the control plane to a Berth release with protocol v2.',
  );
});

test('toWire drops what cannot cross the wire (bundle, local mirror) and keeps the rest', () => {
  const w = toWire({
    id: 'ws_1',
    name: 'n',
    owner: { id: 'u', name: 'un' },
    project: { name: 'p', cloneUrl: 'http://x/git/p.git', bundle: async () => process.stdin, localMirror: async () => '/x' },
    spec: normalizeSpec({}),
    env: { A: '1' },
  });
  assert.deepEqual(Object.keys(w.project), ['name', 'cloneUrl']);
  assert.equal(JSON.parse(JSON.stringify(w)).env.A, '1');
});

test("an exec's cwd must stay inside the workspace's mount", () => {
  assert.equal(checkExecCwd(undefined, '/workspace'), undefined);
  for (const ok of ['/workspace', '/workspace/work', '/workspace/work/sub/', '/workspace/.cache']) assert.equal(checkExecCwd(ok, '/workspace'), ok);
  for (const bad of ['/', '/etc', '/workspace2', 'workspace/work', '/workspace/../etc', '/workspace/work/../../root', '/workspace/./work', '/workspace//work', '/workspace/a\0b', 42, null]) {
    assert.throws(() => checkExecCwd(bad, '/workspace'), /cwd must be a directory inside the workspace's mount \/workspace/, String(bad));
  }
});
