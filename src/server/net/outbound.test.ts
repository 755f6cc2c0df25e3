/** Unit tests of the outbound address classifier, the allow-list and the pinning of git to checked addresses. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ForbiddenError } from '../../core/errors.ts';
import { classifyAddress, formatIp, isAllowListed, OutboundGuard, parseCidrs, parseIp, restrictedFailure, type Lookup } from './outbound.ts';

test('every textual form of an address is classified like the address git would connect to', () => {
  const cases: [string, string | null][] = [
    ['127.0.0.1', 'loopback'],
    ['127.1', 'loopback'],
    ['0x7f.1', 'loopback'],
    ['0x7F.0.0.1', 'loopback'],
    ['0177.0.0.1', 'loopback'],
    ['2130706433', 'loopback'],
    ['0x7f000001', 'loopback'],
    ['017700000001', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['167772161', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    ['100.100.100.200', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:192.168.0.1', 'private'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:0a00:0001::', 'private'],
    ['169.254.169.254', 'metadata'],
    ['0xa9.0xfe.0xa9.0xfe', 'metadata'],
    ['2852039166', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['[fd00:ec2::254]', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['::ffff:8.8.8.8', 'ipv4-mapped'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['11.0.0.1', 'public'],
    ['2606:4700::1111', 'public'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['localhost', null],
    ['git.example.com', null],
    ['1.2.3.4.5', null],
    ['08.0.0.1', null],
    ['256.0.0.1', null],
    ['4294967296', null],
    ['1..1', null],
  ];
  for (const [text, expected] of cases) assert.equal(classifyAddress(text), expected, text);
});

test('addresses print in their usual form', () => {
  assert.equal(formatIp(parseIp('0x7f.1')!), '127.0.0.1');
  assert.equal(formatIp(parseIp('0:0:0:0:0:0:0:1')!), '::1');
  assert.equal(formatIp(parseIp('::ffff:7f00:1')!), '::ffff:7f00:1');
});

test('the allow-list takes blocks and single addresses, matches IPv4-mapped forms, and names a bad entry', () => {
  const allow = parseCidrs('127.0.0.1/32, 10.1.0.0/16 fd00::/8,192.168.5.5');
  assert.ok(isAllowListed(parseIp('127.0.0.1')!, allow));
  assert.ok(!isAllowListed(parseIp('127.0.0.2')!, allow));
  assert.ok(isAllowListed(parseIp('10.1.200.3')!, allow));
  assert.ok(!isAllowListed(parseIp('10.2.0.1')!, allow));
  assert.ok(isAllowListed(parseIp('::ffff:10.1.0.9')!, allow));
  assert.ok(isAllowListed(parseIp('fd00:ec2::254')!, allow));
  assert.ok(isAllowListed(parseIp('192.168.5.5')!, allow));
  assert.deepEqual(parseCidrs(''), []);
  for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '::/129', '0x7f.1/32', '10.0.0.0/x']) {
    assert.throws(() => parseCidrs(bad), new RegExp(`"${bad.replace(/[./]/g, '\\$&')}" is not one`), bad);
  }
});

/** A resolver answering from a table, counting lookups. */
function table(entries: Record<string, string[]>): Lookup & { asked: string[] } {
  const asked: string[] = [];
  const f = async (host: string) => {
    asked.push(host);
    const r = entries[host];
    if (!r) throw new Error(`ENOTFOUND ${host}`);
    return r;
  };
  return Object.assign(f, { asked });
}

