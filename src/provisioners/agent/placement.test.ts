import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AgentInfo } from '../../agent/protocol.ts';
import { choose, parseSelector, type Candidate } from './placement.ts';

function agent(name: string, o: { labels?: Record<string, string>; reported?: Record<string, string>; running?: number; cpus?: number; free?: number; error?: string }): Candidate {
  const rec = { name, url: `https://${name}:7443`, labels: o.labels ?? {}, fingerprint: 'f', enrolledAt: '2026-11-30T00:00:00Z' };
  if (o.error) return { agent: rec, error: o.error };
  const info: AgentInfo = {
    version: '0.1.0',
    protocol: 1,
    labels: o.reported ?? {},
    capacity: { cpus: o.cpus ?? 4, memoryBytes: 8 << 30, workspaces: o.running ?? 0, running: o.running ?? 0 },
    disk: { path: '/var/lib/berth-agent', freeBytes: o.free ?? 100, totalBytes: 1000 },
  };
  return { agent: rec, info };
}

test('the least loaded agent per CPU gets the workspace, then the one with most free disk', () => {
  const agents = [agent('busy', { running: 8, cpus: 4 }), agent('big', { running: 8, cpus: 16 }), agent('small', { running: 1, cpus: 2, free: 10 }), agent('roomy', { running: 1, cpus: 2, free: 500 })];
  assert.deepEqual(choose(agents, []), { agent: 'roomy' });
  assert.deepEqual(choose(agents.slice(0, 2), []), { agent: 'big' });
});

test('labels from enrollment or reported by the agent must all match', () => {
  const agents = [agent('eu', { labels: { zone: 'eu-1' }, reported: { gpu: 'yes' }, running: 5 }), agent('us', { labels: { zone: 'us-1' }, reported: { gpu: 'yes' } })];
  assert.deepEqual(choose(agents, parseSelector('zone=eu-1,gpu=yes')), { agent: 'eu' });
  assert.deepEqual(choose(agents, parseSelector('gpu=yes')), { agent: 'us' });
});

test('an agent that cannot be asked is never chosen, and the sentence says why each one was passed over', () => {
  const agents = [agent('down', { error: 'unreachable: nothing listens on its control port' }), agent('eu', { labels: { zone: 'eu-1' } })];
  assert.deepEqual(choose(agents, parseSelector('zone=us-1')), { why: 'down: unreachable: nothing listens on its control port; eu: labels do not match' });
  assert.deepEqual(choose(agents, []), { agent: 'eu' });
  assert.deepEqual(choose([], []), { why: 'no agent is enrolled' });
});
