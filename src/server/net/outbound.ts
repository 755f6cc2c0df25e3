/**
 * Outbound connections to project upstreams on behalf of non-admin users: the upstream's host is
 * resolved once, every address is classified (loopback, private, link-local, metadata, …), and git
 * is pinned to the checked address so a second DNS answer cannot send it elsewhere. Redirects are
 * not followed. Admins, and addresses an admin allow-lists (`--outbound-allow`), are not restricted.
 */
import dns from 'node:dns';
import net from 'node:net';
import { BerthError, ForbiddenError, InputError } from '../../core/errors.ts';
import { upstreamEndpoint } from '../git/credentials.ts';

/** What kind of network an address belongs to; only `public` is reachable for non-admins by default. */
export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'metadata' | 'unspecified' | 'multicast' | 'reserved' | 'ipv4-mapped';

/** A parsed IP address: 4 or 16 bytes. */
export interface IpAddress {
  bytes: number[];
}

/** An address block of the allow-list. */
export interface Cidr {
  bytes: number[];
  prefix: number;
}

/** Resolves a host name to its addresses (injected in tests). */
export type Lookup = (host: string) => Promise<string[]>;

/**
 * Parses an IPv4 address the way inet_aton (and so git, curl and ssh) does: one to four parts, each
 * decimal, octal (leading 0) or hex (0x), the last part filling the remaining bytes (`0x7f.1`, `2130706433`).
 */
export function parseIpv4(text: string): IpAddress | null {
  const parts = text.split('.');
  if (parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) n = parseInt(p, 8);
    else if (/^[1-9][0-9]*$/.test(p)) n = parseInt(p, 10);
    else return null;
    if (!Number.isSafeInteger(n)) return null;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255) || last >= 256 ** (4 - nums.length)) return null;
  const bytes = [...nums];
  for (let i = 3 - nums.length; i >= 0; i--) bytes.push(Math.floor(last / 256 ** i) % 256);
  return { bytes };
}

/** Parses an IPv6 address (brackets and a zone index allowed, an IPv4 tail too), or null. */
export function parseIpv6(text: string): IpAddress | null {
  const s = text.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (!net.isIPv6(s)) return null;
  let head = s;
  const tail: number[] = [];
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    tail.push(...parseIpv4(v4[1]!)!.bytes);
    head = s.slice(0, -v4[1]!.length);
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const groups = (g: string | undefined) => (g ? g.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : []);
  const l = groups(left);
  const r = groups(right);
  const fill = 8 - tail.length / 2 - l.length - r.length;
  const words = [...l, ...(right !== undefined ? new Array<number>(fill).fill(0) : []), ...r];
  const bytes = words.flatMap((w) => [w >> 8, w & 255]).concat(tail);
  return bytes.length === 16 ? { bytes } : null;
}

/** Parses an IPv4 (any inet_aton form) or IPv6 address, or returns null for a host name. */
export function parseIp(text: string): IpAddress | null {
  return parseIpv4(text) ?? parseIpv6(text);
}

/** The textual form of an address (dotted quad, or compressed IPv6 as Node prints it). */
export function formatIp(ip: IpAddress): string {
  if (ip.bytes.length === 4) return ip.bytes.join('.');
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(((ip.bytes[i]! << 8) | ip.bytes[i + 1]!).toString(16));
  return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1);
}

function inBlock(bytes: number[], block: number[], prefix: number): boolean {
  if (bytes.length !== block.length) return false;
  for (let bit = 0; bit < prefix; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((bytes[bit >> 3]! & mask) !== (block[bit >> 3]! & mask)) return false;
  }
  return true;
}

const V4_BLOCKS: [number[], number, AddressClass][] = [
  [[169, 254, 169, 254], 32, 'metadata'],
  [[0, 0, 0, 0], 8, 'unspecified'],
  [[127, 0, 0, 0], 8, 'loopback'],
  [[10, 0, 0, 0], 8, 'private'],
  [[172, 16, 0, 0], 12, 'private'],
  [[192, 168, 0, 0], 16, 'private'],
  [[100, 64, 0, 0], 10, 'private'],
  [[198, 18, 0, 0], 15, 'private'],
  [[169, 254, 0, 0], 16, 'link-local'],
  [[192, 0, 0, 0], 24, 'reserved'],
  [[224, 0, 0, 0], 4, 'multicast'],
  [[240, 0, 0, 0], 4, 'reserved'],
];

