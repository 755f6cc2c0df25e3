/** The diff of one file: its staged and unstaged patches, lines marked as added, removed or context. */
import type { GitFileDiff, GitFileStatus } from './git.ts';

/** CSS class of a patch line by its first character. */
function lineClass(line: string): string {
  if (line.startsWith('+++') || line.startsWith('---') || line.startsWith('diff ') || line.startsWith('index ')) return 'diff-meta';
  if (line.startsWith('@@')) return 'diff-hunk';
  if (line.startsWith('+')) return 'diff-add';
  if (line.startsWith('-')) return 'diff-del';
  return 'diff-ctx';
}

/** One patch, as lines. */
function Patch(props: { title: string; diff: GitFileDiff }) {
  const d = props.diff;
  return (
    <figure className="diff-patch">
      <figcaption>
        {props.title}: {d.change}
        {d.oldPath ? ` from ${d.oldPath}` : ''}, +{d.additions} −{d.deletions}
      </figcaption>
      {d.binary ? (
        <p>Binary file; no text diff.</p>
      ) : (
        <pre className="diff-lines" aria-label={`${props.title} diff of ${d.path}`}>
          {d.patch.split('\n').map((line, i) => (
            <span key={i} className={lineClass(line)}>
              {line || ' '}
            </span>
          ))}
        </pre>
      )}
    </figure>
  );
}

/** Props of the diff view. */
export interface DiffViewProps {
  file: GitFileStatus;
  staged?: GitFileDiff;
  unstaged?: GitFileDiff;
  /** The server cut the diff for its size. */
  truncated: boolean;
}

/** The selected file's changes. */
export function DiffView({ file, staged, unstaged, truncated }: DiffViewProps) {
  return (
    <section className="diff-view" aria-labelledby="diff-heading">
      <h2 id="diff-heading">Diff of {file.path}</h2>
      {truncated ? <p role="note">The diff is too large to show whole; it was cut.</p> : null}
      {staged ? <Patch title="Staged" diff={staged} /> : null}
      {unstaged ? <Patch title="Unstaged" diff={unstaged} /> : null}
      {!staged && !unstaged ? <p>{file.worktree === 'untracked' ? 'A new file git does not track yet; stage it to see its contents as a diff.' : 'No text changes to show.'}</p> : null}
    </section>
  );
}
