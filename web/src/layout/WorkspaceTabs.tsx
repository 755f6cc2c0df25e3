/** The tabs of a workspace's pages: overview, terminal, changes. Shown at the top of each. */
import { Link } from '../router.tsx';

/** Which tab is open. */
export type WorkspaceTab = 'overview' | 'terminal' | 'changes';

/** The tab bar for workspace `wsRef` (an id or name, as in the URL). */
export function WorkspaceTabs(props: { wsRef: string; current: WorkspaceTab }) {
  const base = `/workspaces/${encodeURIComponent(props.wsRef)}`;
  const tabs: [WorkspaceTab, string, string][] = [
    ['overview', 'Overview', base],
    ['terminal', 'Terminal', `${base}/terminal`],
    ['changes', 'Changes', `${base}/changes`],
  ];
  return (
    <nav className="tabs" aria-label="Workspace">
      {tabs.map(([id, label, to]) => (
        <Link key={id} to={to} aria-current={props.current === id ? 'page' : undefined}>
          {label}
        </Link>
      ))}
    </nav>
  );
}