const V6 = (s: string) => parseIpv6(s)!.bytes;
const V6_BLOCKS: [number[], number, AddressClass][] = [
  [V6('fd00:ec2::254'), 128, 'metadata'],
  [V6('::'), 128, 'unspecified'],
  [V6('::1'), 128, 'loopback'],
  [V6('fc00::'), 7, 'private'],
  [V6('fec0::'), 10, 'private'],
  [V6('fe80::'), 10, 'link-local'],
  [V6('ff00::'), 8, 'multicast'],
  [V6('2001:db8::'), 32, 'reserved'],
  [V6('100::'), 64, 'reserved'],
  [V6('::'), 96, 'reserved'],
];

/** Blocks whose addresses carry an IPv4 address in their last four bytes (mapped, NAT64) or bytes 2–5 (6to4). */
const V6_EMBEDDING: [number[], number, number][] = [
  [V6('::ffff:0:0'), 96, 12],
  [V6('64:ff9b::'), 96, 12],
  [V6('64:ff9b:1::'), 48, 12],
  [V6('2002::'), 16, 2],
];

/** The class of an address; an IPv6 address embedding an IPv4 one is judged by both. */
export function classifyIp(ip: IpAddress): AddressClass {
  if (ip.bytes.length === 4) return V4_BLOCKS.find(([b, p]) => inBlock(ip.bytes, b, p))?.[2] ?? 'public';
  for (const [block, prefix, at] of V6_EMBEDDING) {
    if (!inBlock(ip.bytes, block, prefix)) continue;
    const inner = classifyIp({ bytes: ip.bytes.slice(at, at + 4) });
    // A mapped address is never needed for an upstream, and some stacks route it to the IPv4 host.
    return inner !== 'public' ? inner : prefix === 96 && at === 12 && ip.bytes[10] === 0xff ? 'ipv4-mapped' : 'public';
  }
  return V6_BLOCKS.find(([b, p]) => inBlock(ip.bytes, b, p))?.[2] ?? 'public';
}

/** Classifies an address given as text (any form git or curl accepts), or null for a host name. */
export function classifyAddress(text: string): AddressClass | null {
  const ip = parseIp(text);
  return ip ? classifyIp(ip) : null;
}

/** Parses a comma- or space-separated list of CIDR blocks (a bare address is a single-address block). */
export function parseCidrs(text: string, what = '--outbound-allow'): Cidr[] {
  const out: Cidr[] = [];
  for (const item of text.split(/[\s,]+/).filter(Boolean)) {
    const [addr, bits, extra] = item.split('/');
    const ip = net.isIP(addr!.replace(/^\[|\]$/g, '')) ? parseIp(addr!) : null;
    const max = ip ? ip.bytes.length * 8 : 0;
    const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (!ip || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
      throw new InputError(`${what} must list address blocks like 10.1.0.0/16 or fd00::/8, separated by commas; "${item}" is not one.`);
    }
    out.push({ bytes: ip.bytes, prefix });
  }
  return out;
}

/** Whether `ip` (or the IPv4 address an IPv4-mapped `ip` carries) lies in one of `blocks`. */
export function isAllowListed(ip: IpAddress, blocks: Cidr[]): boolean {
  const mapped = ip.bytes.length === 16 && inBlock(ip.bytes, V6_EMBEDDING[0]![0], 96) ? { bytes: ip.bytes.slice(12) } : null;
  return blocks.some((b) => inBlock(ip.bytes, b.bytes, b.prefix) || (mapped !== null && inBlock(mapped.bytes, b.bytes, b.prefix)));
}

/** How git must be run so it connects only to the checked address. */
export interface OutboundRoute {
  /** GIT_CONFIG_* pairs: the pinned address, no redirects. */
  config: [string, string][];
  /** Options for ssh (`-o HostName=…`), empty for other transports. */
  sshOptions: string[];
}

/** Options of the outbound guard. */
export interface OutboundGuardOptions {
  /** Blocks non-admins may reach even though they are not public (`--outbound-allow`). */
  allow: Cidr[];
  lookup?: Lookup;
  /** How long a DNS answer may take. */
  lookupTimeoutMs?: number;
}

