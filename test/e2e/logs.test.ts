/**
 * A setup command that floods its output: `berth ws logs` ends with the final `running` and shows
 * the newest lines, the flood is rate-limited into the log with a notice instead of held in memory,
 * retention prunes beyond its count with a visible notice, and `--all` pages through every event kept.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { TestServer, eventually, makeRepo, runCli, waitPhase } from '../harness.ts';

let server: TestServer;
let repo: string;

before(async () => {
  server = await TestServer.start({ args: ['--event-retention-count', '1500'] });
  repo = makeRepo();
  await server.client().createProject({ name: 'demo', repo });
});
after(async () => {
  await server?.stop();
  fs.rmSync(repo, { recursive: true, force: true });
});

/** The server's resident memory in MiB, from /proc. */
function rssMiB(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'));
  return Math.round(Number(m![1]) / 1024);
}

test('50,000 lines of setup output: logs end with running and the newest lines, retention prunes with a notice, --all pages through what is kept', async () => {
  const c = server.client();
  const rssBefore = rssMiB();
  // Two bursts of 25,000 lines, apart by more than a second, so the log keeps the end of each.
  const setup = ['seq -f "line %g" 1 25000', 'sleep 1.5', 'seq -f "line %g" 25001 50000'];
  await c.createWorkspace({ name: 'flood', project: 'demo', spec: { setup } });
  await waitPhase(c, 'flood', 'running', 120_000);
  const rssAfter = rssMiB();
  process.stdout.write(`server RSS: ${rssBefore} MiB before, ${rssAfter} MiB after 50,000 lines of setup output\n`);
  assert.ok(rssAfter - rssBefore < 100, `the server's memory grew by ${rssAfter - rssBefore} MiB`);

  const tail = await runCli(server, ['ws', 'logs', 'flood']);
  assert.equal(tail.code, 0, tail.stderr);
  const lines = tail.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 200, 'the newest 200 events by default');
  assert.match(lines.at(-1)!, /\bphase\s+running$/, 'the final event is running');
  assert.match(lines.at(-2)!, /\boutput\s+line 50000$/, 'the newest line of output comes just before');
  assert.match(tail.stderr, /older events not shown: berth ws logs flood --all/);
  const five = await runCli(server, ['ws', 'logs', 'flood', '--tail', '5']);
  assert.deepEqual(five.stdout.trimEnd().split('\n'), lines.slice(-5));
  const recent = await runCli(server, ['ws', 'logs', 'flood', '--since', '10m', '--json']);
  const since = recent.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string; message: string });
  assert.ok(since.length > 200, `--since reads back past the default 200 (${since.length} events)`);
  assert.deepEqual([since.at(-1)!.kind, since.at(-1)!.message], ['phase', 'running']);

  // Retention (keep 1,500) prunes in the background; readers are told how much went.
  const all = await eventually(
    async () => {
      const r = await runCli(server, ['ws', 'logs', 'flood', '--all']);
      return /older events were removed by the retention policy/.test(r.stderr) ? r : undefined;
    },
    'retention to prune the flood',
    60_000,
    500,
  );
  const m = /… ([\d,]+) older events were removed by the retention policy \(keep 1,500 \/ 30d\)\./.exec(all.stderr);
  assert.ok(m, all.stderr);
  const kept = all.stdout.trimEnd().split('\n');
  assert.ok(kept.length <= 1501 && kept.length > 1000, `${kept.length} events kept (two pages of 1000 at most)`);
  assert.match(kept.at(-1)!, /\bphase\s+running$/);
  assert.ok(kept.some((l) => /\binfo\s+[\d,]+ lines of output were dropped \(more than 1,000 lines\/s\)\.$/.test(l)), 'the flood is summarized in the log');
  const outputs = kept.filter((l) => /\boutput\s+line \d+$/.test(l)).map((l) => Number(/line (\d+)$/.exec(l)![1]));
  assert.deepEqual(outputs, [...outputs].sort((a, b) => a - b), 'in order');
  assert.equal(outputs.at(-1), 50000);
  assert.equal(new Set(outputs).size, outputs.length, 'each line once across the pages');
  const json = await runCli(server, ['ws', 'logs', 'flood', '--all', '--json']);
  const ids = json.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: number }).id);
  assert.equal(ids.length, kept.length);
  assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'ids increase across pages');
});
