/**
 * Quick mode over several suites: each suite runs in a process of its own, two at a time (this
 * machine has two cores), the slowest first, so the test run checks every benchmark in about the
 * time of the slowest. Quick figures are never compared, so running suites side by side is fine.
 */
import { spawn } from 'node:child_process';

/** Suites that take longest in quick mode go first. */
const SLOW_FIRST = ['kubernetes', 'docker', 'shell'];

/** Runs `bench/run.ts --quick NAME` per suite, `lanes` at a time; prints each suite's output when it ends; resolves with the names that failed. */
export async function runQuickInParallel(names: string[], lanes = 2): Promise<string[]> {
  const queue = [...names].sort((a, b) => rank(a) - rank(b));
  const failed: string[] = [];
  const lane = async () => {
    for (let name = queue.shift(); name; name = queue.shift()) {
      const { code, output } = await child(name);
      process.stdout.write(output);
      if (code !== 0) failed.push(name);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return failed;
}

function rank(name: string): number {
  const i = SLOW_FIRST.indexOf(name);
  return i < 0 ? SLOW_FIRST.length : i;
}

function child(name: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', new URL('./run.ts', import.meta.url).pathname, '--quick', name], {
      env: { ...process.env, BENCH_QUICK: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.once('error', (err) => resolve({ code: 1, output: `${output}${err.message}\n` }));
    p.once('close', (code) => resolve({ code: code ?? 1, output }));
  });
}
