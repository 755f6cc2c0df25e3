/**
 * What a provisioner is told about a workspace (WorkspaceContext), built from the store: the spec
 * with its secrets opened, the environment every process gets, the project's clone source, and
 * the workspace token — rotated on every provision, otherwise read back for execs and git.
 */
import { normalizeSpec } from '../core/spec.ts';
import type { WorkspaceContext } from '../provisioners/provisioner.ts';
import { trustEnv } from '../provisioners/trust.ts';
import type { Store, WorkspaceRow } from '../store/store.ts';
import type { GitGateway } from './git/gateway.ts';
import { hashToken, newId, newToken, type SecretBox } from './secrets.ts';
import type { SpecCodec } from './workspaces.ts';

/** Options of the context builder. */
export interface WorkspaceContextsOptions {
  store: Store;
  codec: SpecCodec;
  box: SecretBox;
  /** URL workspaces use to reach the control plane (BERTH_SERVER_URL). */
  serverUrl: () => string;
  /** The git gateway; when set, workspaces clone from it instead of from the upstream. */
  git?: GitGateway;
  /** A team's CA bundle (PEM) installed into every workspace's trust. */
  caBundle?: string | undefined;
}

/** Builds WorkspaceContexts for the reconciler, terminals and git routes. */
export class WorkspaceContexts {
  constructor(private readonly o: WorkspaceContextsOptions) {}

  /** The context for provisioning: a new workspace token replaces the old one. */
  forProvision(row: WorkspaceRow): Promise<WorkspaceContext> {
    return this.build(row, this.rotateToken(row));
  }

  /** The context for exec, git, stop and delete: the current token, unchanged. */
  async current(row: WorkspaceRow): Promise<WorkspaceContext> {
    const t = await this.o.store.currentWorkspaceToken(row.id);
    return this.build(row, Promise.resolve(t?.secret_enc ? this.o.box.decrypt(t.secret_enc) : undefined));
  }

  /** The context of a warm-pool entry: a row that is not stored, owned by no user, and no token (src/server/pool/). */
  forPool(row: WorkspaceRow): Promise<WorkspaceContext> {
    return this.build(row, Promise.resolve(undefined));
  }

  /**
   * A context that opens no secret: for resources without a workspace row (orphans), or a row
   * whose secrets cannot be opened (a changed secret key) so that it can still be stopped or deleted.
   */
  minimal(id: string, row?: WorkspaceRow): WorkspaceContext {
    const spec = normalizeSpec({});
    if (row) Object.assign(spec, this.o.codec.redacted(row.spec_json), { env: [], registryLogins: [] });
    return { id, name: row?.name ?? id, owner: { id: '', name: '' }, project: { name: '', cloneUrl: '' }, spec, env: {} };
  }

  private async rotateToken(row: WorkspaceRow): Promise<string> {
    const token = newToken('berth_w');
    const now = new Date().toISOString();
    await this.o.store.transaction(async (tx) => {
      await tx.revokeWorkspaceTokens(row.id, now);
      await tx.createToken({
        id: newId('tok'),
        kind: 'workspace',
        user_id: row.owner_id,
        workspace_id: row.id,
        name: `workspace ${row.name}`,
        hash: hashToken(token),
        secret_enc: this.o.box.encrypt(token),
        created_at: now,
        expires_at: null,
        revoked_at: null,
      });
    });
    return token;
  }

  private async build(row: WorkspaceRow, tokenP: Promise<string | undefined>): Promise<WorkspaceContext> {
    const [owner, project] = await Promise.all([this.o.store.getUser(row.owner_id), this.o.store.getProject(row.project_id)]);
    const spec = this.o.codec.decode(row.spec_json);
    const token = await tokenP;
    const env: Record<string, string> = {};
    for (const e of spec.env) env[e.name] = e.value;
    Object.assign(env, {
      BERTH_SERVER_URL: this.o.serverUrl(),
      BERTH_WORKSPACE_ID: row.id,
      BERTH_WORKDIR: `${spec.mountPath}/work`,
      ...(token ? { BERTH_WORKSPACE_TOKEN: token } : {}),
      ...(this.o.caBundle ? trustEnv(spec.mountPath) : {}),
    });
    return {
      id: row.id,
      name: row.name,
      owner: { id: row.owner_id, name: owner?.name ?? row.owner_id },
      project:
        this.o.git && project
          ? this.o.git.workspaceProject(project.name, this.o.serverUrl(), row.ref)
          : { name: project?.name ?? row.project_id, cloneUrl: project?.repo_url ?? '' },
      ...(row.ref ? { ref: row.ref } : {}),
      spec,
      env,
      ...(this.o.caBundle ? { caBundle: this.o.caBundle } : {}),
    };
  }
}
