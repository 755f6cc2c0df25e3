/**
 * The provisioner conformance suite (conformance.ts) against every backend of the test
 * environment: shell on this host, the local Docker engine (bind storage), and the remote TLS
 * Docker engine (volume storage, checkout from a bundle). Fails, never skips, without the
 * environment (`testenv/berth-testenv up`).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe } from 'node:test';
import { cleanupEngines, docker, testEnv } from '../docker/env.ts';
import { tempDir } from '../harness.ts';
import { provisionerConformance, type BackendObject } from './conformance.ts';
import { buildProvisioner, bundleProject, testImages, urlProject } from './fixtures.ts';

const env = testEnv();
const ID_RE = /^ws_[a-z0-9]+$/;

/** Relative paths of the regular files under `dir` whose contents include `needle` (symlinks are not followed). */
function grepTree(dir: string, needle: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath, e.name);
    if (fs.readFileSync(file).includes(needle)) out.push(path.relative(dir, file));
  }
  return out.sort();
}

/** Workspace directories of a storage root, with what Berth keeps in each (`.berth/` entries) and any clone in progress. */
function storageDirs(root: string): BackendObject[] {
  if (!fs.existsSync(root)) return [];
  const out: BackendObject[] = [];
  for (const id of fs.readdirSync(root).filter((d) => ID_RE.test(d))) {
    const berth = path.join(root, id, '.berth');
    out.push({ kind: 'storage', workspace: id, what: `dir ${id}` });
    for (const f of fs.existsSync(berth) ? fs.readdirSync(berth) : []) {
      if (f === 'clone.tmp') out.push({ kind: 'temp', workspace: id, what: `dir ${id}/.berth/${f}` });
      else if (f !== 'runtime.json') out.push({ kind: 'storage', workspace: id, what: `${id}/.berth/${f}` });
    }
  }
  return out;
}

describe('shell provisioner conformance', () => {
  const dataDir = tempDir('berth-conf-shell-');
  const root = path.join(dataDir, 'workspaces', 'conformance-shell');
  provisionerConformance({
    label: 'shell',
    build: () => buildProvisioner('shell', {}, dataDir, crypto.randomBytes(8).toString('hex')),
    baseSpec: {},
    project: urlProject,
    async objects() {
      const out = storageDirs(root);
      for (const id of fs.readdirSync(root).filter((d) => ID_RE.test(d))) {
        const marker = path.join(root, id, '.berth', 'runtime.json');
        if (fs.existsSync(marker)) out.push({ kind: 'runtime', workspace: id, what: `processes of ${id}` });
      }
      return out;
    },
    filesContaining: async (id, needle) => grepTree(path.join(root, id), needle),
    async metadata() {
      const names = fs.existsSync(root) ? fs.readdirSync(root).join('\n') : '';
      return { public: names, all: names };
    },
    hostPath: (id) => path.join(root, id),
    cleanup: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
  });
});

/** The Docker backends: one engine, its objects listed with the docker CLI by this installation's label. */
function dockerBackend(remote: boolean) {
  const installation = `conf${crypto.randomBytes(6).toString('hex')}`;
  const dataDir = tempDir('berth-conf-docker-');
  const bindRoot = path.join(dataDir, 'workspaces', 'conformance-docker');
  // Remote clones are staged in the temporary directory: a private one makes leftovers visible.
  const tmp = tempDir('berth-conf-tmp-');
  const savedTmp = process.env.TMPDIR;
  const label = `berth.installation=${installation}`;
  const options = remote
    ? { dockerHost: env.BERTH_TEST_REMOTE_DOCKER_HOST, tlsCertPath: env.BERTH_TEST_REMOTE_DOCKER_CERT_PATH, storage: 'volume' }
    : { dockerHost: env.BERTH_TEST_DOCKER_HOST };
  const inspectJson = (what: 'container' | 'volume', name: string) => docker([what, 'inspect', name], { remote, allowFail: true }) || '[]';
  return {
    label: remote ? 'docker-remote' : 'docker-local',
    build: () => {
      process.env.TMPDIR = tmp;
      return buildProvisioner('docker', options, dataDir, installation);
    },
    ...testImages(env),
    project: remote ? bundleProject : urlProject,
    async objects(): Promise<BackendObject[]> {
      const out: BackendObject[] = [];
      for (const line of docker(['ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}|{{.State}}|{{.Label "berth.kind"}}|{{.Label "berth.workspace"}}'], { remote }).split('\n').filter(Boolean)) {
        const [name, state, kind, ws] = line.split('|');
        out.push({ kind: kind === 'workspace' ? 'runtime' : 'other', ...(ws ? { workspace: ws } : {}), what: `container ${name} ${state}` });
      }
      for (const line of docker(['volume', 'ls', '--filter', `label=${label}`, '--format', '{{.Name}}|{{.Label "berth.workspace"}}'], { remote }).split('\n').filter(Boolean)) {
        const [name, ws] = line.split('|');
        out.push({ kind: 'storage', ...(ws ? { workspace: ws } : {}), what: `volume ${name}` });
      }
      out.push(...storageDirs(bindRoot));
      const scratch = path.join(bindRoot, '.tmp');
      for (const f of fs.existsSync(scratch) ? fs.readdirSync(scratch) : []) out.push({ kind: 'temp', workspace: f.replace(/-[^-]*$/, ''), what: `scratch ${f}` });
      for (const f of fs.readdirSync(tmp).filter((n) => n.startsWith('berth-clone-'))) out.push({ kind: 'temp', what: `staged clone ${f}` });
      return out;
    },
    async filesContaining(id: string, needle: string): Promise<string[]> {
      if (!remote) return grepTree(path.join(bindRoot, id), needle);
      const found = docker(['run', '--rm', '--network', 'none', '-v', `berth-ws-${id}:/v:ro`, env.BERTH_TEST_IMAGE_BUSYBOX, 'grep', '-rlF', '--', needle, '/v'], { remote, allowFail: true });
      return found.split('\n').filter(Boolean).map((f) => path.relative('/v', f)).sort();
    },
    async metadata(id: string) {
      const [c] = JSON.parse(inspectJson('container', `berth-${id}`)) as { Name?: string; Config?: { Labels?: unknown; Hostname?: string } }[];
      const volume = inspectJson('volume', `berth-ws-${id}`);
      return { public: JSON.stringify([c?.Name, c?.Config?.Hostname, c?.Config?.Labels]) + volume, all: inspectJson('container', `berth-${id}`) + volume };
    },
    hostPath: (id: string) => (remote ? undefined : path.join(bindRoot, id)),
    async cleanup() {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
      cleanupEngines(installation);
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

describe('docker provisioner conformance (local engine, bind storage)', () => {
  provisionerConformance(dockerBackend(false));
});

describe('docker provisioner conformance (remote TLS engine, volume storage)', () => {
  provisionerConformance(dockerBackend(true));
});
