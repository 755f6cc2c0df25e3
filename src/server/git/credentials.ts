/**
 * Upstream credentials of a project and how git is given them: only through the environment
 * (a credential helper reading variables) or GIT_SSH_COMMAND with a temporary key file (mode 0600,
 * removed afterwards). Never on a command line, never in a URL.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../../core/errors.ts';
import { gitConfigEnv, shellQuote } from '../../provisioners/git-setup.ts';

/** Credentials for the upstream repository, as stored (encrypted) with the project. */
export type ProjectCredentials = { kind: 'password'; username: string; password: string } | { kind: 'ssh-key'; privateKey: string };

/** Credentials as clients send them. */
export interface CredentialsInput {
  username?: string;
  password?: string;
  sshKey?: string;
}

/** The credential helper the control plane uses towards upstreams; the values come from the environment. */
export const UPSTREAM_CREDENTIAL_HELPER = '!f() { test "$1" = get || exit 0; echo "username=$BERTH_GIT_USERNAME"; echo "password=$BERTH_GIT_PASSWORD"; }; f';

/** How a repository URL is reached: decides which kind of credentials fits it. */
export function transportOf(repo: string): 'http' | 'ssh' | 'local' | 'git' {
  if (/^https?:\/\//.test(repo)) return 'http';
  if (/^ssh:\/\//.test(repo) || /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/.test(repo)) return 'ssh';
  if (/^git:\/\//.test(repo)) return 'git';
  return 'local';
}

/**
 * Refuses secrets in a repository URL, which is stored in clear and shown to every user: any user
 * info in an http(s) URL (a token alone is a secret), and a password in any other URL. A user name
 * in ssh://user@host or user@host:path is not a secret and stays allowed.
 */
export function assertNoCredentialsInUrl(repo: string): void {
  if (/^https?:\/\/[^/?#]*@/i.test(repo)) {
    throw new InputError('The repository URL contains a user name or token. Put credentials in --username/--password-stdin, not in the URL. (API: credentials.username and credentials.password.)');
  }
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(repo)) {
    throw new InputError('The repository URL contains a password. Put credentials in --username/--password-stdin (or --ssh-key), not in the URL.');
  }
}

/**
 * Where a repository URL leads, as `scheme://host:port` with the default port filled in (an scp-like
 * `user@host:path` is `ssh://host:22`), or null for a path on the server's disk. Credentials belong
 * to this endpoint: they must not follow a project to another one.
 */
export function upstreamEndpoint(repo: string): string | null {
  const scp = /^[A-Za-z0-9._-]+@([A-Za-z0-9.-]+):(?!\/\/)/.exec(repo);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(repo)) return `ssh://${scp[1]!.toLowerCase()}:22`;
  let url: URL;
  try {
    url = new URL(repo);
  } catch {
    return null;
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const defaults: Record<string, string> = { http: '80', https: '443', ssh: '22', git: '9418' };
  if (!(scheme in defaults)) return null;
  return `${scheme}://${url.hostname.toLowerCase()}:${url.port || defaults[scheme]!}`;
}

/** Validates credentials against the repository URL and returns their stored form (or null for none). */
export function normalizeCredentials(repo: string, input: CredentialsInput | undefined): ProjectCredentials | null {
  assertNoCredentialsInUrl(repo);
  if (!input || (input.username === undefined && input.password === undefined && input.sshKey === undefined)) return null;
  const transport = transportOf(repo);
  if (input.sshKey !== undefined) {
    if (input.username !== undefined || input.password !== undefined) throw new InputError('Give either a username and password or an SSH key, not both.');
    if (transport !== 'ssh') throw new InputError(`An SSH key only works with an ssh:// or user@host:path repository URL, not with ${repo}.`);
    const key = input.sshKey.replace(/\r\n/g, '\n').trim();
    if (!/^-----BEGIN [A-Z ]*PRIVATE KEY-----\n[\s\S]+\n-----END [A-Z ]*PRIVATE KEY-----$/.test(key)) {
      throw new InputError('The SSH key is not a PEM/OpenSSH private key (it must start with "-----BEGIN … PRIVATE KEY-----").');
    }
    if (/Proc-Type: 4,ENCRYPTED|BEGIN ENCRYPTED PRIVATE KEY/.test(key)) throw new InputError('The SSH key is protected by a passphrase; give an unencrypted key (a deploy key) instead.');
    return { kind: 'ssh-key', privateKey: `${key}\n` };
  }
  if (!input.username || !input.password) throw new InputError('Give both a username and a password (or access token) for the repository.');
  if (transport !== 'http') throw new InputError(`A username and password only work with an http:// or https:// repository URL, not with ${repo}; use an SSH key for ssh URLs.`);
  for (const [what, v] of [['username', input.username], ['password', input.password]] as const) {
    if (/[\n\r\0]/.test(v)) throw new InputError(`The ${what} must not contain line breaks or NUL characters.`);
  }
  return { kind: 'password', username: input.username, password: input.password };
}

/** Environment variables inherited from the server process that must not reach git (its own repo settings, Berth's secrets). */
export function baseGitEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('GIT_') || k.startsWith('BERTH_')) continue;
    env[k] = v;
  }
  return { ...env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...extra };
}

/** Git environment for talking to an upstream with the given credentials; call `cleanup` when git has exited. */
export interface UpstreamAuth {
  /** GIT_CONFIG_* pairs to merge into the process's configuration (the credential helper). */
  config: [string, string][];
  /** Variables the helper or GIT_SSH_COMMAND read. */
  env: Record<string, string>;
  /** Removes the temporary key file, if any. Safe to call twice. */
  cleanup(): void;
}

/** Prepares git's access to the upstream; `tmpDir` receives the key file for SSH (mode 0600). */
export function upstreamAuth(creds: ProjectCredentials | null, tmpDir: string, knownHosts: string): UpstreamAuth {
  // An empty helper value first clears any helper configured for the server's user, so no
  // `store` helper ever writes the project's password to disk.
  if (!creds) return { config: [['credential.helper', '']], env: {}, cleanup: () => undefined };
  if (creds.kind === 'password') {
    return {
      config: [
        ['credential.helper', ''],
        ['credential.helper', UPSTREAM_CREDENTIAL_HELPER],
      ],
      env: { BERTH_GIT_USERNAME: creds.username, BERTH_GIT_PASSWORD: creds.password },
      cleanup: () => undefined,
    };
  }
  fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  const keyFile = path.join(tmpDir, `key-${crypto.randomBytes(8).toString('hex')}`);
  fs.writeFileSync(keyFile, creds.privateKey, { mode: 0o600, flag: 'wx' });
  const ssh = ['ssh', '-i', keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', `UserKnownHostsFile=${knownHosts}`]
    .map(shellQuote)
    .join(' ');
  return {
    config: [['credential.helper', '']],
    env: { GIT_SSH_COMMAND: ssh },
    cleanup: () => fs.rmSync(keyFile, { force: true }),
  };
}

/** Merges configuration pairs and variables into one environment for a git process. */
export function gitEnvWith(config: [string, string][], env: Record<string, string> = {}): Record<string, string> {
  return baseGitEnv({ ...gitConfigEnv(config), ...env });
}

/** Replaces every secret value of `creds` inside `text` (defence in depth for messages built from git's output). */
export function scrubSecrets(text: string, creds: ProjectCredentials | null): string {
  if (!creds) return text;
  const secret = creds.kind === 'password' ? creds.password : creds.privateKey.trim();
  return secret.length >= 4 ? text.split(secret).join('[redacted]') : text;
}
