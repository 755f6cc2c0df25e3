/**
 * Runs every benchmark (or those named: shell, docker, git-clone, cli, delete, kubernetes, agent, terminal-echo, fork, task, ttfc, burst), prints
 * each against its baseline and appends the figures to bench/results/<suite>.jsonl.
 * `--quick` (or BENCH_QUICK=1) takes tiny sample counts, records nothing and fails only on errors;
 * otherwise a missed goal makes the exit code 1 too. `--json FILE` appends the runs to FILE instead.
 * Several suites in quick mode run side by side, each in a process of its own (parallel-quick.ts).
 */
import { runQuickInParallel } from './parallel-quick.ts';
import { appendRun, printResults, runFacts } from './record.ts';
import type { Result } from './lib.ts';

const SUITES: Record<string, () => Promise<{ run(): Promise<Result[]> }>> = {
  shell: () => import('./shell.ts'),
  docker: () => import('./docker.ts'),
  'git-clone': () => import('./git-clone.ts'),
  cli: () => import('./cli.ts'),
  delete: () => import('./delete-latency.ts'),
  kubernetes: () => import('./kubernetes.ts'),
  agent: () => import('./agent.ts'),
  'terminal-echo': () => import('./terminal-echo.ts'),
  fork: () => import('./fork.ts'),
  task: () => import('./task.ts'),
  ttfc: () => import('./ttfc.ts'),
  burst: () => import('./burst.ts'),
};

const args = process.argv.slice(2);
const jsonIdx = args.indexOf('--json');
const jsonFile = jsonIdx >= 0 ? args.splice(jsonIdx, 2)[1] : process.env.BENCH_JSON;
const quickIdx = args.indexOf('--quick');
if (quickIdx >= 0) {
  args.splice(quickIdx, 1);
  // Read by harness.ts, which the suites import only below.
  process.env.BENCH_QUICK = '1';
}
const quick = process.env.BENCH_QUICK === '1';
const names = args.length ? args : Object.keys(SUITES);
const unknown = names.filter((n) => !SUITES[n]);
if (unknown.length) {
  process.stderr.write(`Unknown benchmark ${unknown.map((n) => `"${n}"`).join(', ')}. Known: ${Object.keys(SUITES).join(', ')}\n`);
  process.exit(2);
}

if (quick && names.length > 1 && !jsonFile) {
  const t0 = performance.now();
  const failed = await runQuickInParallel(names);
  process.stdout.write(`Quick run of ${names.length} benchmarks took ${((performance.now() - t0) / 1000).toFixed(1)} s${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}\n`);
  process.exit(failed.length ? 1 : 0);
}

const facts = runFacts();
process.stdout.write(`commit ${String(facts.commit)}; node ${process.version}; git ${String(facts.git)}; docker ${String(facts.docker)}; ${String(facts.cpus)} cores${quick ? '; QUICK mode: goals not enforced, nothing recorded' : ''}\n`);
const failed: string[] = [];
const missed: string[] = [];
const suspect: string[] = [];
for (const name of names) {
  process.stdout.write(`# ${name}\n`);
  const t0 = performance.now();
  let results: Result[];
  try {
    results = await (await SUITES[name]!()).run();
  } catch (err) {
    process.stderr.write(`benchmark ${name} failed: ${(err as Error).stack ?? String(err)}\n`);
    failed.push(name);
    continue;
  }
  printResults(results);
  process.stdout.write(`  (${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  missed.push(...results.filter((r) => !r.met).map((r) => r.name));
  suspect.push(...results.filter((r) => r.suspect).map((r) => r.name));
  if (jsonFile || !quick) process.stdout.write(`Appended to ${appendRun(name, results, facts, quick, jsonFile)}\n`);
}

if (suspect.length) process.stdout.write(`Suspect figures (check the baselines): ${suspect.join('; ')}\n`);
if (failed.length) process.stderr.write(`Benchmarks that failed to run: ${failed.join(', ')}\n`);
if (missed.length) process.stdout.write(`Goals ${quick ? 'not met (not enforced in quick mode)' : 'NOT MET'}: ${missed.join('; ')}\n`);
process.exitCode = failed.length || (!quick && missed.length) ? 1 : 0;
