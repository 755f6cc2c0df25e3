/**
 * Where figures go: printed, and appended as one JSON line per suite run to
 * `bench/results/<suite>.jsonl` (committed, so the history of a figure travels with the code it
 * measured), each with the commit and the facts of the machine it was taken on.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testEnvPath } from '../test/testenv/env.ts';
import { formatResult, type Result } from './lib.ts';

/** Directory of the result files. */
export const RESULTS_DIR = path.resolve(import.meta.dirname, 'results');

function tool(file: string, args: string[], env?: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(file, args, { cwd: path.resolve(import.meta.dirname, '..'), encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return 'unavailable';
  }
}

/** The test environment's keys, or nothing when it is not up (suites that need it fail on their own). */
function testenvKeys(): Record<string, string> {
  try {
    return JSON.parse(fs.readFileSync(testEnvPath(), 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

/**
 * The commit (marked `+changes` when tracked files other than the recorded results differ from it:
 * an earlier suite of the same run appending its lines is not a change), tool versions and machine
 * the figures are taken on.
 */
export function runFacts(): Record<string, unknown> {
  const head = tool('git', ['rev-parse', 'HEAD']);
  const dirty = head !== 'unavailable' && tool('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)bench/results']) !== '';
  const env = testenvKeys();
  return {
    commit: head + (dirty ? '+changes' : ''),
    node: process.version,
    git: tool('git', ['--version']).replace(/^git version /, ''),
    docker: env.BERTH_TEST_DOCKER_HOST ? tool('docker', ['version', '--format', '{{.Server.Version}}'], { DOCKER_HOST: env.BERTH_TEST_DOCKER_HOST }) : 'unavailable',
    kubernetes: env.BERTH_TEST_K8S_VERSION ?? 'unavailable',
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** Prints results as a person reads them. */
export function printResults(results: Result[]): void {
  for (const r of results) process.stdout.write(`${formatResult(r)}\n`);
}

/** Appends one suite run to `file` (default bench/results/<suite>.jsonl) and returns its path. */
export function appendRun(suite: string, results: Result[], facts: Record<string, unknown>, quick: boolean, file = path.join(RESULTS_DIR, `${suite}.jsonl`)): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, `${JSON.stringify({ suite, date: new Date().toISOString(), quick, ...facts, results })}\n`);
  return file;
}
