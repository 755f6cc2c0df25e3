/**
 * The task tables (migration 0007) on both dialects: a task with its runs, run updates, logs,
 * activity upserts and deletion read back the same on SQLite and PostgreSQL, numbers as numbers.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { TaskStore, type TaskRow, type TaskRunRow } from '../../src/server/tasks/store.ts';
import { SqlStore, type StoreLocation } from '../../src/store/sql-store.ts';
import { tempDir } from '../harness.ts';
import { createThrowawayDatabase } from './databases.ts';

const dialects: { name: string; open: () => Promise<{ location: StoreLocation; cleanup: () => Promise<void> }> }[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = tempDir('berth-tasks-store-');
      return { location: { kind: 'sqlite', file: path.join(dir, 'berth.db') }, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    async open() {
      const db = await createThrowawayDatabase();
      return { location: { kind: 'postgres', url: db.url }, cleanup: () => db.drop() };
    },
  },
];

function task(id: string, at: string): TaskRow {
  return { id, owner_id: 'usr_1', project_id: 'prj_1', provisioner: null, ref: 'main', from_ws: null, count: 3, concurrency: 2, cleanup: 'keep-failed', cmd_json: '["true"]', spec_json: null, state: 'running', message: null, created_at: at, finished_at: null };
}

function run(taskId: string, idx: number): TaskRunRow {
  return { task_id: taskId, idx, workspace_id: null, workspace_name: `${taskId}-${idx}`, phase: 'queued', step: 'queued', exit_code: null, started_at: null, finished_at: null, duration_ms: null, start_commit: null, diff_stat: null, branch: null, pushed: 0, last_line: null, message: null, log: '' };
}

for (const d of dialects) {
  describe(`task store on ${d.name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of cleanups) await c();
    });

    test('tasks, runs, logs and activity read back as written', async () => {
      const { location, cleanup } = await d.open();
      const sql = await SqlStore.create(location);
      cleanups.push(async () => {
        await sql.close();
        await cleanup();
      });
      const s = new TaskStore(sql.kysely);
      await s.create(task('tk-0000000001', '2026-01-01T00:00:00.000Z'), [0, 1, 2].map((i) => run('tk-0000000001', i)));
      await s.create(task('tk-0000000002', '2026-01-02T00:00:00.000Z'), [run('tk-0000000002', 0)]);

      await s.updateRun('tk-0000000001', 1, { phase: 'failed', step: 'done', exit_code: 3, duration_ms: 1234, pushed: 1, log: 'out\n' });
      const runs = await s.runs('tk-0000000001');
      assert.deepEqual(runs.map((r) => r.idx), [0, 1, 2]);
      assert.deepEqual([runs[1]!.exit_code, runs[1]!.duration_ms, runs[1]!.pushed, runs[1]!.phase], [3, 1234, 1, 'failed']);
      assert.equal(runs[1]!.log, '', 'runs are read without their logs');
      assert.deepEqual(await s.logs('tk-0000000001', 1), [{ idx: 1, workspace_name: 'tk-0000000001-1', log: 'out\n' }]);

      assert.deepEqual((await s.list()).map((t) => t.id), ['tk-0000000002', 'tk-0000000001'], 'newest first');
      await s.update('tk-0000000002', { state: 'done' });
      assert.deepEqual((await s.list({ state: 'running' })).map((t) => [t.id, t.count]), [['tk-0000000001', 3]]);

      await s.putActivity({ workspace_id: 'ws_1', last_command: 'ls', last_command_at: 'a', last_output_at: null });
      await s.putActivity({ workspace_id: 'ws_1', last_command: 'make', last_command_at: 'b', last_output_at: 'c' });
      assert.deepEqual(await s.getActivity('ws_1'), { workspace_id: 'ws_1', last_command: 'make', last_command_at: 'b', last_output_at: 'c' });
      // ws_1 has no workspace row: its activity goes at the next start.
      assert.equal(await s.pruneActivity(), 1);
      assert.equal(await s.getActivity('ws_1'), undefined);

      await s.delete('tk-0000000001');
      assert.equal(await s.get('tk-0000000001'), undefined);
      assert.deepEqual(await s.runs('tk-0000000001'), []);
    });
  });
}
