/** Unit tests of how workspace git operations treat paths outside the checkout, with a provisioner that only pretends to run git. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { BerthError, InputError } from '../../core/errors.ts';
import type { ExecOptions, ExecProcess, Provisioner, WorkspaceContext } from '../../provisioners/provisioner.ts';
import { statusFor } from '../errors.ts';
import { WorkspaceGit, type GitTarget } from './ops.ts';

/** A target whose git answers every command with `code` and `stderr`, recording the commands. */
function fakeTarget(code: number, stderr: string): GitTarget & { commands: string[][] } {
  const commands: string[][] = [];
  const provisioner = {
    exec: async (_ctx: WorkspaceContext, opts: ExecOptions): Promise<ExecProcess> => {
      commands.push(opts.cmd);
      const stdout = new PassThrough();
      const err = new PassThrough();
      stdout.end();
      err.end(stderr);
      // Like a real runtime, the exit is reported once the output has been read.
      const exited = Promise.all([once(stdout, 'end'), once(err, 'end')]).then(() => ({ code }));
      return { stdin: new PassThrough(), stdout, stderr: err, resize: () => undefined, kill: () => undefined, exited };
    },
  } as unknown as Provisioner;
  return { provisioner, ctx: { owner: { name: 'ann' } } as unknown as WorkspaceContext, commands };
}

test('paths with ".." segments or absolute paths are refused before git runs', async () => {
  const ops = new WorkspaceGit();
  for (const p of ['../outside.txt', 'src/../../etc/passwd', '/etc/passwd', 'a/..']) {
    for (const verb of ['stage', 'unstage', 'discard'] as const) {
      const t = fakeTarget(0, '');
      await assert.rejects(ops[verb](t, { paths: ['ok.txt', p] }), (e: unknown) => e instanceof InputError && /absolute|"\.\." segment/.test(e.message), `${verb} ${p}`);
      assert.deepEqual(t.commands, [], `git ran for ${verb} ${p}`);
    }
    const t = fakeTarget(0, '');
    await assert.rejects(ops.diff(t, [p]), InputError);
    assert.deepEqual(t.commands, []);
  }
});

test("git's outside-repository and pathspec errors are input errors (400), not 502", async () => {
  const ops = new WorkspaceGit();
  for (const stderr of [
    "fatal: link/x: 'link/x' is outside repository at '/workspace/work'",
    "fatal: pathspec 'link/secret' is beyond a symbolic link",
    "fatal: Unimplemented pathspec magic 'q' in ':(q)x'",
  ]) {
    await assert.rejects(ops.stage(fakeTarget(128, stderr), { paths: ['link/x'] }), (e: unknown) => {
      assert.ok(e instanceof BerthError);
      assert.equal(statusFor(e.code), 400, e.message);
      assert.match(e.message, /outside the checkout or not a valid path in it[\s\S]*git said: fatal:/);
      return true;
    });
  }
  // Other failures stay server-side errors.
  await assert.rejects(ops.stage(fakeTarget(128, 'fatal: unable to write new index file'), { paths: ['a'] }), (e: unknown) => e instanceof BerthError && statusFor(e.code) === 502);
});