test('names are judged by every address they resolve to, and git is pinned to the checked one', async () => {
  const lookup = table({ 'git.example.com': ['93.184.216.34'], 'evil.example.com': ['93.184.216.34', '127.0.0.1'], 'meta.example.com': ['fd00:ec2::254'], 'v6.example.com': ['2606:4700::1111'] });
  const guard = new OutboundGuard({ allow: [], lookup });
  assert.deepEqual(await guard.check('https://Git.Example.com/team/app.git'), {
    config: [
      ['http.followRedirects', 'false'],
      ['http.curloptResolve', 'git.example.com:443:93.184.216.34'],
    ],
    sshOptions: [],
  });
  assert.deepEqual((await guard.check('https://v6.example.com:8443/a.git'))!.config[1], ['http.curloptResolve', 'v6.example.com:8443:[2606:4700::1111]']);
  assert.deepEqual((await guard.check('git@git.example.com:team/app.git'))!.sshOptions, ['-o', 'HostName=93.184.216.34', '-o', 'HostKeyAlias=git.example.com']);
  assert.deepEqual((await guard.check('ssh://git@git.example.com:2222/app.git'))!.sshOptions, ['-o', 'HostName=93.184.216.34', '-o', 'HostKeyAlias=[git.example.com]:2222']);
  assert.deepEqual((await guard.check('git://git.example.com/app.git'))!.config, [['url.git://93.184.216.34:9418/.insteadOf', 'git://git.example.com/']]);
  await assert.rejects(guard.check('https://evil.example.com/x'), (err: Error) => err instanceof ForbiddenError && /"evil.example.com" resolves to 127.0.0.1, which is a loopback address/.test(err.message));
  await assert.rejects(guard.check('https://meta.example.com/x'), /resolves to fd00:ec2::254, which is a metadata address/);
  assert.equal(await guard.check('/srv/git/app.git'), null);
});

test('literal addresses are refused without any lookup, in every URL form git accepts', async () => {
  const lookup = table({});
  const guard = new OutboundGuard({ allow: [], lookup });
  for (const repo of [
    'http://127.0.0.1:7533/internal-admin',
    'http://0x7f.1/x',
    'http://2130706433/x',
    'http://[::1]:8080/x',
    'http://[::ffff:127.0.0.1]/x',
    'https://10.0.0.1/x',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/',
    'ssh://git@0x7f.1/x.git',
    'git@2130706433:x.git',
    'git://192.168.1.1/x.git',
    'http://0.0.0.0:80/x',
    'http://[fe80::1]/x',
  ]) {
    await assert.rejects(guard.check(repo), (err: Error) => err instanceof ForbiddenError && /only admins may use as an upstream/.test(err.message), repo);
  }
  assert.deepEqual(lookup.asked, []);
});

test('allow-listed addresses pass; a name that does not resolve passes only when lenient', async () => {
  const lookup = table({ localhost: ['127.0.0.1', '::1'] });
  const guard = new OutboundGuard({ allow: parseCidrs('127.0.0.0/8,::1'), lookup });
  assert.deepEqual((await guard.check('http://localhost:9/x'))!.config[1], ['http.curloptResolve', 'localhost:9:127.0.0.1']);
  assert.deepEqual((await guard.check('http://127.0.0.1:9/x'))!.config, [['http.followRedirects', 'false']]);
  await assert.rejects(new OutboundGuard({ allow: parseCidrs('127.0.0.1'), lookup }).check('http://localhost/x'), /resolves to ::1, which is a loopback address/);
  assert.equal(await guard.check('https://nowhere.invalid/x', { lenient: true }), null);
  await assert.rejects(guard.check('https://nowhere.invalid/x'), /"nowhere.invalid" could not be resolved/);
  const slow = new OutboundGuard({ allow: [], lookup: () => new Promise(() => undefined), lookupTimeoutMs: 20 });
  await assert.rejects(slow.check('https://slow.example.com/x'), /could not be resolved/);
});

test('failures of restricted fetches repeat nothing the upstream sent', () => {
  for (const stderr of [
    "fatal: unable to access 'http://h/x/': The requested URL returned error: 302",
    "fatal: unable to access 'http://h/x/': The requested URL returned error: 500 SECRET",
    'fatal: Authentication failed for SECRET',
    "fatal: repository 'http://h/SECRET/' not found",
    'SECRET banner',
  ]) {
    const text = restrictedFailure(stderr);
    assert.ok(!/SECRET|30\d|500/.test(text), text);
  }
});
