/**
 * The apiserver's refusals in words a Berth user can act on: RBAC (which verb on which resource in
 * which namespace), a ResourceQuota (which quota and what it limits), anything else as the
 * apiserver says it. Pure, so the sentences are unit-tested against real apiserver messages.
 */
import { formatSize } from '../../core/units.ts';

/** What the apiserver refused, as `refusal` reads it. */
export interface Refused {
  /** What Berth was doing, e.g. `creating pod berth-ws-1`. */
  what: string;
  /** The namespace the provisioner uses. */
  namespace: string;
  /** Where, as sentences name it: `namespace x on https://…`. */
  where: string;
  /** HTTP status of the refusal (0 when there was no answer). */
  code: number;
  /** The apiserver's own message. */
  message: string;
}

const RBAC = /^(\S+) is forbidden: User "([^"]+)" cannot (\w+) resource "([^"]+)"(?: in API group "([^"]*)")?(?: in the namespace "([^"]+)")?/;
const QUOTA_EXCEEDED = /exceeded quota: ([^,]+), requested: (.+?), used: (.+?), limited: (.+)$/;
/** Byte counts (Berth writes sizes as plain bytes) in a quota's words, as sizes a user reads. */
function sizes(text: string): string {
  return text.replace(/((?:memory|storage)=)(\d{4,})\b/g, (_, key: string, n: string) => key + formatSize(Number(n)));
}

const QUOTA_UNSPECIFIED = /failed quota: ([^:]+): (must specify .+)$/;

/** One sentence for a refused API call. */
export function refusal(r: Refused): string {
  const rbac = r.code === 403 ? RBAC.exec(r.message) : null;
  if (rbac) {
    const [, , user, verb, resource, , ns] = rbac;
    return (
      `The Kubernetes credentials of this provisioner (user ${user}) may not ${verb} ${resource} in namespace ${ns ?? r.namespace}: ` +
      'no Role grants it. Bind them to the Role in docs/provisioners/kubernetes.md in that namespace, or use a namespace they may use.'
    );
  }
  const exceeded = QUOTA_EXCEEDED.exec(r.message);
  if (exceeded) {
    const [, quota, requested, used, limited] = exceeded.map((part) => sizes(part ?? ''));
    return (
      `The ResourceQuota ${quota} of namespace ${r.namespace} refuses ${r.what}: it asks for ${requested} where ${used} is used of ${limited}. ` +
      'Ask for less (spec.resources, --pvc-size) or have the quota raised.'
    );
  }
  const unspecified = QUOTA_UNSPECIFIED.exec(r.message);
  if (unspecified) {
    return `The ResourceQuota ${unspecified[1]} of namespace ${r.namespace} refuses ${r.what}: it ${unspecified[2]}. Give the workspace limits (spec.resources.cpus and memory).`;
  }
  if (r.code === 403 && !/quota/.test(r.message)) {
    // A watch refused by RBAC says only "Forbidden".
    return `The Kubernetes credentials of this provisioner are refused ${r.what} in namespace ${r.namespace} (${r.message}); bind them to the Role in docs/provisioners/kubernetes.md there.`;
  }
  if (r.code === 0) return `Kubernetes did not answer ${r.what} in ${r.where}: ${r.message}`;
  return `Kubernetes refused ${r.what} in ${r.where}: ${r.message}`;
}
