/** Unit tests of the NUL checks on strings that reach a process. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from './errors.ts';
import type { SpecInput } from './spec.ts';
import { assertExecStrings, assertNoNul, assertSpecProcessStrings } from './process-input.ts';

test('a NUL anywhere in a process-bound string is an InputError naming the field', () => {
  assert.doesNotThrow(() => assertNoNul('plain text\nwith lines', 'x'));
  assert.throws(() => assertNoNul('a\0b', 'spec.shell'), (e: Error) => e instanceof InputError && /^spec\.shell contains a NUL character/.test(e.message));
  assert.doesNotThrow(() => assertSpecProcessStrings({ env: [{ name: 'A', value: 'ü\t"$x"' }], setup: ['echo hi'], shell: '/bin/sh' }));
  const specs: [SpecInput, RegExp][] = [
    [{ env: [{ name: 'A', value: '\0' }] }, /spec\.env\[0\]\.value \(A\)/],
    [{ setup: ['ok', 'x\0'] }, /spec\.setup\[1\]/],
    [{ teardown: ['\0'] }, /spec\.teardown\[0\]/],
    [{ user: 'dev\0' }, /spec\.user/],
    [{ image: 'debian\0' }, /spec\.image/],
    [{ registryLogins: [{ registry: 'r', username: 'u\0', password: 'p' }] }, /spec\.registryLogins\[0\]\.username/],
  ];
  for (const [spec, re] of specs) assert.throws(() => assertSpecProcessStrings(spec), re);
  assert.doesNotThrow(() => assertExecStrings({ cmd: ['ls', '-l'], env: { A: 'b' }, cwd: '/workspace' }));
  assert.throws(() => assertExecStrings({ cmd: ['ls', '\0'] }), /: cmd\[1\]/);
  assert.throws(() => assertExecStrings({ cmd: [], env: { A: '\0' } }), /: env A/);
  assert.throws(() => assertExecStrings({ cmd: [], cwd: '/w\0' }), /: cwd/);
});
