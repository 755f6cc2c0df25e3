/**
 * Task fan-out through a real server and the real CLI: N workspaces each run one command and push
 * a branch upstream (shell and docker), failures are named exactly, cleanup policies do what they
 * say, a restart marks unfinished runs interrupted, and workspaces show what ran in them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Task } from '../../src/sdk/tasks.ts';
import { TestServer, eventually, git, rejectsWith, runCli, tempDir, waitGone, waitPhase } from '../harness.ts';
import { testEnv, startDemo, stopDemo } from '../docker/env.ts';

let server: TestServer;
let repo: string;
let installation: string;

before(async () => ({ server, repo, installation } = await startDemo({ 'README.md': '# tasks\n' })));
after(() => stopDemo({ server, repo, installation }));

/** The task id a `task run` printed in its first line. */
function taskId(stderr: string): string {
  const m = /Task (tk-[a-f0-9]{10})/.exec(stderr);
  assert.ok(m, `no task id in: ${stderr}`);
  return m[1]!;
}

/** Branches of the upstream repository under task/<id>/. */
function upstreamBranches(id: string): string[] {
  return git(repo, 'for-each-ref', '--format=%(refname:short)', `refs/heads/task/${id}/`).split('\n').filter(Boolean);
}

const PUSH_INDEX = "echo $BERTH_TASK_INDEX > out.txt && git add -A && git commit -qm t && git push -q origin HEAD";

