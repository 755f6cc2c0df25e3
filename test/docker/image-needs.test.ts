/**
 * E2E (Docker): an image without the shell or the /bin/sh the provisioner needs fails the workspace
 * at once with one sentence naming the image and the fix; no error-level log line, no stack trace.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SpecInput } from '../../src/core/spec.ts';
import { TestServer, waitPhase } from '../harness.ts';
import { docker, removeWorkspaces, testEnv, startDemo, stopDemo } from './env.ts';

const env = testEnv();
/** A local image with no shell at all (the Kubernetes pause image the test machine has). */
const SHELL_LESS = 'registry.k8s.io/pause:3.10';
let server: TestServer;
let repo: string;
let installation: string;

before(async () => ({ server, repo, installation } = await startDemo()));
after(() => stopDemo({ server, repo, installation }));

async function failsWith(name: string, spec: SpecInput, message: RegExp): Promise<void> {
  const c = server.client();
  const logStart = server.logs.length;
  const w = await c.createWorkspace({ name, project: 'demo', provisioner: 'docker', spec });
  const failed = await waitPhase(c, w.id, 'failed', 90_000);
  assert.match(failed.message ?? '', message);
  assert.ok(!/\n\s+at /.test(failed.message ?? ''), 'no stack trace');
  const errors = server.logs
    .slice(logStart)
    .split('\n')
    .filter((l) => /"level":(50|60)/.test(l));
  assert.deepEqual(errors, [], 'an image without a needed program is not logged at error level');
  await removeWorkspaces(c, w.id);
}

test('an image without the shell spec.shell names fails in one sentence before any setup command runs', async () => {
  const image = env.BERTH_TEST_IMAGE_BUSYBOX;
  await failsWith('no-bash', { image, shell: '/bin/bash', setup: ['echo should-not-run'] }, new RegExp(`^Image ${image.replace(/[./]/g, '\\$&')} has no /bin/bash; set spec\\.shell to a shell the image has, such as /bin/sh\\.$`));
});

test('an image without /bin/sh fails in one sentence saying so', { skip: docker(['image', 'inspect', SHELL_LESS], { allowFail: true }) === '' && 'the pause image is not on the engine' }, async () => {
  await failsWith('no-sh', { image: SHELL_LESS }, /^Image registry\.k8s\.io\/pause:3\.10 has no \/bin\/sh; setup commands and terminals run in it; use an image with a POSIX shell, or set spec\.shell to the shell the image has\.$/);
});
