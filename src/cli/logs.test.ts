/** `ws logs` helpers: --since parsing and the retention notice. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retentionNotice, sinceTime } from './logs.ts';

test('--since takes a duration back from now or a timestamp, and says what it wants otherwise', () => {
  const now = Date.parse('2026-01-31T12:00:00Z');
  assert.equal(sinceTime('2h', now), '2026-01-31T10:00:00.000Z');
  assert.equal(sinceTime('1d12h', now), '2026-01-30T00:00:00.000Z');
  assert.equal(sinceTime('2026-01-31T10:30:00+01:00', now), '2026-01-31T09:30:00.000Z');
  assert.throws(() => sinceTime('yesterday', now), /--since must be a duration like 2h or a timestamp/);
});

test('the retention notice says how many went and the policy', () => {
  assert.equal(retentionNotice({ dropped: 40_000, retention: { count: 10_000, ageMs: 30 * 86_400_000 } }), '… 40,000 older events were removed by the retention policy (keep 10,000 / 30d).');
  assert.equal(retentionNotice({ dropped: 1, retention: { count: 5, ageMs: 3_600_000 } }), '… 1 older event was removed by the retention policy (keep 5 / 1h).');
});
