/**
 * The agent protocol, version 1: what the control plane's `agent` provisioner and `berth agent run`
 * say to each other over mutual TLS. Level-triggered: the control plane PUTs the whole desired state
 * of a workspace (spec, desired state, the short-lived credentials it needs) as often as it likes;
 * the agent persists it, converges on it and reports what it observes. A replayed request is harmless.
 *
 *   PUT    /v1/workspaces/:id           desired state; `?wait=1` streams NDJSON progress then the result
 *   PUT    /v1/workspaces/:id/bundle    a `git bundle` of the checkout, for a first clone the agent cannot fetch
 *   POST   /v1/workspaces/:id/copy      `{"from": id}`: a fork's files, copied from a workspace it holds (`?wait=1` as for PUT; src/agent/copy.ts)
 *   GET    /v1/workspaces/:id           observed status
 *   DELETE /v1/workspaces/:id           remove runtime and files; `?wait=1` as for PUT
 *   GET    /v1/workspaces               every workspace the agent holds
 *   GET    /v1/info                     version, labels, capacity, free disk
 *   WS     /v1/workspaces/:id/exec      exec/attach, framed as the control plane's own exec protocol (src/sdk/protocol.ts),
 *                                       plus `{"type":"started"}` once the process runs
 *   WS     /v1/events                   status changes, provisioning output, port mappings
 *
 * A breaking change bumps PROTOCOL_MAJOR (and the path prefix).
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../core/errors.ts';
import type { Spec } from '../core/spec.ts';
import type { ExecOptions, RuntimeStatus, WorkspaceContext } from '../provisioners/provisioner.ts';

/** This build's Berth version, as both sides report it. */
export const BERTH_VERSION: string = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Major version of this protocol; both sides send it in the `berth-protocol` header. */
export const PROTOCOL_MAJOR = 1;
/** Header naming the sender's protocol major. */
export const PROTOCOL_HEADER = 'berth-protocol';
/** Header naming the sender's Berth version (for skew messages). */
export const VERSION_HEADER = 'berth-version';

/** The workspace as the agent needs it: the provisioner's WorkspaceContext without the functions. */
export interface WireWorkspace {
  id: string;
  name: string;
  owner: { id: string; name: string };
  project: { name: string; cloneUrl: string; gitEnv?: Record<string, string> };
  ref?: string;
  spec: Spec;
  /** BERTH_* (workspace token and server URL included) plus the spec's env: secrets, kept in memory and a 0600 file only. */
  env: Record<string, string>;
  /** A team's CA bundle (PEM) for the workspace's trust; optional, so older agents simply ignore it. */
  caBundle?: string;
}

/** Body of `PUT /v1/workspaces/:id`. */
export interface PutWorkspace {
  desired: 'running' | 'stopped';
  /** Required for `running`; a `stopped` without it stops what the agent holds (an orphan the control plane no longer knows). */
  workspace?: WireWorkspace;
  /** Which control plane and provisioner instance put it (`<installation>/<name>`), so each lists only its own. */
  controller?: string;
}

/** What the agent reports about one workspace. */
export interface WorkspaceReport {
  id: string;
  /** What the control plane asked for last; `deleted` while a delete is in progress; undefined when the agent holds only leftovers. */
  desired?: 'running' | 'stopped' | 'deleted';
  /** Increases with every change of desired state; `applied` equals it once the agent has converged. */
  generation: number;
  applied: number;
  controller?: string;
  /** The last attempt's failure, in words, when it did not converge. */
  error?: { code: string; message: string };
  /** Observed from the Docker engine just now. */
  status: RuntimeStatus;
  /** Whether the checkout exists (`work/.git`), so the control plane knows whether a bundle is needed. */
  checkout: boolean;
}

/** One line of `?wait=1` NDJSON. */
export type WaitLine =
  | { type: 'progress'; line: string; kind?: 'output' | 'progress' | 'info' }
  | { type: 'done'; report: WorkspaceReport }
  | { type: 'error'; error: { code: string; message: string; retryable: boolean } };

/** A message on `/v1/events`. */
export type AgentEvent =
  | { type: 'status'; id: string; report: WorkspaceReport }
  | { type: 'progress'; id: string; line: string; kind?: 'output' | 'progress' | 'info' }
  | { type: 'ports'; id: string; ports: NonNullable<RuntimeStatus['ports']> }
  | { type: 'deleted'; id: string };

/** `GET /v1/info`. */
export interface AgentInfo {
  version: string;
  protocol: number;
  labels: Record<string, string>;
  capacity: { cpus: number; memoryBytes: number; workspaces: number; running: number };
  disk: { path: string; freeBytes: number; totalBytes: number };
}

/** The first text frame of an exec connection to the agent: the process half of ExecOptions. */
export type AgentExecStart = Pick<ExecOptions, 'cmd' | 'tty' | 'cols' | 'rows' | 'env' | 'cwd'>;

/** Checks an exec's `cwd` (from the wire): an absolute, normalised path inside the workspace's mount; undefined stays undefined. */
export function checkExecCwd(cwd: unknown, mountPath: string): string | undefined {
  if (cwd === undefined) return undefined;
  const inside = typeof cwd === 'string' && !cwd.includes('\0') && path.posix.isAbsolute(cwd) && path.posix.normalize(cwd) === cwd;
  if (!inside || (cwd !== mountPath && !cwd.startsWith(`${mountPath.replace(/\/$/, '')}/`))) {
    throw new InputError(`cwd must be a directory inside the workspace's mount ${mountPath} (an absolute path without ".."), not ${JSON.stringify(cwd)}.`);
  }
  return cwd;
}

/** Strips what cannot cross the wire (bundle, localMirror functions) from a WorkspaceContext. */
export function toWire(ws: WorkspaceContext): WireWorkspace {
  const { name, cloneUrl, gitEnv } = ws.project;
  return {
    id: ws.id,
    name: ws.name,
    owner: ws.owner,
    project: { name, cloneUrl, ...(gitEnv ? { gitEnv } : {}) },
    ...(ws.ref !== undefined ? { ref: ws.ref } : {}),
    spec: ws.spec,
    env: ws.env,
    ...(ws.caBundle ? { caBundle: ws.caBundle } : {}),
  };
}

/** Words for a protocol mismatch, from either side's point of view. */
export function skewMessage(local: { role: string; version: string; protocol: number }, remote: { role: string; version: string; protocol: number }): string | undefined {
  if (local.protocol === remote.protocol) return undefined;
  const newer = local.protocol > remote.protocol ? local : remote;
  const older = newer === local ? remote : local;
  return `The ${local.role} (Berth ${local.version}) speaks agent protocol v${local.protocol} and the ${remote.role} (Berth ${remote.version}) speaks v${remote.protocol}; upgrade the ${older.role} to a Berth release with protocol v${newer.protocol}.`;
}
