/**
 * The app's pages by path. Add a page with one line here; the first match wins. The terminal and
 * changes pages of a workspace live in web/src/terminal and web/src/changes.
 */
import type { ReactNode } from 'react';
import type { Params } from './router.tsx';
import { Dashboard } from './pages/Dashboard.tsx';
import { CreateWorkspace } from './pages/CreateWorkspace.tsx';
import { WorkspaceDetail } from './pages/WorkspaceDetail.tsx';
import { ProjectsPage } from './pages/admin/Projects.tsx';
import { ProvisionersPage } from './pages/admin/Provisioners.tsx';
import { UsersPage } from './pages/admin/Users.tsx';
import { TokensPage } from './pages/Tokens.tsx';
import { TerminalPage } from './terminal/TerminalPage.tsx';
import { ChangesPage } from './changes/ChangesPage.tsx';

/** One page: its path pattern (`:name` = parameter), its title, and what it renders. */
export interface RouteDef {
  path: string;
  title: string;
  render: (params: Params) => ReactNode;
}

/** Every page of the signed-in app. */
export const routes: RouteDef[] = [
  { path: '/', title: 'Workspaces', render: () => <Dashboard /> },
  { path: '/workspaces/new', title: 'New workspace', render: () => <CreateWorkspace /> },
  { path: '/workspaces/:ref', title: 'Workspace', render: (p) => <WorkspaceDetail wsRef={p.ref!} /> },
  { path: '/workspaces/:ref/terminal', title: 'Terminal', render: (p) => <TerminalPage workspace={p.ref!} /> },
  { path: '/workspaces/:ref/changes', title: 'Changes', render: (p) => <ChangesPage workspace={p.ref!} /> },
  { path: '/projects', title: 'Projects', render: () => <ProjectsPage /> },
  { path: '/provisioners', title: 'Provisioners', render: () => <ProvisionersPage /> },
  { path: '/users', title: 'Users', render: () => <UsersPage /> },
  { path: '/tokens', title: 'Tokens', render: () => <TokensPage /> },
];
