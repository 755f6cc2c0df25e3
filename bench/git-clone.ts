/**
 * Benchmark: `git clone` of a generated repository with 5,000 commits through Berth's git gateway
 * against a direct clone of the upstream. Both sides are served the same way — `git http-backend`
 * behind a loopback HTTP server demanding basic auth (test/git/upstream-server.ts) — so the ratio
 * shows what the gateway adds: token auth, the freshness check against the upstream, and one more
 * CGI hop. A file:// clone is reported alongside for reference (no HTTP at all, not comparable).
 *
 * Direct, gateway and file:// clones rotate order each round, so machine noise spreads evenly.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, TestServer } from '../test/harness.ts';
import { startUpstream } from '../test/git/upstream-server.ts';
import { QUICK, compareTimes, runs, warmups } from './harness.ts';
import type { Result } from './lib.ts';
import { generatedRepo } from './repo.ts';

/** Quick mode clones a small history and checks one configuration. */
const COMMITS = QUICK ? 300 : 5000;
const FILES = 300;
const PASSWORD = 'bench-upstream-password';
const ALL_CONFIGS = [
  ['default freshness window (10s)', []],
  ['upstream checked on every clone (--git-freshness 0)', ['--git-freshness', '0']],
] as const;
const CONFIGS = QUICK ? ALL_CONFIGS.slice(1) : ALL_CONFIGS;

function clone(url: string, user: string, password: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('git', ['clone', '-q', url, dest], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        GIT_TERMINAL_PROMPT: '0',
        BENCH_USER: user,
        BENCH_PASSWORD: password,
        GIT_CONFIG_COUNT: '2',
        GIT_CONFIG_KEY_0: 'credential.helper',
        GIT_CONFIG_VALUE_0: '',
        GIT_CONFIG_KEY_1: 'credential.helper',
        GIT_CONFIG_VALUE_1: '!f() { test "$1" = get && echo "username=$BENCH_USER" && echo "password=$BENCH_PASSWORD"; }; f',
      },
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('error', reject);
    p.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`git clone ${url} failed (${code}): ${err}`))));
  });
}

/** Runs the comparison and returns its results. */
export async function run(): Promise<Result[]> {
  const src = generatedRepo(FILES, COMMITS);
  const root = tempDir('berth-bench-git-');
  const bare = path.join(root, 'big.git');
  execFileSync('git', ['clone', '-q', '--bare', src, bare]);
  // A hosting service keeps its repositories packed with bitmaps; so does the gateway's mirror.
  execFileSync('git', ['-C', bare, 'repack', '-a', '-d', '-b', '-q']);
  const upstream = await startUpstream(root, 'bench', PASSWORD);
  const servers: TestServer[] = [];
  const results: Result[] = [];
  let n = 0;
  const dest = () => path.join(root, `clone-${n++}`);
  try {
    for (const [label, args] of CONFIGS) {
      const server = await TestServer.start({ args: [...args] });
      servers.push(server);
      const c = server.client();
      await c.createProject({ name: 'big', repo: `${upstream.url}/big.git`, credentials: { username: 'bench', password: PASSWORD } });
      await c.syncProject('big');
      const gateway = `${server.url}/git/big.git`;
      results.push(
        await compareTimes({
          name: `git clone of ${COMMITS} commits through the gateway, ${label}`,
          runs: runs(9),
          warmup: warmups(1),
          goal: { maxRatio: 1.3 },
          berth: () => clone(gateway, 'x', server.adminToken, dest()),
          baseline: { name: 'direct clone over http-backend', sample: () => clone(`${upstream.url}/big.git`, 'bench', PASSWORD, dest()) },
          // The local transport: no HTTP, no auth; for reference only, not comparable.
          others: [{ name: 'file:// clone (reference)', sample: () => clone(`file://${bare}`, '', '', dest()) }],
        }),
      );
      for (const d of fs.readdirSync(root).filter((d) => d.startsWith('clone-'))) fs.rmSync(path.join(root, d), { recursive: true, force: true });
    }
  } finally {
    for (const s of servers) await s.stop();
    await upstream.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
  return results;
}
