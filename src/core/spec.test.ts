import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from './errors.ts';
import { normalizeSpec, redactSpec } from './spec.ts';

test('an empty spec gets defaults', () => {
  const s = normalizeSpec({});
  assert.equal(s.mountPath, '/workspace');
  assert.deepEqual(s.env, []);
  assert.deepEqual(s.resources, {});
});

test('sizes are parsed once, into bytes', () => {
  const s = normalizeSpec({ resources: { memory: '512MiB', disk: '10G', cpus: 1.5, pids: 256 } });
  assert.deepEqual(s.resources, { memory: 512 * 1024 ** 2, disk: 10e9, cpus: 1.5, pids: 256 });
});

test('semantic errors are InputErrors with actionable messages', () => {
  const cases: [unknown, RegExp][] = [
    [{ env: [{ name: 'A', value: '1' }, { name: 'A', value: '2' }] }, /appears more than once/],
    [{ env: [{ name: 'BERTH_WORKSPACE_TOKEN', value: 'x' }] }, /Berth sets it itself/],
    [{ files: [{ path: '/workspace/../../etc/shadow', content: '' }] }, /'\.\.'/],
    [{ files: [{ path: 'etc/x', content: '' }] }, /must be absolute/],
    [{ files: [{ path: '/workspace/.berth/x', content: '' }] }, /reserves/],
    [{ caches: ['/workspace/cache'] }, /persists already/],
    [{ resources: { memory: '1KiB' } }, /at least 6MiB/],
    [{ resources: { memory: 'huge' } }, /not a size/],
    [{ mountPath: '~/ws' }, /absolute/],
  ];
  for (const [input, re] of cases) {
    assert.throws(() => normalizeSpec(input as never), (e: unknown) => e instanceof InputError && re.test(e.message), JSON.stringify(input));
  }
});

test('redactSpec hides secret values and registry passwords', () => {
  const s = normalizeSpec({
    env: [
      { name: 'PLAIN', value: 'visible' },
      { name: 'SECRET', value: 'hunter2', secret: true },
    ],
    registryLogins: [{ registry: 'reg.local:5000', username: 'u', password: 'p4ss' }],
  });
  const r = redactSpec(s);
  assert.equal(r.env[0]!.value, 'visible');
  assert.equal(r.env[1]!.value, null);
  assert.equal(r.registryLogins[0]!.password, null);
  assert.ok(!JSON.stringify(r).includes('hunter2') && !JSON.stringify(r).includes('p4ss'));
});

test('a secret file is written 0600 by default, never readable by others, and shown without content', () => {
  const s = normalizeSpec({ files: [{ path: '/workspace/k', content: 'key', secret: true }, { path: '/workspace/m', content: 'x', secret: true, mode: 0o644 }, { path: '/workspace/o', content: 'open' }] });
  assert.deepEqual(s.files.map((f) => [f.mode, f.secret]), [[0o600, true], [0o600, true], [0o644, false]]);
  assert.deepEqual(redactSpec(s).files.map((f) => f.content), [null, null, 'open']);
});
