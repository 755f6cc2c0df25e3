/** Shared set-up of the git gateway tests: upstream repositories, a credential helper for host-side git, small checks. */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { BerthClient } from '../../src/sdk/client.ts';
import { git, makeRepo, tempDir } from '../harness.ts';

/** A password no test output would contain by accident. */
export const UPSTREAM_PASSWORD = `pw-${Math.random().toString(36).slice(2)}-upstream-secret`;
export const UPSTREAM_USER = 'alice';

/** Creates `<root>/<name>.git`, a bare repository with one commit on main; returns its path. */
export function bareUpstream(root: string, name: string, files: Record<string, string> = { 'README.md': '# app\n' }): string {
  const work = makeRepo(files);
  const bare = path.join(root, `${name}.git`);
  git(root, 'clone', '-q', '--bare', work, bare);
  fs.rmSync(work, { recursive: true, force: true });
  return bare;
}

/** The environment for host-side git that sends `token` to the gateway through a credential helper reading it from the environment. */
export function tokenGitEnv(token: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    TEST_TOKEN: token,
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'credential.helper',
    GIT_CONFIG_VALUE_0: '',
    GIT_CONFIG_KEY_1: 'credential.helper',
    GIT_CONFIG_VALUE_1: '!f() { test "$1" = get && echo username=test && echo "password=$TEST_TOKEN"; }; f',
    GIT_AUTHOR_NAME: 'Host',
    GIT_AUTHOR_EMAIL: 'host@example.com',
    GIT_COMMITTER_NAME: 'Host',
    GIT_COMMITTER_EMAIL: 'host@example.com',
  };
}

/** Runs git on the host against the gateway, sending `token` through a credential helper that reads it from the environment. */
export function gitWithToken(cwd: string, token: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', env: tokenGitEnv(token) });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** The commit a ref points to in a repository, or '' when absent. */
export function revParse(repo: string, ref: string): string {
  try {
    return execFileSync('git', ['--git-dir', repo, 'rev-parse', '--verify', '-q', ref], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/** Runs a command in a workspace and fails the test with its output when it exits non-zero. */
export async function wsRun(c: BerthClient, ws: string, cmd: string[], expectCode = 0): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await c.run(ws, cmd);
  if (r.code !== expectCode) throw new Error(`${cmd.join(' ')} exited ${r.code} (expected ${expectCode}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Commits a file in a workspace's checkout through a shell. */
export async function wsCommit(c: BerthClient, ws: string, file: string, content: string, message: string): Promise<void> {
  await wsRun(c, ws, ['sh', '-c', `printf '%s\\n' "$0" > "$1" && git add -- "$1" && git -c user.name=Dev -c user.email=dev@example.com commit -q -m "$2"`, content, file, message]);
}

/** Every file under `dir` whose contents include `needle` (symlinks are not followed). */
export function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

/** A directory for upstream repositories. */
export function upstreamRoot(): string {
  return tempDir('berth-upstream-');
}
