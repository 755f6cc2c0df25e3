/**
 * Smoke test of the authenticated test registry (testenv/berth-testenv): pulls of the private
 * image are refused without credentials and work with them, with the docker CLI (throwaway
 * DOCKER_CONFIG, so the machine's own `docker login` state is untouched) and with dockerode.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { loadTestEnv, type TestEnv } from './env.ts';

const run = promisify(execFile);

let env: TestEnv;
let dockerConfig: string;

before(() => {
  env = loadTestEnv();
  dockerConfig = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-docker-config-'));
  fs.writeFileSync(path.join(dockerConfig, 'config.json'), '{}');
});

after(() => {
  if (dockerConfig) fs.rmSync(dockerConfig, { recursive: true, force: true });
});

/** Runs the docker CLI against the test engine with the throwaway config. */
async function docker(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: dockerConfig, DOCKER_HOST: env.BERTH_TEST_DOCKER_HOST };
  delete childEnv.DOCKER_CONTEXT;
  delete childEnv.DOCKER_TLS_VERIFY;
  delete childEnv.DOCKER_CERT_PATH;
  try {
    const p = run('docker', args, { env: childEnv, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    if (input !== undefined) {
      p.child.stdin?.end(input);
    }
    const { stdout, stderr } = await p;
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? err.message };
  }
}

const AUTH_REFUSED = /unauthorized|no basic auth credentials|authentication required|denied/i;

test('registry /v2/ answers 401 without credentials and 200 with them', async () => {
  const url = `http://${env.BERTH_TEST_REGISTRY}/v2/`;
  const anon = await fetch(url);
  assert.equal(anon.status, 401, `anonymous GET ${url}`);
  const auth = Buffer.from(`${env.BERTH_TEST_REGISTRY_USER}:${env.BERTH_TEST_REGISTRY_PASSWORD}`).toString('base64');
  const ok = await fetch(url, { headers: { authorization: `Basic ${auth}` } });
  assert.equal(ok.status, 200, `authenticated GET ${url}`);
});

test('docker CLI: private image pull refused after logout, works after login', async () => {
  const registry = env.BERTH_TEST_REGISTRY;
  const image = env.BERTH_TEST_IMAGE_PRIVATE;

  const logout = await docker(['logout', registry]);
  assert.equal(logout.code, 0, `docker logout failed: ${logout.stderr}`);

  const refused = await docker(['pull', image]);
  assert.notEqual(refused.code, 0, `pull of ${image} without credentials must fail, got:\n${refused.stdout}`);
  assert.match(refused.stderr, AUTH_REFUSED, `pull without credentials failed for another reason: ${refused.stderr}`);

  const badLogin = await docker(['login', '-u', env.BERTH_TEST_REGISTRY_USER, '--password-stdin', registry], 'wrong-password');
  assert.notEqual(badLogin.code, 0, 'login with a wrong password must fail');

  const login = await docker(['login', '-u', env.BERTH_TEST_REGISTRY_USER, '--password-stdin', registry], env.BERTH_TEST_REGISTRY_PASSWORD);
  assert.equal(login.code, 0, `docker login failed: ${login.stderr}`);

  const pulled = await docker(['pull', image]);
  assert.equal(pulled.code, 0, `pull of ${image} with credentials failed: ${pulled.stderr}`);

  const inspect = await docker(['image', 'inspect', '--format', '{{.Id}}', image]);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.match(inspect.stdout.trim(), /^sha256:[0-9a-f]{64}$/);

  const logout2 = await docker(['logout', registry]);
  assert.equal(logout2.code, 0, logout2.stderr);
});

/** Pulls with dockerode and waits for the progress stream; rejects on any error in it. */
async function dockerodePull(d: Docker, image: string, authconfig?: Docker.AuthConfig): Promise<void> {
  const stream = await d.pull(image, authconfig ? { authconfig } : {});
  await new Promise<void>((resolve, reject) => {
    d.modem.followProgress(
      stream,
      (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
        if (err) return reject(err);
        const failed = output.find((o) => o.error ?? o.errorDetail);
        if (failed) return reject(new Error(failed.error ?? failed.errorDetail?.message ?? 'pull failed'));
        resolve();
      },
    );
  });
}

test('dockerode: private image pull refused without authconfig, works with it', async () => {
  const socketPath = env.BERTH_TEST_DOCKER_HOST.replace(/^unix:\/\//, '');
  const d = new Docker({ socketPath });
  const image = env.BERTH_TEST_IMAGE_BUSYBOX_PRIVATE || env.BERTH_TEST_IMAGE_PRIVATE;

  await assert.rejects(dockerodePull(d, image), AUTH_REFUSED, 'pull without credentials must be refused');

  await dockerodePull(d, image, {
    username: env.BERTH_TEST_REGISTRY_USER,
    password: env.BERTH_TEST_REGISTRY_PASSWORD,
    serveraddress: env.BERTH_TEST_REGISTRY,
  });
  const info = await d.getImage(image).inspect();
  assert.ok(info.Id.startsWith('sha256:'));
});
