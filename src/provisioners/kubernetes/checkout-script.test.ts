/** The checkout script run by a real sh: it clones when git is there, and says in one sentence when the image has none. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { WorkspaceContext } from '../provisioner.ts';
import { checkoutEnv, initScript, NO_GIT, type CloneSource } from './objects.ts';

function setup(): { dir: string; repo: string; ws: WorkspaceContext; source: CloneSource } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-checkout-'));
  const repo = path.join(dir, 'upstream');
  const git = (...args: string[]) => assert.equal(spawnSync('git', args, { cwd: repo, encoding: 'utf8' }).status, 0, args.join(' '));
  fs.mkdirSync(repo);
  git('init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repo, 'README.md'), 'hi\n');
  git('add', '.');
  git('-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'init');
  const ws = { project: { name: 'demo' }, spec: { mountPath: path.join(dir, 'mnt') } } as unknown as WorkspaceContext;
  return { dir, repo, ws, source: { kind: 'url', url: repo } };
}

function run(script: string, env: Record<string, string>) {
  return spawnSync('/bin/sh', ['-c', script], { env, encoding: 'utf8' });
}

test('an image without git gets one sentence and exit code 127, before anything is written', () => {
  const { dir, ws, source } = setup();
  const noGit = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-nogit-'));
  const r = run(initScript(ws, source, 'http://gateway/git/demo.git', undefined), { ...checkoutEnv(source, undefined), HOME: dir, PATH: noGit });
  assert.equal(r.status, 127);
  assert.equal(r.stderr.trim(), NO_GIT);
  assert.equal(fs.existsSync(ws.spec.mountPath), false);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(noGit, { recursive: true, force: true });
});

test('with git the script clones into work/ and points origin at the gateway', () => {
  const { dir, ws, source } = setup();
  const r = run(initScript(ws, source, 'http://gateway/git/demo.git', undefined), { ...checkoutEnv(source, undefined), HOME: dir, PATH: process.env.PATH ?? '/usr/bin:/bin' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(ws.spec.mountPath, 'work', 'README.md')));
  const origin = spawnSync('git', ['-C', path.join(ws.spec.mountPath, 'work'), 'remote', 'get-url', 'origin'], { encoding: 'utf8' }).stdout.trim();
  assert.equal(origin, 'http://gateway/git/demo.git');
  fs.rmSync(dir, { recursive: true, force: true });
});
