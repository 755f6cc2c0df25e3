import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../core/errors.ts';
import { loadConfig, redactConfig } from './config.ts';

test('defaults, env and flags layer in that order', () => {
  const c = loadConfig({ listen: '127.0.0.1:9000' }, { BERTH_LISTEN: '0.0.0.0:1', BERTH_RECONCILE_INTERVAL: '2s', BERTH_DATA_DIR: '/tmp/x' });
  assert.equal(c.listen, '127.0.0.1:9000');
  assert.equal(c.reconcileInterval, 2000);
  assert.equal(c.dataDir, '/tmp/x');
  assert.equal(c.bodyLimit, 1024 * 1024);
});

test('invalid values fail at start-up naming the option', () => {
  assert.throws(() => loadConfig({ listen: 'nope' }, {}), (e: unknown) => e instanceof InputError && /--listen/.test(e.message));
  assert.throws(() => loadConfig({}, { BERTH_BODY_LIMIT: 'big' }), /BERTH_BODY_LIMIT/);
  assert.throws(() => loadConfig({ logLevel: 'loud' }, {}), /must be one of/);
  assert.throws(() => loadConfig({ databaseUrl: 'mysql://x' }, {}), /postgres/);
  assert.throws(() => loadConfig({ bogus: '1' }, {}), /Unknown server option/);
  assert.throws(() => loadConfig({ eventRetentionCount: '0' }, {}), /--event-retention-count \(--event-retention-count\) must be a whole number/);
  assert.throws(() => loadConfig({}, { BERTH_EVENT_RETENTION_COUNT: '1e4' }), /BERTH_EVENT_RETENTION_COUNT/);
  const c = loadConfig({ eventRetentionCount: '500' }, { BERTH_ORPHAN_GRACE: '2d' });
  assert.deepEqual([c.eventRetentionCount, c.eventRetentionAge, c.orphanGrace], [500, 30 * 86_400_000, 2 * 86_400_000]);
});

test('git gateway limits and the outbound allow-list are parsed at start-up', () => {
  const c = loadConfig({}, {});
  assert.equal(c.gitPushLimit, 1024 ** 3);
  assert.equal(c.gitFetchLimit, 10 * 1024 ** 2);
  assert.equal(c.outboundAllow, '');
  assert.equal(loadConfig({ gitFetchLimit: '64KiB', outboundAllow: '10.1.0.0/16, fd00::/8' }, {}).gitFetchLimit, 65536);
  assert.throws(() => loadConfig({ outboundAllow: '10.0.0.0/33' }, {}), (e: unknown) => e instanceof InputError && /--outbound-allow .*"10\.0\.0\.0\/33" is not one/.test(e.message));
  assert.throws(() => loadConfig({}, { BERTH_GIT_PUSH_LIMIT: 'huge' }), /BERTH_GIT_PUSH_LIMIT/);
});

test('secrets are masked for logs', () => {
  const c = loadConfig({ secretKey: 'c2VjcmV0', databaseUrl: 'postgres://u:pw@h/db' }, {});
  const r = redactConfig(c);
  assert.equal(r.secretKey, '[redacted]');
  assert.ok(!JSON.stringify(r).includes('pw@'));
});
