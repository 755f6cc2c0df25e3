/** Unit tests of the docker provisioner's pure parts: tar, users, image references, pull errors, options. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { ProvisionerError } from '../../core/errors.ts';
import { rewriteGitEnv } from '../git-setup.ts';
import { dockerodeOptions } from './engine.ts';
import { authFor, pullError, registryOf, withDefaultTag } from './images.ts';
import { parseOptions } from '../registry.ts';
import { dockerPlugin } from './docker.ts';
import { portsOf } from './runtime.ts';
import { sharedKey } from './storage.ts';
import { firstFileOfTar, tarStream, type TarEntry } from './tar.ts';
import { expandHome, resolveUser } from '../image-users.ts';

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Minimal reader for the test: name, type, uid, gid, mode, size and content of each entry. */
function readTar(buf: Buffer): { name: string; type: string; uid: number; gid: number; mode: number; data: string; link: string }[] {
  const out = [];
  let off = 0;
  let paxPath: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, b: number) => h.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    const num = (a: number, b: number) => parseInt(str(a, b).trim() || '0', 8);
    const size = num(124, 136);
    const type = String.fromCharCode(h[156]!);
    const data = buf.subarray(off + 512, off + 512 + size).toString('utf8');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    assert.equal(sum, num(148, 156), 'header checksum');
    if (type === 'x') paxPath = /\d+ path=(.*)\n/.exec(data)?.[1];
    else {
      out.push({ name: paxPath ?? str(0, 100), type, uid: num(108, 116), gid: num(116, 124), mode: num(100, 108), data, link: str(157, 257) });
      paxPath = undefined;
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

test('tar: entries keep owner, mode, type and content; long paths use PAX', async () => {
  const long = `home/dev/${'d'.repeat(120)}/file.txt`;
  const entries: TarEntry[] = [
    { type: 'dir', path: 'workspace', mode: 0o755, uid: 1000, gid: 1000 },
    { type: 'file', path: 'workspace/a.txt', mode: 0o600, uid: 1000, gid: 100, data: Buffer.from('hello\n') },
    { type: 'symlink', path: 'workspace/link', target: 'a.txt', uid: 1000, gid: 1000 },
    { type: 'stream', path: long, mode: 0o644, uid: 1, gid: 2, size: 5, open: () => Readable.from([Buffer.from('12'), Buffer.from('345')]) },
  ];
  const buf = await collect(tarStream(entries));
  assert.equal(buf.length % 512, 0);
  const read = readTar(buf);
  assert.deepEqual(
    read.map((e) => [e.name, e.type, e.uid, e.gid, e.mode]),
    [
      ['workspace/', '5', 1000, 1000, 0o755],
      ['workspace/a.txt', '0', 1000, 100, 0o600],
      ['workspace/link', '2', 1000, 1000, 0o777],
      [long, '0', 1, 2, 0o644],
    ],
  );
  assert.equal(read[1]!.data, 'hello\n');
  assert.equal(read[2]!.link, 'a.txt');
  assert.equal(read[3]!.data, '12345');
  assert.equal((await firstFileOfTar(Readable.from([buf.subarray(512)])))?.toString(), 'hello\n');
});

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\ndev:x:1000:1000::/home/dev:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
const GROUP = 'root:x:0:\ndev:x:1000:\nstaff:x:50:dev\n';

test('users resolve like Docker does: names, uids, groups, image default', () => {
  assert.deepEqual(resolveUser('', PASSWD, GROUP, 'img'), { spec: '', uid: 0, gid: 0, home: '/root', shell: '/bin/bash', name: 'root' });
  assert.deepEqual(resolveUser('dev', PASSWD, GROUP, 'img'), { spec: 'dev', uid: 1000, gid: 1000, home: '/home/dev', shell: '/bin/bash', name: 'dev' });
  assert.equal(resolveUser('dev:staff', PASSWD, GROUP, 'img').gid, 50);
  assert.deepEqual(resolveUser('4242', PASSWD, GROUP, 'img'), { spec: '4242', uid: 4242, gid: 0, home: '/' });
  const nobody = resolveUser('nobody', PASSWD, GROUP, 'img');
  assert.equal(nobody.home, '/');
  assert.equal(nobody.shell, undefined, 'nologin is not a shell');
  assert.throws(() => resolveUser('ghost', PASSWD, GROUP, 'img:1'), (e: ProvisionerError) => e.retryable === false && /User "ghost" does not exist in image img:1/.test(e.message));
  assert.throws(() => resolveUser('dev:ghosts', PASSWD, GROUP, 'img'), /Group "ghosts" does not exist/);
  assert.equal(expandHome('~/.npm', '/home/dev/'), '/home/dev/.npm');
  assert.equal(expandHome('/opt/x', '/home/dev'), '/opt/x');
});

test('image references: registry, default tag, matching login', () => {
  assert.equal(registryOf('ubuntu'), 'docker.io');
  assert.equal(registryOf('library/ubuntu:22.04'), 'docker.io');
  assert.equal(registryOf('127.0.0.1:5000/berth/x:1'), '127.0.0.1:5000');
  assert.equal(registryOf('ghcr.io/org/img'), 'ghcr.io');
  assert.equal(registryOf('localhost/img'), 'localhost');
  assert.equal(withDefaultTag('ubuntu'), 'ubuntu:latest');
  assert.equal(withDefaultTag('127.0.0.1:5000/x'), '127.0.0.1:5000/x:latest');
  assert.equal(withDefaultTag('x@sha256:abc'), 'x@sha256:abc');
  const logins = [{ registry: 'index.docker.io', username: 'u', password: 'p' }, { registry: '127.0.0.1:5000', username: 'b', password: 'q' }];
  assert.deepEqual(authFor('ubuntu:22.04', logins), { username: 'u', password: 'p', serveraddress: 'https://index.docker.io/v1/' });
  assert.deepEqual(authFor('127.0.0.1:5000/x:1', logins), { username: 'b', password: 'q', serveraddress: '127.0.0.1:5000' });
  assert.equal(authFor('ghcr.io/x', logins), undefined);
});

test('pull errors become sentences; permanent ones are not retried; no password in them', () => {
  const err = (statusCode: number, reason: string) => Object.assign(new Error(`(HTTP code ${statusCode}) server error - ${reason} `), { statusCode });
  const auth = { username: 'berth', password: 'hunter2', serveraddress: 'r:5000' };
  let e = pullError('r:5000/a:1', err(500, 'unauthorized: authentication required'), auth);
  assert.equal(e.message, 'The registry r:5000 rejected the credentials of user "berth" for image r:5000/a:1; fix the username or password in spec.registryLogins.');
  assert.equal(e.retryable, false);
  assert.ok(!e.message.includes('hunter2'));
  e = pullError('r:5000/a:1', err(500, 'Head "http://r:5000/v2/a/manifests/1": no basic auth credentials'), undefined);
  assert.match(e.message, /requires a login to pull image r:5000\/a:1; add it to spec\.registryLogins/);
  e = pullError('r:5000/a:1', err(404, 'manifest for r:5000/a:1 not found: manifest unknown: manifest unknown'), auth);
  assert.equal(e.code, 'image_not_found');
  assert.equal(e.retryable, false);
  e = pullError('a:1', err(500, 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'), undefined);
  assert.equal(e.retryable, false);
  e = pullError('r:5000/a:1', err(500, 'Get "http://r:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused'), undefined);
  assert.equal(e.retryable, true);
  assert.match(e.message, /^Pulling image r:5000\/a:1 from r:5000 failed: .*connection refused\. Berth will retry\.$/);
});

test('docker provisioner options are validated with clear messages', () => {
  const plugin = dockerPlugin();
  const parseDockerOptions = (raw: Record<string, unknown>) => parseOptions(plugin, raw);
  assert.deepEqual(parseDockerOptions({}), {});
  assert.throws(() => parseDockerOptions({ colour: 'blue' }), /Unknown docker provisioner option "colour"/);
  assert.throws(() => parseDockerOptions({ dockerHost: 'ftp://x' }), /must start with unix:\/\/, tcp:\/\/ or ssh:\/\//);
  assert.throws(() => parseDockerOptions({ dockerHost: 'tcp://h:2376', storage: 'bind' }), /Bind storage needs an engine on this machine/);
  assert.throws(() => parseDockerOptions({ tlsCertPath: '/certs' }), /--tls-cert-path applies to tcp:\/\//);
  assert.throws(() => parseDockerOptions({ root: 'relative' }), /--root must be an absolute/);
  assert.throws(() => parseDockerOptions({ serverUrl: 'ftp://x' }), /--server-url must be an http/);
  assert.throws(() => parseDockerOptions({ allowPorts: 'yes' }), /allowPorts is invalid/);
  const ssh = dockerodeOptions({ dockerHost: 'ssh://deploy@build.example:2222' });
  assert.equal(ssh.protocol, 'ssh');
  assert.equal(ssh.username, 'deploy');
  assert.equal(ssh.port, 2222);
  assert.equal(dockerodeOptions({ dockerHost: 'unix:///run/docker.sock' }).socketPath, '/run/docker.sock');
  assert.throws(() => dockerodeOptions({ dockerHost: 'ssh://host' }), /must name the SSH user/);
});

test('shared store keys separate installations, scopes and paths', () => {
  const a = sharedKey('inst1', 'cache', 'web', '~/.npm');
  assert.match(a, /^cache-[0-9a-f]{16}$/);
  assert.equal(a, sharedKey('inst1', 'cache', 'web', '~/.npm'));
  assert.notEqual(a, sharedKey('inst2', 'cache', 'web', '~/.npm'));
  assert.notEqual(a, sharedKey('inst1', 'cache', 'api', '~/.npm'));
  assert.match(sharedKey('inst1', 'userdata', 'usr_1', '~/.config/x'), /^ud-/);
});

test('ports: exposed ones are listed, published ones carry the host address', () => {
  const c = {
    Config: { ExposedPorts: { '3000/tcp': {}, '53/udp': {} } },
    NetworkSettings: { Ports: { '3000/tcp': [{ HostIp: '127.0.0.1', HostPort: '49153' }], '53/udp': null } },
  } as unknown as Parameters<typeof portsOf>[0];
  assert.deepEqual(portsOf(c), [
    { port: 3000, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 49153 },
    { port: 53, protocol: 'udp' },
  ]);
});

test('git settings are rewritten to the address the workspace uses', () => {
  const env = { GIT_CONFIG_COUNT: '2', GIT_CONFIG_KEY_0: 'credential.http://127.0.0.1:7420.helper', GIT_CONFIG_VALUE_0: '', GIT_CONFIG_KEY_1: 'credential.http://127.0.0.1:7420.helper', GIT_CONFIG_VALUE_1: '!f', GIT_TERMINAL_PROMPT: '0' };
  assert.deepEqual(rewriteGitEnv(env, 'http://127.0.0.1:7420', 'http://host.docker.internal:7420'), {
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'credential.http://host.docker.internal:7420.helper',
    GIT_CONFIG_VALUE_0: '',
    GIT_CONFIG_KEY_1: 'credential.http://host.docker.internal:7420.helper',
    GIT_CONFIG_VALUE_1: '!f',
  });
});
