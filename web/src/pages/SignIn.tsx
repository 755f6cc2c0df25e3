/** Sign-in with a user token (printed at the server's first start, or from `berth token create`). */
import { useState, type FormEvent } from 'react';
import type { SessionInfo } from '../../../src/sdk/web.ts';
import { post } from '../api.ts';
import { useAction } from '../layout/hooks.ts';

/** The sign-in page. */
export function SignIn(props: { onSignedIn: (s: SessionInfo) => void }) {
  const [token, setToken] = useState('');
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => props.onSignedIn(await post<SessionInfo>('/session', { token })));
  };
  return (
    <main id="main" className="signin">
      <h1>Sign in to Berth</h1>
      <form onSubmit={submit}>
        <label htmlFor="token">User token</label>
        <input id="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} placeholder="berth_u_…" required autoFocus />
        <p className="hint">
          The admin token is in <code>admin-credentials</code> in the server&apos;s data directory; anyone can make one with <code>berth token create</code>.
        </p>
        {action.error && (
          <p role="alert" className="error">
            {action.error}
          </p>
        )}
        <button type="submit" disabled={action.busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
