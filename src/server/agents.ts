/**
 * The registry of remote host agents: `agent add` records an agent and hands out a one-time
 * enrollment token (only its hash is kept); enrollment signs the CSR made on the agent host and
 * issues the client certificate the control plane presents to that agent only; revoking or
 * removing an agent ends its use at once. `AgentDirectory` is the part the `agent` provisioner
 * gets as `PluginContext.agents`.
 *
 * One client certificate per agent, not one for the whole control plane: the agent pins the
 * fingerprint enrollment gave it, so the credential the control plane holds for one agent opens
 * no other, and revoking an agent destroys the only key that agent accepts.
 */
import crypto, { X509Certificate } from 'node:crypto';
import { ConflictError, InputError, NotFoundError, ProvisionerError, UnauthorizedError } from '../core/errors.ts';
import { assertName } from '../core/names.ts';
import { parseDuration } from '../core/units.ts';
import type { CertificateAuthority } from '../pki/ca.ts';
import { sanOfUrl } from '../pki/x509.ts';
import type { Agent, CreateAgent, EnrollAgent, EnrolledAgent, NewAgent } from '../sdk/agents.ts';
import type { AgentRow, Store } from '../store/store.ts';
import type { AgentDirectory, AgentRecord, AgentTlsMaterial } from '../provisioners/agent/directory.ts';
import { hashToken, type SecretBox } from './secrets.ts';

/** The agent cannot be used: unknown, removed, revoked or never enrolled. */
export class AgentUnavailableError extends ProvisionerError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** How `AgentService` is built. */
export interface AgentServiceOptions {
  store: Store;
  box: SecretBox;
  ca: CertificateAuthority;
  /** The control plane's URL, for the enroll command `agent add` prints. */
  serverUrl: () => string;
  /** How long an enrollment token lives (ms); default 15 minutes. */
  enrollTtlMs?: number;
  now?: () => Date;
}

const LABEL_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;
const LABEL_VALUE_RE = /^[A-Za-z0-9_./:-]{0,63}$/;
const ENROLL_TOKEN_RE = /^berth_e_[A-Za-z0-9_-]{43}$/;

function labelsOf(row: AgentRow): Record<string, string> {
  return JSON.parse(row.labels_json) as Record<string, string>;
}

function usable(row: AgentRow | undefined): row is AgentRow & { fingerprint: string; enrolled_at: string } {
  return !!row && !row.revoked_at && !!row.enrolled_at && !!row.fingerprint;
}

function toRecord(row: AgentRow & { fingerprint: string; enrolled_at: string }): AgentRecord {
  return { name: row.name, url: row.url, labels: labelsOf(row), fingerprint: row.fingerprint, enrolledAt: row.enrolled_at };
}

/** When a PEM certificate stops being valid (ISO-8601). */
function expiryOf(certPem: string): string {
  return new X509Certificate(certPem).validToDate.toISOString();
}

/** The row of an agent not yet enrolled. */
function newAgentRow(name: string, url: string, labelsJson: string, at: string): AgentRow {
  return { name, url, labels_json: labelsJson, certificate: null, fingerprint: null, client_cert: null, client_key_enc: null, client_fingerprint: null, created_at: at, enrolled_at: null, revoked_at: null };
}

/** Adds, enrolls, lists, revokes and removes agents; the directory the `agent` provisioner reads. */
export class AgentService implements AgentDirectory {
  private readonly now: () => Date;
  private readonly enrollTtlMs: number;

  constructor(private readonly o: AgentServiceOptions) {
    this.now = o.now ?? (() => new Date());
    this.enrollTtlMs = o.enrollTtlMs ?? 15 * 60_000;
  }

  private toWire(row: AgentRow, workspaces: number): Agent {
    return {
      name: row.name,
      url: row.url,
      labels: labelsOf(row),
      state: row.revoked_at ? 'revoked' : row.enrolled_at ? 'enrolled' : 'pending',
      fingerprint: row.fingerprint,
      clientFingerprint: row.client_fingerprint,
      workspaces,
      createdAt: row.created_at,
      enrolledAt: row.enrolled_at,
      revokedAt: row.revoked_at,
      expiresAt: row.certificate ? expiryOf(row.certificate) : null,
    };
  }

