import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Task, TaskRun } from '../sdk/tasks.ts';
import { runTable, summary } from './task.ts';

function run(index: number, over: Partial<TaskRun> = {}): TaskRun {
  return { index, workspace: `tk-0123456789-${index}`, workspaceId: `ws_${index}`, phase: 'succeeded', step: 'done', exitCode: 0, startedAt: null, finishedAt: null, durationMs: 1500, diffStat: null, branch: `task/tk-0123456789/${index}`, pushed: true, lastLine: 'ok', message: null, ...over };
}

function task(runs: TaskRun[]): Task {
  const n = (p: TaskRun['phase']) => runs.filter((r) => r.phase === p).length;
  return { id: 'tk-0123456789', owner: 'ada', project: 'app', ref: null, from: null, provisioner: null, cmd: ['make'], count: runs.length, concurrency: 4, cleanup: 'keep-failed', state: 'done', message: null, createdAt: '', finishedAt: '', summary: { succeeded: n('succeeded'), failed: n('failed'), interrupted: n('interrupted'), pending: 0 }, runs };
}

test('the summary names each failed run with its exit code, counts the branches and lists the workspaces kept', () => {
  const t = task([run(0), run(1, { phase: 'failed', exitCode: 2, message: 'The command exited with code 2.' }), run(2), run(3, { phase: 'failed', exitCode: null, pushed: false, message: 'The workspace did not start: no image' })]);
  const s = summary(t);
  assert.match(s, /^Task tk-0123456789: 2 succeeded, 2 failed \(of 4\)\./);
  assert.match(s, /run 1 \(tk-0123456789-1\) failed with exit code 2\n/);
  assert.match(s, /run 3 \(tk-0123456789-3\) failed: The workspace did not start: no image/);
  assert.doesNotMatch(s, /run [02] \(/);
  assert.match(s, /Branches pushed: 3 \(task\/tk-0123456789\/0, task\/tk-0123456789\/1, task\/tk-0123456789\/2\)/);
  assert.match(s, /Workspaces kept: tk-0123456789-1, tk-0123456789-3\./);
});

test('the live table shows the step of a running run and the reason of a failed one', () => {
  const text = runTable([run(0, { phase: 'running', step: 'pushing', lastLine: 'compiling' }), run(1, { phase: 'failed', exitCode: 1, message: 'boom' })]);
  const [head, first, second] = text.split('\n');
  assert.match(head!, /^#\s+WORKSPACE\s+STATE\s+TIME\s+LAST LINE$/);
  assert.match(first!, /^0\s+tk-0123456789-0\s+pushing\s+1\.5s\s+compiling$/);
  assert.match(second!, /^1\s+tk-0123456789-1\s+failed \(exit 1\)\s+1\.5s\s+boom$/);
});
