/** Pure helpers about URLs the control plane hands to workspaces. */
import { InputError } from './errors.ts';

/** Whether a URL host names this machine only from where it is used: loopback, or the any-address a server listens on. */
export function isLocalOnly(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || h === '::' || h === '0.0.0.0' || /^127\./.test(h);
}

/** Throws an InputError naming `what` unless `url` is an http(s) URL. */
export function assertServerUrl(url: string, what: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`${what} "${url}" is not a URL.`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InputError(`${what} must be an http:// or https:// URL.`);
}
