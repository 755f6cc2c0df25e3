/** Runs every benchmark (or those named as arguments: shell, docker, git-clone, cli, delete) and reports ratios against raw baselines. */
import fs from 'node:fs';
import path from 'node:path';
import { report, runFacts, type Result } from './lib.ts';

const SUITES: Record<string, () => Promise<{ run(): Promise<Result[]> }>> = {
  shell: () => import('./shell.ts'),
  docker: () => import('./docker.ts'),
  'git-clone': () => import('./git-clone.ts'),
  cli: () => import('./cli.ts'),
  delete: () => import('./delete-latency.ts'),
};

const args = process.argv.slice(2);
const jsonIdx = args.indexOf('--json');
const jsonFile = jsonIdx >= 0 ? args.splice(jsonIdx, 2)[1] : process.env.BENCH_JSON;
const names = args.length ? args : Object.keys(SUITES);
const results: Result[] = [];
for (const name of names) {
  const load = SUITES[name];
  if (!load) {
    process.stderr.write(`Unknown benchmark "${name}". Known: ${Object.keys(SUITES).join(', ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`# ${name}\n`);
  const r = await (await load()).run();
  report(r, undefined);
  results.push(...r);
}
if (jsonFile) {
  fs.mkdirSync(path.dirname(path.resolve(jsonFile)), { recursive: true });
  fs.writeFileSync(jsonFile, `${JSON.stringify({ date: new Date().toISOString(), ...runFacts(), results }, null, 2)}\n`);
  process.stdout.write(`Wrote ${jsonFile}\n`);
}
