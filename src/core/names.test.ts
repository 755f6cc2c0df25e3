import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from './errors.ts';
import { assertName, assertWorkspacePath, resolveInside } from './names.ts';

test('names must be DNS labels', () => {
  for (const ok of ['a', 'my-ws', 'x1', 'a'.repeat(63)]) assert.doesNotThrow(() => assertName(ok, 'Name'));
  for (const bad of ['', '-a', 'a-', 'A', 'a_b', 'a.b', 'a'.repeat(64), 'ü', '../x']) {
    assert.throws(() => assertName(bad, 'Name'), InputError, bad);
  }
});

test('workspace paths are absolute or home-relative and cannot escape', () => {
  assert.equal(assertWorkspacePath('/workspace/.env', 'p'), '/workspace/.env');
  assert.equal(assertWorkspacePath('~/.config/tool', 'p'), '~/.config/tool');
  for (const bad of ['relative/x', '/workspace/../etc/passwd', '~/../x', '/a//b', '/a/./b', '/a/', '/', '~', '/a\0b', '~user/x']) {
    assert.throws(() => assertWorkspacePath(bad, 'p'), InputError, JSON.stringify(bad));
  }
});

test('resolveInside maps into the workspace or the home and nowhere else', () => {
  const m = { mountPath: '/workspace', root: '/data/ws_1', home: '/data/ws_1/.berth/home' };
  assert.equal(resolveInside('/workspace/a/b', m), '/data/ws_1/a/b');
  assert.equal(resolveInside('~/.npmrc', m), '/data/ws_1/.berth/home/.npmrc');
  assert.equal(resolveInside('/etc/passwd', m), null);
  assert.equal(resolveInside('/workspace', m), null);
  assert.equal(resolveInside('/workspacex/a', m), null);
});
