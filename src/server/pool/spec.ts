/**
 * What a warm pool holds, as configured with `--warm-pool`, and the key that decides whether a
 * create can take one of its entries: same provisioner, project, ref and runtime-shaping spec.
 */
import crypto from 'node:crypto';
import { InputError } from '../../core/errors.ts';
import { normalizeSpec, type Spec } from '../../core/spec.ts';

/** One configured pool: how many runtimes of this provisioner, project, ref and image to keep ready. */
export interface PoolConfig {
  provisioner: string;
  project: string;
  /** Branch to check out; undefined = the project's branch, as a create without --ref. */
  ref?: string;
  image?: string;
  size: number;
}

const ENTRY = /^([a-z0-9][a-z0-9-]*):([a-z0-9][a-z0-9._-]*)(?:@([^\s=]+))?=([0-9]{1,2})(?::(\S+))?$/;

/**
 * Parses `--warm-pool`: space-separated PROVISIONER:PROJECT[@REF]=SIZE[:IMAGE] entries, e.g.
 * `docker:demo=2:alpine:3.20 shell:demo@main=1`. Empty: no pool.
 */
export function parseWarmPool(raw: string): PoolConfig[] {
  const out: PoolConfig[] = [];
  for (const part of raw.split(/\s+/).filter(Boolean)) {
    const m = ENTRY.exec(part);
    if (!m) throw new InputError(`--warm-pool entries look like PROVISIONER:PROJECT[@REF]=SIZE[:IMAGE] (e.g. docker:demo=2:alpine:3.20); got "${part}".`);
    const size = Number(m[4]);
    if (size < 1 || size > 50) throw new InputError(`--warm-pool size must be from 1 to 50; got ${size} in "${part}".`);
    const cfg: PoolConfig = { provisioner: m[1]!, project: m[2]!, size, ...(m[3] ? { ref: m[3] } : {}), ...(m[5] ? { image: m[5] } : {}) };
    if (out.some((c) => c.provisioner === cfg.provisioner && c.project === cfg.project && c.ref === cfg.ref && c.image === cfg.image)) {
      throw new InputError(`--warm-pool names "${part}" twice; give each pool once with its size.`);
    }
    out.push(cfg);
  }
  return out;
}

/** The spec a pool's runtimes are prepared with: the image and nothing the workspace brings itself. */
export function poolSpec(cfg: PoolConfig): Spec {
  return normalizeSpec(cfg.image ? { image: cfg.image } : {});
}

/**
 * The key of a runtime as prepared: provisioner, project, ref and the spec without files, setup and
 * teardown (applied when claimed). Env, user data and registry logins are part of it, so a create
 * that brings any of them never matches a pool (whose runtimes are made for no user).
 */
export function poolKey(provisioner: string, projectId: string, ref: string | null, spec: Spec): string {
  const shaping: Partial<Spec> = { ...spec };
  delete shaping.files;
  delete shaping.setup;
  delete shaping.teardown;
  const json = JSON.stringify({ provisioner, projectId, ref, spec: shaping });
  return crypto.createHash('sha256').update(json).digest('hex').slice(0, 32);
}
