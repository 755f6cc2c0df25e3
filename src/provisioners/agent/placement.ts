/** Where a new workspace goes among the enrolled agents: a pure choice, so it is tested without agents. */
import type { AgentInfo } from '../../agent/protocol.ts';
import type { AgentRecord } from './directory.ts';

/** An enrolled agent as placement sees it: its live info, or why it could not be asked. */
export interface Candidate {
  agent: AgentRecord;
  info?: AgentInfo;
  error?: string;
}

/** Parses a `key=value,key=value` selector. */
export function parseSelector(text: string | undefined): [string, string][] {
  return (text?.split(',') ?? []).filter(Boolean).map((kv) => kv.split('=', 2) as [string, string]);
}

/**
 * Chooses among agents that answered and carry every wanted label (enrolled or reported): the fewest
 * running workspaces per CPU, then the most free disk. Returns the agent's name, or a sentence
 * saying, per agent, why none fits.
 */
export function choose(candidates: Candidate[], want: [string, string][]): { agent: string } | { why: string } {
  const fits = candidates.filter((c) => c.info && want.every(([k, v]) => ({ ...c.agent.labels, ...c.info!.labels })[k] === v));
  if (fits.length === 0) {
    return { why: candidates.length === 0 ? 'no agent is enrolled' : candidates.map((c) => `${c.agent.name}: ${c.error ?? 'labels do not match'}`).join('; ') };
  }
  const load = (i: AgentInfo) => i.capacity.running / Math.max(1, i.capacity.cpus);
  fits.sort((a, b) => load(a.info!) - load(b.info!) || b.info!.disk.freeBytes - a.info!.disk.freeBytes);
  return { agent: fits[0]!.agent.name };
}
