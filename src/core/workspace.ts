/** Workspace lifecycle: desired states, observed phases and the transitions between them. */

/** Every desired state: the one list the type, the wire schema and the store row derive from. */
export const DESIRED_STATES = ['running', 'stopped', 'deleted'] as const;

/** What the owner wants. */
export type DesiredState = (typeof DESIRED_STATES)[number];

/** All phases, in lifecycle order: the one list the type, the wire schema and the store row derive from. */
export const PHASES = ['pending', 'provisioning', 'running', 'stopping', 'stopped', 'deleting', 'deleted', 'unreachable', 'failed'] as const;

/** What the reconciler last observed or is doing. */
export type Phase = (typeof PHASES)[number];

/** The next step the reconciler takes to move a workspace toward its desired state. */
export type Action = 'provision' | 'stop' | 'destroy' | 'none';

/**
 * What is remembered while a workspace is `unreachable` (its runtime could not be observed): since
 * when, and the phase it showed before, which it resumes once observed again.
 */
export interface Outage {
  since: string;
  phase: Phase;
}

/**
 * The phase a workspace resumes when its runtime is observed again: the one it showed before the
 * outage, so an operation the outage interrupted is redone (provisioning provisions again) and a
 * running workspace whose runtime kept running stays as it is, never replaced.
 */
export function phaseAfterOutage(outage: Outage | undefined): Phase {
  return !outage || outage.phase === 'unreachable' ? 'pending' : outage.phase;
}

/** "2m13s": how long an outage has lasted, for `ws show` and `ws list`. */
export function formatOutage(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/**
 * Decides the reconciler's next action from desired state, last phase and whether the runtime is
 * actually alive (`runtimeRunning`, from Provisioner.inspect). Pure, so it is unit-tested exhaustively.
 * A runtime that could not be observed never gets here: the reconciler only shows it `unreachable`,
 * and once it is observed again decides from the phase it resumes (`phaseAfterOutage`).
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
