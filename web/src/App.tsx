/** The app: asks for the session, shows sign-in without one, else the page the path names inside the layout. */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { SessionInfo } from '../../src/sdk/web.ts';
import { ApiError, del, get, setSession, whenSignedOut } from './api.ts';
import { Shell } from './layout/Shell.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { match, useLocation } from './router.tsx';
import { routes } from './routes.tsx';
import { SessionContext } from './session.tsx';

/** The root component. */
export function App() {
  const [session, setState] = useState<SessionInfo | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const { path } = useLocation();

  const use = useCallback((s: SessionInfo | null) => {
    setSession(s);
    setState(s);
  }, []);
  useEffect(() => {
    whenSignedOut(() => use(null));
    get<SessionInfo>('/session').then(use, (err: unknown) => {
      if (err instanceof ApiError && err.status === 401) use(null);
      else setError(err instanceof Error ? err.message : String(err));
    });
  }, [use]);
  // Signed out on this page even if the server could not be told; the cookie ends with its session at the latest.
  const signOut = useCallback(() => del<void>('/session').then(() => use(null), () => use(null)), [use]);
  const state = useMemo(() => (session ? { session, signOut } : null), [session, signOut]);

  if (error) return <p role="alert" className="error">The server could not be reached: {error}</p>;
  if (session === undefined) return <p className="loading">Loading…</p>;
  if (!state) return <SignIn onSignedIn={use} />;
  const found = routes.map((r) => ({ r, params: match(r.path, path) })).find((m) => m.params);
  return (
    <SessionContext.Provider value={state}>
      <Shell title={found?.r.title ?? 'Not found'}>{found ? found.r.render(found.params!) : <p>No page at {path}.</p>}</Shell>
    </SessionContext.Provider>
  );
}
