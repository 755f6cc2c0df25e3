/** Tests of the mirror manager against a real local upstream: shared fetches and cancellation, and ref lookups. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { AbortedError } from '../../core/errors.ts';
import { createLogger } from '../logger.ts';
import { GitMirrors, type MirrorProject } from './mirrors.ts';

let dir: string;
let upstream: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-mirrors-'));
  upstream = path.join(dir, 'up');
  const env = { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@e' };
  execFileSync('git', ['init', '-q', '-b', 'main', upstream]);
  fs.writeFileSync(path.join(upstream, 'f.txt'), 'x\n');
  execFileSync('git', ['-C', upstream, 'add', '.'], { env });
  execFileSync('git', ['-C', upstream, 'commit', '-q', '-m', 'one'], { env });
  execFileSync('git', ['-C', upstream, 'branch', 'dev'], { env });
  execFileSync('git', ['-C', upstream, 'branch', 'feature/x'], { env });
  execFileSync('git', ['-C', upstream, 'tag', 'v1'], { env });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function mirrors(name: string): GitMirrors {
  return new GitMirrors({ root: path.join(dir, name), freshnessMs: 60_000, logger: createLogger('silent') });
}
const project = (name: string): MirrorProject => ({ name, repo: upstream, credentials: null });

test("one caller's cancellation does not kill a fetch another caller shares", async () => {
  const m = mirrors('shared');
  const first = new AbortController();
  const a = m.sync(project('app'), { signal: first.signal });
  const b = m.sync(project('app'));
  const c = m.sync(project('app'), { signal: new AbortController().signal });
  first.abort();
  const [ra, rb, rc] = await Promise.allSettled([a, b, c]);
  assert.equal(rb.status, 'fulfilled', `the other callers' fetch went on: ${rb.status === 'rejected' ? String(rb.reason) : ''}`);
  assert.equal(rc.status, 'fulfilled');
  assert.equal(rb.value.fetched, true);
  assert.equal(rb.value.head, 'main');
  assert.deepEqual(rc.value, rb.value, 'both waited for the same fetch');
  assert.ok(m.exists('app'));
  assert.ok(ra.status === 'rejected' && ra.reason instanceof AbortedError, 'the cancelled caller stopped waiting');
});

test('when every caller stops waiting the fetch is cancelled, and the next caller fetches afresh', async () => {
  const m = mirrors('cancel');
  const one = new AbortController();
  const two = new AbortController();
  const a = m.sync(project('app'), { signal: one.signal });
  const b = m.sync(project('app'), { signal: two.signal });
  one.abort();
  two.abort();
  await assert.rejects(a, AbortedError);
  await assert.rejects(b, AbortedError);
  await assert.rejects(m.sync(project('app'), { signal: AbortSignal.abort() }), AbortedError);
  const r = await m.sync(project('app'));
  assert.equal(r.fetched, true);
  assert.ok(m.exists('app'));
  assert.deepEqual(fs.readdirSync(m.tmpDir), [], 'no half-created mirror is left behind');
});

test('hasRef finds branches and tags; branches lists the default branch first', async () => {
  const m = mirrors('refs');
  await m.prepare(project('app'));
  for (const ref of ['main', 'dev', 'feature/x', 'v1']) assert.equal(await m.hasRef('app', ref), true, ref);
  for (const ref of ['nope', 'feature', 'refs/heads/main']) assert.equal(await m.hasRef('app', ref), false, ref);
  // Packed refs count too.
  execFileSync('git', ['--git-dir', m.path('app'), 'pack-refs', '--all']);
  assert.equal(await m.hasRef('app', 'dev'), true);
  assert.deepEqual(await m.branches('app'), ['main', 'dev', 'feature/x']);
});

test('commitOf gives the commit a clone checks out: HEAD, branches loose or packed, tags peeled, nothing for a missing ref', async () => {
  const m = mirrors('commits');
  await m.prepare(project('app'));
  const env = { ...process.env, GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@e' };
  const head = execFileSync('git', ['-C', upstream, 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
  execFileSync('git', ['--git-dir', m.path('app'), 'tag', '-a', '-m', 'annotated', 'v2', head], { env });
  for (const ref of [undefined, 'main', 'dev', 'feature/x', 'v1', 'v2']) assert.equal(await m.commitOf('app', ref), head, String(ref));
  assert.equal(await m.commitOf('app', 'nope'), undefined);
  execFileSync('git', ['--git-dir', m.path('app'), 'pack-refs', '--all']);
  for (const ref of [undefined, 'dev', 'v2']) assert.equal(await m.commitOf('app', ref), head, `${String(ref)}, packed`);
});
