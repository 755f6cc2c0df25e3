import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from './errors.ts';
import { formatSize, parseDuration, parseSize } from './units.ts';

test('parseSize understands binary and decimal units', () => {
  assert.equal(parseSize('512MiB'), 512 * 1024 ** 2);
  assert.equal(parseSize('2G'), 2e9);
  assert.equal(parseSize('1.5Gi'), 1.5 * 1024 ** 3);
  assert.equal(parseSize(' 10 kb '), 10_000);
  assert.equal(parseSize(4096), 4096);
});

test('parseSize rejects garbage with a sentence naming the field', () => {
  assert.throws(() => parseSize('lots', 'memory'), (e: unknown) => e instanceof InputError && /memory "lots" is not a size/.test(e.message));
  assert.throws(() => parseSize('5XB'), InputError);
  assert.throws(() => parseSize(-1), InputError);
  assert.throws(() => parseSize(1.5), InputError);
});

test('formatSize picks the largest exact binary unit', () => {
  assert.equal(formatSize(512 * 1024 ** 2), '512MiB');
  assert.equal(formatSize(1000), '1000B');
});

test('parseDuration handles compound durations', () => {
  assert.equal(parseDuration('1h30m'), 90 * 60_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('90d'), 90 * 86_400_000);
  assert.equal(parseDuration('1500'), 1500);
  assert.throws(() => parseDuration('soon'), /not a duration/);
  assert.throws(() => parseDuration(''), /empty/);
});
