/** The terminal page of a workspace (`/workspaces/:ref/terminal`): several terminals as tabs that survive a reload. */
import { useCallback, useEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { Workspace } from '../../../src/sdk/wire.ts';
import { ApiError, get } from '../api.ts';
import { WorkspaceTabs } from '../layout/WorkspaceTabs.tsx';
import type { WorkspaceCheck } from './messages.ts';
import { loadTabs, newTab, saveTabs, type TerminalTab } from './tabs.ts';
import { TerminalView } from './TerminalView.tsx';
import './terminal.css';

/** Props of the terminal page. */
export interface TerminalPageProps {
  /** Workspace id, name or owner/name, from the URL. */
  workspace: string;
}

/** A tab's title, editable in place (double-click; Enter keeps, Escape cancels). */
function TabTitle(props: { title: string; onRename(title: string): void }) {
  const [editing, setEditing] = useState(false);
  if (!editing) return <span onDoubleClick={() => setEditing(true)}>{props.title}</span>;
  const done = (value: string | null) => {
    setEditing(false);
    if (value !== null && value.trim()) props.onRename(value.trim().slice(0, 40));
  };
  return (
    <input
      className="terminal-rename"
      aria-label={`New name for ${props.title}`}
      defaultValue={props.title}
      autoFocus
      onBlur={(e) => done(e.currentTarget.value)}
      onKeyDown={(e) => {
        e.stopPropagation();
        if (e.key === 'Enter') done(e.currentTarget.value);
        else if (e.key === 'Escape') done(null);
      }}
    />
  );
}

/** Terminal tabs of one workspace; another workspace gets a fresh set (its own tabs and sessions). */
export function TerminalPage({ workspace }: TerminalPageProps) {
  return <TerminalTabs key={workspace} workspace={workspace} />;
}

/** The tab strip and the terminals behind it. */
function TerminalTabs({ workspace: ws }: TerminalPageProps) {
  const [tabs, setTabs] = useState<TerminalTab[]>(() => {
    const saved = loadTabs(ws);
    return saved.length ? saved : [newTab([])];
  });
  const [active, setActive] = useState(() => tabs[0]!.key);
  const [ended, setEnded] = useState<Record<string, true>>({});
  const hangUps = useRef(new Map<string, () => void>());

  useEffect(() => saveTabs(ws, tabs), [ws, tabs]);

  const checkWorkspace: WorkspaceCheck = useCallback(async () => {
    try {
      const w = await get<Workspace>(`/workspaces/${encodeURIComponent(ws)}`);
      return { phase: w.phase, desired: w.desired };
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return 'gone';
      throw err;
    }
  }, [ws]);

  const update = (key: string, change: Partial<TerminalTab>) => setTabs((ts) => ts.map((t) => (t.key === key ? { ...t, ...change } : t)));
  const add = () => {
    const t = newTab(tabs);
    setTabs([...tabs, t]);
    setActive(t.key);
  };
  const close = (key: string) => {
    hangUps.current.get(key)?.();
    const i = tabs.findIndex((t) => t.key === key);
    const rest = tabs.filter((t) => t.key !== key);
    setTabs(rest);
    if (active === key && rest.length) setActive(rest[Math.min(i, rest.length - 1)]!.key);
  };
  // Arrow keys move between tabs and Delete closes one (the WAI-ARIA tabs pattern).
  const onTabKey = (e: KeyboardEvent<HTMLElement>, i: number) => {
    const to = e.key === 'ArrowRight' ? (i + 1) % tabs.length : e.key === 'ArrowLeft' ? (i - 1 + tabs.length) % tabs.length : -1;
    if (to >= 0) {
      e.preventDefault();
      setActive(tabs[to]!.key);
      document.getElementById(`terminal-tab-${tabs[to]!.key}`)?.focus();
    } else if (e.key === 'Delete') close(tabs[i]!.key);
  };

  return (
    <section className="terminal-page" aria-labelledby="terminal-heading">
      <WorkspaceTabs wsRef={ws} current="terminal" />
      <h1 id="terminal-heading">Terminals of {ws}</h1>
      <div className="terminal-tabs">
        <div role="tablist" aria-label="Terminals">
          {tabs.map((t, i) => (
            <span key={t.key} className={t.key === active ? 'terminal-tab active' : 'terminal-tab'}>
              <button
                id={`terminal-tab-${t.key}`}
                role="tab"
                aria-selected={t.key === active}
                aria-controls={`terminal-panel-${t.key}`}
                tabIndex={t.key === active ? 0 : -1}
                onClick={() => setActive(t.key)}
                onKeyDown={(e) => onTabKey(e, i)}
              >
                <TabTitle title={t.title} onRename={(title) => update(t.key, { title })} />
                {ended[t.key] ? <span className="terminal-tab-ended"> (ended)</span> : null}
              </button>
              <button className="terminal-close" aria-label={`Close ${t.title}`} title={`Close ${t.title}`} onClick={() => close(t.key)}>
                ×
              </button>
            </span>
          ))}
        </div>
        <button className="terminal-new" onClick={add}>
          New terminal
        </button>
      </div>
      {tabs.length === 0 ? <p className="terminal-empty">No terminal open. Open one with “New terminal”.</p> : null}
      {tabs.map((t) => (
        <div key={t.key} id={`terminal-panel-${t.key}`} role="tabpanel" aria-labelledby={`terminal-tab-${t.key}`} className="terminal-panel" hidden={t.key !== active}>
          <TerminalView
            key={t.run ?? 0}
            workspace={ws}
            label={t.title}
            {...(t.session ? { session: t.session } : {})}
            active={t.key === active}
            checkWorkspace={checkWorkspace}
            onSession={(id) => update(t.key, { session: id })}
            onEnded={() => setEnded((e) => ({ ...e, [t.key]: true }))}
            onRestart={() => {
              setEnded(({ [t.key]: _, ...rest }) => rest);
              update(t.key, { session: undefined, run: (t.run ?? 0) + 1 });
            }}
            onHangUp={(fn) => (fn ? hangUps.current.set(t.key, fn) : hangUps.current.delete(t.key))}
          />
        </div>
      ))}
    </section>
  );
}
