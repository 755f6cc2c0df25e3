/** A workspace: phase timeline, the live event log, ports, where its storage lives, and start / stop / delete. */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Workspace, WorkspaceEvent } from '../../../src/sdk/wire.ts';
import { ApiError, del, get, post, stream } from '../api.ts';
import { Confirm } from '../layout/Confirm.tsx';
import { errorText, useAction } from '../layout/hooks.ts';
import { WorkspaceTabs } from '../layout/WorkspaceTabs.tsx';
import { navigate } from '../router.tsx';

const BACKLOG = 500;
const MAX_LINES = 5000;

/**
 * Follows the workspace's events: the newest BACKLOG, then each new one; the workspace is read
 * again after each phase or note, until `leaving` is called (a delete was asked for: the workspace
 * may be gone before the read, which would only earn a 404).
 */
function useWorkspace(ref: string): { ws: Workspace | undefined; events: WorkspaceEvent[]; error: string | null; ended: boolean; leaving: () => void } {
  const [ws, setWs] = useState<Workspace | undefined>();
  const [events, setEvents] = useState<WorkspaceEvent[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [ended, setEnded] = useState(false);
  const left = useRef(false);
  useEffect(() => {
    const ctl = new AbortController();
    const path = `/workspaces/${encodeURIComponent(ref)}`;
    let pending: ReturnType<typeof setTimeout> | undefined;
    const refresh = () =>
      !ctl.signal.aborted &&
      !left.current &&
      get<Workspace>(path).then(
        (w) => !ctl.signal.aborted && setWs(w),
        (err: unknown) => !ctl.signal.aborted && !(err instanceof ApiError && err.status === 404) && setError(errorText(err)),
      );
    void (async () => {
      try {
        const w = await get<Workspace>(path);
        setWs(w);
        const past = await get<WorkspaceEvent[]>(`/workspaces/${w.id}/events?tail=${BACKLOG}`);
        setEvents(past);
        await stream<WorkspaceEvent>(
          `/workspaces/${w.id}/events?follow=true&after=${past.at(-1)?.id ?? 0}`,
          (e) => {
            setEvents((old) => (old.length >= MAX_LINES ? [...old.slice(-MAX_LINES / 2), e] : [...old, e]));
            // Output lines come in bursts; the workspace is read once they settle, phases and notes at once.
            clearTimeout(pending);
            pending = setTimeout(() => void refresh(), e.kind === 'output' || e.kind === 'progress' ? 300 : 0);
          },
          ctl.signal,
        );
        if (!ctl.signal.aborted) setEnded(true);
      } catch (err) {
        if (!ctl.signal.aborted) setError(errorText(err));
      }
    })();
    return () => {
      ctl.abort();
      clearTimeout(pending);
    };
  }, [ref]);
  const leaving = useCallback(() => void (left.current = true), []);
  return { ws, events, error, ended, leaving };
}

/** The page. */
export function WorkspaceDetail(props: { wsRef: string }) {
  const { ws, events, error, ended, leaving } = useWorkspace(props.wsRef);
  const [asking, setAsking] = useState<'stop' | 'delete' | null>(null);
  const action = useAction();
  const logRef = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);
  useEffect(() => {
    if (follow && logRef.current) logRef.current.scrollTop = logRef.current.scrollHeight;
  }, [events, follow]);

  if (ended) return <p role="status">This workspace was deleted.</p>;
  if (!ws) return error ? <p className="error">{error}</p> : <p className="loading">Loading…</p>;
  const act = (verb: 'start' | 'stop' | 'delete') =>
    void action.run(async () => {
      if (verb === 'delete') {
        leaving();
        await del(`/workspaces/${ws.id}`);
        navigate('/');
      } else await post(`/workspaces/${ws.id}/${verb}`);
    });
  const answer = (yes: boolean) => {
    const verb = asking;
    setAsking(null);
    if (yes && verb) act(verb);
  };
  const phases = events.filter((e) => e.kind === 'phase');
  const deleting = ws.desired === 'deleted';
  return (
    <>
      <WorkspaceTabs wsRef={props.wsRef} current="overview" />
      <div className="row spread">
        <h1>
          {ws.owner}/{ws.name}{' '}
          <span className={`phase phase-${ws.phase}`} data-phase={ws.phase} aria-live="polite">
            {ws.phase}
          </span>
        </h1>
        <div className="row">
          <button type="button" onClick={() => act('start')} disabled={action.busy || deleting || ws.desired === 'running'}>
            Start
          </button>
          <button type="button" onClick={() => setAsking('stop')} disabled={action.busy || deleting || ws.desired === 'stopped'}>
            Stop
          </button>
          <button type="button" className="danger" onClick={() => setAsking('delete')} disabled={action.busy || deleting}>
            Delete
          </button>
        </div>
      </div>
      {(action.error ?? error) && (
        <p role="alert" className="error">
          {action.error ?? error}
        </p>
      )}
      {asking && (
        <Confirm
          question={asking === 'delete' ? `Delete workspace ${ws.name} and its storage? Uncommitted and unpushed work in it is lost.` : `Stop workspace ${ws.name}? Its processes end; its storage is kept.`}
          confirmLabel={asking === 'delete' ? 'Delete workspace' : 'Stop workspace'}
          onAnswer={answer}
        />
      )}
      <section className="card" aria-labelledby="h-about">
        <h2 id="h-about">About</h2>
        <dl className="facts">
          <dt>Project</dt>
          <dd>
            {ws.project}
            {ws.ref ? ` @ ${ws.ref}` : ''}
          </dd>
          <dt>Provisioner</dt>
          <dd>{ws.provisioner}</dd>
          <dt>Desired</dt>
          <dd>{ws.desired}</dd>
          {ws.message && (
            <>
              <dt>Message</dt>
              <dd>{ws.message}</dd>
            </>
          )}
          <dt>Ports</dt>
          <dd>
            {ws.ports.length === 0
              ? 'none'
              : ws.ports.map((p) => `${p.port}/${p.protocol}${p.hostPort ? ` → ${p.hostIp ?? ''}:${p.hostPort}` : ''}`).join(', ')}
          </dd>
          {Object.entries(ws.details).map(([k, v]) => (
            <Fact key={k} name={k} value={String(v)} />
          ))}
          <dt>Created</dt>
          <dd>{new Date(ws.createdAt).toLocaleString()}</dd>
        </dl>
      </section>
      <section className="card" aria-labelledby="h-timeline">
        <h2 id="h-timeline">Phase timeline</h2>
        <ol className="timeline">
          {phases.map((e) => (
            <li key={e.id}>
              <span className={`phase phase-${e.message}`}>{e.message}</span> <time dateTime={e.ts}>{new Date(e.ts).toLocaleTimeString()}</time>
            </li>
          ))}
        </ol>
      </section>
      <section className="card" aria-labelledby="h-events">
        <div className="row spread">
          <h2 id="h-events">Events</h2>
          <label className="check">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
          </label>
        </div>
        <div className="log" ref={logRef} role="log" aria-label="Event log" tabIndex={0}>
          {events.map((e) => (
            <div key={e.id} className={`k-${e.kind}`}>
              {new Date(e.ts).toLocaleTimeString()} {e.kind === 'output' ? '' : `[${e.kind}] `}
              {e.message}
            </div>
          ))}
        </div>
      </section>
    </>
  );
}

/** A detail the provisioner reports; names that say where data lives are labelled as storage. */
function Fact(props: { name: string; value: string }) {
  const storage = /dir|path|volume|pvc|storage|home/i.test(props.name);
  return (
    <>
      <dt>{storage ? `Storage (${props.name})` : props.name}</dt>
      <dd>{props.value}</dd>
    </>
  );
}
