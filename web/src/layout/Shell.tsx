/** The frame of every signed-in page: navigation, the user, sign-out, and the page's title. */
import { useEffect, type ReactNode } from 'react';
import { Link, useLocation } from '../router.tsx';
import { useSession } from '../session.tsx';

const NAV: { to: string; label: string; admin?: boolean }[] = [
  { to: '/', label: 'Workspaces' },
  { to: '/projects', label: 'Projects' },
  { to: '/provisioners', label: 'Provisioners' },
  { to: '/users', label: 'Users', admin: true },
  { to: '/tokens', label: 'Tokens' },
];

/** Wraps a page. */
export function Shell(props: { title: string; children: ReactNode }) {
  const { session, signOut } = useSession();
  const { path } = useLocation();
  useEffect(() => {
    document.title = `${props.title} · Berth`;
  }, [props.title]);
  const current = (to: string) => (to === '/' ? path === '/' || path.startsWith('/workspaces') : path.startsWith(to));
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Berth</span>
        <nav aria-label="Main">
          {NAV.filter((n) => !n.admin || session.user.role === 'admin').map((n) => (
            <Link key={n.to} to={n.to} aria-current={current(n.to) ? 'page' : undefined}>
              {n.label}
            </Link>
          ))}
        </nav>
        <span className="who">
          {session.user.name}
          {session.user.role === 'admin' ? ' (admin)' : ''}
        </span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}
