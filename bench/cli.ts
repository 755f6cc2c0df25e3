/**
 * CLI start-up benchmarks, each against `docker exec C true` in a plain container of the same
 * image, on the real local engine of testenv (target ratio ≤ 1.5, issue 8):
 *  - `berth --help`: start-up alone, no server round trip;
 *  - `berth ws exec W -- true` in a docker workspace: start-up, WebSocket, exec in the container.
 * Every sample is a fresh process, as a person or a script would run them; the order of the two
 * sides alternates each round so machine noise falls evenly.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { BERTH_BIN, TestServer, makeRepo } from '../test/harness.ts';
import { cleanupEngines, docker, installationOf, removeWorkspaces, testEnv } from '../test/docker/env.ts';
import { compareTimes, runs, warmups, type Side } from './harness.ts';
import { reachPhase, type Result } from './lib.ts';

const MAX_RATIO = 1.5;
/** No single sample may hang the benchmark. */
const SAMPLE_TIMEOUT_MS = 30_000;

const execFileAsync = promisify(execFile);

/** A command timed as a child process, failing loudly when it does not exit 0. */
type Cmd = { file: string; args: string[]; env: NodeJS.ProcessEnv };

function sample(c: Cmd): Side['sample'] {
  return async () => void (await execFileAsync(c.file, c.args, { env: c.env, timeout: SAMPLE_TIMEOUT_MS, killSignal: 'SIGKILL' }));
}

/** Warm-up, then rounds of both commands in alternating order. */
function compareCommands(name: string, berth: Cmd, baseline: Cmd, baselineName: string): Promise<Result> {
  return compareTimes({ name, runs: runs(30, 2), warmup: warmups(5), goal: { maxRatio: MAX_RATIO }, berth: sample(berth), baseline: { name: baselineName, sample: sample(baseline) } });
}

/** Runs both comparisons against one server, one docker workspace and one plain container. */
export async function run(): Promise<Result[]> {
  const env = testEnv();
  const image = env.BERTH_TEST_IMAGE;
  const repo = makeRepo();
  const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
  const installation = installationOf(server);
  const container = `berth-bench-cli-${process.pid}`;
  let workspace: string | undefined;
  try {
    const c = server.client();
    await c.createProject({ name: 'bench', repo });
    const w = await c.createWorkspace({ name: 'cli', project: 'bench', provisioner: 'docker', spec: { image } });
    workspace = w.id;
    await reachPhase(c, w.id, 'running');
    docker(['run', '-d', '--name', container, image, 'sleep', 'infinity']);

    // The CLI as a user runs it, logged in through the environment; no login file is read.
    const cliEnv = { ...process.env, BERTH_URL: server.url, BERTH_TOKEN: server.adminToken, BERTH_CONFIG: path.join(server.dataDir, 'no-cli-config.json') };
    const berth = (...args: string[]): Cmd => ({ file: process.execPath, args: [BERTH_BIN, ...args], env: cliEnv });
    const dockerEnv = { ...process.env, DOCKER_HOST: env.BERTH_TEST_DOCKER_HOST };
    const baseline: Cmd = { file: 'docker', args: ['exec', container, 'true'], env: dockerEnv };
    const baselineName = 'docker exec C true';

    return [
      await compareCommands('berth --help', berth('--help'), baseline, baselineName),
      await compareCommands('berth ws exec W -- true', berth('ws', 'exec', 'cli', '--', 'true'), baseline, baselineName),
    ];
  } finally {
    docker(['rm', '-f', container], { allowFail: true });
    if (workspace) await removeWorkspaces(server.client(), workspace).catch((err: unknown) => process.stderr.write(`workspace removal failed: ${(err as Error).message}\n`));
    await server.stop();
    cleanupEngines(installation);
    fs.rmSync(repo, { recursive: true, force: true });
  }
}
