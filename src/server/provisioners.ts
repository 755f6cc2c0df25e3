/**
 * Provisioner instances: the built-in ones each type registers at start (`shell`, a local Docker
 * engine that answers), and those an admin adds at run time — validated against their type's
 * schema, checked against their backend, stored with their options encrypted
 * (`provisioners.config_enc`) and built again from the store at every start.
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { ConflictError, InputError, errorMessage } from '../core/errors.ts';
import { assertName } from '../core/names.ts';
import type { Capabilities, Provisioner } from '../provisioners/provisioner.ts';
import type { ProvisionerRegistry } from '../provisioners/registry.ts';
import type { CreateProvisioner, ProvisionerInfo, ProvisionerType, UpdateProvisioner } from '../sdk/wire.ts';
import type { Store } from '../store/store.ts';
import type { SecretBox } from './secrets.ts';

const DEFAULT_KEY = 'default_provisioner';
/** What a provisioner whose type is gone is shown to be able to do. */
const NO_CAPABILITIES: Capabilities = { runsOnHost: false, image: false, user: false, resources: false, registryLogins: false, needsServerUrl: false, fork: false };
/** How long a built-in instance that probes its backend may take to answer at start. */
const PROBE_MS = 3000;

/** Options of the provisioner service. */
export interface ProvisionerServiceOptions {
  store: Store;
  box: SecretBox;
  registry: ProvisionerRegistry;
  logger: Logger;
}

/** Adding, changing, removing, listing and restoring provisioner instances. */
export class ProvisionerService {
  private readonly builtin = new Set<string>();
  /** Stored instances that could not be built at start (type gone, options no longer valid, backend setup failed), with why. */
  private readonly unavailable = new Map<string, { type: string; error: string }>();

  constructor(private readonly o: ProvisionerServiceOptions) {}

  /** This control plane's random id, created once; labels on engine objects carry it so control planes sharing an engine keep apart. */
  static async installationId(store: Store): Promise<string> {
    const existing = await store.getMeta('installation_id');
    if (existing) return existing;
    const id = crypto.randomBytes(8).toString('hex');
    await store.setMeta('installation_id', id);
    return id;
  }

  /** The types this server has, with their options schema and capabilities. */
  types(): ProvisionerType[] {
    return this.o.registry.types().map((p) => ({ type: p.type, summary: p.summary, capabilities: p.capabilities, options: p.options }));
  }

  /** Every registered instance, flagging the default and the built-in ones. */
  async list(): Promise<ProvisionerInfo[]> {
    const def = this.o.registry.defaultName();
    const counts = await this.o.store.countWorkspacesByProvisioner();
    const live = this.o.registry.all().map((p) => this.info(p, def, counts.get(p.name) ?? 0));
    const broken = [...this.unavailable].map(([name, u]): ProvisionerInfo => {
      const capabilities = this.o.registry.types().find((t) => t.type === u.type)?.capabilities ?? NO_CAPABILITIES;
      return { name, type: u.type, default: name === def, capabilities, builtin: false, workspaces: counts.get(name) ?? 0, error: u.error };
    });
    return [...live, ...broken].sort((a, b) => a.name.localeCompare(b.name));
  }

  private info(p: Provisioner, def: string, workspaces: number): ProvisionerInfo {
    return { name: p.name, type: p.type, default: p.name === def, capabilities: p.capabilities, builtin: this.builtin.has(p.name), workspaces };
  }

  /** Validates, checks against its backend, stores and registers a new instance. */
  async add(input: CreateProvisioner): Promise<ProvisionerInfo> {
    assertName(input.name, 'Provisioner name');
    if (this.o.registry.has(input.name)) throw new ConflictError(`A provisioner named "${input.name}" already exists.`);
    this.assertAvailable(input.name);
    const options = input.options ?? {};
    const p = await this.buildChecked(input.name, input.type, options);
    await this.o.store
      .createProvisioner({ name: input.name, type: input.type, config_enc: this.o.box.encrypt(JSON.stringify(options)), created_at: new Date().toISOString() })
      .catch(async (err: unknown) => {
        await p.close().catch(() => undefined);
        throw err;
      });
    this.o.registry.add(p);
    if (input.default) await this.setDefault(input.name);
    this.o.logger.info({ provisioner: input.name, type: input.type }, 'provisioner added');
    return this.info(p, this.o.registry.defaultName(), 0);
  }

