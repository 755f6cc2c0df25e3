/**
 * Redaction of the secret values Berth knows (workspace tokens, secret env values, registry
 * passwords, secret files, a project's upstream credentials) before text is written to an event,
 * a workspace message or a log line.
 *
 * Choices: values shorter than MIN_SECRET_LENGTH are not redacted, since a 1–3 character value
 * would blank ordinary words and digits all over the output. Each value is matched in its plain,
 * JSON-escaped (log lines are JSON), URL-encoded and base64 forms; a multi-line value (an SSH key,
 * a secret file) is also matched line by line, because output arrives one line at a time.
 * Events and messages use the workspace's own secrets only: redacting other workspaces' values
 * there would let a user test guesses of them. Log lines, read by operators, use all of them.
 */
import type { WorkspaceContext } from '../provisioners/provisioner.ts';
import type { Store } from '../store/store.ts';
import type { ProjectCredentials } from './git/credentials.ts';
import type { Principal } from './auth.ts';
import type { SecretBox } from './secrets.ts';
import type { SpecCodec, WorkspaceService } from './workspaces.ts';

/** What a secret is replaced with. */
export const MASK = '[secret]';
/** Shorter values are not treated as secrets (see the module comment). */
export const MIN_SECRET_LENGTH = 4;
/** Shorter lines of a multi-line secret are not matched on their own. */
const MIN_LINE_LENGTH = 8;
/** Any Berth token, known or not, e.g. one quoted in command output after a rotation. */
const TOKEN_RE = /berth_[uw]_[A-Za-z0-9_-]{43}/g;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The forms in which `value` may appear in text: plain, JSON-escaped, URL-encoded, base64, and its lines. */
export function secretForms(value: string): string[] {
  if (value.length < MIN_SECRET_LENGTH) return [];
  const forms = new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value), Buffer.from(value).toString('base64')]);
  const trimmed = value.trim();
  if (trimmed.length >= MIN_SECRET_LENGTH) forms.add(trimmed);
  for (const line of value.split(/\r?\n/)) if (line.trim().length >= MIN_LINE_LENGTH) forms.add(line.trim());
  return [...forms];
}

/** Replaces a fixed set of secret values (and any Berth token) in text. */
export class Redactor {
  private readonly re: RegExp | null;

  constructor(values: Iterable<string>) {
    const forms = new Set<string>();
    for (const v of values) for (const f of secretForms(v)) forms.add(f);
    // Longest first, so a value containing another is replaced whole.
    const sorted = [...forms].sort((a, b) => b.length - a.length);
    this.re = sorted.length ? new RegExp(sorted.map(escapeRe).join('|'), 'g') : null;
  }

  /** `text` with every known secret and every Berth token replaced by MASK. */
  redact(text: string): string {
    const out = this.re ? text.replace(this.re, MASK) : text;
    return out.replace(TOKEN_RE, MASK);
  }
}

/** The secret values in a workspace context: its token, secret env values, registry passwords and secret files. */
export function contextSecrets(ctx: Pick<WorkspaceContext, 'spec' | 'env'>): string[] {
  const token = ctx.env.BERTH_WORKSPACE_TOKEN;
  return [
    ...(token ? [token] : []),
    ...ctx.spec.env.filter((e) => e.secret).map((e) => e.value),
    ...ctx.spec.registryLogins.map((l) => l.password),
    ...ctx.spec.files.filter((f) => f.secret).map((f) => f.content),
  ];
}

/** The password or SSH key in a project's sealed upstream credentials; none when they cannot be opened. */
export function credentialSecrets(box: SecretBox, sealed: string | null): string[] {
  if (!sealed) return [];
  try {
    const c = JSON.parse(box.decrypt(sealed)) as ProjectCredentials;
    return c.kind === 'password' ? [c.password] : [c.privateKey];
  } catch {
    return [];
  }
}

/**
 * A loader reading a workspace's spec secrets, current token and project credentials from the store.
 * The spec does not change after create; a token rotated later is caught by the Berth token pattern.
 */
