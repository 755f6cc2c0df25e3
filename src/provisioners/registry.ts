/**
 * Name-keyed registry of provisioner instances, and of the plug-ins (types) that build them.
 * Options are validated against the plug-in's schema here, so every type gets the same errors.
 */
import { Value } from '@sinclair/typebox/value';
import { InputError, NotFoundError } from '../core/errors.ts';
import type { Spec } from '../core/spec.ts';
import type { Capabilities, PluginContext, Provisioner, ProvisionerPlugin } from './provisioner.ts';

/** The spec fields each capability governs, in the words an error names them. */
const GOVERNED: { capability: keyof Capabilities; field: string; used: (s: Spec) => boolean }[] = [
  { capability: 'image', field: 'image', used: (s) => s.image !== undefined },
  { capability: 'user', field: 'user', used: (s) => s.user !== undefined },
  { capability: 'resources', field: 'resources', used: (s) => Object.keys(s.resources).length > 0 },
  { capability: 'registryLogins', field: 'registryLogins', used: (s) => s.registryLogins.length > 0 },
];

/** Rejects spec fields the provisioner's capabilities exclude, then asks the provisioner itself. */
export async function validateSpecFor(p: Provisioner, spec: Spec): Promise<void> {
  const unsupported = GOVERNED.filter((g) => !p.capabilities[g.capability] && g.used(spec)).map((g) => `spec.${g.field}`);
  if (unsupported.length) {
    throw new InputError(
      `The provisioner "${p.name}" (${p.type}) cannot honour ${unsupported.join(', ')}; remove ${unsupported.length > 1 ? 'them' : 'it'} or choose a provisioner that can (berth provisioner types).`,
    );
  }
  await p.validate(spec);
}

/** Validates raw options against a plug-in's schema; the error names the option and what is wrong. */
export function parseOptions(plugin: ProvisionerPlugin, raw: Record<string, unknown>): Record<string, unknown> {
  const schema = plugin.options;
  if (!Value.Check(schema, raw)) {
    const e = [...Value.Errors(schema, raw)][0];
    const field = e?.path.replace(/^\//, '').replace(/\//g, '.') ?? '';
    if (e && /Unexpected property/i.test(e.message)) {
      const known = Object.keys(schema.properties);
      throw new InputError(`Unknown ${plugin.type} provisioner option "${field}". Known: ${known.join(', ') || 'none'}.`);
    }
    throw new InputError(`The ${plugin.type} provisioner option ${field || '(options)'} is invalid: ${e?.message ?? 'unexpected value'}.`);
  }
  plugin.checkOptions?.(raw);
  return raw;
}

/** Holds the provisioner types and the instances the control plane can use. */
export class ProvisionerRegistry {
  private readonly instances = new Map<string, Provisioner>();
  private readonly plugins = new Map<string, ProvisionerPlugin>();
  private defaultInstance: string | undefined;

  constructor(private readonly ctx: PluginContext) {}

  /** Makes a provisioner type available. */
  register(plugin: ProvisionerPlugin): void {
    this.plugins.set(plugin.type, plugin);
  }

  /** Known types, for error messages and `provisioner types`. */
  types(): ProvisionerPlugin[] {
    return [...this.plugins.values()].sort((a, b) => a.type.localeCompare(b.type));
  }

  /** The plug-in of a type, or an InputError listing the known types. */
  plugin(type: string): ProvisionerPlugin {
    const plugin = this.plugins.get(type);
    if (!plugin) throw new InputError(`Unknown provisioner type "${type}". Known types: ${this.types().map((p) => p.type).join(', ')}.`);
    return plugin;
  }

  /** Builds an instance of a registered type without adding it (to check it first). */
  async build(name: string, type: string, options: Record<string, unknown>): Promise<Provisioner> {
    const plugin = this.plugin(type);
    return plugin.create(name, parseOptions(plugin, options), this.ctx);
  }

  /** Builds and adds an instance of a registered type. */
  async create(name: string, type: string, options: Record<string, unknown>): Promise<Provisioner> {
    const p = await this.build(name, type, options);
    this.add(p);
    return p;
  }

  /** Every type's built-in instances, for the start-up code to add. */
  builtins(env: NodeJS.ProcessEnv): { type: string; name: string; options: Record<string, unknown>; probe: boolean }[] {
    return this.types().flatMap((p) => (p.builtins?.(this.ctx, env) ?? []).map((b) => ({ type: p.type, name: b.name, options: b.options, probe: b.probe ?? false })));
  }

  /** Makes `name` the provisioner of workspaces created without one. */
  setDefault(name: string | undefined): void {
    this.defaultInstance = name;
  }

  /** The default provisioner's name: the one set (even when it is not registered now), else `shell`. */
  defaultName(): string {
    return this.defaultInstance ?? 'shell';
  }

  /** Adds an already built instance. */
  add(p: Provisioner): void {
    this.instances.set(p.name, p);
  }

  /** Removes and closes an instance. */
  async remove(name: string): Promise<void> {
    const p = this.instances.get(name);
    this.instances.delete(name);
    if (this.defaultInstance === name) this.defaultInstance = undefined;
    await p?.close();
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
