/**
 * What a workspace pod's status means, in sentences: scheduled or not (and the scheduler's
 * reason), image pulls that fail (which image, refused credentials or not found), a claim that
 * stays pending (which storage class, and why), containers killed for memory (which limit), crash
 * loops (how often, the last exit code), evictions.
 */
import type { V1ContainerStatus, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { MAIN } from './objects.ts';

/** The state of a workspace pod as the Provisioner contract names it, with a sentence when it is not well. */
export interface PodState {
  state: 'running' | 'starting' | 'failed';
  /** True when waiting longer cannot help (a missing image, refused credentials, a failed checkout, an unknown storage class). */
  stuck: boolean;
  message?: string;
}

/** The latest warning event of a claim (the persistent volume controller says there why a claim stays pending). */
export interface ClaimEvent {
  reason: string;
  message: string;
}

const PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/** Whose fault a failed pull is, from the kubelet's message: refused credentials, a missing image, or something else. */
export function pullFault(message: string): 'auth' | 'missing' | 'other' {
  if (/manifest unknown|: not found$|: not found:/i.test(message)) return 'missing';
  if (/unauthorized|authentication required|\b401\b|\b403\b|denied|no basic auth|insufficient_scope/i.test(message)) return 'auth';
  if (/not found|\b404\b|does not exist/i.test(message)) return 'missing';
  return 'other';
}

/** A sentence for an image that cannot be pulled: which one, and whether credentials or the name are at fault. */
export function pullSentence(image: string, message: string): string {
  const fault = pullFault(message);
  if (fault === 'auth') return `the image ${image} cannot be pulled: the registry refused the credentials (add a registry login for it to spec.registryLogins, or fix it)`;
  if (fault === 'missing') return `the image ${image} cannot be pulled: not found in its registry (check spec.image)`;
  return `the image ${image} cannot be pulled: ${message || 'no reason given'}`;
}

/**
 * How long a refused pull or a Secret the kubelet could not read yet is not final: the kubelet reads
 * Secrets through a watch cache, so a pod created right after its Secrets can fail its first pull
 * without credentials, or its first start, and succeed on the retry. A missing image stays missing.
 */
const PULL_GRACE_MS = 25_000;

function containerSentence(c: V1ContainerStatus, limit: string | undefined, young: boolean): { message: string; stuck: boolean } | undefined {
  const waiting = c.state?.waiting;
  const last = c.lastState?.terminated;
  if (waiting?.reason && PULL_REASONS.has(waiting.reason)) {
    const retried = waiting.reason === 'ErrImagePull' || waiting.reason === 'ImagePullBackOff';
    const final = !young || !retried || pullFault(waiting.message ?? '') === 'missing';
    return { message: pullSentence(c.image, waiting.message ?? ''), stuck: final };
  }
  if (waiting?.reason && CONFIG_REASONS.has(waiting.reason)) {
    // The kubelet may read a new pod's Secrets only once the node authorizer knows the pod: a cache sync timeout then is retried, not final.
    const syncing = /failed to sync (secret|configmap) cache/i.test(waiting.message ?? '');
    return { message: `the ${c.name} container cannot start: ${waiting.message ?? waiting.reason}`, stuck: !(young && syncing) };
  }
  if (waiting?.reason === 'CrashLoopBackOff') {
    const oom = last?.reason === 'OOMKilled' ? `, killed for running out of memory${limit ? ` (limit ${limit})` : ''}` : '';
    return { message: `the ${c.name} container keeps crashing (restarted ${c.restartCount} times; last exit code ${last?.exitCode ?? '?'}${oom})`, stuck: c.name !== MAIN };
  }
  // A container running again after an OOM kill is well; the running branch of podState says what happened.
  if ((last?.reason === 'OOMKilled' && !c.state?.running) || c.state?.terminated?.reason === 'OOMKilled') {
    return { message: `the ${c.name} container was killed because it ran out of memory${limit ? ` (limit ${limit})` : ''}`, stuck: false };
  }
  if (c.state?.terminated && c.state.terminated.exitCode !== 0) return { message: `the ${c.name} container exited with code ${c.state.terminated.exitCode}`, stuck: false };
  return undefined;
}

/** Why a claim stays pending, from its storage class and latest warning event; stuck when the class does not exist. */
export function claimSentence(pvc: V1PersistentVolumeClaim, event?: ClaimEvent): { message: string; stuck: boolean } {
  const cls = pvc.spec?.storageClassName;
  const name = pvc.metadata?.name ?? 'of the workspace';
  if (event && cls && /storageclass[^"]*"[^"]+" not found/i.test(event.message)) {
    return { message: `the storage class ${cls} does not exist in the cluster, so the volume claim ${name} stays pending (choose another with --storage-class)`, stuck: true };
  }
  const why = event ? `: ${event.reason}: ${event.message}` : '';
  return { message: `the volume claim ${name} is pending (storage class ${cls ?? "the cluster's default"})${why}`, stuck: false };
}

/** Reads a pod (with its claim, and the claim's latest warning event) the way a user wants to hear about it. */
export function podState(pod: V1Pod, pvc: V1PersistentVolumeClaim | null, claimEvent?: ClaimEvent): PodState {
  const st = pod.status;
  if (pod.metadata?.deletionTimestamp) return { state: 'starting', stuck: false, message: 'the pod is being deleted' };
  if (st?.phase === 'Failed' && st.reason === 'Evicted') return { state: 'failed', stuck: true, message: `the node evicted the pod${st.message ? `: ${st.message}` : ''}` };
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
    if (pvc?.status?.phase === 'Pending') {
      const s = claimSentence(pvc, claimEvent);
      return { state: s.stuck ? 'failed' : 'starting', ...s };
    }
    return { state: 'starting', stuck: false, message: `the pod cannot be scheduled: ${unsched.message ?? unsched.reason ?? 'no node fits'}` };
  }
  return { state: 'starting', stuck: false };
}
