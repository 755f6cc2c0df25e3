/** In-process tests of the gateway's workspace-facing side: what provisioners get in WorkspaceContext.project. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { gitConfigPairs } from '../../provisioners/git-setup.ts';
import { SqlStore } from '../../store/sql-store.ts';
import type { Principal } from '../auth.ts';
import { createLogger } from '../logger.ts';
import { ProjectService } from '../projects.ts';
import { SecretBox } from '../secrets.ts';
import { GitGateway } from './gateway.ts';
import { GitMirrors } from './mirrors.ts';

let dir: string;
let store: SqlStore;
let gateway: GitGateway;
let head: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-gateway-'));
  const work = path.join(dir, 'work');
  const env = { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@e' };
  execFileSync('git', ['init', '-q', '-b', 'main', work]);
  fs.writeFileSync(path.join(work, 'f.txt'), 'x\n');
  execFileSync('git', ['-C', work, 'add', '.'], { env });
  execFileSync('git', ['-C', work, 'commit', '-q', '-m', 'one'], { env });
  execFileSync('git', ['-C', work, 'branch', 'feature'], { env });
  head = execFileSync('git', ['-C', work, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  store = await SqlStore.create({ kind: 'sqlite', file: ':memory:' });
  const logger = createLogger('silent');
  const mirrors = new GitMirrors({ root: path.join(dir, 'git'), freshnessMs: 60_000, logger });
  const projects = new ProjectService(store, { box: SecretBox.open(dir), mirrors });
  const user = await store.createUser({ id: 'usr_1', name: 'ann', role: 'admin', created_at: new Date().toISOString() });
  const p: Principal = { user, tokenId: 'tok_1', kind: 'user', workspaceId: null };
  await projects.create(p, { name: 'app', repo: work });
  gateway = new GitGateway({ store, projects, mirrors, logger });
});
after(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('workspaces get the gateway URL and a credential helper that holds no secret', () => {
  const proj = gateway.workspaceProject('app', 'https://berth.example.com/', 'feature');
  assert.equal(proj.cloneUrl, 'https://berth.example.com/git/app.git');
  const pairs = gitConfigPairs(proj.gitEnv);
  assert.deepEqual(pairs.map(([k]) => k), ['credential.https://berth.example.com.helper', 'credential.https://berth.example.com.helper']);
  assert.match(pairs[1]![1], /\$BERTH_WORKSPACE_TOKEN/);
});

test("the context's bundle() streams a bundle of the workspace's ref that git clones", async () => {
  const proj = gateway.workspaceProject('app', 'http://127.0.0.1:1', 'feature');
  const file = path.join(dir, 'app.bundle');
  await pipeline(await proj.bundle!(new AbortController().signal), fs.createWriteStream(file));
  const out = path.join(dir, 'from-bundle');
  execFileSync('git', ['clone', '-q', '--branch', 'feature', file, out]);
  assert.equal(execFileSync('git', ['-C', out, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(), head);
  await assert.rejects(gateway.bundle('app', 'nope'), /no branch or tag "nope"/);
});
