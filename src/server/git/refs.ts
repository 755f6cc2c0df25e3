/** Branch names as git accepts them: checked against git's rules before they are stored or cloned. */
import { InputError } from '../../core/errors.ts';
import { BRANCH_NAME_PATTERN } from '../../sdk/wire.ts';
import { baseGitEnv } from './credentials.ts';
import { runGit } from './run.ts';

const BRANCH_RE = new RegExp(BRANCH_NAME_PATTERN, 'u');

/**
 * Throws InputError unless `git check-ref-format --branch` accepts `name`. The pattern answers
 * most names without a process; git has the last word, so both sides never disagree.
 */
export async function assertBranchName(name: string, field: string): Promise<void> {
  const bad = () =>
    new InputError(`${field} has an invalid format: "${name.slice(0, 80)}" is not a valid git branch name (git check-ref-format --branch refuses it).`);
  if (name.length === 0 || name.length > 255 || !BRANCH_RE.test(name)) throw bad();
  const r = await runGit(['check-ref-format', '--branch', name], { env: baseGitEnv() });
  // --branch expands `@{-N}` into the branch it names; the pattern already refuses `@{`, so the name must come back unchanged.
  if (r.code !== 0 || r.stdout.trim() !== name) throw bad();
}
