/** Pure helpers about URLs the control plane hands to workspaces. */

/** Whether a URL host names this machine only from where it is used: loopback, or the any-address a server listens on. */
export function isLocalOnly(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || h === '::' || h === '0.0.0.0' || /^127\./.test(h);
}
