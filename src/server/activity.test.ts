import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { ActivityTracker, commandLine } from './activity.ts';
import type { ActivityRow, TaskStore } from './tasks/store.ts';

test('commandLine quotes only the arguments a shell would split or expand', () => {
  assert.equal(commandLine([]), '(shell)');
  assert.equal(commandLine(['git', 'commit', '-m', 'fix it']), "git commit -m 'fix it'");
  assert.equal(commandLine(['sh', '-c', "echo 'x' $HOME"]), `sh -c 'echo '\\''x'\\'' $HOME'`);
  assert.equal(commandLine(['ls', '-la', './src/a_b.ts', 'k=v']), 'ls -la ./src/a_b.ts k=v');
});

/** A store that records the activity rows written. */
function fakeStore(initial?: ActivityRow): { store: TaskStore; writes: ActivityRow[] } {
  const writes: ActivityRow[] = [];
  const store = {
    getActivity: async () => initial,
    putActivity: async (row: ActivityRow) => void writes.push(row),
  } as unknown as TaskStore;
  return { store, writes };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setImmediate(r));
}

test('a flood of output is written once per period, with the command masked and the latest times', async () => {
  const { store, writes } = fakeStore();
  const a = new ActivityTracker({ store, redact: async (_id, text) => text.replace('hunter2', '[secret]'), logger: pino({ level: 'silent' }), flushMs: 30 });
  await a.command('ws_1', ['login', '--password', 'hunter2']);
  for (let i = 0; i < 1000; i++) a.output('ws_1');
  await until(() => writes.length > 0);
  assert.equal(writes.length, 1);
  assert.equal(writes[0]!.last_command, 'login --password [secret]');
  assert.ok(writes[0]!.last_output_at && writes[0]!.last_command_at);
  const w = await a.wire('ws_1');
  assert.equal(w?.lastCommand, 'login --password [secret]');
  assert.equal(w?.taskStep, null);
});

test('activity stored by an earlier process is shown, and the task step is shown and cleared', async () => {
  const { store } = fakeStore({ workspace_id: 'ws_2', last_command: 'make test', last_command_at: '2026-01-01T00:00:00.000Z', last_output_at: null });
  const a = new ActivityTracker({ store, redact: async (_id, text) => text, logger: pino({ level: 'silent' }) });
  assert.equal((await a.wire('ws_2'))?.lastCommand, 'make test');
  a.step('ws_2', 'pushing');
  assert.equal((await a.wire('ws_2'))?.taskStep, 'pushing');
  a.step('ws_2', null);
  assert.equal((await a.wire('ws_2'))?.taskStep, null);
  assert.equal(await new ActivityTracker({ store: fakeStore().store, redact: async (_id, t) => t, logger: pino({ level: 'silent' }) }).wire('ws_3'), undefined);
});

test('output before the stored row is read reads it once and keeps the newer time', async () => {
  let reads = 0;
  const store = {
    getActivity: async () => {
      reads++;
      return { workspace_id: 'ws_4', last_command: 'npm test', last_command_at: '2026-01-01T00:00:00.000Z', last_output_at: '2026-01-01T00:00:01.000Z' };
    },
    putActivity: async () => undefined,
  } as unknown as TaskStore;
  const a = new ActivityTracker({ store, redact: async (_id, text) => text, logger: pino({ level: 'silent' }) });
  for (let i = 0; i < 100; i++) a.output('ws_4');
  const w = await a.wire('ws_4');
  assert.equal(reads, 1);
  assert.equal(w?.lastCommand, 'npm test');
  assert.ok(w.lastOutputAt! > '2026-01-01T00:00:01.000Z');
});

test('commands are recorded in the order they started, whichever is masked first; a failed masking is logged, not thrown', async () => {
  const { store } = fakeStore();
  let releaseFirst!: () => void;
  const slow = new Promise<void>((r) => (releaseFirst = r));
  const redact = async (_id: string, text: string) => {
    if (text === 'first') await slow;
    if (text === 'broken') throw new Error('no secrets');
    return text;
  };
  const a = new ActivityTracker({ store, redact, logger: pino({ level: 'silent' }) });
  const first = a.command('ws_5', ['first']);
  const second = a.command('ws_5', ['second']);
  const shown = a.wire('ws_5');
  releaseFirst();
  await Promise.all([first, second]);
  assert.equal((await shown)?.lastCommand, 'second', 'a read after both commands sees the later one');
  await a.command('ws_5', ['broken']);
  assert.equal((await a.wire('ws_5'))?.lastCommand, 'second');
});