/** 20 runs that each commit their index and push; every run is a branch upstream holding its own index. */
async function twentyBranches(provisioner: string, extra: string[]): Promise<void> {
  const r = await runCli(server, ['task', 'run', '--project', 'demo', '--count', '20', '--provisioner', provisioner, '--concurrency', '4', ...extra, '--', 'sh', '-c', PUSH_INDEX], { timeoutMs: 900_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const id = taskId(r.stderr);
  assert.match(r.stdout, /20 succeeded, 0 failed/);
  assert.match(r.stdout, /Branches pushed: 20/);
  const branches = upstreamBranches(id);
  assert.equal(branches.length, 20, branches.join(' '));
  for (const i of [0, 7, 19]) assert.equal(git(repo, 'show', `task/${id}/${i}:out.txt`).trim(), String(i));
  const t = (await runCli(server, ['task', 'show', id, '--json'])).stdout;
  const task = JSON.parse(t) as Task;
  assert.equal(task.state, 'done');
  assert.ok(task.runs.every((x) => x.exitCode === 0 && x.pushed && x.durationMs !== null && /1 file changed/.test(x.diffStat ?? '')), t);
  // keep-failed (the default): every run succeeded, so no workspace is left.
  await eventually(async () => (await server.client().listWorkspaces()).every((w) => !w.name.startsWith(id)), 'the workspaces of the task to be deleted', 120_000);
}

test('shell: task run --count 20 pushes 20 branches upstream and reports 20 successes', { timeout: 900_000 }, async () => {
  await twentyBranches('shell', []);
});

test('a task where some commands fail names exactly those runs, keeps their workspaces and exits non-zero', async () => {
  const r = await runCli(server, ['task', 'run', '--project', 'demo', '--count', '10', '--provisioner', 'shell', '--concurrency', '5', '--', 'sh', '-c', 'echo run $BERTH_TASK_INDEX; test $BERTH_TASK_INDEX -ne 3 -a $BERTH_TASK_INDEX -ne 7'], { timeoutMs: 300_000 });
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  const id = taskId(r.stderr);
  assert.match(r.stdout, /8 succeeded, 2 failed/);
  assert.match(r.stdout, new RegExp(`run 3 \\(${id}-3\\) failed with exit code 1`));
  assert.match(r.stdout, new RegExp(`run 7 \\(${id}-7\\) failed with exit code 1`));
  assert.doesNotMatch(r.stdout, /run [012456890] \(/);
  const c = server.client();
  const task = await c.tasks.getTask(id);
  assert.deepEqual(task.runs.filter((x) => x.phase === 'failed').map((x) => x.index), [3, 7]);
  assert.equal(task.runs[5]!.lastLine, 'run 5');
  // keep-failed: the failed runs' workspaces stay for a look, the others go.
  await eventually(async () => (await c.listWorkspaces()).filter((w) => w.name.startsWith(id)).length === 2, 'only the failed runs to keep their workspaces', 120_000);
  const kept = await c.getWorkspace(`${id}-3`);
  assert.equal(kept.phase, 'running');
  assert.match(kept.activity?.lastCommand ?? '', /^sh -c 'echo run \$BERTH_TASK_INDEX; test/);
  assert.ok(kept.activity?.lastCommandAt && kept.activity.lastOutputAt, JSON.stringify(kept.activity));
  // The run's output is kept.
  const logs = await runCli(server, ['task', 'logs', id, '--index', '3']);
  assert.equal(logs.stdout, 'run 3\n');
  const list = await runCli(server, ['task', 'list']);
  assert.match(list.stdout, new RegExp(`${id}\\s+demo\\s+done\\s+8/10\\s+2`));
  // rm deletes what the task kept.
  const rm = await runCli(server, ['task', 'rm', id]);
  assert.equal(rm.code, 0, rm.stderr);
  await waitGone(c, `${id}-3`);
  await waitGone(c, `${id}-7`);
  await assert.rejects(c.tasks.getTask(id), /No task/);
});

test('cleanup policies: keep all keeps every workspace, none deletes even failed ones', async () => {
  const c = server.client();
  let r = await runCli(server, ['task', 'run', '--project', 'demo', '--count', '2', '--provisioner', 'shell', '--keep', 'all', '--', 'true']);
  assert.equal(r.code, 0, r.stderr);
  const all = taskId(r.stderr);
  for (const i of [0, 1]) assert.equal((await c.getWorkspace(`${all}-${i}`)).phase, 'running');
  r = await runCli(server, ['task', 'run', '--project', 'demo', '--count', '2', '--provisioner', 'shell', '--keep', 'none', '--', 'false']);
  assert.equal(r.code, 1, r.stderr);
  const none = taskId(r.stderr);
  assert.match(r.stdout, /0 succeeded, 2 failed/);
  for (const i of [0, 1]) await waitGone(c, `${none}-${i}`);
  // The failed runs still pushed what they had: a branch per run.
  assert.equal(upstreamBranches(none).length, 2);
  await c.tasks.deleteTask(all);
  for (const i of [0, 1]) await waitGone(c, `${all}-${i}`);
});

test('a command run over exec shows in the workspace as its last command, secrets masked, in ws show and ws list', async () => {
  const c = server.client();
  const secret = 'tok-4242-very-secret';
  await c.createWorkspace({ name: 'busy', project: 'demo', provisioner: 'shell', spec: { env: [{ name: 'API_KEY', value: secret, secret: true }] } });
  await waitPhase(c, 'busy', 'running');
  const out = await c.run('busy', ['echo', 'using', secret]);
  assert.equal(out.code, 0);
  const w = await c.getWorkspace('busy');
  assert.equal(w.activity?.lastCommand, 'echo using [secret]');
  assert.ok(w.activity?.lastOutputAt, 'the output is noticed');
  const show = await runCli(server, ['ws', 'show', 'busy']);
  assert.match(show.stdout, /Last command: echo using \[secret\] \(\d+s ago\)/);
  const list = await runCli(server, ['ws', 'list']);
  assert.match(list.stdout, /busy .*echo using \[secret\]/);
  assert.doesNotMatch(show.stdout + list.stdout, new RegExp(secret));
  await c.deleteWorkspace('busy');
  await waitGone(c, 'busy');
});

test('task run --from forks a live workspace for every run: each run sees its uncommitted file, the source is untouched', async () => {
  const c = server.client();
  await c.createWorkspace({ name: 'seed', project: 'demo', provisioner: 'shell' });
  await waitPhase(c, 'seed', 'running');
  assert.equal((await c.run('seed', ['sh', '-c', 'echo draft-from-seed > notes.txt'])).code, 0);
  const r = await runCli(server, ['task', 'run', '--project', 'demo', '--from', 'seed', '--count', '3', '--', 'sh', '-c', 'cat notes.txt; echo $BERTH_TASK_INDEX >> notes.txt'], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const id = taskId(r.stderr);
  const task = await c.tasks.getTask(id);
  assert.deepEqual(task.runs.map((x) => x.lastLine), ['draft-from-seed', 'draft-from-seed', 'draft-from-seed']);
  assert.equal(git(repo, 'show', `task/${id}/2:notes.txt`), 'draft-from-seed\n2\n');
  assert.equal((await c.run('seed', ['cat', 'notes.txt'])).stdout, 'draft-from-seed\n');
  await c.deleteWorkspace('seed');
  await waitGone(c, 'seed');
});

test('roles: a viewer of the project lists and shows a task but cannot run or delete one; a stranger does not see it', async () => {
  const admin = server.client();
  const viewer = server.client((await admin.createUser('vic')).token);
  const stranger = server.client((await admin.createUser('stan')).token);
  await admin.setMember('demo', 'vic', 'viewer');
  const t = await admin.tasks.runTask({ project: 'demo', count: 1, provisioner: 'shell', cleanup: 'keep-all', cmd: ['true'] });
  await rejectsWith(viewer.tasks.runTask({ project: 'demo', count: 1, cmd: ['true'] }), 403, /developer/);
  assert.ok((await viewer.tasks.listTasks()).some((x) => x.id === t.id));
  assert.equal((await viewer.tasks.getTask(t.id)).id, t.id);
  await rejectsWith(viewer.tasks.deleteTask(t.id), 403, /Only the owner/);
  assert.ok(!(await stranger.tasks.listTasks()).some((x) => x.id === t.id));
  await rejectsWith(stranger.tasks.getTask(t.id), 404, /No task/);
  await eventually(async () => (await admin.tasks.getTask(t.id)).state === 'done', 'the task to end', 120_000);
  await admin.tasks.deleteTask(t.id);
  await waitGone(admin, `${t.id}-0`);
});

test('a control-plane restart marks the runs it cut short as interrupted, with a sentence, and keeps their workspaces', async () => {
  const c = server.client();
  const t = await c.tasks.runTask({ project: 'demo', count: 1, provisioner: 'shell', cmd: ['sh', '-c', 'echo started; sleep 600'] });
  await eventually(async () => (await c.tasks.getTask(t.id)).runs[0]!.step === 'running', 'the run to start its command', 120_000);
  // The workspace says what the agent in it is doing.
  const busy = await c.getWorkspace(`${t.id}-0`);
  assert.equal(busy.activity?.taskStep, 'running');
  assert.equal(busy.activity?.lastCommand, "sh -c 'echo started; sleep 600'");
  // The output of a run still in progress can be read.
  await eventually(async () => (await c.tasks.taskLogs(t.id, 0))[0]!.log === 'started\n', 'the live output of the run');
  await server.restart();
  const c2 = server.client();
  const after = await c2.tasks.getTask(t.id);
  assert.equal(after.state, 'interrupted');
  assert.equal(after.runs[0]!.phase, 'interrupted');
  assert.match(after.runs[0]!.message ?? '', /restarted while this run was running/);
  assert.match(after.message ?? '', /restarted while the task ran/);
  await c2.tasks.deleteTask(t.id);
  await waitGone(c2, `${t.id}-0`);
});

test('docker: task run --count 20 pushes 20 branches upstream and reports 20 successes', { timeout: 900_000 }, async () => {
  const env = testEnv();
  const dir = tempDir('berth-task-spec-');
  const spec = path.join(dir, 'spec.json');
  fs.writeFileSync(spec, JSON.stringify({ image: env.BERTH_TEST_IMAGE }));
  await twentyBranches('docker', ['--spec', spec]);
  fs.rmSync(dir, { recursive: true, force: true });
});