export function storeLoader(o: { store: Store; codec: SpecCodec; box: SecretBox }): SecretLoader {
  return async (workspaceId) => {
    const row = await o.store.getWorkspace(workspaceId);
    if (!row) return [];
    const [token, project] = await Promise.all([o.store.currentWorkspaceToken(row.id), o.store.getProject(row.project_id)]);
    return [
      ...contextSecrets({ spec: o.codec.decode(row.spec_json), env: token?.secret_enc ? { BERTH_WORKSPACE_TOKEN: o.box.decrypt(token.secret_enc) } : {} }),
      ...credentialSecrets(o.box, project?.credentials_enc ?? null),
    ];
  };
}

const TOKENS_ONLY = new Redactor([]);

/**
 * An error answer with the secrets of the workspace its route names (`ref`) replaced, when the
 * caller may see that workspace (whose secrets it has anyway); otherwise with Berth tokens scrubbed.
 */
export async function redactErrorBody(
  o: { workspaces: Pick<WorkspaceService, 'resolve'>; events: { redact(workspaceId: string, text: string): Promise<string> } },
  principal: Principal | null,
  ref: string | undefined,
  body: string,
): Promise<string> {
  const row = principal && ref ? await o.workspaces.resolve(principal, ref).catch(() => undefined) : undefined;
  return row ? o.events.redact(row.id, body) : TOKENS_ONLY.redact(body);
}

/** Loads the secret values of a workspace from the store (used after a restart). */
export type SecretLoader = (workspaceId: string) => Promise<string[]>;

/** The secret values known per workspace, and redactors built from them. */
export class SecretRedactors {
  private readonly values = new Map<string, Set<string>>();
  private readonly redactors = new Map<string, Redactor>();
  private readonly loading = new Map<string, Promise<Redactor>>();
  /** Built on first use after a change: a start that loads many workspaces builds it once. */
  private all: Redactor | undefined;
  private loader: SecretLoader | undefined;

  /** Sets how a workspace's secrets are read when none were learned yet (set once the store is open). */
  loadWith(loader: SecretLoader): void {
    this.loader = loader;
  }

  /** Adds secret values of a workspace; old values stay known, so a value replaced by a spec change remains redacted. */
  learn(workspaceId: string, secrets: string[]): void {
    const set = this.values.get(workspaceId) ?? new Set<string>();
    const before = set.size;
    for (const s of secrets) if (s.length >= MIN_SECRET_LENGTH) set.add(s);
    this.values.set(workspaceId, set);
    if (set.size === before && this.redactors.has(workspaceId)) return;
    this.redactors.set(workspaceId, new Redactor(set));
    this.all = undefined;
  }

  /** Drops a deleted workspace's values. */
  forget(workspaceId: string): void {
    this.values.delete(workspaceId);
    this.redactors.delete(workspaceId);
    this.all = undefined;
  }

  /** The workspace's redactor, loading its secrets once if none were learned yet. */
  forWorkspace(workspaceId: string): Redactor | Promise<Redactor> {
    const known = this.redactors.get(workspaceId);
    if (known) return known;
    let p = this.loading.get(workspaceId);
    if (!p) {
      p = this.load(workspaceId).finally(() => this.loading.delete(workspaceId));
      this.loading.set(workspaceId, p);
    }
    return p;
  }

  /** Reads a workspace's secrets again (its spec changed), keeping those known before. */
  async refresh(workspaceId: string): Promise<void> {
    await this.load(workspaceId);
  }

  /** Loads the secrets of the given workspaces, so log lines redact them from the start. */
  async preload(workspaceIds: string[]): Promise<void> {
    for (const id of workspaceIds) await this.forWorkspace(id);
  }

  /** `text` with the workspace's secrets replaced. */
  async redact(workspaceId: string, text: string): Promise<string> {
    return (await this.forWorkspace(workspaceId)).redact(text);
  }

  /** `text` with every known secret of every workspace replaced: for log lines. */
  redactAll(text: string): string {
    this.all ??= new Redactor([...this.values.values()].flatMap((v) => [...v]));
    return this.all.redact(text);
  }

  private async load(workspaceId: string): Promise<Redactor> {
    // A workspace whose secrets cannot be opened still gets its events, with tokens scrubbed.
    const secrets = this.loader ? await this.loader(workspaceId).catch(() => []) : [];
    this.learn(workspaceId, secrets);
    return this.redactors.get(workspaceId)!;
  }
}
