/** Projects: git repositories known to the control plane. */
import fs from 'node:fs';
import path from 'node:path';
import { InputError, NotFoundError } from '../core/errors.ts';
import { assertName } from '../core/names.ts';
import type { ProjectRow, Store } from '../store/store.ts';
import type { CreateProject, Project } from '../sdk/wire.ts';
import type { Principal } from './auth.ts';
import { newId } from './secrets.ts';

/** Converts a project row to its wire form (credentials are never included). */
export function projectToWire(p: ProjectRow): Project {
  return { id: p.id, name: p.name, repo: p.repo_url, branch: p.branch, createdAt: p.created_at };
}

/** Accepts https://, http://, ssh://, git://, file://, scp-like user@host:path, and absolute local paths. */
export function validateRepoUrl(repo: string): string {
  if (/[\s\0]/.test(repo)) throw new InputError('The repository URL must not contain spaces or control characters.');
  if (repo.startsWith('-')) throw new InputError('The repository URL must not start with "-".');
  if (repo.startsWith('/')) {
    if (!fs.existsSync(repo)) throw new InputError(`The local repository path ${repo} does not exist on the server.`);
    return path.normalize(repo);
  }
  if (/^(https?|ssh|git|file):\/\/[^/]/.test(repo) || /^file:\/\/\//.test(repo)) {
    try {
      new URL(repo);
    } catch {
      throw new InputError(`"${repo}" is not a valid URL.`);
    }
    return repo;
  }
  if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/].*$/.test(repo)) return repo;
  throw new InputError(`"${repo}" is not a repository URL git accepts here: use https://, ssh://, git://, file://, user@host:path or an absolute local path.`);
}

/** Creating and finding projects. */
export class ProjectService {
  constructor(private readonly store: Store) {}

  async create(p: Principal, input: CreateProject): Promise<Project> {
    assertName(input.name, 'Project name');
    const repo = validateRepoUrl(input.repo);
    const row = await this.store.createProject({
      id: newId('prj'),
      name: input.name,
      repo_url: repo,
      branch: input.branch ?? null,
      owner_id: p.user.id,
      credentials_enc: null,
      created_at: new Date().toISOString(),
    });
    return projectToWire(row);
  }

  async list(): Promise<Project[]> {
    return (await this.store.listProjects()).map(projectToWire);
  }

  async get(name: string): Promise<ProjectRow> {
    const row = (await this.store.getProjectByName(name)) ?? (name.startsWith('prj_') ? await this.store.getProject(name) : undefined);
    if (!row) throw new NotFoundError(`No project named "${name}". Add it with: berth project add ${name} --repo URL`);
    return row;
  }
}
