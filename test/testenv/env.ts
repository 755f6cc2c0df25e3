/**
 * Access to the real test environment made by `testenv/berth-testenv up`: it writes
 * `$BERTH_TESTENV_STATE/env.json` (default /var/lib/berth-testenv/env.json). Tests that need
 * Docker, the registry, PostgreSQL or Kubernetes read it with `loadTestEnv()` (`loadPostgresTestEnv()`,
 * `loadK8sTestEnv()`) and FAIL (never skip) when it is missing, so a CI run without the environment
 * cannot pass silently.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Keys written by `berth-testenv up` (see docs/testenv.md). */
export interface TestEnv {
  BERTH_TESTENV_STATE: string;
  BERTH_TEST_DOCKER_HOST: string;
  BERTH_TEST_DOCKER_API_VERSION: string;
  BERTH_TEST_REGISTRY: string;
  BERTH_TEST_REGISTRY_USER: string;
  BERTH_TEST_REGISTRY_PASSWORD: string;
  BERTH_TEST_IMAGE: string;
  BERTH_TEST_IMAGE_PRIVATE: string;
  BERTH_TEST_IMAGE_BUSYBOX: string;
  BERTH_TEST_IMAGE_BUSYBOX_PRIVATE: string;
  BERTH_TEST_REMOTE_DOCKER_HOST: string;
  BERTH_TEST_REMOTE_DOCKER_CERT_PATH: string;
  BERTH_TEST_REMOTE_DOCKER_TLS_VERIFY: string;
  /** postgres://… of the test role on its own database; the role may create throwaway databases. */
  BERTH_TEST_DATABASE_URL?: string;
  BERTH_TEST_K8S: string;
  KUBECONFIG?: string;
  BERTH_TEST_KUBECONFIG?: string;
  BERTH_TEST_K8S_VERSION?: string;
  BERTH_TEST_K8S_NAMESPACE?: string;
  BERTH_TEST_K8S_PULL_SECRET?: string;
  BERTH_TEST_K8S_STORAGE_CLASS?: string;
  BERTH_TEST_K8S_NODE?: string;
  BERTH_TEST_KUBECTL?: string;
}

/** The Kubernetes part of the environment, present when it was brought up with Kubernetes. */
export type K8sTestEnv = TestEnv & {
  KUBECONFIG: string;
  BERTH_TEST_K8S_NAMESPACE: string;
  BERTH_TEST_K8S_PULL_SECRET: string;
  BERTH_TEST_K8S_STORAGE_CLASS: string;
};

const REQUIRED: (keyof TestEnv)[] = [
  'BERTH_TEST_DOCKER_HOST',
  'BERTH_TEST_REGISTRY',
  'BERTH_TEST_REGISTRY_USER',
  'BERTH_TEST_REGISTRY_PASSWORD',
  'BERTH_TEST_IMAGE',
  'BERTH_TEST_IMAGE_PRIVATE',
  'BERTH_TEST_IMAGE_BUSYBOX',
  'BERTH_TEST_REMOTE_DOCKER_HOST',
  'BERTH_TEST_REMOTE_DOCKER_CERT_PATH',
];

/** Path of env.json. */
export function testEnvPath(): string {
  return path.join(process.env.BERTH_TESTENV_STATE ?? '/var/lib/berth-testenv', 'env.json');
}

/** Reads env.json; throws a clear error when the test environment is not up. */
export function loadTestEnv(): TestEnv {
  const file = testEnvPath();
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(
      `test environment missing: ${file} does not exist. Run \`sudo testenv/berth-testenv up\` (or \`npm run testenv -- up\`) first.`,
    );
  }
  const env = JSON.parse(raw) as Partial<TestEnv>;
  const missing = REQUIRED.filter((k) => !env[k]);
  if (missing.length > 0) {
    throw new Error(`test environment incomplete: ${file} lacks ${missing.join(', ')}; re-run testenv/berth-testenv up`);
  }
  return env as TestEnv;
}

/** The PostgreSQL part of the environment. */
export type PostgresTestEnv = TestEnv & { BERTH_TEST_DATABASE_URL: string };

/** Reads env.json and checks that PostgreSQL is part of it. */
export function loadPostgresTestEnv(): PostgresTestEnv {
  const env = loadTestEnv();
  if (!env.BERTH_TEST_DATABASE_URL) {
    throw new Error(
      `test environment has no PostgreSQL: ${testEnvPath()} lacks BERTH_TEST_DATABASE_URL (written by a testenv/berth-testenv older than its postgres component). Re-run \`sudo testenv/berth-testenv up\`.`,
    );
  }
  return env as PostgresTestEnv;
}

/** Reads env.json and checks that Kubernetes is part of it. */
export function loadK8sTestEnv(): K8sTestEnv {
  const env = loadTestEnv();
  if (env.BERTH_TEST_K8S !== '1' || !env.KUBECONFIG || !env.BERTH_TEST_K8S_NAMESPACE || !env.BERTH_TEST_K8S_PULL_SECRET || !env.BERTH_TEST_K8S_STORAGE_CLASS) {
    throw new Error(
      `test environment has no Kubernetes (${testEnvPath()}: BERTH_TEST_K8S=${env.BERTH_TEST_K8S}). Run testenv/berth-testenv up without BERTH_TESTENV_K8S=0.`,
    );
  }
  return env as K8sTestEnv;
}
