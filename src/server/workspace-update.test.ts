import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeSpec } from '../core/spec.ts';
import { describeSpecChange, patchSpec } from './workspace-update.ts';

const base = normalizeSpec({
  image: 'alpine:3.19',
  env: [
    { name: 'KEEP', value: 'a' },
    { name: 'TOKEN', value: 's3cret-value', secret: true },
  ],
  files: [{ path: '/workspace/.npmrc', content: 'registry=x\n' }],
  resources: { memory: '512MiB', cpus: 1, disk: '1GiB' },
});

test('a patch changes the fields it gives and keeps the rest, secrets included', () => {
  const after = patchSpec(base, { image: 'alpine:3.20', env: [{ name: 'FOO', value: 'bar' }], unsetEnv: ['KEEP'], resources: { memory: '1GiB', cpus: null } });
  assert.equal(after.image, 'alpine:3.20');
  assert.deepEqual(
    after.env.map((e) => [e.name, e.value, e.secret]),
    [
      ['TOKEN', 's3cret-value', true],
      ['FOO', 'bar', false],
    ],
  );
  assert.deepEqual(after.resources, { memory: 1024 ** 3, disk: 1024 ** 3 });
  assert.deepEqual(after.files, base.files);
});

test('the change is described by names, never by values', () => {
  const after = patchSpec(base, { image: 'alpine:3.20', env: [{ name: 'FOO', value: 'bar' }, { name: 'TOKEN', value: 'new-s3cret', secret: true }], removeFiles: ['/workspace/.npmrc'], resources: { memory: '1GiB' } });
  const text = describeSpecChange(base, after).join(', ');
  assert.equal(text, 'image alpine:3.19 → alpine:3.20, memory 512MiB → 1GiB, env +FOO, env ~TOKEN, file -/workspace/.npmrc');
  assert.doesNotMatch(text, /s3cret|bar/);
});

test('a patch that cannot apply says why in a sentence', () => {
  assert.throws(() => patchSpec(base, {}), /Nothing to change/);
  assert.throws(() => patchSpec(base, { unsetEnv: ['NOPE'] }), /no variable NOPE/);
  assert.throws(() => patchSpec(base, { removeFiles: ['/workspace/none'] }), /no file \/workspace\/none/);
  assert.throws(() => patchSpec(base, { env: [{ name: 'BERTH_WORKDIR', value: '/' }] }), /may not set BERTH_WORKDIR/);
  assert.throws(() => patchSpec(base, { resources: { disk: '2GiB' } }), /disk cannot change/);
  assert.throws(() => patchSpec(base, { resources: { memory: '1KiB' } }), /at least 6MiB/);
  assert.deepEqual(describeSpecChange(base, patchSpec(base, { resources: { disk: '1GiB' } })), []);
});
