/**
 * What a workspace pod's status means, in sentences: scheduled or not (and the scheduler's
 * reason), image pulls that fail (which image, refused credentials or not found), a claim that
 * stays pending (which storage class), containers killed for memory (which limit), crash loops.
 */
import type { V1ContainerStatus, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { MAIN } from './objects.ts';

/** The state of a workspace pod as the Provisioner contract names it, with a sentence when it is not well. */
export interface PodState {
  state: 'running' | 'starting' | 'failed';
  /** True when waiting longer cannot help (a bad image name, refused credentials, a failed checkout). */
  stuck: boolean;
  message?: string;
}

const PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/** A sentence for an image that cannot be pulled: which one, and whether credentials or the name are at fault. */
export function pullSentence(image: string, message: string): string {
  if (/unauthorized|authentication required|401|403|denied|no basic auth/i.test(message)) {
    return `the image ${image} cannot be pulled: the registry refused the credentials (add a registry login for it to spec.registryLogins, or fix it)`;
  }
  if (/not found|manifest unknown|404|does not exist|no such host/i.test(message)) return `the image ${image} cannot be pulled: it does not exist (check spec.image)`;
  return `the image ${image} cannot be pulled: ${message || 'no reason given'}`;
}

/**
 * How long a pull failure is not yet final: the kubelet reads pull Secrets through a watch cache, so
 * a pod created right after its Secret can fail its first pull without credentials and succeed on
 * the retry.
 */
const PULL_GRACE_MS = 25_000;

function containerSentence(c: V1ContainerStatus, limit: string | undefined, young: boolean): { message: string; stuck: boolean } | undefined {
  const waiting = c.state?.waiting;
  const last = c.lastState?.terminated;
  if (waiting?.reason && PULL_REASONS.has(waiting.reason)) return { message: pullSentence(c.image, waiting.message ?? ''), stuck: !young || waiting.reason === 'InvalidImageName' };
  if (waiting?.reason && CONFIG_REASONS.has(waiting.reason)) return { message: `the ${c.name} container cannot start: ${waiting.message ?? waiting.reason}`, stuck: true };
  if (last?.reason === 'OOMKilled' || c.state?.terminated?.reason === 'OOMKilled') {
    return { message: `the ${c.name} container was killed because it ran out of memory${limit ? ` (limit ${limit})` : ''}`, stuck: false };
  }
  if (waiting?.reason === 'CrashLoopBackOff') {
    return { message: `the ${c.name} container keeps crashing (restarted ${c.restartCount} times; last exit code ${last?.exitCode ?? '?'})`, stuck: c.name !== MAIN };
  }
  if (c.state?.terminated && c.state.terminated.exitCode !== 0) return { message: `the ${c.name} container exited with code ${c.state.terminated.exitCode}`, stuck: false };
  return undefined;
}

/** Reads a pod (and its claim) the way a user wants to hear about it. */
export function podState(pod: V1Pod, pvc: V1PersistentVolumeClaim | null): PodState {
  const st = pod.status;
  if (pod.metadata?.deletionTimestamp) return { state: 'starting', stuck: false, message: 'the pod is being deleted' };
  if (st?.phase === 'Failed' || st?.phase === 'Succeeded') return { state: 'failed', stuck: true, message: `the pod ended (${st.reason ?? st.phase})${st.message ? `: ${st.message}` : ''}` };
  const limit = pod.spec?.containers.find((c) => c.name === MAIN)?.resources?.limits?.memory;
  const created = pod.metadata?.creationTimestamp ? new Date(pod.metadata.creationTimestamp).getTime() : 0;
  const young = Date.now() - created < PULL_GRACE_MS;
  for (const c of [...(st?.initContainerStatuses ?? []), ...(st?.containerStatuses ?? [])]) {
    const s = containerSentence(c, limit, young);
    if (s) return { state: s.stuck ? 'failed' : 'starting', ...s };
  }
  const main = st?.containerStatuses?.find((c) => c.name === MAIN);
  if (st?.phase === 'Running' && main?.state?.running && main.ready !== false) {
    const oom = main.lastState?.terminated?.reason === 'OOMKilled';
    return { state: 'running', stuck: false, ...(oom ? { message: `the workspace container was restarted after running out of memory${limit ? ` (limit ${limit})` : ''}` } : {}) };
  }
  const unsched = st?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unsched) {
    if (pvc && pvc.status?.phase === 'Pending') {
      return { state: 'starting', stuck: false, message: `the workspace volume claim is pending (storage class ${pvc.spec?.storageClassName ?? 'default'}): ${unsched.message ?? 'no volume yet'}` };
    }
    return { state: 'starting', stuck: false, message: `the pod cannot be scheduled: ${unsched.message ?? unsched.reason ?? 'no node fits'}` };
  }
  return { state: 'starting', stuck: false };
}
