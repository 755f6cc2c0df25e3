/** The `shell` provisioner type as it registers itself: options, capabilities, factory, built-in instance. */
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { InputError } from '../../core/errors.ts';
import { DEFAULT_MAX_CONCURRENT_OPS, type ProvisionerPlugin } from '../provisioner.ts';
import { ShellProvisioner, shellCapabilities } from './shell.ts';

const ShellOptionsSchema = Type.Object(
  {
    root: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Directory holding one sub-directory per workspace (default DATA_DIR/workspaces/NAME)' })),
    maxConcurrentOps: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: `Most creates, stops and deletes run at once; more wait in line, fairly between users (default ${DEFAULT_MAX_CONCURRENT_OPS})` })),
  },
  { additionalProperties: false },
);

/** Workspaces as directories and processes on the control plane's own host. */
export const shellPlugin: ProvisionerPlugin<typeof ShellOptionsSchema> = {
  type: 'shell',
  summary: "Directories and processes on the control plane's own host, run as its user (admins only).",
  options: ShellOptionsSchema,
  capabilities: shellCapabilities,
  checkOptions(o) {
    if (o.root !== undefined && !path.isAbsolute(o.root)) throw new InputError('The shell provisioner option root must be an absolute directory path.');
  },
  async create(name, o, ctx) {
    return new ShellProvisioner({ name, root: o.root ?? path.join(ctx.dataDir, 'workspaces', name), sharedRoot: path.join(ctx.dataDir, 'shared'), maxConcurrentOps: o.maxConcurrentOps ?? DEFAULT_MAX_CONCURRENT_OPS });
  },
  builtins: () => [{ name: 'shell', options: {} }],
};
