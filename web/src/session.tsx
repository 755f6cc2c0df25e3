/** The signed-in user, shared by every page: read from GET /session at load, set by sign-in, cleared by sign-out. */
import { createContext, useContext } from 'react';
import type { SessionInfo } from '../../src/sdk/web.ts';

/** What pages get from useSession(). */
export interface SessionState {
  session: SessionInfo;
  signOut: () => Promise<void>;
}

/** Provided by App once signed in. */
export const SessionContext = createContext<SessionState | null>(null);

/** The current session; only used below the signed-in part of the app. */
export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in page');
  return s;
}
