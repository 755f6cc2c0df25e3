/**
 * The changes page of a workspace (`/workspaces/:ref/changes`): git status with the branch and
 * ahead/behind, a diff per file, stage / unstage / discard per file, commit, pull and push. Every
 * failure shows the server's sentence (git's own words for git's refusals) next to the action that
 * failed.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { GitDiff, GitStatus } from '../../../src/sdk/wire.ts';
import { errorText } from '../layout/hooks.ts';
import { Confirm } from '../layout/Confirm.tsx';
import { WorkspaceTabs } from '../layout/WorkspaceTabs.tsx';
import { DiffView } from './DiffView.tsx';
import { FileRow } from './FileRow.tsx';
import { describeSync, gitApi, hasStaged, hasUnstaged, type GitFileDiff, type GitFileStatus } from './git.ts';
import { OutcomeText, type Outcome } from './Outcome.tsx';
import './changes.css';

/** Props of the changes page. */
export interface ChangesPageProps {
  /** Workspace id, name or owner/name, from the URL. */
  workspace: string;
}

/** The staged and unstaged patches of one path, where it has them. */
function patchesOf(d: GitDiff, path: string): { staged?: GitFileDiff; unstaged?: GitFileDiff } {
  const staged = d.staged.find((x) => x.path === path);
  const unstaged = d.unstaged.find((x) => x.path === path);
  return { ...(staged ? { staged } : {}), ...(unstaged ? { unstaged } : {}) };
}

/** Git changes of one workspace; another workspace starts afresh (no selection or outcomes carried over). */
export function ChangesPage({ workspace }: ChangesPageProps) {
  return <Changes key={workspace} workspace={workspace} />;
}

