import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../core/errors.ts';
import { normalizeSpec } from '../../core/spec.ts';
import { parseWarmPool, poolKey, poolSpec } from './spec.ts';

test('--warm-pool entries: provisioner, project, optional ref and image (with its tag), size', () => {
  assert.deepEqual(parseWarmPool(''), []);
  assert.deepEqual(parseWarmPool('docker:demo=2:alpine:3.20  shell:demo@main=1'), [
    { provisioner: 'docker', project: 'demo', size: 2, image: 'alpine:3.20' },
    { provisioner: 'shell', project: 'demo', size: 1, ref: 'main' },
  ]);
  assert.deepEqual(parseWarmPool('docker:web@release/1.2=3:127.0.0.1:5000/team/img:v1'), [
    { provisioner: 'docker', project: 'web', size: 3, ref: 'release/1.2', image: '127.0.0.1:5000/team/img:v1' },
  ]);
  for (const bad of ['docker=2', 'docker:demo', 'docker:demo=0', 'docker:demo=51', 'docker:demo=x', 'docker:demo=1 docker:demo=2']) {
    assert.throws(() => parseWarmPool(bad), InputError, bad);
  }
});

test('the pool key ignores what a claim applies (files, setup, teardown) and nothing else', () => {
  const base = poolSpec({ provisioner: 'docker', project: 'demo', size: 1, image: 'alpine:3.20' });
  const key = poolKey('docker', 'prj_1', 'main', base);
  const withFiles = normalizeSpec({ image: 'alpine:3.20', files: [{ path: '/workspace/a.txt', content: 'x' }], setup: ['make'], teardown: ['true'] });
  assert.equal(poolKey('docker', 'prj_1', 'main', withFiles), key);
  assert.notEqual(poolKey('docker', 'prj_1', 'main', normalizeSpec({ image: 'alpine:3.21' })), key, 'image');
  assert.notEqual(poolKey('docker', 'prj_1', 'main', normalizeSpec({ image: 'alpine:3.20', env: [{ name: 'A', value: '1' }] })), key, 'env');
  assert.notEqual(poolKey('docker', 'prj_1', 'dev', base), key, 'ref');
  assert.notEqual(poolKey('docker', 'prj_2', 'main', base), key, 'project');
  assert.notEqual(poolKey('docker-remote', 'prj_1', 'main', base), key, 'provisioner');
});
