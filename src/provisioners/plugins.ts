/** The provisioner types this build of Berth has: the one list generic code reads them from. */
import { BERTH_VERSION } from '../agent/protocol.ts';
import { agentPlugin } from './agent/agent.ts';
import { dockerPlugin } from './docker/docker.ts';
import { kubernetesPlugin } from './kubernetes/kubernetes.ts';
import type { ProvisionerPlugin } from './provisioner.ts';
import { shellPlugin } from './shell/plugin.ts';

/** Fresh plug-ins for one control plane (a plug-in may hold state its instances share). */
export function builtinPlugins(): ProvisionerPlugin[] {
  return [shellPlugin, dockerPlugin(), agentPlugin(BERTH_VERSION), kubernetesPlugin()] as ProvisionerPlugin[];
}
