/** The workspace list: live phases from the watch stream, a text/phase/project/provisioner filter and sortable columns. */
import { useEffect, useMemo, useState } from 'react';
import type { WatchMessage } from '../../../src/sdk/web.ts';
import type { Workspace } from '../../../src/sdk/wire.ts';
import { stream } from '../api.ts';
import { errorText } from '../layout/hooks.ts';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';

type SortKey = 'name' | 'owner' | 'project' | 'provisioner' | 'phase' | 'updatedAt';
const COLUMNS: [SortKey, string][] = [
  ['name', 'Name'],
  ['owner', 'Owner'],
  ['project', 'Project'],
  ['provisioner', 'Provisioner'],
  ['phase', 'Phase'],
  ['updatedAt', 'Updated'],
];

/** Follows /watch/workspaces: the list, kept up to date without polling; reconnects after a lost stream. */
function useWorkspaces(all: boolean): { list: Map<string, Workspace> | null; error: string | null } {
  const [list, setList] = useState<Map<string, Workspace> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const ctl = new AbortController();
    let retry: ReturnType<typeof setTimeout> | undefined;
    const apply = (m: WatchMessage) => {
      setError(null);
      if (m.type === 'snapshot') setList(new Map(m.workspaces.map((w) => [w.id, w])));
      else
        setList((prev) => {
          const next = new Map(prev ?? []);
          if (m.type === 'changed') next.set(m.workspace.id, m.workspace);
          else next.delete(m.id);
          return next;
        });
    };
    const follow = () => {
      stream<WatchMessage>(`/watch/workspaces${all ? '?all=true' : ''}`, apply, ctl.signal).then(
        () => !ctl.signal.aborted && (retry = setTimeout(follow, 1000)),
        (err: unknown) => {
          if (ctl.signal.aborted) return;
          setError(`The live list was interrupted (${errorText(err)}); reconnecting…`);
          retry = setTimeout(follow, 2000);
        },
      );
    };
    follow();
    return () => {
      ctl.abort();
      clearTimeout(retry);
    };
  }, [all]);
  return { list, error };
}

/** The dashboard. */
export function Dashboard() {
  const { session } = useSession();
  const admin = session.user.role === 'admin';
  const [all, setAll] = useState(admin);
  const { list, error } = useWorkspaces(all);
  const [text, setText] = useState('');
  const [phase, setPhase] = useState('');
  const [project, setProject] = useState('');
  const [provisioner, setProvisioner] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; asc: boolean }>({ key: 'name', asc: true });

  const rows = useMemo(() => [...(list?.values() ?? [])], [list]);
  const distinct = (f: (w: Workspace) => string) => [...new Set(rows.map(f))].sort();
  const shown = useMemo(() => {
    const t = text.trim().toLowerCase();
    return rows
      .filter((w) => (!t || `${w.name} ${w.owner} ${w.project} ${w.ref ?? ''} ${w.message ?? ''}`.toLowerCase().includes(t)) && (!phase || w.phase === phase) && (!project || w.project === project) && (!provisioner || w.provisioner === provisioner))
      .sort((a, b) => (sort.asc ? 1 : -1) * a[sort.key].localeCompare(b[sort.key]));
  }, [rows, text, phase, project, provisioner, sort]);

  const select = (label: string, value: string, set: (v: string) => void, options: string[]) => (
    <label>
      {label}
      <select value={value} onChange={(e) => set(e.target.value)}>
        <option value="">all</option>
        {options.map((o) => (
          <option key={o}>{o}</option>
        ))}
      </select>
    </label>
  );

  return (
    <>
      <div className="row spread">
        <h1>Workspaces</h1>
        <Link className="button" to="/workspaces/new">
          New workspace
        </Link>
      </div>
      <div className="filters" role="search">
        <label>
          Filter
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="name, owner, project…" />
        </label>
        {select('Phase', phase, setPhase, distinct((w) => w.phase))}
        {select('Project', project, setProject, distinct((w) => w.project))}
        {select('Provisioner', provisioner, setProvisioner, distinct((w) => w.provisioner))}
        {admin && (
          <label className="check">
            <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> Everyone&apos;s
          </label>
        )}
      </div>
      {error && (
        <p role="status" className="error">
          {error}
        </p>
      )}
      {list === null ? (
        <p className="loading">Loading workspaces…</p>
      ) : (
        <table className="list" aria-label="Workspaces" data-count={shown.length}>
          <thead>
            <tr>
              {COLUMNS.map(([key, label]) => (
                <th key={key} aria-sort={sort.key === key ? (sort.asc ? 'ascending' : 'descending') : 'none'}>
                  <button type="button" className="sort" onClick={() => setSort((s) => ({ key, asc: s.key === key ? !s.asc : true }))}>
                    {label}
                  </button>
                </th>
              ))}
              <th>Message</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((w) => (
              <tr key={w.id} data-workspace={w.name}>
                <td>
                  <Link to={`/workspaces/${w.id}`}>{w.name}</Link>
                </td>
                <td>{w.owner}</td>
                <td>{w.project}</td>
                <td>{w.provisioner}</td>
                <td>
                  <span className={`phase phase-${w.phase}`} data-phase={w.phase}>
                    {w.phase}
                  </span>
                  {w.desired !== 'running' && w.phase !== w.desired && <span className="desired"> → {w.desired}</span>}
                </td>
                <td>
                  <time dateTime={w.updatedAt}>{new Date(w.updatedAt).toLocaleString()}</time>
                </td>
                <td className="message">{w.message}</td>
              </tr>
            ))}
            {shown.length === 0 && (
              <tr>
                <td colSpan={7}>{rows.length === 0 ? 'No workspaces yet.' : 'No workspace matches the filter.'}</td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </>
  );
}
