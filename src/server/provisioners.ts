/**
 * Provisioner instances added at run time: validated and checked against their backend when an
 * admin adds them, stored with their options encrypted (`provisioners.config_enc`), and built again
 * from the store at every start. Also registers a local `docker` provisioner when a Docker engine
 * answers (server option --local-docker).
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { ConflictError, InputError } from '../core/errors.ts';
import { assertName } from '../core/names.ts';
import type { ProvisionerRegistry } from '../provisioners/registry.ts';
import type { CreateProvisioner, ProvisionerInfo } from '../sdk/wire.ts';
import type { Store } from '../store/store.ts';
import type { SecretBox } from './secrets.ts';

const DEFAULT_KEY = 'default_provisioner';

/** Options of the provisioner service. */
export interface ProvisionerServiceOptions {
  store: Store;
  box: SecretBox;
  registry: ProvisionerRegistry;
  logger: Logger;
}

/** Adding, listing and restoring provisioner instances. */
export class ProvisionerService {
  constructor(private readonly o: ProvisionerServiceOptions) {}

  /** This control plane's random id, created once; labels on engine objects carry it so control planes sharing an engine keep apart. */
  static async installationId(store: Store): Promise<string> {
    const existing = await store.getMeta('installation_id');
    if (existing) return existing;
    const id = crypto.randomBytes(8).toString('hex');
    await store.setMeta('installation_id', id);
    return id;
  }

  /** Every registered instance, flagging the default. */
  list(): ProvisionerInfo[] {
    const def = this.o.registry.defaultName();
    return this.o.registry.all().map((p) => ({ name: p.name, type: p.type, default: p.name === def }));
  }

  /** Validates, checks against its backend, stores and registers a new instance. */
  async add(input: CreateProvisioner): Promise<ProvisionerInfo> {
    assertName(input.name, 'Provisioner name');
    if (this.o.registry.has(input.name)) throw new ConflictError(`A provisioner named "${input.name}" already exists.`);
    const options = input.options ?? {};
    const p = await this.o.registry.build(input.name, input.type, options);
    try {
      await p.check?.();
    } catch (err) {
      await p.close().catch(() => undefined);
      throw new InputError(`Cannot add provisioner "${input.name}": ${(err as Error).message}`, { cause: err });
    }
    await this.o.store.createProvisioner({ name: input.name, type: input.type, config_enc: this.o.box.encrypt(JSON.stringify(options)), created_at: new Date().toISOString() });
    this.o.registry.add(p);
    if (input.default) {
      await this.o.store.setMeta(DEFAULT_KEY, input.name);
      this.o.registry.setDefault(input.name);
    }
    this.o.logger.info({ provisioner: input.name, type: input.type }, 'provisioner added');
    return { name: p.name, type: p.type, default: this.o.registry.defaultName() === p.name };
  }

  /** Rebuilds stored instances; one that cannot be built is logged and skipped, never fatal. */
  async restore(): Promise<void> {
    for (const row of await this.o.store.listProvisioners()) {
      if (this.o.registry.has(row.name)) continue;
      try {
        const options = JSON.parse(this.o.box.decrypt(row.config_enc)) as Record<string, unknown>;
        await this.o.registry.create(row.name, row.type, options);
      } catch (err) {
        this.o.logger.error({ err, provisioner: row.name, type: row.type }, 'cannot restore stored provisioner; its workspaces wait until it can be built');
      }
    }
    const def = await this.o.store.getMeta(DEFAULT_KEY);
    if (def) this.o.registry.setDefault(def);
  }

  /**
   * With `mode` auto: registers a `docker` provisioner on the engine the docker CLI would use
   * (DOCKER_HOST, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY, else the local socket) when it answers a ping.
   */
  async autoRegisterDocker(mode: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
    if (mode !== 'auto' || this.o.registry.has('docker') || !this.o.registry.types().includes('docker')) return;
    const options: Record<string, unknown> = {};
    if (env.DOCKER_HOST) options.dockerHost = env.DOCKER_HOST;
    if (env.DOCKER_CERT_PATH) options.tlsCertPath = env.DOCKER_CERT_PATH;
    if (env.DOCKER_TLS_VERIFY === '0') options.tlsVerify = false;
    try {
      const p = await this.o.registry.build('docker', 'docker', options);
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 3s')), 3000).unref());
      await Promise.race([p.check?.(), timeout]);
      this.o.registry.add(p);
      this.o.logger.info({ dockerHost: options.dockerHost ?? 'unix:///var/run/docker.sock' }, 'registered the local docker provisioner');
    } catch (err) {
      this.o.logger.debug({ err }, 'no local Docker engine answered; the docker provisioner is not registered');
    }
  }
}
