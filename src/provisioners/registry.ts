/** Name-keyed registry of provisioner instances, and of the factories that build them by type. */
import { InputError, NotFoundError } from '../core/errors.ts';
import type { Provisioner } from './provisioner.ts';

/** Builds a provisioner instance of one type from its (already validated) options. */
export type ProvisionerFactory = (name: string, options: Record<string, unknown>) => Promise<Provisioner>;

/** Holds the provisioner instances the control plane can use. */
export class ProvisionerRegistry {
  private readonly instances = new Map<string, Provisioner>();
  private readonly factories = new Map<string, ProvisionerFactory>();
  private defaultInstance: string | undefined;

  /** Makes a provisioner type available to `create`. */
  registerType(type: string, factory: ProvisionerFactory): void {
    this.factories.set(type, factory);
  }

  /** Known types, for error messages and `provisioner add --type`. */
  types(): string[] {
    return [...this.factories.keys()].sort();
  }

  /** Builds an instance of a registered type without adding it (to check it first). */
  async build(name: string, type: string, options: Record<string, unknown>): Promise<Provisioner> {
    const factory = this.factories.get(type);
    if (!factory) throw new InputError(`Unknown provisioner type "${type}". Known types: ${this.types().join(', ')}.`);
    return factory(name, options);
  }

  /** Builds and adds an instance of a registered type. */
  async create(name: string, type: string, options: Record<string, unknown>): Promise<Provisioner> {
    const p = await this.build(name, type, options);
    this.add(p);
    return p;
  }

  /** Makes `name` the provisioner of workspaces created without one. */
  setDefault(name: string): void {
    this.defaultInstance = name;
  }

  /** The default provisioner's name: the one set, if registered, else `shell`. */
  defaultName(): string {
    return this.defaultInstance && this.instances.has(this.defaultInstance) ? this.defaultInstance : 'shell';
  }

  /** Adds an already built instance. */
  add(p: Provisioner): void {
    this.instances.set(p.name, p);
  }

  /** Returns the named instance or throws a NotFoundError that lists the known names. */
  get(name: string): Provisioner {
    const p = this.instances.get(name);
    if (!p) throw new NotFoundError(`No provisioner named "${name}". Available: ${this.names().join(', ') || 'none'}.`);
    return p;
  }

  has(name: string): boolean {
    return this.instances.has(name);
  }

  names(): string[] {
    return [...this.instances.keys()].sort();
  }

  all(): Provisioner[] {
    return this.names().map((n) => this.instances.get(n)!);
  }

  /** Closes every instance. */
  async close(): Promise<void> {
    await Promise.allSettled(this.all().map((p) => p.close()));
  }
}
