/** Image references, registry logins and the sentences Berth shows when a pull fails. */
import { ProvisionerError } from '../../core/errors.ts';
import type { Spec } from '../../core/spec.ts';

const DOCKER_HUB = 'docker.io';

/** The registry host an image reference points at (`docker.io` for Docker Hub names). */
export function registryOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return DOCKER_HUB;
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : DOCKER_HUB;
}

/** Whether the reference names a tag or digest; a bare name means `:latest`. */
export function withDefaultTag(image: string): string {
  const lastSlash = image.lastIndexOf('/');
  const tail = image.slice(lastSlash + 1);
  return tail.includes(':') || tail.includes('@') ? image : `${image}:latest`;
}

/** What the Engine API's X-Registry-Auth header carries. Built per pull, never stored. */
export interface AuthConfig {
  username: string;
  password: string;
  serveraddress: string;
}

function sameRegistry(a: string, b: string): boolean {
  const norm = (r: string) => (['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(r.toLowerCase()) ? DOCKER_HUB : r.toLowerCase());
  return norm(a) === norm(b);
}

/** The spec's login for the image's registry, if any. */
export function authFor(image: string, logins: Spec['registryLogins']): AuthConfig | undefined {
  const registry = registryOf(image);
  const login = logins.find((l) => sameRegistry(l.registry, registry));
  if (!login) return undefined;
  return { username: login.username, password: login.password, serveraddress: registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry };
}

/** The engine's reason without dockerode's "(HTTP code 500) server error - " prefix. */
export function engineReason(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string; reason?: string };
  const raw = e?.json?.message ?? e?.message ?? String(err);
  return raw.replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '').trim();
}

/** Turns a failed pull into a ProvisionerError a user can act on; permanent causes are not retried. */
export function pullError(image: string, err: unknown, auth: AuthConfig | undefined): ProvisionerError {
  if (err instanceof ProvisionerError) return err;
  const reason = engineReason(err);
  const status = (err as { statusCode?: number })?.statusCode;
  const registry = registryOf(image);
  const details = { image, registry, reason };
  if (/unauthorized|authentication required|no basic auth credentials|denied|incorrect username or password|401/i.test(reason) && !/not found|manifest unknown/i.test(reason)) {
    const msg = auth
      ? `The registry ${registry} rejected the credentials of user "${auth.username}" for image ${image}; fix the username or password in spec.registryLogins.`
      : `The registry ${registry} requires a login to pull image ${image}; add it to spec.registryLogins.`;
    return new ProvisionerError(msg, { retryable: false, code: 'image_pull_failed', details, cause: err });
  }
  if (status === 404 || /manifest unknown|not found|repository does not exist|no such image/i.test(reason)) {
    return new ProvisionerError(`The image ${image} was not found in registry ${registry}; check its name and tag.`, {
      retryable: false,
      code: 'image_not_found',
      details,
      cause: err,
    });
  }
  if (/no such host|server misbehaving/i.test(reason)) {
    return new ProvisionerError(
      `The image ${image} is not on the Docker engine and its registry ${registry} cannot be resolved; check the image name (for a locally built image, its exact tag in \`docker images\`).`,
      { retryable: false, code: 'image_not_found', details, cause: err },
    );
  }
  if (/invalid reference format|invalid tag|invalid repository name/i.test(reason)) {
    return new ProvisionerError(`The image reference "${image}" is not valid: ${reason}.`, { retryable: false, code: 'image_pull_failed', details, cause: err });
  }
  return new ProvisionerError(`Pulling image ${image} from ${registry} failed: ${reason}. Berth will retry.`, { retryable: true, code: 'image_pull_failed', details, cause: err });
}
