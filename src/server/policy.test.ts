import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quotaRefusal, usageOf, type Limits } from './policy.ts';

const GiB = 1024 ** 3;
const none: Limits = { workspaces: null, cpus: null, memory: null, storage: null };
const used = { workspaces: 2, cpus: 3, memory: 6 * GiB, storage: 0 };

test('a workspace within every limit is admitted', () => {
  assert.equal(quotaRefusal('User bob', { workspaces: 3, cpus: 4, memory: 8 * GiB, storage: null }, used, { cpus: 1, memory: 2 * GiB }), undefined);
  assert.equal(quotaRefusal('User bob', none, used, {}), undefined);
});

test('each limit is named with the amount in use and the amount asked', () => {
  assert.equal(quotaRefusal('User bob', { ...none, workspaces: 2 }, used, {}), 'User bob may have at most 2 workspaces; 2 exist and this would be one more (delete one first).');
  assert.equal(quotaRefusal('User bob', { ...none, cpus: 4 }, used, { cpus: 2 }), 'User bob may use at most 4 CPUs across workspaces; 3 are in use and this workspace asks for 2.');
  assert.equal(
    quotaRefusal('Project web', { ...none, memory: 8 * GiB }, used, { memory: 4 * GiB }),
    'Project web may use at most 8GiB of memory across workspaces; 6GiB is in use and this workspace asks for 4GiB.',
  );
  assert.match(quotaRefusal('Project web', { ...none, storage: 10 * GiB }, used, { storage: 11 * GiB })!, /at most 10GiB of storage .* 0B is in use .* asks for 11GiB/);
});

test('under a resource limit a workspace must state that resource', () => {
  assert.equal(quotaRefusal('User bob', { ...none, cpus: 4 }, used, {}), 'User bob has a quota of 4 CPUs, so each workspace must set spec.resources.cpus; this one sets none.');
  assert.match(quotaRefusal('User bob', { ...none, storage: GiB }, used, { cpus: 1 })!, /must set spec\.resources\.disk/);
});

test('a limit of zero refuses everything; a quota filled exactly still admits the last unit', () => {
  assert.match(quotaRefusal('User bob', { ...none, workspaces: 0 }, { ...used, workspaces: 0 }, {})!, /at most 0 workspaces; 0 exist/);
  assert.equal(quotaRefusal('User bob', { ...none, cpus: 4 }, used, { cpus: 1 }), undefined);
  assert.equal(quotaRefusal('User bob', { ...none, cpus: 1 }, { ...used, cpus: 0 }, { cpus: 1.5 }), 'User bob may use at most 1 CPU across workspaces; 0 are in use and this workspace asks for 1.5.');
});

test('usage counts live workspaces only, summing what their specs ask', () => {
  const spec = (resources: object) => JSON.stringify({ resources });
  const rows = [
    { desired: 'running', spec_json: spec({ cpus: 0.1, memory: GiB }) },
    { desired: 'stopped', spec_json: spec({ cpus: 0.2, disk: 2 * GiB }) },
    { desired: 'deleted', spec_json: spec({ cpus: 8, memory: 8 * GiB }) },
    { desired: 'running', spec_json: spec({}) },
  ];
  assert.deepEqual(usageOf(rows), { workspaces: 3, cpus: 0.3, memory: GiB, storage: 2 * GiB });
});
