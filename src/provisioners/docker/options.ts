/** Options of a `docker` provisioner instance: schema, defaults and the checks that need no engine. */
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { InputError } from '../../core/errors.ts';
import { assertServerUrl } from '../../core/urls.ts';
import { isLocalHost } from './engine.ts';
import { DEFAULT_MAX_CONCURRENT_OPS } from '../provisioner.ts';

/** What `berth provisioner add NAME --type docker …` stores (encrypted) for the instance. */
export const DockerOptionsSchema = Type.Object(
  {
    dockerHost: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'unix:///var/run/docker.sock (default), tcp://HOST:PORT or ssh://USER@HOST' })),
    tlsCertPath: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Directory with ca.pem, cert.pem, key.pem (tcp+TLS)' })),
    tlsVerify: Type.Optional(Type.Boolean({ description: "Verify the engine's certificate (default true)" })),
    apiVersion: Type.Optional(Type.String({ pattern: '^v?1\\.[0-9]{1,2}$', description: 'Engine API version to use, e.g. 1.41' })),
    storage: Type.Optional(Type.Union([Type.Literal('bind'), Type.Literal('volume')], { description: 'bind: a directory per workspace (local engines, default); volume: a named volume per workspace (default for tcp:// and ssh://)' })),
    root: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Directory of bind storage (default DATA_DIR/workspaces/NAME)' })),
    network: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$', description: 'Docker network of workspace containers (default bridge)' })),
    allowPorts: Type.Optional(Type.Boolean({ description: "Publish spec.ports on the engine host's 127.0.0.1" })),
    allowDockerSocket: Type.Optional(Type.Boolean({ description: "Mount the engine's socket into workspaces" })),
    serverUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'BERTH_SERVER_URL as workspaces on this engine must use it' })),
    maxConcurrentOps: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: `Most creates, stops and deletes run at once on this engine; more wait in line, fairly between users (default ${DEFAULT_MAX_CONCURRENT_OPS})` })),
    defaultImage: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9][A-Za-z0-9._/:@-]*$', description: 'Image for workspaces whose spec names none' })),
  },
  { additionalProperties: false },
);
/** Stored options. */
export type DockerOptions = Static<typeof DockerOptionsSchema>;

/** Checks of options that the schema cannot express (the registry has validated them against the schema first). */
export function checkDockerOptions(o: DockerOptions): void {
  const host = o.dockerHost ?? 'unix:///var/run/docker.sock';
  if (!/^(unix|tcp|ssh|https?):\/\//.test(host)) throw new InputError(`--docker-host "${host}" must start with unix://, tcp:// or ssh://.`);
  if (o.tlsCertPath && !/^(tcp|https):\/\//.test(host)) throw new InputError('--tls-cert-path applies to tcp:// Docker hosts only.');
  if (o.tlsCertPath && !path.isAbsolute(o.tlsCertPath)) throw new InputError('--tls-cert-path must be an absolute directory path.');
  if (o.storage === 'bind' && !isLocalHost({ dockerHost: host })) {
    throw new InputError(`Bind storage needs an engine on this machine (a unix:// socket); ${host} is remote, so use --storage volume (the default for it).`);
  }
  if (o.root && !path.isAbsolute(o.root)) throw new InputError('--root must be an absolute directory path.');
  if (o.root && (o.storage ?? (isLocalHost({ dockerHost: host }) ? 'bind' : 'volume')) === 'volume') throw new InputError('--root applies to bind storage only.');
  if (o.serverUrl) assertServerUrl(o.serverUrl, '--server-url');
}
