/** kubectl against the testenv cluster's namespace, for tests that look behind a provisioner at what it created. */
import { execFileSync } from 'node:child_process';
import { loadK8sTestEnv } from '../testenv/env.ts';

/** Runs kubectl in the test namespace; with `allowFail`, a failure gives ''. */
export function kubectl(args: string[], allowFail = false): string {
  const env = loadK8sTestEnv();
  try {
    return execFileSync(env.BERTH_TEST_KUBECTL ?? 'kubectl', ['--kubeconfig', env.KUBECONFIG, '-n', env.BERTH_TEST_K8S_NAMESPACE, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (allowFail) return '';
    throw err;
  }
}
