/**
 * The terminal tabs of a workspace, kept in sessionStorage: a reload (or a crash of the page)
 * restores the same tabs, each re-attaching to its session by id, while another browser tab starts
 * with its own terminals, as sessionStorage is per browser tab.
 */

/** One terminal tab. */
export interface TerminalTab {
  /** Stable key of the tab on this page. */
  key: string;
  title: string;
  /** The server's session id once known; a reload re-attaches to it. */
  session?: string;
  /** How many times the tab started over with a new shell (a new terminal each time). */
  run?: number;
}

const storageKey = (workspace: string) => `berth.terminals.${workspace}`;

/** The saved tabs of a workspace (none when nothing valid is stored). */
export function loadTabs(workspace: string): TerminalTab[] {
  try {
    const raw = JSON.parse(sessionStorage.getItem(storageKey(workspace)) ?? '[]') as unknown;
    if (!Array.isArray(raw)) return [];
    return raw.filter((t): t is TerminalTab => typeof t === 'object' && t !== null && typeof (t as TerminalTab).key === 'string' && typeof (t as TerminalTab).title === 'string');
  } catch {
    return [];
  }
}

/** Saves the tabs of a workspace. */
export function saveTabs(workspace: string, tabs: TerminalTab[]): void {
  try {
    sessionStorage.setItem(storageKey(workspace), JSON.stringify(tabs));
  } catch {
    // Storage full or refused (private mode): the tabs just do not survive a reload.
  }
}

/** A new tab titled after the lowest free number ("Terminal 2"). */
export function newTab(existing: TerminalTab[]): TerminalTab {
  const used = new Set(existing.map((t) => t.title));
  let n = 1;
  while (used.has(`Terminal ${n}`)) n++;
  return { key: `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, title: `Terminal ${n}` };
}