/** The page's state and layout. */
function Changes({ workspace: ws }: ChangesPageProps) {
  const [status, setStatus] = useState<GitStatus | null>(null);
  const [diff, setDiff] = useState<GitDiff | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [fileOutcome, setFileOutcome] = useState<{ path: string; outcome: Outcome } | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [syncOutcome, setSyncOutcome] = useState<Outcome>(null);
  const [allOutcome, setAllOutcome] = useState<Outcome>(null);
  const [commitOutcome, setCommitOutcome] = useState<Outcome>(null);
  const [message, setMessage] = useState('');

  const refresh = useCallback(async () => {
    try {
      const [s, d] = await Promise.all([gitApi.status(ws), gitApi.diff(ws)]);
      setStatus(s);
      setDiff(d);
      setLoadError(null);
    } catch (err) {
      setLoadError(errorText(err));
    }
  }, [ws]);

  useEffect(() => void refresh(), [refresh]);
  // Back from the terminal (another window or tab): the checkout may have changed meanwhile.
  useEffect(() => {
    const again = () => void refresh();
    window.addEventListener('focus', again);
    return () => window.removeEventListener('focus', again);
  }, [refresh]);

  /** Runs one action at a time; a new status from the answer replaces the shown one, and the diff is read again. */
  const act = async <T,>(name: string, fn: () => Promise<T>, done: (r: T) => void, failed: (msg: string) => void) => {
    setBusy(name);
    try {
      const r = await fn();
      done(r);
      await refresh();
    } catch (err) {
      failed(errorText(err));
    } finally {
      setBusy(null);
    }
  };

  const fileAction = (verb: 'stage' | 'unstage' | 'discard', f: GitFileStatus) => {
    setConfirming(null);
    void act(
      `${verb}:${f.path}`,
      () => gitApi[verb](ws, [f.path]),
      () => setFileOutcome(null),
      (msg) => setFileOutcome({ path: f.path, outcome: { ok: false, text: msg } }),
    );
  };

  const allAction = (verb: 'stageAll' | 'unstageAll') =>
    void act(
      verb,
      () => gitApi[verb](ws),
      () => setAllOutcome(null),
      (msg) => setAllOutcome({ ok: false, text: msg }),
    );

  const sync = (verb: 'pull' | 'push') =>
    void act(
      verb,
      () => gitApi[verb](ws),
      (r) => setSyncOutcome({ ok: true, text: verb === 'pull' ? 'Pulled.' : 'Pushed.', ...(r.output ? { output: r.output } : {}) }),
      (msg) => setSyncOutcome({ ok: false, text: msg }),
    );

  const commit = (e: FormEvent) => {
    e.preventDefault();
    void act(
      'commit',
      () => gitApi.commit(ws, message),
      (r) => {
        setMessage('');
        setCommitOutcome({ ok: true, text: `Committed ${r.commit.slice(0, 7)}${r.branch ? ` on ${r.branch}` : ''}.`, output: r.summary });
      },
      (msg) => setCommitOutcome({ ok: false, text: msg }),
    );
  };

  const file = status?.files.find((f) => f.path === selected);
  const confirmFile = status?.files.find((f) => f.path === confirming);
  const stagedCount = status?.files.filter(hasStaged).length ?? 0;

  return (
    <section className="changes-page" aria-labelledby="changes-heading" aria-busy={busy !== null}>
      <WorkspaceTabs wsRef={ws} current="changes" />
      <h1 id="changes-heading">Changes in {ws}</h1>
      {loadError ? (
        <p className="changes-error" role="alert">
          {loadError}
        </p>
      ) : null}
      {status ? (
        <p className="changes-branch" aria-label="Branch">
          {status.detached ? 'Detached HEAD' : <>Branch <strong>{status.branch ?? '(none)'}</strong></>}
          {status.commit ? <> at <code>{status.commit.slice(0, 7)}</code></> : ' (no commits yet)'} · <span className="changes-sync-state">{describeSync(status)}</span>
        </p>
      ) : null}
      <div className="changes-actions">
        <button onClick={() => void refresh()} disabled={busy !== null}>
          Refresh
        </button>
        <button onClick={() => sync('pull')} disabled={busy !== null || !status} aria-describedby="sync-outcome">
          {busy === 'pull' ? 'Pulling…' : 'Pull'}
        </button>
        <button onClick={() => sync('push')} disabled={busy !== null || !status} aria-describedby="sync-outcome">
          {busy === 'push' ? 'Pushing…' : 'Push'}
        </button>
        <OutcomeText outcome={syncOutcome} id="sync-outcome" />
      </div>
      {status && status.files.length === 0 ? <p className="changes-clean">No changes: the work tree matches the last commit.</p> : null}
      {status && status.files.length > 0 ? (
        <div className="changes-actions">
          <button onClick={() => allAction('stageAll')} disabled={busy !== null || !status.files.some(hasUnstaged)} aria-describedby="all-outcome">
            Stage all
          </button>
          <button onClick={() => allAction('unstageAll')} disabled={busy !== null || stagedCount === 0} aria-describedby="all-outcome">
            Unstage all
          </button>
          <OutcomeText outcome={allOutcome} id="all-outcome" />
        </div>
      ) : null}
      {status && status.files.length > 0 ? (
        <table className="changes-files" aria-label="Changed files">
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {status.files.map((f) => (
              <FileRow
                key={f.path}
                file={f}
                selected={f.path === selected}
                busy={busy !== null}
                outcome={fileOutcome?.path === f.path ? fileOutcome.outcome : null}
                onSelect={() => setSelected(f.path === selected ? null : f.path)}
                onStage={() => fileAction('stage', f)}
                onUnstage={() => fileAction('unstage', f)}
                onDiscard={() => setConfirming(f.path)}
              />
            ))}
          </tbody>
        </table>
      ) : null}
      {confirmFile ? (
        <Confirm
          question={confirmFile.worktree === 'untracked' ? `Delete the new file ${confirmFile.path}? It is not in git, so it cannot be recovered.` : `Throw away the unstaged changes to ${confirmFile.path}? They cannot be recovered.`}
          confirmLabel="Discard"
          onAnswer={(yes) => (yes ? fileAction('discard', confirmFile) : setConfirming(null))}
        />
      ) : null}
      {file && diff ? <DiffView file={file} {...patchesOf(diff, file.path)} truncated={diff.truncated} /> : null}
      <form className="changes-commit" onSubmit={commit} aria-label="Commit">
        <label htmlFor="commit-message">Commit message</label>
        <textarea id="commit-message" rows={3} value={message} onChange={(e) => setMessage(e.currentTarget.value)} required />
        <div>
          <button type="submit" disabled={busy !== null || !message.trim() || !status} aria-describedby="commit-outcome">
            {busy === 'commit' ? 'Committing…' : `Commit ${stagedCount} staged file${stagedCount === 1 ? '' : 's'}`}
          </button>
          <OutcomeText outcome={commitOutcome} id="commit-outcome" />
        </div>
      </form>
    </section>
  );
}
