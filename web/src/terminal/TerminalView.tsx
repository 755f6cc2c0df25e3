/** One terminal tab's body: an xterm.js terminal bound to a workspace's TTY session, with its status line. */
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import { installClipboardKeys } from './clipboard.ts';
import { TerminalConnection, type TerminalState } from './connection.ts';
import { describeEnd, type WorkspaceCheck } from './messages.ts';

/** Props of a terminal view. */
export interface TerminalViewProps {
  /** Workspace id, name or owner/name. */
  workspace: string;
  /** Accessible name of the terminal (its tab's title). */
  label: string;
  /** Session to re-attach to, from before a reload. */
  session?: string;
  /** Whether this tab is the one shown: a hidden terminal is not measured or focused. */
  active: boolean;
  /** Called with the session id to store for a reload. */
  onSession(id: string): void;
  /** Called when the session has ended, with the message the tab shows. */
  onEnded?(message: string): void;
  /** Receives the function that ends the session (closing the tab), and null when the view goes. */
  onHangUp?(hangUp: (() => void) | null): void;
  /** Offered once the session has ended: start a new shell in this tab. */
  onRestart?: () => void;
  /** Asks whether the workspace still runs, to tell a stopped workspace from an ended shell. */
  checkWorkspace: WorkspaceCheck;
}

/** Words for a live connection state; ended states are worded by describeEnd. */
function liveText(s: TerminalState): string {
  if (s.kind === 'connecting') return 'Connecting…';
  if (s.kind === 'reconnecting') return `Connection lost; reconnecting (attempt ${s.attempt})…`;
  return '';
}

/** A terminal attached to a workspace session; keeps its connection while hidden behind another tab. */
export function TerminalView(props: TerminalViewProps) {
  const host = useRef<HTMLDivElement>(null);
  const fitRef = useRef<FitAddon | null>(null);
  const termRef = useRef<Terminal | null>(null);
  const [status, setStatus] = useState<{ text: string; ended: boolean }>({ text: 'Connecting…', ended: false });
  // The latest callbacks, read by the long-lived connection without re-creating it.
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const el = host.current!;
    const term = new Terminal({
      cursorBlink: true,
      scrollback: 10_000,
      fontSize: 14,
      // Bundled UI, no web fonts: the platform's monospace face.
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      theme: { background: '#1e1e1e' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.loadAddon(new WebLinksAddon());
    installClipboardKeys(term);
    term.open(el);
    fit.fit();
    fitRef.current = fit;
    termRef.current = term;
    /** Replays being parsed; while any is, the terminal's replies are dropped. */
    let muted = 0;
    const conn = new TerminalConnection({
      workspace: props.workspace,
      ...(props.session ? { session: props.session } : {}),
      cols: term.cols,
      rows: term.rows,
      sink: {
        output: (data, replay) => {
          if (!replay) return term.write(data);
          // Replies xterm makes to queries in the replay go nowhere: they were answered when first asked.
          muted++;
          term.write(data, () => muted--);
        },
        session: (id) => latest.current.onSession(id),
        state: (s) => {
          if (s.kind !== 'exited' && s.kind !== 'failed') {
            setStatus({ text: liveText(s), ended: false });
            return;
          }
          term.options.cursorBlink = false;
          void describeEnd(s, latest.current.checkWorkspace).then((text) => {
            setStatus({ text, ended: true });
            latest.current.onEnded?.(text);
          });
        },
      },
    });
    latest.current.onHangUp?.(() => conn.hangUp());
    const inputs = [
      term.onData((d) => muted === 0 && conn.input(d)),
      term.onBinary((d) => muted === 0 && conn.input(Uint8Array.from(d, (c) => c.charCodeAt(0)))),
      term.onResize(({ cols, rows }) => conn.resize(cols, rows)),
    ];
    // Fit whenever the box changes (window resize, layout, the status line); a hidden tab has no size and is fitted when shown.
    const ro = new ResizeObserver(() => {
      if (el.clientWidth > 0 && el.clientHeight > 0) fit.fit();
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      latest.current.onHangUp?.(null);
      for (const d of inputs) d.dispose();
      conn.dispose();
      term.dispose();
      fitRef.current = null;
      termRef.current = null;
    };
    // One terminal per mount: the tab list keys views by tab, so workspace and session never change under a view.
  }, []);

  useEffect(() => {
    if (!props.active) return;
    fitRef.current?.fit();
    termRef.current?.focus();
  }, [props.active]);

  return (
    <div className="terminal-view">
      <div className={status.ended ? 'terminal-status terminal-ended' : 'terminal-status'} hidden={status.text === ''}>
        <p role="status" aria-live="polite">
          {status.text}
        </p>
        {status.ended && props.onRestart ? <button onClick={props.onRestart}>New shell in this tab</button> : null}
      </div>
      <div className="terminal-host" ref={host} role="group" aria-label={`Terminal ${props.label}`} />
    </div>
  );
}
