/** Unit tests of the shared git set-up: the credential helper and the checkout configuration it persists. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { checkoutConfigScript, checkoutConfigSteps, gatewayGitEnv, gitConfigPairs, GATEWAY_CREDENTIAL_HELPER } from './git-setup.ts';

test('the clone environment scopes the helper to the gateway origin and clears other helpers first', () => {
  const env = gatewayGitEnv('https://berth.example.com:8443/base');
  assert.deepEqual(gitConfigPairs(env), [
    ['credential.https://berth.example.com:8443.helper', ''],
    ['credential.https://berth.example.com:8443.helper', GATEWAY_CREDENTIAL_HELPER],
  ]);
  assert.ok(!JSON.stringify(env).includes('berth_w_'), 'no token in the environment it builds');
});

test('the checkout script persists the helper idempotently, and git answers with the token from the environment', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-gitsetup-'));
  try {
    execFileSync('git', ['init', '-q', dir]);
    const env = gatewayGitEnv('http://127.0.0.1:7420');
    for (let i = 0; i < 2; i++) execFileSync('sh', ['-c', checkoutConfigScript(dir, env)]);
    const values = execFileSync('git', ['-C', dir, 'config', '--get-all', 'credential.http://127.0.0.1:7420.helper'], { encoding: 'utf8' });
    assert.equal(values, `\n${GATEWAY_CREDENTIAL_HELPER}\n`, 'exactly the two values, not duplicated by the second run');
    assert.equal(checkoutConfigSteps(env).length, 3);
    const fill = spawnSync('git', ['-C', dir, 'credential', 'fill'], {
      input: 'protocol=http\nhost=127.0.0.1:7420\n\n',
      encoding: 'utf8',
      env: { ...process.env, BERTH_WORKSPACE_TOKEN: 'berth_w_example', GIT_TERMINAL_PROMPT: '0' },
    });
    assert.match(fill.stdout, /^username=berth$/m);
    assert.match(fill.stdout, /^password=berth_w_example$/m);
    assert.ok(!fs.readFileSync(path.join(dir, '.git', 'config'), 'utf8').includes('berth_w_example'));
    const elsewhere = spawnSync('git', ['-C', dir, 'credential', 'fill'], {
      input: 'protocol=https\nhost=forge.example.com\n\n',
      encoding: 'utf8',
      env: { ...process.env, BERTH_WORKSPACE_TOKEN: 'berth_w_example', GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '' },
    });
    assert.ok(!elsewhere.stdout.includes('berth_w_example'), 'the token is not offered to other hosts');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
