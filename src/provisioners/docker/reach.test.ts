/** Unit tests of how docker workspaces reach the control plane: the route decision and the host address on a network. */
import assert from 'node:assert/strict';
import type os from 'node:os';
import { test } from 'node:test';
import type Docker from 'dockerode';
import { DockerEngine, firstHost } from './engine.ts';
import { decideRoute, unreachableSentence, unreachableWhy, type RouteInput } from './reach.ts';

function input(o: Partial<RouteInput>): RouteInput {
  return { hostUrl: 'http://127.0.0.1:7420', network: 'bridge', local: true, canForward: true, hostAddress: () => Promise.resolve({ address: '172.17.0.1' }), ...o };
}

test('the route: --server-url wins, a reachable URL is kept, loopback on a local engine is forwarded, elsewhere it is unreachable', async () => {
  assert.deepEqual(await decideRoute(input({ serverUrl: 'https://berth.example.com/', local: false })), { kind: 'direct', url: 'https://berth.example.com' });
  assert.deepEqual(await decideRoute(input({ hostUrl: 'http://10.0.0.2:7420/' })), { kind: 'direct', url: 'http://10.0.0.2:7420' });
  assert.deepEqual(await decideRoute(input({})), { kind: 'forward', address: '172.17.0.1', target: { host: '127.0.0.1', port: 7420 }, protocol: 'http:' });
  assert.deepEqual(await decideRoute(input({ hostUrl: 'http://0.0.0.0:7420' })), { kind: 'forward', address: '172.17.0.1', target: { host: '127.0.0.1', port: 7420 }, protocol: 'http:' });
  assert.deepEqual(await decideRoute(input({ network: 'host' })), { kind: 'direct', url: 'http://127.0.0.1:7420' });

  const remote = await decideRoute(input({ local: false }));
  assert.equal(remote.kind, 'unreachable');
  assert.equal(remote.kind === 'unreachable' && remote.url, 'http://127.0.0.1:7420', 'the workspace gets the loopback URL, and is told so');
  const none = await decideRoute(input({ network: 'none' }));
  assert.equal(none.kind, 'unreachable');
  const noGateway = await decideRoute(input({ hostAddress: () => Promise.resolve({ missing: 'the network "bridge" names no gateway' }) }));
  assert.equal(noGateway.kind === 'unreachable' && noGateway.why, 'it listens on this machine only and no forwarder can be opened for the workspaces: the network "bridge" names no gateway');
});

test('what ws show reports: a loopback URL is unreachable from a container unless it shares the host network of a local engine', () => {
  assert.equal(unreachableWhy('http://host.docker.internal:7420', { network: 'bridge', local: true }), undefined);
  assert.equal(unreachableWhy('http://127.0.0.1:7420', { network: 'host', local: true }), undefined);
  assert.match(unreachableWhy('http://127.0.0.1:7420', { network: 'bridge', local: true }) ?? '', /the container itself/);
  assert.match(unreachableWhy('http://localhost:7420', { network: 'host', local: false }) ?? '', /engine's machine, not this one/);
  assert.match(unreachableWhy('http://10.0.0.2:7420', { network: 'none', local: true }) ?? '', /--network none/);
  assert.equal(
    unreachableSentence('tcp://10.0.0.5:2376', 'http://127.0.0.1:7420', 'why'),
    'Workspaces on tcp://10.0.0.5:2376 cannot reach the control plane at http://127.0.0.1:7420 (why), so git and BERTH_SERVER_URL do not work from inside them; give the provisioner a URL they can reach with --server-url URL.',
  );
  assert.doesNotMatch(unreachableSentence('unix:///var/run/docker.sock', 'http://127.0.0.1:7420', 'why', 'none'), /--server-url/);
});

/** An engine whose only answer is one network inspect. */
function engineWith(network: object | null): DockerEngine {
  const docker = {
    getNetwork: () => ({ inspect: () => (network ? Promise.resolve(network) : Promise.reject(Object.assign(new Error('no such network'), { statusCode: 404 }))) }),
  } as unknown as Docker;
  return new DockerEngine(docker, 'unix:///var/run/docker.sock');
}

test('the host address on a network: its gateway, else its bridge interface here (a fresh default bridge names no gateway)', async () => {
  const ifaces = () => ({ docker0: [{ family: 'IPv4', address: '172.17.0.1' }], 'br-0123456789ab': [{ family: 'IPv4', address: '10.9.0.1' }] }) as unknown as NodeJS.Dict<os.NetworkInterfaceInfo[]>;
  const fresh = { Id: 'e5fd', Driver: 'bridge', IPAM: { Config: [{ Subnet: '172.17.0.0/16' }] }, Options: { 'com.docker.network.bridge.name': 'docker0' } };
  assert.deepEqual(await engineWith({ ...fresh, IPAM: { Config: [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }] } }).hostAddress('bridge', false, ifaces), { address: '172.17.0.1' });
  assert.deepEqual(await engineWith(fresh).hostAddress('bridge', true, ifaces), { address: '172.17.0.1' });
  assert.deepEqual(await engineWith({ Id: '0123456789abcdef', Driver: 'bridge', IPAM: { Config: [] }, Options: {} }).hostAddress('devnet', true, ifaces), { address: '10.9.0.1' });
  const missing = async (found: Promise<{ address: string } | { missing: string }>) => {
    const f = await found;
    return 'missing' in f ? f.missing : `found ${f.address}`;
  };
  assert.match(await missing(engineWith(fresh).hostAddress('bridge', false, ifaces)), /bridge docker0 is on the engine's machine/);
  // A bridge without containers is missing from the interface list: Docker gave it the subnet's first address.
  assert.deepEqual(await engineWith(fresh).hostAddress('bridge', true, () => ({})), { address: '172.17.0.1' });
  assert.match(await missing(engineWith({ ...fresh, IPAM: { Config: [] } }).hostAddress('bridge', true, () => ({}))), /docker0 has no IPv4 address/);
  assert.match(await missing(engineWith(null).hostAddress('gone', true, ifaces)), /no network "gone"/);
});

test('the first host address of a subnet', () => {
  assert.equal(firstHost('172.17.0.0/16'), '172.17.0.1');
  assert.equal(firstHost('10.213.0.0/24'), '10.213.0.1');
  assert.equal(firstHost('192.168.255.0/24'), '192.168.255.1');
  assert.equal(firstHost('10.0.0.5/24'), undefined, 'not a network address');
  assert.equal(firstHost('fd00::/64'), undefined);
  assert.equal(firstHost(undefined), undefined);
});
