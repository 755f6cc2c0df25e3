/** One changed file in the changes table: its path (which shows its diff), its state, and the actions that apply to it. */
import { describeFile, hasStaged, hasUnstaged, type GitFileStatus } from './git.ts';
import { OutcomeText, type Outcome } from './Outcome.tsx';

/** Props of a file row. */
export interface FileRowProps {
  file: GitFileStatus;
  selected: boolean;
  /** An action runs: the buttons wait. */
  busy: boolean;
  /** The last failed action on this file, in words. */
  outcome: Outcome;
  onSelect: () => void;
  onStage: () => void;
  onUnstage: () => void;
  /** Asks for confirmation first (the page shows the dialog). */
  onDiscard: () => void;
}

/** A row of the changes table. */
export function FileRow({ file: f, selected, busy, outcome, onSelect, onStage, onUnstage, onDiscard }: FileRowProps) {
  return (
    <tr className={selected ? 'selected' : undefined}>
      <td>
        <button className="changes-file" aria-pressed={selected} onClick={onSelect} title="Show the diff">
          {f.origPath ? `${f.origPath} → ${f.path}` : f.path}
        </button>
      </td>
      <td>{describeFile(f)}</td>
      <td>
        <div className="changes-file-actions">
          {hasUnstaged(f) ? (
            <button onClick={onStage} disabled={busy} aria-label={`Stage ${f.path}`}>
              Stage
            </button>
          ) : null}
          {hasStaged(f) ? (
            <button onClick={onUnstage} disabled={busy} aria-label={`Unstage ${f.path}`}>
              Unstage
            </button>
          ) : null}
          {hasUnstaged(f) ? (
            <button onClick={onDiscard} disabled={busy} aria-label={`Discard changes to ${f.path}`}>
              Discard…
            </button>
          ) : null}
        </div>
        <OutcomeText outcome={outcome} id={`file-outcome-${f.path}`} />
      </td>
    </tr>
  );
}
