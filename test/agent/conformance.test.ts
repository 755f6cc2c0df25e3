/**
 * The provisioner conformance suite (test/provisioners/conformance.ts) against the `agent`
 * provisioner: the control plane side here, `berth agent run` as its own process inside the
 * testenv's network namespace, driving the Docker engine there; reached only over the veth pair.
 * Checkouts come as bundles (the agent cannot read this host's mirror).
 */
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { provisionerConformance, type BackendObject } from '../provisioners/conformance.ts';
import { bundleProject, testImages } from '../provisioners/fixtures.ts';
import { MemoryAgentDirectory, agentDocker, agentProvisioner, agentRoot, agentTestEnv, startAgent, testPki, writeAgentKeys, type RunningAgent } from './fixtures.ts';

const env = agentTestEnv();
const ID_RE = /^ws_[a-z0-9]+$/;

function grepTree(dir: string, needle: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && fs.readFileSync(path.join(e.parentPath, e.name)).includes(needle)) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

describe('agent provisioner conformance (berth agent run in netns berth-agent, over the veth pair)', () => {
  const root = agentRoot();
  const wsRoot = path.join(root, 'workspaces');
  let agent: RunningAgent;
  let directory: MemoryAgentDirectory;
  const installation = () => fs.readFileSync(path.join(root, 'state', 'installation'), 'utf8').trim();

  before(async () => {
    const pki = await testPki();
    const fingerprint = await writeAgentKeys(root, pki, env.BERTH_TEST_AGENT_AGENT_IP);
    agent = await startAgent(env, root);
    directory = new MemoryAgentDirectory(pki);
    directory.add('a1', agent.url, fingerprint);
  });
  after(async () => {
    await agent?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  provisionerConformance({
    label: 'agent',
    build: () => agentProvisioner(directory, root, {}, 'confagent'),
    ...testImages(env),
    project: bundleProject,
    async objects(): Promise<BackendObject[]> {
      const out: BackendObject[] = [];
      const label = `berth.installation=${installation()}`;
      for (const line of agentDocker(env, ['ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}|{{.State}}|{{.Label "berth.kind"}}|{{.Label "berth.workspace"}}']).split('\n').filter(Boolean)) {
        const [name, state, kind, ws] = line.split('|');
        out.push({ kind: kind === 'workspace' ? 'runtime' : 'other', ...(ws ? { workspace: ws } : {}), what: `container ${name} ${state}` });
      }
      for (const id of fs.existsSync(wsRoot) ? fs.readdirSync(wsRoot).filter((d) => ID_RE.test(d)) : []) out.push({ kind: 'storage', workspace: id, what: `dir ${id}` });
      const scratch = path.join(wsRoot, '.tmp');
      for (const f of fs.existsSync(scratch) ? fs.readdirSync(scratch) : []) out.push({ kind: 'temp', workspace: f.replace(/-[^-]*$/, ''), what: `scratch ${f}` });
      for (const f of fs.readdirSync(path.join(root, 'state')).filter((n) => n.endsWith('.bundle') || n.endsWith('.tmp'))) out.push({ kind: 'temp', workspace: f.replace(/\..*$/, ''), what: `state ${f}` });
      return out;
    },
    filesContaining: async (id, needle) => grepTree(path.join(wsRoot, id), needle),
    async metadata(id: string) {
      const c = agentDocker(env, ['inspect', `berth-${id}`], true) || '[]';
      const [parsed] = JSON.parse(c) as { Name?: string; Config?: { Labels?: unknown; Hostname?: string } }[];
      return { public: JSON.stringify([parsed?.Name, parsed?.Config?.Hostname, parsed?.Config?.Labels]), all: c };
    },
    hostPath: (id) => path.join(wsRoot, id),
  });
});
