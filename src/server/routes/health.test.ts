import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import type { Provisioner } from '../../provisioners/provisioner.ts';
import type { AuthService } from '../auth.ts';
import { Metrics, gitService } from '../metrics.ts';
import { checkReadiness, healthRoutes, type HealthDeps } from './health.ts';

function provisioner(name: string, check?: Provisioner['check']): Provisioner {
  return { name, ...(check ? { check } : {}) } as Provisioner;
}

function deps(provisioners: Provisioner[], storeUp = true): HealthDeps {
  return {
    store: { countWorkspacesByProvisioner: async () => (storeUp ? new Map() : Promise.reject(new Error('database is down'))) },
    provisioners: () => provisioners,
    metrics: new Metrics({ store: { listWorkspaces: async () => [] }, terminals: () => 0 }),
    metricsPublic: true,
    checkTimeoutMs: 200,
    cacheMs: 60_000,
  };
}

test('readiness names every part that is not ready, a check that hangs included', async () => {
  const r = await checkReadiness(
    deps([
      provisioner('shell'),
      provisioner('docker', async () => Promise.reject(new Error('Cannot reach the Docker engine.'))),
      provisioner('k8s', () => new Promise(() => undefined)),
    ], false),
  );
  assert.equal(r.ready, false);
  const byName = Object.fromEntries(r.checks.map((c) => [c.name, c]));
  assert.deepEqual(byName['provisioner shell'], { name: 'provisioner shell', ok: true });
  assert.match(byName['provisioner docker']!.message!, /Cannot reach the Docker engine/);
  assert.match(byName['provisioner k8s']!.message!, /did not answer within 0.2s/);
  assert.match(byName.store!.message!, /database is down/);
});

test('/readyz answers 503 then keeps its answer for the cache period', async () => {
  let calls = 0;
  const app = Fastify();
  await healthRoutes(app, {} as AuthService, deps([provisioner('docker', async () => {
    calls++;
    throw new Error('engine down');
  })]));
  const first = await app.inject({ url: '/readyz' });
  assert.equal(first.statusCode, 503);
  assert.equal(first.json<{ status: string }>().status, 'not ready');
  assert.equal((await app.inject({ url: '/readyz' })).statusCode, 503);
  assert.equal(calls, 1, 'the second probe is answered from the cache');
  await app.close();
});

test('git gateway URLs are counted by service', () => {
  assert.equal(gitService('/git/app.git/info/refs?service=git-upload-pack'), 'git-upload-pack');
  assert.equal(gitService('/git/app.git/git-receive-pack'), 'git-receive-pack');
  assert.equal(gitService('/git/app.git/HEAD'), 'other');
});
