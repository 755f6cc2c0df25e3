/**
 * What the `agent` provisioner needs from the control plane's registry of enrolled agents
 * (`PluginContext.agents`): who they are, where a workspace is pinned, and the TLS material to
 * reach each one. Any method may answer synchronously or with a promise.
 */
import type { AgentTls } from './client.ts';

/** An enrolled agent as the directory lists it. */
export interface EnrolledAgent {
  name: string;
  url: string;
  /** Labels recorded at enrollment; the agent's own `/v1/info` labels are added to them. */
  labels?: Record<string, string>;
}

type MaybePromise<T> = T | Promise<T>;

/** The registry of enrolled agents, as the provisioner uses it. */
export interface AgentDirectoryView {
  list(): MaybePromise<EnrolledAgent[]>;
  get(name: string): MaybePromise<EnrolledAgent | undefined | null>;
  /** The agent holding a workspace's files, if it is pinned. */
  pinOf(workspaceId: string): MaybePromise<string | undefined | null>;
  pin(workspaceId: string, agentName: string): MaybePromise<void>;
  unpin(workspaceId: string): MaybePromise<void>;
  /** Throws when the agent was removed or revoked, which ends its use at once. */
  tlsFor(agentName: string): MaybePromise<AgentTls>;
}