  /**
   * Changes an added instance's options (merged onto the stored ones; `null` removes one), refused
   * while workspaces use it, and/or whether it is the default.
   */
  async update(name: string, input: UpdateProvisioner): Promise<ProvisionerInfo> {
    this.assertAvailable(name);
    const current = this.o.registry.get(name);
    if (input.options !== undefined) {
      this.assertChangeable(name, 'changed');
      await this.assertUnused(name, 'change its options');
      const row = (await this.o.store.listProvisioners()).find((r) => r.name === name);
      const options: Record<string, unknown> = row ? (JSON.parse(this.o.box.decrypt(row.config_enc)) as Record<string, unknown>) : {};
      for (const [k, v] of Object.entries(input.options)) {
        if (v === null) delete options[k];
        else options[k] = v;
      }
      const p = await this.buildChecked(name, current.type, options);
      await this.o.store.updateProvisioner(name, this.o.box.encrypt(JSON.stringify(options)));
      await this.o.registry.remove(name);
      this.o.registry.add(p);
      this.o.logger.info({ provisioner: name }, 'provisioner options changed');
    }
    if (input.default === true) await this.setDefault(name);
    if (input.default === false && this.o.registry.defaultName() === name) await this.setDefault(undefined);
    const used = (await this.o.store.countWorkspacesByProvisioner()).get(name) ?? 0;
    return this.info(this.o.registry.get(name), this.o.registry.defaultName(), used);
  }

  /** Removes an added instance; refused while any workspace uses it. */
  async remove(name: string): Promise<void> {
    if (!this.unavailable.has(name)) this.o.registry.get(name);
    this.assertChangeable(name, 'removed');
    await this.assertUnused(name, 'remove it');
    await this.o.store.deleteProvisioner(name);
    if ((await this.o.store.getMeta(DEFAULT_KEY)) === name) await this.setDefault(undefined);
    this.unavailable.delete(name);
    await this.o.registry.remove(name);
    this.o.logger.info({ provisioner: name }, 'provisioner removed');
  }

  /** Rebuilds stored instances, then adds the built-in ones; an instance that cannot be built is logged and skipped, never fatal. */
  async restore(opts: { probeBuiltins: boolean; env?: NodeJS.ProcessEnv }): Promise<void> {
    for (const row of await this.o.store.listProvisioners()) {
      if (this.o.registry.has(row.name)) continue;
      try {
        const options = JSON.parse(this.o.box.decrypt(row.config_enc)) as Record<string, unknown>;
        await this.o.registry.create(row.name, row.type, options);
      } catch (err) {
        this.unavailable.set(row.name, { type: row.type, error: errorMessage(err) });
        this.o.logger.error({ err, provisioner: row.name, type: row.type }, 'cannot restore stored provisioner; its workspaces wait until it can be built');
      }
    }
    for (const b of this.o.registry.builtins(opts.env ?? process.env)) {
      if (this.o.registry.has(b.name) || (b.probe && !opts.probeBuiltins)) continue;
      try {
        const p = await this.o.registry.build(b.name, b.type, b.options);
        if (b.probe) await this.probe(p);
        this.o.registry.add(p);
        this.builtin.add(b.name);
        this.o.logger.info({ provisioner: b.name, type: b.type }, 'registered built-in provisioner');
      } catch (err) {
        this.o.logger.debug({ err, provisioner: b.name }, 'built-in provisioner not registered: its backend did not answer');
      }
    }
    const def = await this.o.store.getMeta(DEFAULT_KEY);
    if (def) this.o.registry.setDefault(def);
  }

  private async probe(p: Provisioner): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_MS / 1000}s`)), PROBE_MS);
    });
    try {
      await Promise.race([p.check?.(), timeout]);
    } catch (err) {
      await p.close().catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async buildChecked(name: string, type: string, options: Record<string, unknown>): Promise<Provisioner> {
    const p = await this.o.registry.build(name, type, options);
    try {
      await p.check?.();
    } catch (err) {
      await p.close().catch(() => undefined);
      throw new InputError(`Cannot use provisioner "${name}": ${errorMessage(err)}`, { cause: err });
    }
    return p;
  }

  private assertAvailable(name: string): void {
    const u = this.unavailable.get(name);
    if (u) throw new ConflictError(`The provisioner "${name}" could not be built at start (${u.error}); remove it (berth provisioner rm ${name}) and add it again.`);
  }

  private assertChangeable(name: string, what: string): void {
    if (this.builtin.has(name)) throw new ConflictError(`The provisioner "${name}" is built in (the server registers it at every start) and cannot be ${what}.`);
  }

  private async assertUnused(name: string, action: string): Promise<void> {
    const used = await this.o.store.listWorkspaces({ provisioner: name });
    if (used.length === 0) return;
    const shown = used.slice(0, 5).map((w) => w.name).join(', ');
    throw new ConflictError(
      `The provisioner "${name}" is used by ${used.length} workspace${used.length > 1 ? 's' : ''} (${shown}${used.length > 5 ? ', …' : ''}); delete ${used.length > 1 ? 'them' : 'it'} first to ${action}.`,
    );
  }

  private async setDefault(name: string | undefined): Promise<void> {
    await this.o.store.setMeta(DEFAULT_KEY, name ?? '');
    this.o.registry.setDefault(name);
  }
}
