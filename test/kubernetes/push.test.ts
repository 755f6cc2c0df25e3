/**
 * A commit made inside a Kubernetes workspace pod reaches the project's upstream: `git push` in the
 * pod goes to the control plane's git gateway (through the node's bridge), which relays it to the
 * upstream bare repository on this host.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { git, runCli, tempDir, waitGone } from '../harness.ts';
import { bareUpstream, revParse } from '../git/fixtures.ts';
import { K8sSuite, env, objectsOf } from './env.ts';

let suite: K8sSuite;
let bare: string;

before(async () => {
  suite = await K8sSuite.start();
  const root = tempDir('berth-upstream-');
  bare = bareUpstream(root, 'app', { 'README.md': '# pushed from a pod\n' });
  await suite.addProject('app', bare, root);
  await suite.addProvisioner('k8s');
});

after(async () => {
  await suite?.close();
});

test('a commit pushed from inside the pod reaches the upstream through the gateway', async () => {
  const { server } = suite;
  let r = await runCli(server, ['ws', 'create', 'pusher', '--project', 'app', '--provisioner', 'k8s', '--image', env.BERTH_TEST_IMAGE, '--wait'], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `${r.stderr}\n${suite.logs()}`);
  const before = revParse(bare, 'main');

  r = await runCli(server, ['ws', 'exec', 'pusher', '--', 'sh', '-c', 'echo "made in the pod" > pod.txt && git add pod.txt && git -c user.name=Pod -c user.email=pod@example.com commit -q -m "commit from the pod" && git rev-parse HEAD']);
  assert.equal(r.code, 0, r.stderr);
  const commit = r.stdout.trim();
  assert.match(commit, /^[0-9a-f]{40}$/);

  r = await runCli(server, ['ws', 'exec', 'pusher', '--', 'git', 'push', 'origin', 'HEAD:main'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `git push from the pod failed: ${r.stderr}\n${suite.logs()}`);
  assert.match(r.stderr, new RegExp(`${suite.podUrl.replace(/[.:/]/g, '\\$&')}/git/app\\.git`), 'pushed to the gateway as the pod reaches it');

  // On the host, the upstream's main is the pod's commit, on top of what was there.
  assert.equal(revParse(bare, 'main'), commit);
  assert.equal(git(bare, 'rev-parse', `${commit}^`).trim(), before);
  assert.equal(git(bare, 'show', `${commit}:pod.txt`), 'made in the pod\n');
  assert.equal(git(bare, 'log', '-1', '--format=%an <%ae> %s', 'main').trim(), 'Pod <pod@example.com> commit from the pod');

  const id = (await server.client().getWorkspace('pusher')).id;
  r = await runCli(server, ['ws', 'rm', 'pusher', '--yes'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  await waitGone(server.client(), 'pusher', 120_000);
  assert.deepEqual(objectsOf(id), []);
});
