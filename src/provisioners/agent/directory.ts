/**
 * What the `agent` provisioner needs of the control plane's registry of enrolled agents
 * (`PluginContext.agents`): which agents there are, where a workspace is pinned, and the TLS
 * material to reach one. The server's AgentService implements it.
 */
/** An enrolled, unrevoked agent as the directory lists it. */
export interface AgentRecord {
  name: string;
  url: string;
  labels: Record<string, string>;
  /** SHA-256 of the agent's server certificate (node's `fingerprint256` form). */
  fingerprint: string;
  enrolledAt: string;
}

/** What the control plane presents to one agent and what it expects back. */
export interface AgentTlsMaterial {
  /** The control plane's client key and certificate for this agent (PEM). */
  key: string;
  cert: string;
  /** The agent CA (PEM). */
  ca: string;
  /** The agent's enrolled server-certificate fingerprint, to pin. */
  fingerprint: string;
}

/** What the `agent` provisioner uses of the registry (`PluginContext.agents`). */
export interface AgentDirectory {
  /** Enrolled agents that are not revoked. */
  list(): Promise<AgentRecord[]>;
  /** One enrolled, unrevoked agent; undefined otherwise. */
  get(name: string): Promise<AgentRecord | undefined>;
  /** The agent holding a workspace's files, if it is pinned. */
  pinOf(workspaceId: string): Promise<string | undefined>;
  pin(workspaceId: string, agentName: string): Promise<void>;
  unpin(workspaceId: string): Promise<void>;
  /** TLS material to reach an agent; throws AgentUnavailableError once it is unknown, revoked or not yet enrolled. */
  tlsFor(agentName: string): Promise<AgentTlsMaterial>;
}
