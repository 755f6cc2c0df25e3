/** The outcome of a git action, shown beside the control that started it. */

/** What an action gave: a sentence, and git's output when there is some to show. */
export type Outcome = { ok: boolean; text: string; output?: string } | null;

/** An outcome's line: role=alert for failures so a screen reader says them at once. */
export function OutcomeText({ outcome, id }: { outcome: Outcome; id: string }) {
  if (!outcome) return null;
  return (
    <div id={id} className={outcome.ok ? 'changes-ok' : 'changes-error'} role={outcome.ok ? 'status' : 'alert'}>
      <span className="changes-outcome-text">{outcome.text}</span>
      {outcome.output ? <pre className="changes-output">{outcome.output}</pre> : null}
    </div>
  );
}
