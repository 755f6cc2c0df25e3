/**
 * A detached terminal costs the control plane nothing beyond its bounded scrollback: `yes` left
 * running in a TTY session nobody watches keeps the server's CPU time (utime + stime of its
 * process) under 5 % of a fixed observation window, on the shell provisioner and on the local
 * Docker engine; re-attaching shows the session alive and printing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { cleanupEngines, installationOf, removeWorkspaces, testEnv } from '../docker/env.ts';
import { TestServer, eventually, makeRepo, waitPhase } from '../harness.ts';

const env = testEnv();
/** The observation window, on the clock: the server's CPU time is measured across it. */
const WINDOW_MS = 6_000;
let server: TestServer;
let installation: string;
const workspaces: string[] = [];

/** CPU seconds the process has used so far (utime + stime from /proc/<pid>/stat). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5); the slice starts at field 3.
  // In clock ticks, USER_HZ = 100 on every Linux architecture Node supports.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

before(async () => {
  server = await TestServer.start();
  installation = installationOf(server);
  await server.client().createProject({ name: 'demo', repo: makeRepo() });
});

after(async () => {
  if (server) await removeWorkspaces(server.client(), ...workspaces).catch(() => undefined);
  await server?.stop();
  if (installation) cleanupEngines(installation);
});

for (const provisioner of ['shell', 'docker']) {
  test(`a detached terminal running yes costs the server almost no CPU (${provisioner})`, async () => {
    const c = server.client();
    const w = await c.createWorkspace({ name: `idle-${provisioner}`, project: 'demo', provisioner, spec: provisioner === 'docker' ? { image: env.BERTH_TEST_IMAGE } : {} });
    workspaces.push(w.id);
    await waitPhase(c, w.id, 'running', 120_000);

    let out = '';
    let session = '';
    const first = c.exec(w.name, { cmd: [], tty: true, cols: 80, rows: 24 }, { stdout: (d) => (out += d.toString()), session: (id) => (session = id) });
    first.done.catch(() => undefined);
    await eventually(() => session !== '', 'the terminal session to start', 30_000);
    first.write('yes berth-idle-mark\r');
    await eventually(() => out.split('berth-idle-mark').length > 200, 'yes to print', 30_000);
    first.detach();
    await first.done.catch(() => undefined);

    const pid = server.proc.pid!;
    const t0 = Date.now();
    const cpu0 = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const cpu = cpuSeconds(pid) - cpu0;
    const window = (Date.now() - t0) / 1000;
    assert.ok(cpu < 0.05 * window, `the server used ${cpu.toFixed(2)} s of CPU in ${window.toFixed(1)} s with a detached yes (limit 5 %)`);

    // The first frame after a re-attach is the replay of the scrollback; what follows is live.
    let replay = '';
    let live = '';
    let frames = 0;
    const second = c.exec(w.name, { cmd: [], tty: true, session }, { stdout: (d) => (frames++ === 0 ? (replay += d.toString()) : (live += d.toString())) });
    try {
      await eventually(() => live.split('berth-idle-mark').length > 200, 'the re-attached session to keep printing', 30_000);
      assert.match(replay, /berth-idle-mark/, 'the replay shows recent output');
    } finally {
      second.write('\x03');
      second.write('exit\r');
      await Promise.race([second.done.catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
      second.detach();
    }
  });
}
