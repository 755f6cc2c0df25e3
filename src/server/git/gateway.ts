/**
 * The git gateway: git's smart HTTP protocol at `/git/<project>.git`, served from the project's
 * mirror by `git http-backend`, authenticated with Berth tokens sent as HTTP basic passwords.
 * Fetches come from the mirror (synced within the freshness window); pushes are relayed to the
 * upstream by the mirror's pre-receive hook before the mirror accepts them.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { InputError, NotFoundError } from '../../core/errors.ts';
import { assertName } from '../../core/names.ts';
import { gatewayGitEnv } from '../../provisioners/git-setup.ts';
import type { WorkspaceContext } from '../../provisioners/provisioner.ts';
import type { ProjectRow, Store } from '../../store/store.ts';
import type { Principal } from '../auth.ts';
import { scrubTokens } from '../logger.ts';
import type { ProjectService } from '../projects.ts';
import { runHttpBackend, type CgiResponse } from './cgi.ts';
import { gitEnvWith } from './credentials.ts';
import type { GitMirrors } from './mirrors.ts';

/** Which git service a request is for. */
export type GitService = 'upload-pack' | 'receive-pack';

/** One smart-HTTP request as the gateway sees it (HTTP framing stays in the route). */
export interface GatewayRequest {
  principal: Principal;
  method: 'GET' | 'POST';
  /** The `<project>.git` path segment. */
  repo: string;
  /** `info/refs`, `git-upload-pack` or `git-receive-pack`. */
  endpoint: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
  remoteAddr: string;
  body?: Readable;
  signal: AbortSignal;
}

/** Options of the gateway. */
export interface GitGatewayOptions {
  store: Store;
  projects: ProjectService;
  mirrors: GitMirrors;
  logger: Logger;
  /** Largest request body per service; larger ones get 413 (--git-push-limit, --git-fetch-limit). */
  bodyLimits?: Record<GitService, number>;
}

/** Serves projects' mirrors over smart HTTP and as bundles, and tells workspaces how to reach them. */
export class GitGateway {
  constructor(private readonly o: GitGatewayOptions) {}

  /** The largest request body accepted for a POST to `service`. */
  bodyLimit(service: GitService): number {
    return this.o.bodyLimits?.[service] ?? Number.MAX_SAFE_INTEGER;
  }

  /** The project named by `repo` (`name.git` or `name`), if `principal` may fetch from it (upload-pack) or push to it (receive-pack). */
  async authorize(principal: Principal, repo: string, service: GitService): Promise<ProjectRow> {
    const name = repo.endsWith('.git') ? repo.slice(0, -4) : repo;
    assertName(name, 'Project name');
    return this.o.projects.find(principal, name, service === 'receive-pack' ? 'push' : 'clone');
  }

  /** Handles one smart-HTTP request: syncs the mirror as needed and runs `git http-backend`. */
  async serve(req: GatewayRequest): Promise<CgiResponse> {
    const service = serviceOf(req);
    const row = await this.authorize(req.principal, req.repo, service);
    const project = this.o.projects.mirrorProject(row);
    const mirrors = this.o.mirrors;
    if (req.endpoint === 'info/refs' || !mirrors.exists(project.name)) await mirrors.prepare(project, req.signal);

    const config: [string, string][] = [
      ['http.uploadpack', 'true'],
      ['http.receivepack', 'true'],
      ['http.getanyfile', 'false'],
      // http-backend's own buffer for fetch negotiations (10MiB by default) follows the gateway's limit.
      ['http.maxrequestbuffer', String(this.bodyLimit('upload-pack'))],
    ];
    let env: Record<string, string> = {};
    let release = () => undefined as void;
    let cleanup = () => undefined as void;
    if (service === 'receive-pack' && req.method === 'POST') {
      // One push per project at a time, never during a fetch; the hook relays with these credentials.
      // Checked before the lock is taken: a refused upstream must not leave the project locked.
      const auth = await mirrors.auth(project);
      release = await mirrors.lock.acquire(project.name);
      config.push(...auth.config);
      env = auth.env;
      cleanup = () => auth.cleanup();
    }
    const header = (n: string) => {
      const v = req.headers[n];
      return Array.isArray(v) ? v[0] : v;
    };
    let res: CgiResponse;
    try {
      res = await runHttpBackend(
        {
          method: req.method,
          pathInfo: `/${project.name}.git/${req.endpoint}`,
          query: req.query,
          ...opt('contentType', header('content-type')),
          ...opt('contentLength', header('content-length')),
          ...opt('contentEncoding', header('content-encoding')),
          ...opt('gitProtocol', header('git-protocol')),
          remoteUser: req.principal.user.name,
          remoteAddr: req.remoteAddr,
          ...(req.body ? { body: req.body } : {}),
        },
        {
          projectRoot: mirrors.root,
          env: gitEnvWith(config, env),
          onStderr: (text) => this.o.logger.warn({ project: project.name, stderr: scrubTokens(text).slice(0, 2000) }, 'git http-backend reported errors'),
        },
      );
    } catch (err) {
      cleanup();
      release();
      throw err;
    }
    void res.exited.then((code) => {
      cleanup();
      release();
      if (service === 'receive-pack' && req.method === 'POST') {
        // The upstream moved (or refused); either way the next fetch should look again.
        mirrors.invalidate(project.name);
        this.o.logger.info({ project: project.name, user: req.principal.user.name, workspaceId: req.principal.workspaceId, exit: code }, 'push through the git gateway');
      }
    });
    return res;
  }

  /** A `git bundle` of `ref` (default: the mirror's HEAD branch) of the project, streamed. */
  async bundle(projectName: string, ref: string | undefined, signal?: AbortSignal): Promise<Readable> {
    const row = await this.o.projects.get(projectName);
    return this.o.mirrors.bundle(this.o.projects.mirrorProject(row), ref, signal);
  }

  /** How a workspace reaches its project: through this gateway, with the token-reading credential helper. */
  workspaceProject(projectName: string, serverUrl: string, ref: string | null): WorkspaceContext['project'] {
    const base = serverUrl.replace(/\/+$/, '');
    return {
      name: projectName,
      cloneUrl: `${base}/git/${projectName}.git`,
      gitEnv: gatewayGitEnv(base),
      bundle: (signal: AbortSignal) => this.bundle(projectName, ref ?? undefined, signal),
      localMirror: async (signal: AbortSignal) => {
        const project = this.o.projects.mirrorProject(await this.o.projects.get(projectName));
        await this.o.mirrors.prepare(project, signal);
        return this.o.mirrors.path(projectName);
      },
    };
  }
}

function opt<K extends string>(key: K, v: string | undefined): Partial<Record<K, string>> {
  return v ? ({ [key]: v } as Record<K, string>) : {};
}

/** Which service the request is for; rejects the dumb protocol and anything else. */
function serviceOf(req: GatewayRequest): GitService {
  if (req.endpoint === 'info/refs' && req.method === 'GET') {
    const m = /(?:^|&)service=git-(upload-pack|receive-pack)(?:&|$)/.exec(req.query);
    if (!m) throw new InputError("Berth's git gateway speaks only git's smart HTTP protocol; use git 1.6.6 or newer.");
    return m[1] as GitService;
  }
  if (req.method === 'POST' && (req.endpoint === 'git-upload-pack' || req.endpoint === 'git-receive-pack')) return req.endpoint.slice(4) as GitService;
  throw new NotFoundError(`The git gateway has no endpoint ${req.method} ${req.endpoint}.`);
}
