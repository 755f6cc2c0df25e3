import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AgentRoot, checkSegment, checkWorkspaceId } from './root.ts';

test('workspace ids that could name a path are refused', () => {
  assert.equal(checkWorkspaceId('ws_abc123'), 'ws_abc123');
  for (const bad of ['../etc', 'ws_../x', 'ws_ABC', 'ws_', 'ws_a/b', '', 'ws_a\0']) assert.throws(() => checkWorkspaceId(bad), /Refused workspace id/, bad);
});

test('user ids, project names and keys must be one segment without ".."', () => {
  assert.equal(checkSegment('usr_1', 'user id'), 'usr_1');
  for (const bad of ['..', '.', '../x', 'a/b', 'a..b', '', '.hidden', 'x'.repeat(200)]) assert.throws(() => checkSegment(bad, 'user id'), /Refused user id/, bad);
});

test('inside() keeps every path in the root, a symbolic link out of it included', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-agent-root-'));
  try {
    const root = new AgentRoot(dir);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['caches', 'keys', 'state', 'userdata', 'workspaces']);
    assert.equal(root.inside('userdata', 'u', 'k'), path.join(dir, 'userdata', 'u', 'k'));
    assert.throws(() => root.inside('userdata', '..', '..', 'etc'), /leaves the agent's root/);
    fs.symlinkSync('/etc', path.join(dir, 'userdata', 'evil'));
    assert.throws(() => root.inside('userdata', 'evil', 'k'), /symbolic link leads it out/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
