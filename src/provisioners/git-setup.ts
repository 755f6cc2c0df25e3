/**
 * Git set-up shared by every provisioner: how a workspace authenticates to the control plane's git
 * gateway. The workspace token is never written anywhere: git is given a credential helper that
 * reads `$BERTH_WORKSPACE_TOKEN` from the environment each time it needs a password, so the same
 * configuration keeps working after the token rotates on reprovision.
 *
 * Clone: pass `ws.project.gitEnv` to `git clone` (it carries the helper as GIT_CONFIG_* variables).
 * After clone: run the steps of `checkoutConfigSteps(ws.project.gitEnv)` in the checkout (or, inside a
 * container, `sh -c checkoutConfigScript(dir, ws.project.gitEnv)`), which persist that same helper
 * in `.git/config` so `git pull` / `git push` in terminals just work.
 */

/** The credential helper: answers `get` with user "berth" and the workspace token from the environment. */
export const GATEWAY_CREDENTIAL_HELPER = '!f() { test "$1" = get || exit 0; echo username=berth; echo "password=$BERTH_WORKSPACE_TOKEN"; }; f';

/** Turns `[key, value]` pairs into GIT_CONFIG_COUNT/GIT_CONFIG_KEY_n/GIT_CONFIG_VALUE_n variables (git ≥ 2.31). */
export function gitConfigEnv(pairs: [string, string][]): Record<string, string> {
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(pairs.length) };
  pairs.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

/** Reads the `[key, value]` pairs back out of GIT_CONFIG_* variables. */
export function gitConfigPairs(env: Record<string, string> | undefined): [string, string][] {
  const n = Number(env?.GIT_CONFIG_COUNT ?? 0);
  const out: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    const k = env?.[`GIT_CONFIG_KEY_${i}`];
    if (k !== undefined) out.push([k, env?.[`GIT_CONFIG_VALUE_${i}`] ?? '']);
  }
  return out;
}

/**
 * The credential configuration for a gateway at `serverUrl`, scoped to its origin so the token is
 * never offered to another host (a submodule on a public forge, say). The empty first value clears
 * helpers configured globally, so a `store` helper can never write the token to a file.
 */
export function gatewayCredentialConfig(serverUrl: string): [string, string][] {
  const key = `credential.${new URL(serverUrl).origin}.helper`;
  return [
    [key, ''],
    [key, GATEWAY_CREDENTIAL_HELPER],
  ];
}

/** Environment for `git clone` from the gateway at `serverUrl` (no secret inside; it references $BERTH_WORKSPACE_TOKEN). */
export function gatewayGitEnv(serverUrl: string): Record<string, string> {
  return { ...gitConfigEnv(gatewayCredentialConfig(serverUrl)), GIT_TERMINAL_PROMPT: '0' };
}

/** One `git config` invocation (argv after `git`) and the exit codes that count as success. */
export interface GitConfigStep {
  args: string[];
  okCodes: number[];
}

/** The settings of `gitEnv` a checkout keeps in its `.git/config`: the credential ones. */
export function checkoutConfigPairs(gitEnv: Record<string, string> | undefined): [string, string][] {
  return gitConfigPairs(gitEnv).filter(([k]) => k.toLowerCase().startsWith('credential.'));
}

/**
 * The `git config` calls that persist the credential settings of `gitEnv` in a checkout's
 * `.git/config`. Idempotent: each key is cleared first (exit code 5 means there was nothing to clear).
 */
export function checkoutConfigSteps(gitEnv: Record<string, string> | undefined): GitConfigStep[] {
  const pairs = checkoutConfigPairs(gitEnv);
  const steps: GitConfigStep[] = [];
  for (const key of [...new Set(pairs.map(([k]) => k))]) {
    steps.push({ args: ['config', '--local', '--unset-all', key], okCodes: [0, 5] });
    for (const [, v] of pairs.filter(([k]) => k === key)) steps.push({ args: ['config', '--local', '--add', key, v], okCodes: [0] });
  }
  return steps;
}

/** Quotes a string for a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The same steps as one POSIX `sh` script run against the checkout in `dir`, for runtimes that exec inside a container. */
export function checkoutConfigScript(dir: string, gitEnv: Record<string, string> | undefined): string {
  const lines = ['set -e'];
  for (const step of checkoutConfigSteps(gitEnv)) {
    const cmd = ['git', '-C', dir, ...step.args].map(shellQuote).join(' ');
    lines.push(step.okCodes.includes(5) ? `${cmd} || [ $? -eq 5 ]` : cmd);
  }
  return lines.join('\n');
}

/** Rewrites `from` (an origin like http://127.0.0.1:7420) to `to` in the keys and values of GIT_CONFIG_* pairs. */
export function rewriteGitEnv(gitEnv: Record<string, string> | undefined, from: string, to: string): Record<string, string> | undefined {
  if (!gitEnv || from === to) return gitEnv;
  const pairs = gitConfigPairs(gitEnv).map(([k, v]) => [k.split(from).join(to), v] as [string, string]);
  const rest = Object.fromEntries(Object.entries(gitEnv).filter(([k]) => !/^GIT_CONFIG_(COUNT|KEY_\d+|VALUE_\d+)$/.test(k)));
  return { ...rest, ...gitConfigEnv(pairs) };
}
