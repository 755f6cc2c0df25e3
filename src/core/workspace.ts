/** Workspace lifecycle: desired states, observed phases and the transitions between them. */

/** Every desired state: the one list the type, the wire schema and the store row derive from. */
export const DESIRED_STATES = ['running', 'stopped', 'deleted'] as const;

/** What the owner wants. */
export type DesiredState = (typeof DESIRED_STATES)[number];

/** All phases, in lifecycle order: the one list the type, the wire schema and the store row derive from. */
export const PHASES = ['pending', 'provisioning', 'running', 'stopping', 'stopped', 'deleting', 'deleted', 'failed'] as const;

/** What the reconciler last observed or is doing. */
export type Phase = (typeof PHASES)[number];

/** The next step the reconciler takes to move a workspace toward its desired state. */
export type Action = 'provision' | 'stop' | 'destroy' | 'none';

/**
 * Decides the reconciler's next action from desired state, last phase and whether the runtime is
 * actually alive (`runtimeRunning`, from Provisioner.inspect). Pure, so it is unit-tested exhaustively.
 */
export function nextAction(desired: DesiredState, phase: Phase, runtimeRunning: boolean): Action {
  switch (desired) {
    case 'deleted':
      return phase === 'deleted' ? 'none' : 'destroy';
    case 'stopped':
      if (runtimeRunning || phase === 'provisioning' || phase === 'running' || phase === 'stopping') return 'stop';
      return phase === 'stopped' ? 'none' : 'stop';
    case 'running':
      return phase === 'running' && runtimeRunning ? 'none' : 'provision';
  }
}

/** The phase shown while an action is in progress. */
export function phaseDuring(action: Exclude<Action, 'none'>): Phase {
  return action === 'provision' ? 'provisioning' : action === 'stop' ? 'stopping' : 'deleting';
}

/** The phase after an action succeeded. */
export function phaseAfter(action: Exclude<Action, 'none'>): Phase {
  return action === 'provision' ? 'running' : action === 'stop' ? 'stopped' : 'deleted';
}

/** True when the workspace has reached what its owner asked for. */
export function isSettled(desired: DesiredState, phase: Phase): boolean {
  return phase === desired;
}