  /** Records an agent (or, for a known one, starts a rotation) and returns a one-time enrollment token with the command to run on the host. */
  async add(input: CreateAgent): Promise<NewAgent> {
    assertName(input.name, 'Agent name');
    sanOfUrl(input.url);
    const url = new URL(input.url);
    if (url.pathname !== '/' || url.search || url.hash || url.username) throw new InputError(`The agent URL "${input.url}" must be just https://HOST:PORT, with no path, query or credentials.`);
    for (const [k, v] of Object.entries(input.labels ?? {})) {
      if (!LABEL_KEY_RE.test(k) || !LABEL_VALUE_RE.test(v)) throw new InputError(`Label "${k}=${v}" is not valid: keys and values are letters, digits and . _ / - (values also :), at most 63 characters.`);
    }
    const ttlMs = input.ttl === undefined ? this.enrollTtlMs : parseDuration(input.ttl, 'ttl');
    if (ttlMs < 1000 || ttlMs > 86_400_000) throw new InputError('ttl of an enrollment token must be between 1s and 24h.');
    const now = this.now();
    const token = `berth_e_${crypto.randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
    const row = await this.o.store.transaction(async (tx) => {
      const existing = await tx.getAgent(input.name);
      if (existing?.revoked_at) throw new ConflictError(`Agent "${input.name}" was revoked; remove it (berth agent rm ${input.name}) before adding a host under that name again.`);
      // Adding a known agent again is rotation: a new token, and the new enrollment replaces its certificates.
      const labelsJson = JSON.stringify(input.labels ?? (existing ? labelsOf(existing) : {}));
      const created = existing ? (await tx.updateAgent(input.name, { url: url.origin, labels_json: labelsJson }))! : await tx.createAgent(newAgentRow(input.name, url.origin, labelsJson, now.toISOString()));
      await tx.createAgentEnrollment({ token_hash: hashToken(token), agent_name: input.name, created_at: now.toISOString(), expires_at: expiresAt, used_at: null });
      return created;
    });
    return { agent: this.toWire(row, (await this.o.store.listAgentPins(row.name)).length), token, expiresAt, command: `berth agent enroll --server ${this.o.serverUrl()} --token ${token}` };
  }

  /** Every agent, pending, enrolled and revoked. */
  async listAll(): Promise<Agent[]> {
    const rows = await this.o.store.listAgents();
    return Promise.all(rows.map(async (r) => this.toWire(r, (await this.o.store.listAgentPins(r.name)).length)));
  }

  private async row(name: string): Promise<AgentRow> {
    const row = await this.o.store.getAgent(name);
    if (!row) throw new NotFoundError(`No agent named "${name}".`);
    return row;
  }

  /** Removes an agent; refused while workspaces are pinned to it, since it holds their files. */
  async remove(name: string): Promise<void> {
    await this.row(name);
    const pinned = await this.o.store.listAgentPins(name);
    if (pinned.length > 0) {
      throw new ConflictError(`Agent "${name}" still holds ${pinned.length} workspace(s) (${pinned.slice(0, 5).join(', ')}); delete them first, or revoke the agent to stop using it at once.`);
    }
    await this.o.store.deleteAgent(name);
  }

  /** Revokes an agent: its client key is destroyed and its certificate no longer pinned, at once. */
  async revoke(name: string): Promise<Agent> {
    const row = await this.row(name);
    const updated = row.revoked_at ? row : (await this.o.store.updateAgent(name, { revoked_at: this.now().toISOString(), client_key_enc: null }))!;
    return this.toWire(updated, (await this.o.store.listAgentPins(name)).length);
  }

  /** Signs the CSR made on the agent host, consuming the one-time token. */
  async enroll(input: EnrollAgent): Promise<EnrolledAgent> {
    if (!ENROLL_TOKEN_RE.test(input.token)) throw new UnauthorizedError('The enrollment token is malformed; it is the berth_e_… token that "berth agent add" printed.');
    const hash = hashToken(input.token);
    const enrollment = await this.o.store.getAgentEnrollment(hash);
    if (!enrollment) throw new UnauthorizedError('The enrollment token is not valid; run "berth agent add" again for a new one.');
    const nowIso = this.now().toISOString();
    const again = `run "berth agent add ${enrollment.agent_name} --url …" again for a new one`;
    if (enrollment.used_at) throw new UnauthorizedError(`The enrollment token was already used (${enrollment.used_at}); a token enrolls one host once: ${again}.`);
    if (enrollment.expires_at <= nowIso) throw new UnauthorizedError(`The enrollment token expired at ${enrollment.expires_at}; ${again}.`);
    const agent = await this.o.store.getAgent(enrollment.agent_name);
    if (!agent || agent.revoked_at) throw new UnauthorizedError(`Agent "${enrollment.agent_name}" was removed or revoked; its enrollment token is void.`);
    // Signed before the token is spent, so that a bad CSR leaves the token usable.
    const server = await this.o.ca.signAgentCsr(input.csr, { agentName: agent.name, hosts: [sanOfUrl(agent.url).value] });
    const client = await this.o.ca.issueClient(`berth control plane for ${agent.name}`);
    await this.o.store.transaction(async (tx) => {
      if (!(await tx.useAgentEnrollment(hash, nowIso))) throw new UnauthorizedError('The enrollment token was used or expired meanwhile; run "berth agent add" again for a new one.');
      await tx.updateAgent(agent.name, {
        certificate: server.cert,
        fingerprint: server.fingerprint,
        client_cert: client.cert,
        client_key_enc: this.o.box.encrypt(client.key),
        client_fingerprint: client.fingerprint,
        enrolled_at: nowIso,
      });
    });
    return { name: agent.name, certificate: server.cert, ca: this.o.ca.certPem, clientFingerprint: client.fingerprint };
  }

  async list(): Promise<AgentRecord[]> {
    return (await this.o.store.listAgents()).filter(usable).map(toRecord);
  }

  async get(name: string): Promise<AgentRecord | undefined> {
    const row = await this.o.store.getAgent(name);
    return usable(row) ? toRecord(row) : undefined;
  }

  pinOf(workspaceId: string): Promise<string | undefined> {
    return this.o.store.getAgentPin(workspaceId);
  }

  pin(workspaceId: string, agentName: string): Promise<void> {
    return this.o.store.setAgentPin(workspaceId, agentName, this.now().toISOString());
  }

  unpin(workspaceId: string): Promise<void> {
    return this.o.store.deleteAgentPin(workspaceId);
  }

  async tlsFor(agentName: string): Promise<AgentTlsMaterial> {
    const row = await this.o.store.getAgent(agentName);
    if (!row) throw new AgentUnavailableError(`The agent "${agentName}" is not registered (it was removed, or never added).`);
    if (row.revoked_at) throw new AgentUnavailableError(`The agent "${agentName}" was revoked at ${row.revoked_at}; the control plane no longer talks to it.`);
    if (!usable(row) || !row.client_cert || !row.client_key_enc) throw new AgentUnavailableError(`The agent "${agentName}" has not enrolled yet: run the "berth agent enroll" command that "berth agent add" printed on its host.`);
    const expired = [row.certificate ?? row.client_cert, row.client_cert].map(expiryOf).find((at) => at <= this.now().toISOString());
    if (expired !== undefined) throw new AgentUnavailableError(`The certificates of agent "${agentName}" expired at ${expired}; rotate them: run "berth agent add ${agentName} --url ${row.url}" and the enroll command it prints on the host.`);
    return { key: this.o.box.decrypt(row.client_key_enc), cert: row.client_cert, ca: this.o.ca.certPem, fingerprint: row.fingerprint };
  }
}
