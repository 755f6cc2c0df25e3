/** Unit tests of provisioner options on the command line, from a type's schema. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import type { ProvisionerType } from '../sdk/wire.ts';
import { describeOptions, flagOf, parseTypeOptions, unsetTypeOptions } from './type-options.ts';

const t: ProvisionerType = {
  type: 'demo',
  summary: 'demo',
  capabilities: { runsOnHost: false, image: true, user: true, resources: true, registryLogins: true, needsServerUrl: true, fork: false },
  options: Type.Object({
    dockerHost: Type.Optional(Type.String({ description: 'where' })),
    tlsVerify: Type.Optional(Type.Boolean({ description: 'verify' })),
    storage: Type.Optional(Type.Union([Type.Literal('bind'), Type.Literal('volume')])),
    size: Type.Optional(Type.Integer()),
  }),
};

test('schema options become kebab-case flags with values parsed by type', () => {
  assert.equal(flagOf('allowDockerSocket'), '--allow-docker-socket');
  assert.deepEqual(parseTypeOptions(t, ['--docker-host', 'tcp://h:2376', '--no-tls-verify', '--storage=volume', '--size', '3']), {
    dockerHost: 'tcp://h:2376',
    tlsVerify: false,
    storage: 'volume',
    size: 3,
  });
  assert.deepEqual(parseTypeOptions(t, ['--tls-verify']), { tlsVerify: true });
  assert.deepEqual(parseTypeOptions(t, []), {});
});

test('unknown flags, missing values and bad numbers are errors that name the flag', () => {
  assert.throws(() => parseTypeOptions(t, ['--colour', 'blue']), /The demo provisioner has no option --colour\. Its options: --docker-host, --tls-verify, --storage, --size\./);
  assert.throws(() => parseTypeOptions(t, ['--docker-host']), /--docker-host needs a value/);
  assert.throws(() => parseTypeOptions(t, ['--size', 'big']), /--size must be a number; got "big"/);
  assert.throws(() => parseTypeOptions(t, ['--tls-verify=maybe']), /--tls-verify takes no value/);
  assert.throws(() => parseTypeOptions(t, ['stray']), /Unexpected argument "stray"/);
});

test('help lists every option with its values and description', () => {
  const lines = describeOptions(t).join('\n');
  assert.match(lines, /--docker-host <value>\s+where/);
  assert.match(lines, /--tls-verify\s+verify/);
  assert.match(lines, /--storage bind\|volume/);
});

test('options to unset are named by flag and become nulls; unknown ones are refused', () => {
  assert.deepEqual(unsetTypeOptions(t, ['docker-host', '--tls-verify']), { dockerHost: null, tlsVerify: null });
  assert.throws(() => unsetTypeOptions(t, ['colour']), /The demo provisioner has no option --colour to unset\./);
});