const defaultLookup: Lookup = async (host) => (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** Checks upstream URLs of non-admin projects and pins git to the checked address. */
export class OutboundGuard {
  private readonly lookup: Lookup;

  constructor(private readonly o: OutboundGuardOptions) {
    this.lookup = o.lookup ?? defaultLookup;
  }

  /**
   * Resolves the repository's host and throws ForbiddenError when any of its addresses is not
   * public and not allow-listed. `lenient`: a host that does not resolve passes (checked again at fetch).
   * Returns the route git must take, or null for paths on the server's disk (admin-only anyway).
   */
  async check(repo: string, opts: { lenient?: boolean } = {}): Promise<OutboundRoute | null> {
    const endpoint = upstreamEndpoint(repo);
    const m = endpoint ? /^(\w+):\/\/(.*):(\d+)$/.exec(endpoint) : null;
    if (!m) return null;
    const [, scheme, host, port] = m as unknown as [string, string, string, string];
    const literal = parseIp(host.replace(/^\[|\]$/g, ''));
    let addresses: IpAddress[];
    if (literal) addresses = [literal];
    else {
      try {
        addresses = (await this.resolve(host)).map((a) => parseIp(a)!).filter(Boolean);
      } catch {
        if (opts.lenient) return null;
        throw new BerthError('upstream_failed', `The repository host "${host}" could not be resolved, so nothing was fetched.`);
      }
    }
    for (const ip of addresses) {
      const kind = classifyIp(ip);
      if (kind === 'public' || isAllowListed(ip, this.o.allow)) continue;
      const where = literal ? `The repository address ${host}` : `The repository host "${host}" resolves to ${formatIp(ip)}, which`;
      throw new ForbiddenError(`${where} is a ${kind} address, which only admins may use as an upstream unless an admin allows it with --outbound-allow.`);
    }
    if (addresses.length === 0) throw new BerthError('upstream_failed', `The repository host "${host}" has no address, so nothing was fetched.`);
    return pin(scheme, host, Number(port), literal ? null : addresses[0]!, repo);
  }

  private resolve(host: string): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('DNS timeout')), this.o.lookupTimeoutMs ?? 10_000);
      this.lookup(host).then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }
}

/** The git settings that make it connect to `ip` (null: the host is an address already) and follow no redirect. */
function pin(scheme: string, host: string, port: number, ip: IpAddress | null, repo: string): OutboundRoute {
  const addr = ip ? formatIp(ip) : null;
  const bracketed = addr?.includes(':') ? `[${addr}]` : addr;
  if (scheme === 'http' || scheme === 'https') {
    const config: [string, string][] = [['http.followRedirects', 'false']];
    if (bracketed) config.push(['http.curloptResolve', `${host}:${port}:${bracketed}`]);
    return { config, sshOptions: [] };
  }
  // The alias keeps known_hosts keyed as ssh keys it without the pin (`[host]:port` off port 22), so pinned keys still match.
  const alias = port === 22 ? host : `[${host}]:${port}`;
  if (scheme === 'ssh') return { config: [], sshOptions: addr ? ['-o', `HostName=${addr}`, '-o', `HostKeyAlias=${alias}`] : [] };
  const prefix = /^git:\/\/[^/]*\//i.exec(repo)?.[0];
  return { config: bracketed && prefix ? [[`url.git://${bracketed}:${port}/.insteadOf`, prefix]] : [], sshOptions: [] };
}

/**
 * Why a restricted fetch failed, in one sentence that repeats nothing the upstream sent (no status
 * code, no body, no git message), so a refused project cannot be used to probe internal services.
 */
export function restrictedFailure(stderr: string): string {
  if (/returned error: 30\d|redirect/i.test(stderr)) return 'the upstream answered with a redirect, which is not followed for projects of non-admin users; use the final URL';
  if (/Authentication failed|could not read (Username|Password)|returned error: 40[13]|Permission denied/i.test(stderr)) return 'the upstream refused access; check the credentials';
  if (/returned error: 404|not found|does not appear to be a git repository/i.test(stderr)) return 'the upstream has no repository at that URL';
  return 'the upstream could not be reached or did not answer as a git server';
}
