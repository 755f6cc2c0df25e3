/**
 * Terminals on Kubernetes: a TTY shell in a workspace pod runs inside tmux (the testenv image has
 * it), follows a resize, and survives a control-plane restart; a new terminal takes the session over
 * with the earlier screen on it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, makeRepo, waitGone, waitPhase } from '../harness.ts';
import { K8sSuite, env } from './env.ts';

let suite: K8sSuite;
/** Lists the pids of `sleep 1000` from /proc (the image has no pgrep). */
const SLEEPERS = 'for p in /proc/[0-9]*; do case "$(tr "\\0" " " < $p/cmdline 2>/dev/null)" in "sleep 1000 ") echo "${p#/proc/}";; esac; done';

before(async () => {
  suite = await K8sSuite.start();
  await suite.addProject('demo', makeRepo({ 'README.md': '# terminal demo\n' }));
  await suite.addProvisioner('k8s');
});

after(async () => {
  await suite?.close();
});

test('a TTY shell runs in tmux with resize, and survives a control-plane restart', async () => {
  const c = suite.server.client();
  const w = await c.createWorkspace({ name: 'tty', project: 'demo', provisioner: 'k8s', spec: { image: env.BERTH_TEST_IMAGE } });
  await waitPhase(c, w.id, 'running', 180_000);

  let out = '';
  const conn = c.exec(w.id, { cmd: [], tty: true, cols: 100, rows: 30 }, { stdout: (d) => (out += d.toString()) });
  conn.done.catch(() => undefined); // ends with the server restart below
  await eventually(() => /workspace\/work\S*[$#] /.test(out), 'a prompt', 30_000);
  conn.resize(120, 40);
  // The size is asked until the shell sees the new one: a resize and the next keystroke may cross.
  await eventually(
    () => {
      conn.write('echo "size $(stty size) in $TMUX_PANE marker-$((6*7))"\r');
      return /size \d+ 120 in %\d+ marker-42/.test(out);
    },
    'the command output with the new size inside tmux',
    30_000,
    1000,
  );
  conn.write('sleep 1000 &\r');
  const job = await eventually(async () => {
    const r = await c.run(w.id, ['sh', '-c', SLEEPERS]);
    return r.stdout.trim() || undefined;
  }, 'the background job to start', 30_000, 250);

  await suite.server.restart();
  const c2 = suite.server.client();
  await waitPhase(c2, w.id, 'running', 120_000);
  const ls = await c2.run(w.id, ['sh', '-c', `tmux ls; ${SLEEPERS}`]);
  assert.match(ls.stdout, /berth-/, 'the tmux session is still there');
  assert.ok(ls.stdout.includes(job), `the shell's job survived the restart:\n${ls.stdout}`);

  let again = '';
  const conn2 = c2.exec(w.id, { cmd: [], tty: true, cols: 120, rows: 40 }, { stdout: (d) => (again += d.toString()) });
  await eventually(() => again.includes('marker-42'), 'the previous screen in the re-attached session', 30_000);
  conn2.write('exit\r');
  await conn2.done;
  conn.detach();
  await c2.deleteWorkspace(w.id);
  await waitGone(c2, w.id, 120_000);
});
