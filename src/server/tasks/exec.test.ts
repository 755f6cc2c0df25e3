import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lastLineOf } from './exec.ts';

test('lastLineOf finds the last line with text, without colours, carriage-return redraws or long tails', () => {
  assert.equal(lastLineOf('one\ntwo\n\n'), 'two');
  assert.equal(lastLineOf('\x1b[32mok\x1b[0m\n'), 'ok');
  assert.equal(lastLineOf('10%\r50%\r100%'), '100%');
  assert.equal(lastLineOf('  \n\t\n'), null);
  assert.equal(lastLineOf(`${'x'.repeat(1000)}\n`)!.length, 300);
});
