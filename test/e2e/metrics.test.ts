/**
 * E2E: /metrics scraped and parsed with a real Prometheus text-format parser (the
 * `parse-prometheus-text-format` package), its counters moving after a create, a failed create, an
 * exec, a terminal and a clone through the git gateway; who may scrape; /readyz naming its checks.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { eventually, git, makeRepo, tempDir, TestServer, waitPhase } from '../harness.ts';

/** One metric family as the parser returns it. */
interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string> }[];
}

// Imported by name at run time: the package ships no type declarations.
const PARSER = 'parse-prometheus-text-format';
const parsePrometheus = ((await import(PARSER)) as { default: (text: string) => Family[] }).default;

let server: TestServer;
let repo: string;
const scratch = tempDir('berth-metrics-');

before(async () => {
  server = await TestServer.start({ args: ['--local-docker', 'off'] });
  repo = makeRepo({ 'README.md': '# metrics\n' });
  await server.client().createProject({ name: 'demo', repo });
});
after(async () => {
  await server?.stop();
  fs.rmSync(repo, { recursive: true, force: true });
  fs.rmSync(scratch, { recursive: true, force: true });
});

async function scrape(token: string | undefined = server.adminToken, url = server.url): Promise<Family[]> {
  const res = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

/** The value of one series (0 when absent). */
function value(families: Family[], name: string, labels: Record<string, string> = {}): number {
  const m = families.find((x) => x.name === name)?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return m ? Number(m.value) : 0;
}

/**
 * Observations in a histogram: its +Inf bucket. The parser folds a labelled histogram into the
 * buckets of its last label set, so this is used where one label set (one action) has been observed.
 */
function observed(families: Family[], name: string): number {
  const f = families.find((x) => x.name === name);
  if (f) assert.equal(f.type, 'HISTOGRAM');
  return Number(f?.metrics[0]?.buckets?.['+Inf'] ?? 0);
}

test('counters move after a create, a failed setup, an exec, a terminal and a git clone', async () => {
  const c = server.client();
  const before = await scrape();
  for (const name of ['process_cpu_user_seconds_total', 'nodejs_heap_size_total_bytes', 'berth_terminal_sessions']) {
    assert.ok(before.some((f) => f.name === name), `${name} is exported`);
  }

  await c.createWorkspace({ name: 'm1', project: 'demo', provisioner: 'shell' });
  await waitPhase(c, 'm1', 'running');
  const run = await c.run('m1', ['echo', 'counted']);
  assert.equal(run.stdout, 'counted\n');
  const clone = path.join(scratch, 'clone');
  git(scratch, '-c', `http.extraHeader=Authorization: Bearer ${server.adminToken}`, 'clone', '-q', `${server.url}/git/demo.git`, clone);
  assert.ok(fs.existsSync(path.join(clone, 'README.md')));
  await c.createWorkspace({ name: 'm2', project: 'demo', provisioner: 'shell', spec: { setup: ['exit 3'] } });
  await eventually(async () => (await c.getWorkspace('m2')).phase === 'failed', 'm2 to fail its setup');

  // A TTY session is held by the server until it ends: the gauge counts it.
  let out = '';
  const term = c.exec('m1', { cmd: ['/bin/sh'], tty: true, cols: 80, rows: 24 }, { stdout: (d) => (out += d.toString()) });
  term.write('echo tty-$((40 + 2))\n');
  await eventually(() => out.includes('tty-42'), 'the terminal to answer');
  const during = await scrape();
  assert.equal(value(during, 'berth_terminal_sessions'), 1);
  term.write('exit\n');
  await term.done;

  const after = await scrape();
  const moved = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
  assert.ok(moved('berth_reconcile_attempts_total', { action: 'provision' }) >= 2, 'both provisions counted');
  // Only provisions have run so far: the histogram's one label set is theirs.
  assert.ok(observed(after, 'berth_reconcile_duration_seconds') - observed(before, 'berth_reconcile_duration_seconds') >= 2, 'and timed');
  assert.ok(moved('berth_reconcile_failures_total', { action: 'provision', code: 'setup_failed' }) >= 1, 'the failed setup counted by its code');
  assert.ok(moved('berth_exec_sessions_total', { tty: 'false' }) >= 1, 'the exec counted');
  assert.ok(moved('berth_exec_sessions_total', { tty: 'true' }) >= 1, 'the terminal counted');
  assert.ok(moved('berth_git_requests_total', { service: 'git-upload-pack', status: '200' }) >= 2, 'the clone counted (refs and pack)');
  assert.equal(value(after, 'berth_workspaces', { phase: 'running', provisioner: 'shell' }), 1);
  assert.equal(value(after, 'berth_workspaces', { phase: 'failed', provisioner: 'shell' }), 1);
  assert.equal(value(after, 'berth_terminal_sessions'), 0);

  // Deleted workspaces leave the gauge instead of staying at their last value.
  await c.deleteWorkspace('m2');
  await eventually(async () => value(await scrape(), 'berth_workspaces', { phase: 'failed', provisioner: 'shell' }) === 0, 'the failed workspace to leave the gauge');
});

test('/metrics needs an admin token unless --metrics-public on', async () => {
  assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
  const { token: bob } = await server.client().createUser('bob');
  const refused = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${bob}` } });
  assert.equal(refused.status, 403);
  assert.match(await refused.text(), /--metrics-public on/);
  const publicServer = await TestServer.start({ args: ['--local-docker', 'off', '--metrics-public', 'on'] });
  try {
    const families = await scrape(undefined, publicServer.url);
    assert.ok(families.some((f) => f.name === 'berth_reconcile_attempts_total'));
  } finally {
    await publicServer.stop();
  }
});

test('/readyz answers 200 naming the store and every provisioner; /healthz stays liveness', async () => {
  const res = await fetch(`${server.url}/readyz`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { status: string; checks: { name: string; ok: boolean }[] };
  assert.equal(body.status, 'ready');
  assert.deepEqual(body.checks.map((ch) => ch.name).sort(), ['provisioner shell', 'store']);
  assert.ok(body.checks.every((ch) => ch.ok));
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
});
